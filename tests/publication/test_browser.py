"""In Chromium at phone width: the first sign-in lands on the checklist, a step ticks
itself, and hiding the checklist lasts."""

import pytest

from syndicate.staff.models import Role
from tests import factories

pytestmark = pytest.mark.browser


def test_first_sign_in_shows_the_checklist_on_a_phone(live_app, browser, tmp_path):
    app, server = live_app
    with app.extensions["database"].sessions() as session:
        factories.make_user(session, now=app.extensions["clock"].now(), role=Role.ADMIN,
                            email="chief@example.test")
        session.commit()
    page = browser.new_page(viewport={"width": 375, "height": 740})
    try:
        page.goto(f"{server.url}/login")
        page.get_by_label("Email").fill("chief@example.test")
        page.get_by_label("Password").fill(factories.PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(f"{server.url}/dashboard/")
        checklist = page.get_by_role("region", name="Getting started")
        assert "0 of 6 done" in checklist.inner_text()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
        for control in checklist.locator("a.button, button").all():
            box = control.bounding_box()
            assert box is not None and box["height"] >= 44 and box["width"] >= 44
        page.screenshot(path=str(tmp_path / "checklist.png"), full_page=True)

        checklist.get_by_role("button", name="Show the feeds").click()
        page.wait_for_url("**/dashboard/feeds")
        page.goto(f"{server.url}/dashboard/")
        feeds = page.locator("li[data-step=feeds]")
        assert "Done" in feeds.inner_text()
        assert "1 of 6 done" in checklist.inner_text()

        checklist.get_by_role("button", name="Hide the checklist").click()
        page.wait_for_url("**/dashboard/articles")
        page.goto(f"{server.url}/dashboard/")
        page.wait_for_url("**/dashboard/articles")
        # The footer's feed links are visible on a public page.
        page.goto(f"{server.url}/")
        footer = page.locator("footer.site-footer")
        assert footer.get_by_role("link", name="RSS").is_visible()
        assert page.evaluate("document.documentElement.scrollWidth") <= 375
    finally:
        page.close()
