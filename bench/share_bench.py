"""Benchmark: share links and the share form against a bare Flask app, driven by wrk.

The app under test is the production entry point (gunicorn -c gunicorn.conf.py wsgi:app, 2
sync workers, rate-limit counters in Redis as in production) with a published article and a
granted link-only request. The ceiling is bench/bare_app.py (Flask, no extension) under the
same gunicorn.conf.py, replaying the app's own answers, recorded first: the same redirect
(status, Location, cookies and security headers), and for the form a route that accepts the
same POST body and answers with the app's 303. Measured, each in --rounds rounds alternating
app and baseline:

  /s/<code>, a new visitor every request (a visit row written)  vs bare redirect  (>= 0.8)
  /s/<code>, the same visitor again (nothing written)           vs bare redirect  (>= 0.8)
  POST /articles/<slug>/share, a new email address every time   vs bare POST      (>= 0.4)

The form is submitted the way a reader's browser does: its page is opened once for the CSRF
cookie and the hidden fields (csrf_token, the fill-time stamp), then, after the minimum fill
time, every request posts them with a new email address. For the run the app is configured
generously: SHARING_RATE_LIMIT_IP and SHARING_RATE_LIMIT_EMAIL of 1000000 per second (still
counted in Redis) and SHARING_MIN_FILL_SECONDS of 1; everything else is the production path
(CSRF, honeypot, validation, the request row, the queued verification email).

    .venv/bin/python bench/share_bench.py [--workers 2]
        [--threads 1 --connections 8 --seconds 5 --rounds 3] [--python-load]
        [--database-url postgresql://...] [--ratelimit-storage redis://127.0.0.1:6379/15]

A temporary SQLite database is used (PostgreSQL: --database-url, a temporary database is
created beside the given one and dropped at the end).
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import (  # noqa: E402
    Comparison,
    Databases,
    Load,
    Request,
    add_load_options,
    alternate,
    describe,
    drive,
    load_from,
    record,
    report,
    send,
    serve_gunicorn,
    stop,
)

SLUG = "us-china-fentanyl-talks"
MIN_FILL_SECONDS = 1
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


# ---------------------------------------------------------------------------------------------
# Seeding: a published article and one granted link-only request, through the real services.


def seed(env: dict[str, str]) -> str:
    """Migrate, add the article and a granted request; return the share link's code."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from sqlalchemy import select

        from syndicate import create_app, migrate
        from syndicate.articles import services as articles
        from syndicate.db import make_engine
        from syndicate.sharing.asking import RequestInput, submit_request
        from syndicate.sharing.context import Sharing, token_hash
        from syndicate.sharing.deciding import apply_rules
        from syndicate.sharing.models import RequestState, ShareLink

        engine = make_engine(env["SYNDICATE_DATABASE_URL"])
        migrate.upgrade(engine)
        engine.dispose()
        app = create_app()
        database = app.extensions["database"]
        now = app.extensions["clock"].now()
        ctx = Sharing.for_app(app)
        with database.transaction() as session:
            article = articles.create_article(
                session,
                articles.ArticleInput(
                    title="U.S. and China to hold talks on fentanyl",
                    slug=SLUG,
                    body="<p>The United States and China are set to hold crucial talks.</p>",
                ),
                now=now,
            )
            articles.publish_article(session, article, now=now)
            request = submit_request(
                session,
                article,
                RequestInput(
                    name="Ada Reader",
                    email="ada@example.org",
                    where="linkedin_profile",
                    where_url="https://www.linkedin.com/in/ada",
                    kind="link",
                ),
                now=now,
                ctx=ctx,
            )
            request.verified_at = now
            request.private_token_hash = token_hash(ctx.private_token(request))
            request.state = RequestState.PENDING
            session.flush()
            apply_rules(session, request, now=now, ctx=ctx)
        with database.sessions() as session:
            code = session.scalar(select(ShareLink.code))
        database.engine.dispose()
        return code
    finally:
        os.environ.clear()
        os.environ.update(saved)


def submission(port: int) -> Request:
    """The form as a reader's browser submits it: hidden fields and CSRF cookie from the
    page, a new email address per request ({n}), sent after the minimum fill time."""
    path = f"/articles/{SLUG}/share"
    page = send(port, Request(path, headers={"User-Agent": BROWSER}))
    html = page.body.decode()  # type: ignore[attr-defined]
    fields = dict(re.findall(r'name="(started|csrf_token)" type="hidden" value="([^"]*)"', html))
    cookie = (page.getheader("Set-Cookie") or "").split(";", 1)[0]
    time.sleep(MIN_FILL_SECONDS + 0.2)
    body = urlencode(
        {
            **fields,
            "name": "Ada Reader",
            "where": "linkedin_profile",
            "where_url": "https://www.linkedin.com/in/ada",
            "audience_size": "2500",
            "kind": "full",
            "message": "My subscribers on LinkedIn would enjoy your article. "
            "May I link it to them?",
        }
    )
    headers = {
        "User-Agent": BROWSER,
        "Cookie": cookie,
        "Content-Type": "application/x-www-form-urlencoded",
    }
    return Request(path, "POST", headers, f"{body}&email=reader-{{n}}%40example.org".encode(), 303)


def run(args: argparse.Namespace, load: Load) -> list[Comparison]:
    from cryptography.fernet import Fernet

    comparisons: list[Comparison] = []
    processes = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        databases = Databases(args.database_url, tmp)
        url = databases.new("share_bench")
        env = {
            "SYNDICATE_DATABASE_URL": url,
            "SYNDICATE_ENV": "testing",
            "SYNDICATE_SECRET_KEY": secrets.token_urlsafe(32),
            "SYNDICATE_TOKEN_KEYS": Fernet.generate_key().decode(),
            "SYNDICATE_SITE_URL": "https://bench.example.test",
            "SYNDICATE_INSTANCE_PATH": str(tmp / "instance"),
            "SYNDICATE_RATELIMIT_STORAGE_URI": args.ratelimit_storage,
            # Generous limits for the run (per-second windows: the moving window keeps one
            # entry per hit inside it); the counting still happens.
            "SYNDICATE_SHARING_RATE_LIMIT_IP": "1000000 per second",
            "SYNDICATE_SHARING_RATE_LIMIT_EMAIL": "1000000 per second",
            "SYNDICATE_SHARING_MIN_FILL_SECONDS": str(MIN_FILL_SECONDS),
        }
        try:
            code = seed(env)
            with (tmp / "app.log").open("ab") as log:
                app, app_port = serve_gunicorn("wsgi:app", env, workers=args.workers, log=log)
            processes.append(app)
            same = Request(f"/s/{code}", headers={"User-Agent": BROWSER}, expect=302)
            new = Request(f"/s/{code}", headers={"User-Agent": f"{BROWSER} v/{{n}}"}, expect=302)
            submit = submission(app_port)
            answers = tmp / "answers"
            record(app_port, same, answers, "redirect")
            record(app_port, submit, answers, "submit")
            with (tmp / "bare.log").open("ab") as log:
                bare, bare_port = serve_gunicorn(
                    "bare_app:create_app()",
                    {"BARE_ANSWERS": str(answers)},
                    workers=args.workers,
                    log=log,
                )
            processes.append(bare)
            pairs = [
                ("/s/<code> new visitor / bare redirect", ">= 0.8", new, "redirect"),
                ("/s/<code> same visitor / bare redirect", ">= 0.8", same, "redirect"),
                ("share-form submit / bare POST + redirect", ">= 0.4", submit, "submit"),
            ]
            print(f"workers: {args.workers} sync, both servers; POST body {len(submit.body)} bytes")
            for name, _, request, bare_name in pairs:
                print(
                    f"  {name}: app {describe(send(app_port, request, 1))}; bare "
                    f"{describe(send(bare_port, request.at(f'/bare/{bare_name}'), 1))}"
                )
            for name, goal, request, bare_name in pairs:
                bare_request = request.at(f"/bare/{bare_name}")
                drive(load, app_port, request, seconds=1)  # warm every worker
                comparisons.append(
                    alternate(
                        name,
                        goal,
                        args.rounds,
                        lambda r=request: drive(load, app_port, r),
                        lambda r=bare_request: drive(load, bare_port, r),
                    )
                )
        finally:
            for process in processes:
                stop(process)
            databases.close()
    return comparisons


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers, both")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--ratelimit-storage",
        default="redis://127.0.0.1:6379/15",
        help="SYNDICATE_RATELIMIT_STORAGE_URI of the served app: several workers share "
        "counters in Redis, as in production (memory:// gives each worker its own)",
    )
    add_load_options(parser)
    args = parser.parse_args()
    report(run(args, load_from(args)))


if __name__ == "__main__":
    main()
