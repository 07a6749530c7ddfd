"""In Chromium: an editor signs in, writes and publishes an article, and reads it publicly."""

from pathlib import Path

import pytest

from syndicate.staff.models import Role
from tests import factories

pytestmark = pytest.mark.browser


def test_editor_writes_publishes_and_reads_article_in_chromium(live_app, browser, tmp_path):
    app, server = live_app
    with app.extensions["database"].transaction() as session:
        factories.make_user(
            session,
            now=app.extensions["clock"].now(),
            role=Role.EDITOR,
            email="editor@example.test",
            time_zone="Europe/Berlin",
        )
    page = browser.new_page()
    try:
        page.goto(f"{server.url}/dashboard/articles")
        assert "/login" in page.url
        page.get_by_label("Email").fill("editor@example.test")
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url("**/dashboard/articles")

        page.get_by_role("link", name="New article").click()
        page.get_by_label("Title", exact=True).fill("Night ferries — a “quiet” revolution")
        page.get_by_label("Summary", exact=True).fill("Why the 2 a.m. boat is full.")
        page.get_by_label("Body", exact=True).fill("The last ferry is **the busiest**.")
        page.get_by_label("Authors (comma-separated)").fill("Zoë Ångström")
        page.get_by_role("button", name="Save").click()
        page.get_by_text("The draft is saved.").wait_for()
        page.get_by_role("button", name="Publish").click()
        page.get_by_text("is published").wait_for()
        page.screenshot(path=str(Path(tmp_path) / "editor.png"))

        page.get_by_role("link", name="View on the site").click()
        page.wait_for_url("**/articles/night-ferries-a-quiet-revolution")
        assert page.locator("h1").inner_text() == "Night ferries — a “quiet” revolution"
        assert page.locator(".body strong").inner_text() == "the busiest"
        assert (
            "Europe/Berlin" in page.locator(".meta").inner_text()
            or "UTC" in page.locator(".meta").inner_text()
        )
        assert (
            page.locator('link[rel="canonical"]')
            .get_attribute("href")
            .endswith("/articles/night-ferries-a-quiet-revolution")
        )
    finally:
        page.close()
