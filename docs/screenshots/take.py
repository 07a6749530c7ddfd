"""Take the screenshots in docs/screenshots/ again, at a laptop's and a phone's width.

    SYNDICATE_TEST_BROWSER=/usr/bin/chromium .venv/bin/python docs/screenshots/take.py

It serves the app on 127.0.0.1 with a database of its own in a temporary folder, fills it
with the demo magazine plus the test suite's representative content (tests/web/showcase.py:
posts in every state, a connection, share requests...), signs in, and saves each page at
1280 and 375 CSS pixels wide, cropped to the first screen. ``--only NAME`` takes one page;
``--serve`` keeps the server running (for a look in a browser) instead of taking pictures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from syndicate import create_app, migrate  # noqa: E402
from syndicate.db import make_engine  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import LiveServer  # noqa: E402
from tests.web.showcase import ADMIN_EMAIL, Showcase, seed  # noqa: E402

OUT = Path(__file__).resolve().parent
WIDTHS = {"desktop": (1280, 800), "phone": (375, 740)}


def pages(show: Showcase) -> dict[str, tuple[str, bool]]:
    """Name of the picture: (path, whether it needs a signed-in editor)."""
    return {
        "dashboard": ("/dashboard/", True),
        "calendar": ("/dashboard/posts/calendar", True),
        "post": (f"/dashboard/posts/{show.failed_post_id}", True),
        "compose": (
            f"/dashboard/posts/new?article={show.article_id}&target={show.target_id}",
            True,
        ),
        "sharing-inbox": ("/dashboard/sharing/", True),
        "connections": ("/dashboard/connections/", True),
        "share-form": (f"/articles/{show.article_slug}/share", False),
        "article": (f"/articles/{show.article_slug}", False),
    }


def serve(folder: Path) -> tuple[LiveServer, Showcase]:
    url = f"sqlite:///{folder / 'screenshots.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    app = create_app(
        {
            "ENV": "testing",
            "DATABASE_URL": url,
            "SECRET_KEY": "screenshots-only-" + "x" * 32,
            "TOKEN_KEYS": [Fernet.generate_key().decode()],
            "SHARING_SIGNING_KEY": "BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=",
            "INSTANCE_PATH": str(folder / "instance"),
            "SITE_NAME": "Syndicate Demo Magazine",
            "WTF_CSRF_ENABLED": True,
        }
    )
    server = LiveServer(app).__enter__()
    app.config["SITE_URL"] = server.url
    return server, seed(app)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", help="one picture by name")
    parser.add_argument("--serve", action="store_true", help="serve the content and wait")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        server, show = serve(Path(folder))
        if args.serve:
            print(f"{server.url}/login as {ADMIN_EMAIL} / {factories.PASSWORD}; Ctrl-C stops")
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                return
        from playwright.sync_api import sync_playwright

        binary = os.environ.get("SYNDICATE_TEST_BROWSER", "/usr/bin/chromium")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=binary, args=["--no-sandbox"])
            for label, (width, height) in WIDTHS.items():
                for staff in (True, False):
                    context = browser.new_context(viewport={"width": width, "height": height})
                    page = context.new_page()
                    if staff:
                        page.goto(f"{server.url}/login")
                        page.get_by_label("Email").fill(ADMIN_EMAIL)
                        page.get_by_label("Password").fill(factories.PASSWORD)
                        page.get_by_role("button", name="Sign in").click()
                        page.wait_for_url("**/dashboard/**")
                    for name, (path, needs_staff) in pages(show).items():
                        if needs_staff != staff or (args.only and name != args.only):
                            continue
                        page.goto(server.url + path)
                        target = OUT / f"{name}-{label}.png"
                        page.screenshot(path=str(target))
                        print(target.relative_to(ROOT))
                    context.close()
            browser.close()
        server.__exit__(None, None, None)


if __name__ == "__main__":
    main()
