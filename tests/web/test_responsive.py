"""Every HTML page, public and dashboard, at a phone's, a tablet's and a laptop's width.

On each page at 375, 768 and 1280 CSS pixels wide, in Chromium:

- the page does not scroll sideways: ``document.documentElement.scrollWidth`` is at most
  ``innerWidth`` (a wide table scrolls inside its own box or becomes stacked cards);
- every control is a target a finger can hit, 44 x 44 CSS pixels (WCAG 2.5.5, Target
  Size): buttons, text inputs, selects, text areas, summaries, and links that stand on
  their own (navigation, actions, list rows). Exempt, as WCAG exempts them: links inside a
  sentence (their nearest block has other text too; making them 44 px tall would break
  the line spacing of prose), and check boxes and radio buttons whose label, the larger
  target that toggles them, is 44 px tall. Hidden things are not targets: the skip link
  until focused, the honeypot field, anything with no box;
- axe-core (bundled by axe-playwright-python) finds no violation.

The pages come from the app's url_map: a GET route that is neither visited here nor in
``NOT_PAGES`` (with the reason it is not an HTML page) fails the test, so a new page
cannot slip by untested. One browser; one context per width and role, reused for every
page. SQLite only: the database plays no part in layout.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask

from syndicate import create_app
from tests import factories
from tests.conftest import LiveServer, app_config
from tests.web.showcase import ADMIN_EMAIL, Showcase, seed

pytestmark = pytest.mark.browser

WIDTHS = (375, 768, 1280)
MIN_TARGET = 44

# GET routes that are not HTML pages for people, and why.
NOT_PAGES = {
    "static": "files (the stylesheet, scripts, images)",
    "web.healthz": "plain-text health check for load balancers",
    "web.readyz": "plain-text readiness check",
    "metrics.metrics": "Prometheus text format",
    "feeds.site_feed": "RSS, Atom, JSON Feed",
    "feeds.subject_feed": "RSS, Atom, JSON Feed",
    "feeds.site_archive": "RSS, Atom, JSON Feed archives",
    "feeds.subject_archive": "RSS, Atom, JSON Feed archives",
    "feeds.opml": "OPML for feed readers",
    "sharing.record_json": "the permission record as JSON",
    "sharing.public_key": "the signing key as JSON",
    "sharing.public_key_pem": "the signing key as PEM",
    "sharing.follow": "tracked share link: a redirect to the article",
    "sharing.by_url": "the share button's target: a redirect to the article's form",
    "sharing_dashboard.export": "CSV download",
    "posts_analytics.analytics_csv": "CSV download",
    "posts.import_example": "the example CSV file",
    "web.favicon": "a redirect to the SVG icon",
    "linkedin.callback": "OAuth callback: a redirect (or the error page, tested below)",
}
NOT_PAGE_PREFIXES = {
    "api.": "the JSON API",
    "staff_api.": "the JSON API",
}


def _public_pages(show: Showcase) -> dict[str, list[str]]:
    slug = show.article_slug
    return {
        "articles.home": ["/"],
        "articles.article": [f"/articles/{slug}", "/articles/no-such-article"],  # + error page
        "sharing.request_form": [f"/articles/{slug}/share"],
        "sharing.sent": [f"/articles/{slug}/share/sent"],
        "sharing.record": [f"/permissions/{show.permission_public_id}"],
        "sharing.private": [show.private_path],
        "sharing.confirm_page": [show.verify_path],
        "staff.login": ["/login"],
    }


def _staff_pages(show: Showcase) -> dict[str, list[str]]:
    return {
        "publication.home": ["/dashboard/"],  # the first-run checklist
        "publication.settings": ["/dashboard/publication"],
        "articles_dashboard.list_articles": ["/dashboard/articles"],
        "articles_dashboard.edit_article": [f"/dashboard/articles/{show.article_id}"],
        "articles_dashboard.new_article": ["/dashboard/articles/new"],
        "sources.list_sources": ["/dashboard/sources/"],
        "sources.show_source": [f"/dashboard/sources/{show.source_id}"],
        "posts.index": ["/dashboard/posts/"],
        "posts.show": [
            f"/dashboard/posts/{show.post_id}",
            f"/dashboard/posts/{show.failed_post_id}",
        ],
        "posts.calendar": ["/dashboard/posts/calendar", "/dashboard/posts/calendar?view=month"],
        "posts.new": [
            "/dashboard/posts/new",
            f"/dashboard/posts/new?article={show.article_id}&target={show.target_id}",
        ],
        "posts.rules": ["/dashboard/posts/rules"],
        "posts.import_csv": ["/dashboard/posts/import"],
        "posts_analytics.analytics": ["/dashboard/posts/analytics"],
        "posts.targets": ["/dashboard/posts/targets"],
        "posts.target_settings": [f"/dashboard/posts/targets/{show.target_id}"],
        "linkedin.index": ["/dashboard/connections/"],
        "sharing_dashboard.inbox": ["/dashboard/sharing/"],
        "sharing_dashboard.detail": [f"/dashboard/sharing/{show.request_id}"],
        "sharing_dashboard.button": ["/dashboard/sharing/button"],
        "sharing_dashboard.standing": ["/dashboard/sharing/standing"],
        "sharing_dashboard.stats": ["/dashboard/sharing/stats"],
        "feeds_dashboard.feeds_page": ["/dashboard/feeds"],
        "mail.list_mail": ["/dashboard/mail"],
        "mail.show_mail": [f"/dashboard/mail/{show.mail_id}"],
        "webhooks.index": ["/dashboard/webhooks"],
        "webhooks.show": [f"/dashboard/webhooks/{show.webhook_id}"],
        "staff.profile": ["/dashboard/profile"],
        "staff.tokens": ["/dashboard/tokens"],
        "staff.users": ["/dashboard/users"],
        "staff.edit_user": [f"/dashboard/users/{show.user_id}"],
    }


# Sizes of what a person can tap, and whether each is a target the rule applies to.
_TARGETS_JS = """
(min) => {
  const inSentence = (el) => {
    let block = el.parentElement;
    while (block && getComputedStyle(block).display.startsWith('inline')) block = block.parentElement;
    if (!block) return false;
    const own = (el.innerText || '').trim();
    return (block.innerText || '').replace(own, '').trim().length > 0 &&
      getComputedStyle(el).display.startsWith('inline') && !el.classList.contains('button');
  };
  const hidden = (el) => {
    const box = el.getBoundingClientRect();
    return box.width === 0 || box.height === 0 || el.closest('[aria-hidden="true"]') ||
      getComputedStyle(el).visibility === 'hidden' || box.right <= 0 || box.bottom <= 0;
  };
  const describe = (el, box) => {
    const name = (el.innerText || el.value || el.name || el.id || '').trim().slice(0, 40);
    return `<${el.tagName.toLowerCase()}> "${name}" ${Math.round(box.width)}x${Math.round(box.height)}`;
  };
  const small = [];
  const selector = 'a[href], button, input:not([type=hidden]), select, textarea, summary';
  for (const el of document.querySelectorAll(selector)) {
    if (hidden(el)) continue;
    let box = el.getBoundingClientRect();
    if (el.tagName === 'A' && inSentence(el)) continue;
    if (el.type === 'checkbox' || el.type === 'radio') {
      const labels = [...(el.labels || [])].map(l => l.getBoundingClientRect());
      if (labels.some(l => l.height >= min)) continue;
    }
    if (box.height < min - 0.5 || box.width < min - 0.5) small.push(describe(el, box));
  }
  return small;
}
"""

_OVERFLOW_JS = """
() => {
  const width = document.documentElement.scrollWidth;
  const wide = [];
  if (width > innerWidth) {
    const scrolled = (el) => {
      for (let up = el.parentElement; up && up !== document.body; up = up.parentElement) {
        if (['auto', 'scroll', 'hidden'].includes(getComputedStyle(up).overflowX)) return true;
      }
      return false;
    };
    for (const el of document.querySelectorAll('body *')) {
      const box = el.getBoundingClientRect();
      if (box.right > innerWidth + 0.5 && box.width > 0 && !scrolled(el)) {
        wide.push(`<${el.tagName.toLowerCase()} class="${el.className}"> right=${Math.round(box.right)}`);
      }
    }
  }
  return {width, inner: innerWidth, wide: wide.slice(0, 5)};
}
"""


@pytest.fixture
def showcase(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[LiveServer, Showcase, Flask]]:
    """The app over real HTTP (CSRF on) on a SQLite database of its own, full of content."""
    url = f"sqlite:///{tmp_path / 'responsive.db'}"
    from syndicate import migrate
    from syndicate.db import make_engine

    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(
        app_config(
            url,
            INSTANCE_PATH=str(tmp_path / "instance"),
            WTF_CSRF_ENABLED=True,
            SITE_NAME="Syndicate Demo Magazine",
        )
    )
    with LiveServer(app) as server:
        app.config["SITE_URL"] = server.url
        show = seed(app)
        yield server, show, app
    app.extensions["database"].engine.dispose()


def _rules(app: Flask) -> set[str]:
    return {rule.endpoint for rule in app.url_map.iter_rules() if "GET" in (rule.methods or ())}


def test_every_get_route_is_visited_or_excluded_with_a_reason(showcase):
    _server, show, app = showcase
    visited = set(_public_pages(show)) | set(_staff_pages(show))
    endpoints = _rules(app)
    unaccounted = {
        e
        for e in endpoints - visited - set(NOT_PAGES)
        if not e.startswith(tuple(NOT_PAGE_PREFIXES))
    }
    assert unaccounted == set(), (
        f"GET routes with no responsive check and no exclusion: {unaccounted}"
    )
    stale = (visited | set(NOT_PAGES)) - endpoints
    assert stale == set(), f"listed but no longer routes: {stale}"
    assert all(paths and all(paths) for paths in _public_pages(show).values())


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/login")
    page.get_by_label("Email").fill(ADMIN_EMAIL)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard/**")


def _check(page, url: str, width: int, axe: Axe) -> list[str]:
    answer = page.goto(url)
    problems = []
    expected = 404 if "no-such-article" in url else 200
    if answer is None or answer.status != expected:
        problems.append(f"status {answer.status if answer else None}, expected {expected}")
    overflow = page.evaluate(_OVERFLOW_JS)
    if overflow["width"] > overflow["inner"]:
        problems.append(
            f"scrolls sideways: {overflow['width']}px > {overflow['inner']}px; widest: "
            + "; ".join(overflow["wide"])
        )
    small = page.evaluate(_TARGETS_JS, MIN_TARGET)
    if small:
        problems.append(f"{len(small)} targets under {MIN_TARGET}px: " + "; ".join(small))
    results = axe.run(page)
    for violation in results.response["violations"]:
        nodes = [
            " ".join(n["target"]) if isinstance(n["target"], list) else str(n["target"])
            for n in violation["nodes"]
        ]
        problems.append(f"axe {violation['id']}: {violation['help']} at {nodes[:4]}")
    return [f"{width}px {url}: {p}" for p in problems]


def test_every_page_fits_has_big_targets_and_passes_axe_at_every_width(showcase, browser):
    server, show, _app = showcase
    axe = Axe()
    problems: list[str] = []
    for width in WIDTHS:
        size = {"width": width, "height": 900}
        for pages, staff in ((_public_pages(show), False), (_staff_pages(show), True)):
            context = browser.new_context(viewport=size, has_touch=width < 1024)
            try:
                page = context.new_page()
                if staff:
                    _sign_in(page, server.url)
                for paths in pages.values():
                    for path in paths:
                        problems += _check(page, server.url + path, width, axe)
            finally:
                context.close()
    assert problems == [], "\n".join(problems)


def test_the_calendar_is_an_agenda_on_a_phone_and_a_week_grid_on_a_laptop(showcase, browser):
    server, _show, _app = showcase
    shown = {}
    for width in (375, 1280):
        context = browser.new_context(viewport={"width": width, "height": 900})
        try:
            page = context.new_page()
            _sign_in(page, server.url)
            page.goto(f"{server.url}/dashboard/posts/calendar")
            shown[width] = (
                page.locator("table.calendar").is_visible(),
                page.locator(".agenda").is_visible(),
            )
            if width == 375:
                agenda = page.locator(".agenda")
                assert "Interdisciplinary collaboration" in agenda.inner_text()
        finally:
            context.close()
    assert shown == {375: (False, True), 1280: (True, False)}
