"""The whole journey in Chromium, over real HTTP with CSRF on and real SMTP (aiosmtpd):
a reader asks to republish an article, confirms from the email, answers the publisher's
question, is granted with conditions, checks the signed record, and shares the tracked link."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select

from syndicate import create_app
from syndicate.clock import FixedClock
from syndicate.mail.jobs import deliver_mail
from syndicate.sharing import visits
from syndicate.sharing.models import RequestState, ShareLink, ShareRequest
from tests import factories
from tests.conftest import LiveServer, app_config
from tests.mail.conftest import SmtpServer
from tests.sharing.conftest import SAMPLE_MESSAGE, count_visits_at_once

pytestmark = pytest.mark.browser

TITLE = "U.S. and China to hold talks on fentanyl in Beijing"
# A person's browser; Chromium's headless user agent would (rightly) be filtered as a bot.
DESKTOP = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@pytest.fixture
def world(fresh_database: str, tmp_path: Path) -> Iterator[dict]:
    smtp = SmtpServer().start()
    clock = FixedClock(datetime.now(UTC).replace(microsecond=0))
    app = create_app(
        app_config(
            fresh_database,
            INSTANCE_PATH=str(tmp_path / "instance"),
            WTF_CSRF_ENABLED=True,
            CLOCK=clock,
            SMTP_URL=smtp.url(),
            MAIL_FROM="F5mag <rights@f5mag.example>",
        )
    )
    count_visits_at_once(app)
    app.config["SHARING_PUBLISHER_NAME"] = "F5mag"
    try:
        with LiveServer(app) as server:
            app.config["SITE_URL"] = server.url
            database = app.extensions["database"]
            with database.sessions() as session:
                factories.make_user(
                    session,
                    now=clock.now(),
                    email="editor@example.test",
                    name="Eda Editor",
                    time_zone="Europe/Berlin",
                )
                article = factories.make_article(
                    session,
                    now=clock.now(),
                    title=TITLE,
                    slug="us-china-fentanyl-talks",
                    body="<p>The United States and China are set to hold crucial talks.</p>",
                )
                session.commit()
                slug = article.slug
            yield {"app": app, "server": server, "smtp": smtp, "clock": clock, "slug": slug}
    finally:
        smtp.stop()
        app.extensions["database"].engine.dispose()


def _latest_mail(world: dict, subject_start: str) -> str:
    """Deliver queued mail over SMTP, then the text of the newest message with this subject."""
    deliver_mail(world["app"])
    for received in reversed(world["smtp"].inbox.accepted):
        message = received.message
        if message["Subject"].startswith(subject_start):
            return message.get_body(("plain",)).get_content()
    raise AssertionError(f"no email starting {subject_start!r}")


def _link(text: str, part: str) -> str:
    return next(url for url in re.findall(r"https?://\S+", text) if part in url)


def test_request_verify_ask_answer_approve_verify_signature_and_count_visits(world, browser):
    server, clock, slug = world["server"], world["clock"], world["slug"]
    reader = browser.new_context(user_agent=DESKTOP)
    staff = browser.new_context(user_agent=DESKTOP)
    page = reader.new_page()
    desk = staff.new_page()
    try:
        # The reader asks for full republication.
        page.goto(f"{server.url}/articles/{slug}/share")
        page.get_by_label("Your name").fill("Zoë Šimić")
        page.get_by_label("Your email").fill("zoe@example.org")
        page.get_by_label("Where will you share it?").select_option("newsletter")
        page.get_by_label("Its address").fill("https://coastal-weekly.example/letter")
        page.get_by_label("Audience size").fill("4200")
        page.get_by_label("Republish it in full").check()
        page.get_by_label("Message to the publisher").fill(SAMPLE_MESSAGE)
        clock.advance(timedelta(seconds=20))  # the time a person takes to fill it in
        page.get_by_role("button", name="Send request").click()
        page.get_by_role("heading", name="Check your email").wait_for()

        # ...confirms from the email that a real SMTP server received.
        confirm = _link(_latest_mail(world, "Confirm your request"), "/sharing/verify/")
        page.goto(confirm)
        page.get_by_role("button", name="Confirm my request").click()
        page.wait_for_url("**/sharing/r/**")
        assert "The publisher has your request" in page.inner_text("main")

        # Staff ask for more information.
        desk.goto(f"{server.url}/dashboard/sharing/")
        desk.get_by_label("Email").fill("editor@example.test")
        desk.get_by_label("Password").fill(factories.PASSWORD)
        desk.get_by_role("button", name="Sign in").click()
        desk.wait_for_url("**/dashboard/sharing/")
        desk.get_by_role("link", name="Zoë Šimić").click()
        desk.get_by_label("What do you need to know?").fill("Which issue, and will you link back?")
        desk.get_by_role("button", name="Ask the reader").click()
        desk.locator(".flash.success").wait_for()

        # The reader answers through their private link.
        question = _latest_mail(world, "A question about your request")
        assert "Which issue, and will you link back?" in question
        page.goto(_link(question, "/sharing/r/"))
        page.get_by_label("Your answer").fill("The 14 March issue, with a link at the top.")
        page.get_by_role("button", name="Send answer").click()
        page.locator(".flash.success").wait_for()

        # Staff approve with conditions.
        desk.reload()
        assert "The 14 March issue" in desk.inner_text("main")
        end = (clock.now() + timedelta(days=90)).astimezone().date()
        desk.get_by_label("Credit line").fill(
            f"First published by F5mag at {server.url}/articles/{slug}"
        )
        desk.get_by_label("A link to the article is required").check()
        desk.get_by_label("Valid until").fill(end.isoformat())
        desk.get_by_role("button", name="Approve").click()
        desk.locator(".flash.success").wait_for()

        # The reader opens the grant, then the public record.
        granted = _latest_mail(world, "You may share")
        page.goto(_link(granted, "/sharing/r/"))
        main = page.inner_text("main")
        assert "You may share the article under the conditions below." in main
        share_url = page.get_by_label("Your tracked link").input_value()
        linkedin = page.get_by_role("link", name="Share on LinkedIn").get_attribute("href")
        assert linkedin.startswith("https://www.linkedin.com/sharing/share-offsite/?url=")
        assert share_url.replace(":", "%3A").replace("/", "%2F") in linkedin
        page.get_by_role("link", name="Public permission record").click()
        page.wait_for_url("**/permissions/**")
        assert "Active." in page.inner_text("main") and "Zoë Šimić" in page.inner_text("main")

        record = page.request.get(page.url, headers={"Accept": "application/json"}).json()
        key = page.request.get(f"{server.url}/permissions/key").json()
        public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
        unsigned = {k: v for k, v in record.items() if k != "signature"}
        public_key.verify(
            base64.b64decode(record["signature"]),
            json.dumps(
                unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False
            ).encode(),
        )
        assert record["state"] == "active" and record["scope"]["kind"] == "full"
        assert record["grantee"] == {"name": "Zoë Šimić"}

        # A visit through the share link counts once; again today, or a bot, does not.
        page.goto(share_url)
        page.wait_for_url(f"**/articles/{slug}?utm_source=newsletter&utm_medium=share**")
        assert TITLE in page.inner_text("h1")
        page.goto(share_url)
        bot = page.request.get(
            share_url, headers={"User-Agent": "LinkedInBot/1.0"}, max_redirects=0
        )
        assert bot.status == 302 and bot.headers["cache-control"] == "no-store"
        database = world["app"].extensions["database"]
        with database.sessions() as session:
            request = session.scalar(select(ShareRequest))
            assert request.state is RequestState.APPROVED
            assert [e.to_state for e in request.events] == [
                "unverified",
                "pending",
                "info_requested",
                "pending",
                "approved",
            ]
            link = session.scalar(select(ShareLink))
            assert visits.visits_for_link(session, link.id) == 1
    finally:
        reader.close()
        staff.close()
