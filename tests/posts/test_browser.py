"""In Chromium: compose a post, preview it, schedule it, and see it published in the calendar."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from syndicate import create_app
from syndicate.clock import FixedClock
from syndicate.linkedin_sandbox.app import running_sandbox
from syndicate.linkedin_sandbox.state import SandboxClient
from syndicate.posts.jobs import make_dispatcher
from syndicate.staff.models import Role
from tests import factories
from tests.conftest import LiveServer, app_config
from tests.sandbox_fixtures import CLIENT_ID, CLIENT_SECRET

pytestmark = pytest.mark.browser

TITLE = "Talks (finally) resume"


@pytest.fixture
def world(fresh_database: str, tmp_path: Path) -> Iterator[dict]:
    """The app over real HTTP with CSRF on, a FixedClock, and a LinkedIn sandbox beside it."""
    client = SandboxClient(
        client_id=CLIENT_ID, client_secret=CLIENT_SECRET, redirect_uris=frozenset()
    )
    real_now = datetime.now(UTC)
    clock = FixedClock(real_now.replace(second=0, microsecond=0))
    with running_sandbox(clients={CLIENT_ID: client}) as (base, sandbox):
        app = create_app(
            app_config(
                fresh_database,
                INSTANCE_PATH=str(tmp_path / "instance"),
                WTF_CSRF_ENABLED=True,
                CLOCK=clock,
                LINKEDIN_API_BASE=base,
                LINKEDIN_AUTH_BASE=base,
                LINKEDIN_CLIENT_ID=CLIENT_ID,
                LINKEDIN_CLIENT_SECRET=CLIENT_SECRET,
                LINKEDIN_VERSION=real_now.strftime("%Y%m"),  # the sandbox's current version
            )
        )
        with LiveServer(app) as server:
            app.config["SITE_URL"] = server.url
            database = app.extensions["database"]
            with database.sessions() as session:
                now = clock.now()
                factories.make_user(
                    session,
                    now=now,
                    role=Role.EDITOR,
                    email="editor@example.test",
                    time_zone="Europe/Berlin",
                )
                article = factories.make_article(session, now=now, title=TITLE, tags=["Trade"])
                target = factories.make_sandbox_target(
                    session,
                    sandbox=sandbox,
                    vault=app.extensions["token_vault"],
                    now=now,
                    time_zone="Europe/Berlin",
                )
                session.commit()
                ids = {"article": article.id, "target": target.id}
            yield {"app": app, "server": server, "sandbox": sandbox, "clock": clock, **ids}
        database.engine.dispose()


def test_compose_preview_schedule_then_see_it_published_in_the_calendar(world, browser, tmp_path):
    app, server, sandbox, clock = world["app"], world["server"], world["sandbox"], world["clock"]
    page = browser.new_page()
    try:
        page.goto(
            f"{server.url}/dashboard/posts/new?article={world['article']}&target={world['target']}"
        )
        assert "/login" in page.url
        page.get_by_label("Email").fill("editor@example.test")
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard/posts/new?article=*")

        text = page.get_by_label("Text of the post")
        text.fill(f"{TITLE} #Trade\n\nWhy it matters_now")
        with page.expect_navigation():
            page.get_by_role("button", name="Preview").click()
        sent = page.locator("#preview-sent")
        assert sent.inner_text() == "Talks \\(finally\\) resume #Trade\n\nWhy it matters\\_now"
        assert page.locator("#preview-count").inner_text() == "52 / 3000"

        # The script updates the preview while typing, through the CSRF-protected endpoint.
        text.press("Control+End")
        text.press_sequentially(" (live)")
        expect(sent).to_have_text(
            "Talks \\(finally\\) resume #Trade\n\nWhy it matters\\_now \\(live\\)"
        )
        expect(page.locator("#preview-count")).to_have_text("61 / 3000")

        due = clock.now() + timedelta(minutes=5)
        local = due.astimezone(ZoneInfo("Europe/Berlin"))
        page.get_by_label("At a date and time").check()
        page.get_by_label("Date and time in Europe/Berlin").fill(local.strftime("%Y-%m-%dT%H:%M"))
        page.get_by_role("button", name="Save post").click()
        page.locator(".flash.success", has_text="Scheduled for").wait_for()
        assert f"{local:%Y-%m-%d %H:%M} Europe/Berlin" in page.inner_text("main")

        clock.advance(timedelta(minutes=10))
        assert make_dispatcher(app).run_until_idle().published == 1
        [stored] = sandbox.state.post_list()
        assert stored.text.rendered.startswith(f"{TITLE} #Trade")
        assert stored.text.rendered.endswith("Why it matters_now (live)")

        page.get_by_role("link", name="Calendar").first.click()
        page.wait_for_url("**/dashboard/posts/calendar")
        # This week by the app's clock; go to the post's own week in case midnight fell between.
        page.goto(f"{server.url}/dashboard/posts/calendar?view=week&start={local:%Y-%m-%d}")
        assert "times in Europe/Berlin" in page.locator("caption").inner_text()
        chip = page.locator(f'td[data-day="{local:%Y-%m-%d}"] li.chip.published')
        assert TITLE in chip.inner_text()
        live = chip.get_by_role("link", name="live post")
        assert live.get_attribute("href") == f"{sandbox.state.base_url}/sandbox/"
        page.screenshot(path=str(tmp_path / "calendar.png"))

        live.click()
        page.wait_for_url("**/sandbox/")
        assert "Why it matters_now (live)" in page.inner_text("body")
    finally:
        page.close()


def test_preview_folds_at_see_more_while_typing_and_opens_it(world, browser, tmp_path):
    from syndicate.linkedin.feed import fold

    server = world["server"]
    page = browser.new_page(viewport={"width": 375, "height": 800})
    try:
        page.goto(f"{server.url}/login")
        page.get_by_label("Email").fill("editor@example.test")
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard**")
        page.goto(
            f"{server.url}/dashboard/posts/new?article={world['article']}&target={world['target']}"
        )
        card = page.locator("#preview-feed article.li-post")
        expect(card.locator("[data-li=author]")).to_have_text("Sam Sandbox")
        see_more = card.get_by_text("…see more")
        # The default text is title, summary and hashtags on lines 1, 3 and 5: the feed's
        # three lines end after the summary, so the hashtags wait behind "…see more".
        expect(card.locator("[data-li=rest]")).to_have_text("\n\n#Trade")
        expect(see_more).to_be_visible()
        page.get_by_label("Text of the post").fill("Short and sweet.")
        expect(see_more).to_be_hidden()
        expect(card.locator("[data-li=shown]")).to_have_text("Short and sweet.")

        long = "Harbour talks (day two) #Trade\n\n" + "Ships wait outside the port. " * 12
        page.get_by_label("Text of the post").fill(long)
        folded = fold(long)
        expect(card.locator("[data-li=shown]")).to_have_text(folded.shown)
        expect(see_more).to_be_visible()
        expect(card.locator("[data-li=rest]")).to_be_hidden()
        box = see_more.bounding_box()
        assert box is not None and box["height"] >= 44 and box["width"] >= 44
        card.screenshot(path=str(tmp_path / "preview-folded.png"))
        see_more.click()
        expect(card.locator("[data-li=rest]")).to_be_visible()
        expect(see_more).to_be_hidden()
        assert card.inner_text().count("Ships wait outside the port.") == 12

        page.get_by_label("Card title").fill("A better headline")
        expect(card.locator("[data-li=title]")).to_have_text("A better headline")
        page.get_by_label("Card title").fill("")
        expect(card.locator("[data-li=title]")).to_have_text(TITLE)
        # At 375 px the card wraps inside the page: nothing wider than the screen.
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        assert card.evaluate("e => e.scrollWidth <= e.clientWidth")
    finally:
        page.close()
