// Live preview while composing a LinkedIn post. The page works without it: the Preview
// button renders the same preview on the server.
(function () {
  "use strict";
  const area = document.querySelector("textarea[data-preview-url]");
  if (!area || !window.fetch) return;
  const form = area.form;
  const byId = (id) => document.getElementById(id);
  const typed = byId("preview-typed");
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
      if (typed) typed.textContent = area.value.trim();
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

  [["card_title", "preview-card-title"], ["card_description", "preview-card-description"]]
    .forEach(function (pair) {
      const input = byId(pair[0]);
      const shown = byId(pair[1]);
      if (input && shown) {
        input.addEventListener("input", function () { shown.textContent = input.value; });
      }
    });
})();
