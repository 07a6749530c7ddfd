"""Benchmark: share-form submissions and /s/<code> redirects against a constant route, under
gunicorn.

Serves the app with gunicorn (2 sync workers) on 127.0.0.1 and drives it from separate client
processes (a small Python load generator; wrk is not installed here). In one run it measures

  (c) /bench/constant: a route of the same app returning a few constant bytes (the ceiling),
  (r) /s/<code>: the tracked share link, each request a new visitor (a row is written),
  (r') /s/<code>: the same visitor again (counted already today: nothing is written),
  (s) POST /articles/<slug>/share: the whole public form with the per-address limit (Redis),
      CSRF, honeypot, fill-time stamp, validation, the per-email allowance, the request row
      and the queued verification email (each client process opens the form once and sends
      it with that CSRF cookie and fill-time stamp every time),

and prints requests per second and the ratios r/c and s/c against the goals of issue 5
(redirects >= 0.7, submissions >= 0.3). Within a round the measures take turns in short
slices, so that other load on the machine falls on all of them alike. Rate limits are
relaxed for the run (the app wrapper sets SHARING_RATE_LIMIT_IP/EMAIL very high; they are
still counted); everything else is the production path.

    .venv/bin/python bench/share_bench.py [--seconds 3] [--clients 4] [--workers 2]
                                          [--rounds 3] [--slices 6]
                                          [--database-url postgresql://...]
                                          [--ratelimit-storage redis://127.0.0.1:6379/15]

A temporary SQLite database is used (PostgreSQL: --database-url, a temporary database is
created beside the given one and dropped at the end).
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import multiprocessing
import os
import re
import secrets
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import Databases, serve_gunicorn, stop  # noqa: E402

GOALS = {"r/c": 0.7, "s/c": 0.3}
SLUG = "us-china-fentanyl-talks"
MIN_FILL_SECONDS = 1
BROWSER = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
           "Chrome/126.0.0.0 Safari/537.36")


# ---------------------------------------------------------------------------------------------
# The app gunicorn serves: the real app plus a constant route.


def bench_app() -> Any:
    """create_app() with the sharing blueprints, relaxed rate limits and /bench/constant."""
    from flask import Response

    from syndicate import create_app
    from syndicate.sharing import dashboard_views, views

    app = create_app()
    if "sharing" not in app.blueprints:
        app.register_blueprint(views.public)
        app.register_blueprint(dashboard_views.dashboard)
    # Per-second windows: the in-memory moving window keeps one entry per hit inside it.
    app.config["SHARING_RATE_LIMIT_IP"] = "1000000 per second"
    app.config["SHARING_RATE_LIMIT_EMAIL"] = "1000000 per second"
    app.config["SHARING_MIN_FILL_SECONDS"] = MIN_FILL_SECONDS

    @app.get("/bench/constant")
    def constant() -> Response:
        return Response(b"ok\n", mimetype="text/plain")

    return app


# ---------------------------------------------------------------------------------------------
# Seeding: a published article and one granted link-only request, through the real services.


def seed(env: dict[str, str]) -> str:
    """Migrate, add the article and a granted request; return the share link's code."""
    saved = dict(os.environ)
    os.environ.update(env)
    try:
        from sqlalchemy import select

        from syndicate import migrate
        from syndicate.articles import services as articles
        from syndicate.db import make_engine
        from syndicate.sharing.asking import RequestInput, submit_request
        from syndicate.sharing.context import Sharing, token_hash
        from syndicate.sharing.deciding import apply_rules
        from syndicate.sharing.models import RequestState, ShareLink

        engine = make_engine(env["SYNDICATE_DATABASE_URL"])
        migrate.upgrade(engine)
        engine.dispose()
        app = bench_app()
        database = app.extensions["database"]
        now = app.extensions["clock"].now()
        ctx = Sharing.for_app(app)
        with database.transaction() as session:
            article = articles.create_article(session, articles.ArticleInput(
                title="U.S. and China to hold talks on fentanyl", slug=SLUG,
                body="<p>The United States and China are set to hold crucial talks.</p>"),
                now=now)
            articles.publish_article(session, article, now=now)
            request = submit_request(
                session, article,
                RequestInput(name="Ada Reader", email="ada@example.org",
                             where="linkedin_profile",
                             where_url="https://www.linkedin.com/in/ada", kind="link"),
                now=now, ctx=ctx)
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


# ---------------------------------------------------------------------------------------------
# Load generation


def _get(port: int, path: str, headers: dict[str, str]) -> tuple[int, str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        return response.status, body, response.getheader("Set-Cookie") or ""
    finally:
        conn.close()


_FORMS: dict[tuple[int, str], tuple[dict[str, str], str]] = {}


def _form(port: int, path: str) -> tuple[dict[str, str], str]:
    """The form's hidden fields and session cookie, fetched once per client process (the
    stamp stays valid for two days, the CSRF token for an hour) and then left to age past
    the minimum fill time, so that every slice of load submits at once."""
    if (port, path) not in _FORMS:
        status, page, cookie = _get(port, path, {"User-Agent": BROWSER})
        assert status == 200, status
        fields = dict(re.findall(r'name="(started|csrf_token)" type="hidden" value="([^"]*)"',
                                 page))
        time.sleep(MIN_FILL_SECONDS + 0.2)  # a stamp older than the minimum fill time
        _FORMS[port, path] = fields, cookie.split(";", 1)[0]
    return _FORMS[port, path]


def _hammer(args: tuple[str, int, str, float, int]) -> int:
    """Requests one client process completes with the expected status before the deadline."""
    mode, port, path, seconds, expected = args
    worker = secrets.token_hex(4)
    headers: dict[str, str] = {"User-Agent": BROWSER}
    body_of: Any = None
    if mode == "submit":
        fields, cookie = _form(port, path)
        headers = {**headers, "Cookie": cookie,
                   "Content-Type": "application/x-www-form-urlencoded"}

        # Encoded once: the load generator's own work per request stays as small as for a GET.
        same_every_time = urlencode({
            **fields, "name": "Ada Reader",
            "where": "linkedin_profile", "where_url": "https://www.linkedin.com/in/ada",
            "audience_size": "2500", "kind": "full",
            "message": "My subscribers on LinkedIn would enjoy your article. "
                       "May I link it to them?",
        })

        def body_of(n: int) -> str:
            return f"{same_every_time}&email=reader-{worker}-{n}%40example.org"

    done = 0
    deadline = time.monotonic() + seconds
    for n in itertools.count():
        if time.monotonic() >= deadline:
            break
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            if mode == "submit":
                conn.request("POST", path, body=body_of(n), headers=headers)
            elif mode == "new-visitor":
                conn.request("GET", path, headers={"User-Agent": f"{BROWSER} v/{worker}.{n}"})
            else:
                conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == expected:
                done += 1
        finally:
            conn.close()
    return done


SERVED: dict[str, int] = {}


def measure_round(pool: Any, port: int, code: str, *, seconds: float, clients: int,
                  slices: int) -> dict[str, float]:
    """Requests per second of each measure over one round.

    The measures take turns in short slices (``seconds / slices`` each), so that load from
    other processes on the machine, which comes and goes over seconds, falls on all of them
    alike and the ratios compare like with like.
    """
    done = dict.fromkeys((key for key, *_ in MEASURES), 0)
    for _key, _label, mode, path, expected in MEASURES:  # warm every worker and client
        warm = pool.map(_hammer, [(mode, port, path.format(code=code), 0.3, expected)] * clients)
        SERVED[mode] = SERVED.get(mode, 0) + sum(warm)
    for _ in range(slices):
        for key, _label, mode, path, expected in MEASURES:
            counts = pool.map(
                _hammer,
                [(mode, port, path.format(code=code), seconds / slices, expected)] * clients,
            )
            done[key] += sum(counts)
            SERVED[mode] = SERVED.get(mode, 0) + sum(counts)
    return {key: count / seconds for key, count in done.items()}


def counted_visits(database_url: str) -> int:
    """Visits the app wrote (after gunicorn stopped, so every worker has flushed)."""
    from sqlalchemy import func, select

    from syndicate.db import make_engine
    from syndicate.sharing.models import ShareVisitDay, ShareVisitor

    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            live = conn.execute(select(func.count()).select_from(ShareVisitor)).scalar() or 0
            folded = conn.execute(select(func.sum(ShareVisitDay.visits))).scalar() or 0
    finally:
        engine.dispose()
    return int(live) + int(folded)


MEASURES = (
    ("c", "constant route", "get", "/bench/constant", 200),
    ("r", "redirect, new visitor", "new-visitor", "/s/{code}", 302),
    ("r'", "redirect, same visitor", "get", "/s/{code}", 302),
    ("s", "form submission", "submit", f"/articles/{SLUG}/share", 303),
)


def run(args: argparse.Namespace) -> list[dict[str, float]]:
    """Requests per second of each measure, per round (see measure_round)."""
    from cryptography.fernet import Fernet

    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp, multiprocessing.Pool(args.clients) as pool:
        databases = Databases(args.database_url, tmp)
        url = databases.new("share_bench")
        env = {"SYNDICATE_DATABASE_URL": url, "SYNDICATE_ENV": "testing",
               "SYNDICATE_SECRET_KEY": secrets.token_urlsafe(32),
               "SYNDICATE_TOKEN_KEYS": Fernet.generate_key().decode(),
               "SYNDICATE_SITE_URL": "https://bench.example.test",
               "SYNDICATE_INSTANCE_PATH": str(Path(tmp) / "instance"),
               "SYNDICATE_RATELIMIT_STORAGE_URI": args.ratelimit_storage,
               "PYTHONPATH": str(ROOT)}
        try:
            code = seed(env)
            process, port = serve_gunicorn("share_bench:bench_app()", env, workers=args.workers)
            try:
                for number in range(1, args.rounds + 1):
                    result = measure_round(pool, port, code, seconds=args.seconds,
                                           clients=args.clients, slices=args.slices)
                    rounds.append(result)
                    print(f"round {number}: " + ", ".join(
                        f"{key} {value:.0f}/s" for key, value in result.items()), flush=True)
            finally:
                stop(process)
            # Honesty check: each new-visitor redirect must have become exactly one visit
            # (the first same-visitor request is one more; every repeat is not).
            expected = SERVED.get("new-visitor", 0) + (1 if SERVED.get("get") else 0)
            print(f"visits counted: {counted_visits(url)} for {expected} distinct visitors "
                  f"served", flush=True)
        finally:
            databases.close()
    return rounds


def report(rounds: list[dict[str, float]]) -> None:
    from statistics import median

    print("\nrequests per second (median of the rounds)")
    for key, label, _mode, _path, _expected in MEASURES:
        print(f"  {key:<3} {label:<24} {median(r[key] for r in rounds):8.0f}")
    ratios = {
        "r/c (new visitor)": median(r["r"] / r["c"] for r in rounds),
        "r/c (same visitor)": median(r["r'"] / r["c"] for r in rounds),
        "s/c": median(r["s"] / r["c"] for r in rounds),
    }
    print("\nratios to the constant route of the same round (median of the rounds)")
    for name, value in ratios.items():
        goal = GOALS[name.split(" ")[0]]
        verdict = "meets" if value >= goal else "below"
        print(f"  {name:<20} {value:6.2f}   goal >= {goal}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slices", type=int, default=6,
                        help="turns each measure takes per round (of --seconds in all)")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--ratelimit-storage", default="redis://127.0.0.1:6379/15",
        help="SYNDICATE_RATELIMIT_STORAGE_URI of the served app: several workers share "
             "counters in Redis, as in production (memory:// gives each worker its own)")
    args = parser.parse_args()
    report(run(args))


if __name__ == "__main__":
    main()
