// Live preview while composing a LinkedIn post. The page works without it: the Preview
// button renders the same preview on the server.
(function () {
  "use strict";
  const area = document.querySelector("textarea[data-preview-url]");
  if (!area || !window.fetch) return;
  const form = area.form;
  const byId = (id) => document.getElementById(id);
  const feed = byId("preview-feed");
  const part = (name) => feed && feed.querySelector('[data-li="' + name + '"]');
  const shownText = part("shown");
  const restText = part("rest");
  const seeMore = feed && feed.querySelector("details.li-see-more");
  const sent = byId("preview-sent");
  const count = byId("preview-count");
  const tooLong = byId("preview-too-long");
  let timer = null;
  let latest = 0;

  async function refresh() {
    const mine = ++latest;
    const body = new FormData();
    const token = form && form.querySelector("input[name=csrf_token]");
    if (token) body.append("csrf_token", token.value);
    body.append("commentary", area.value);
    try {
      const answer = await fetch(area.dataset.previewUrl, {
        method: "POST", body: body, credentials: "same-origin",
        headers: { "Accept": "application/json" },
      });
      if (!answer.ok || mine !== latest) return;
      const data = await answer.json();
      if (mine !== latest) return;
      // Where "…see more" falls is the server's rule (linkedin/feed.py), not the script's.
      if (shownText) shownText.textContent = data.shown;
      if (restText) restText.textContent = data.rest;
      if (seeMore) seeMore.hidden = !data.rest;
      if (sent) sent.textContent = data.sent;
      if (count) {
        count.textContent = data.length + " / " + data.max;
        count.classList.toggle("over", data.too_long);
      }
      if (tooLong) tooLong.hidden = !data.too_long;
    } catch (error) {
      // Offline or signed out: the server-side preview still works.
    }
  }

  area.addEventListener("input", function () {
    clearTimeout(timer);
    timer = setTimeout(refresh, 200);
  });

  // An empty title falls back to the article's, as saving does (the first one shown).
  const cardTitle = part("title");
  const fallbackTitle = feed ? feed.dataset.fallbackTitle || "" : "";
  [["card_title", cardTitle, fallbackTitle],
   ["card_description", byId("preview-card-description"), "—"]]
    .forEach(function (triple) {
      const input = byId(triple[0]);
      const shown = triple[1];
      if (input && shown) {
        input.addEventListener("input", function () {
          shown.textContent = input.value.trim() || triple[2];
        });
      }
    });
})();
