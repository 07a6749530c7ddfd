"""Post statistics: one scheduler process refreshing 10,000 posts' figures, against a bare
client loop, and the LinkedIn calls the schedule costs a day.

    .venv/bin/python bench/stats_bench.py [--posts 10000] [--pages 2] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

The LinkedIn sandbox runs in its own process on 127.0.0.1. In each of --rounds rounds, in
alternating order:

- (syndicate) a fresh database holds N published posts of --pages organization pages, aged
  from minutes to 90 days, none fetched yet (the worst case: a first run, or a scheduler
  back after downtime); one `syndicate posts stats refresh` process enrols them, claims them,
  asks the sandbox in batches and stores a sample per post (start-up included);
- (bare) one plain `requests` session sends the same batches (the same URLs, built by
  LinkedInClient.share_statistics_url, SYNDICATE_POST_STATS_BATCH posts each) to the same
  sandbox and parses the JSON, storing nothing.

Printed per round: seconds, posts per second and calls of both, the load average, and that
every post got its sample; then the median ratio syndicate/bare. Finally the requests a day
that the default schedule costs for N posts spread evenly over 90 days (simulated with the
real next_fetch, batches per page and hour), beside LinkedIn's limits.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from cryptography.fernet import Fernet
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import Comparison, Databases, free_port, load_average, report  # noqa: E402

from syndicate import migrate  # noqa: E402
from syndicate.crypto import TokenVault  # noqa: E402
from syndicate.db import make_engine  # noqa: E402
from syndicate.linkedin import demo_figures  # noqa: E402
from syndicate.linkedin import statistics as stats  # noqa: E402
from syndicate.linkedin.client import STATS_BATCH, LinkedInClient  # noqa: E402

SITE = "https://bench.example.test"
VERSION = datetime.now(UTC).strftime("%Y%m")
PAGES = ("urn:li:organization:1001", "urn:li:organization:1002")
SCOPES = ["openid", "profile", "email", "w_member_social", "w_organization_social",
          "r_organization_admin"]
MAX_AGE = timedelta(days=89)


def serve_sandbox(port: int) -> None:
    from syndicate.linkedin_sandbox.app import _start

    server, _app = _start("127.0.0.1", port, quiet=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


def control(base: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body or {}).encode() if body is not None else None
    request = urllib.request.Request(
        base + "/sandbox/control/" + path,
        data=data,
        headers={"Content-Type": "application/json"},
        method="POST" if data is not None else "GET",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
        return json.loads(response.read() or b"{}")


def corpus(posts: int, pages: int, now: datetime) -> list[tuple[str, str, datetime]]:
    """(page URN, post URN, published at) for N posts spread evenly over the last 89 days."""
    found = []
    for i in range(posts):
        published = now - MAX_AGE * (i + 0.5) / posts
        share = demo_figures.share_id_at(int(published.timestamp() * 1000), i)
        found.append((PAGES[i % pages], f"urn:li:share:{share}", published))
    return found


def _db_time(engine, moment: datetime):  # noqa: ANN001, ANN202
    return moment.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moment


def seed(engine, *, token_key: str, token: str, posts: list[tuple[str, str, datetime]]) -> None:  # noqa: ANN001
    """One connection, its pages as targets, and a published post per corpus entry."""
    from syndicate.articles.models import Article
    from syndicate.posts.models import Post

    now = datetime.now(UTC)
    at = lambda moment: _db_time(engine, moment)  # noqa: E731
    with engine.begin() as conn:
        connection_id = conn.execute(
            text(
                "INSERT INTO linkedin_connections (member_urn, name, access_token_encrypted, "
                "expires_at, scopes, state, state_reason, created_at, updated_at) VALUES "
                "(:urn, 'Sam Sandbox', :token, :exp, :scopes, 'active', '', :now, :now) "
                "RETURNING id"
            ),
            {
                "urn": "urn:li:person:sandbox-member-1",
                "token": TokenVault([token_key]).encrypt(token),
                "exp": at(now + timedelta(days=60)),
                "scopes": " ".join(sorted(SCOPES)),
                "now": at(now),
            },
        ).scalar()
        targets = {}
        for urn in sorted({page for page, _, _ in posts}):
            targets[urn] = conn.execute(
                text(
                    "INSERT INTO linkedin_targets (connection_id, urn, kind, display_name, "
                    "time_zone, queue_slots, template, needs_approval, is_active, created_at, "
                    "updated_at) VALUES (:c, :urn, 'organization', :urn, 'UTC', '[]', '', "
                    ":f, :t, :now, :now) RETURNING id"
                ),
                {"c": connection_id, "urn": urn, "f": False, "t": True, "now": at(now)},
            ).scalar()
        for start in range(0, len(posts), 2000):
            chunk = posts[start : start + 2000]
            ids = (
                conn.execute(
                    insert(Article).returning(Article.id),
                    [
                        {
                            "public_id": f"{start + n:032x}",
                            "slug": f"a-{start + n}",
                            "title": f"Article {start + n}",
                            "summary": "",
                            "body_source": "",
                            "body_html": "",
                            "hero_image_alt": "",
                            "status": "published",
                            "published_at": published,
                            "updated_at": published,
                            "created_at": published,
                            "content_hash": "",
                            "body_format": "html",
                        }
                        for n, (_, _, published) in enumerate(chunk)
                    ],
                )
                .scalars()
                .all()
            )
            conn.execute(
                insert(Post),
                [
                    {
                        "article_id": article_id,
                        "target_id": targets[page],
                        "is_reshare": False,
                        "commentary": "Bench",
                        "link_url": f"{SITE}/a",
                        "card_title": "Bench",
                        "card_description": "",
                        "state": "published",
                        "linkedin_urn": urn,
                        "published_at": published,
                        "scheduled_at": published,
                        "attempt": 1,
                        "retry_count": 0,
                        "last_error": "",
                        "source": "manual",
                        "created_at": published,
                        "updated_at": published,
                    }
                    for article_id, (page, urn, published) in zip(ids, chunk, strict=True)
                ],
            )


def env_for(db_url: str, base: str, token_key: str, workdir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "SYNDICATE_ENV": "testing",
        "SYNDICATE_DATABASE_URL": db_url,
        "SYNDICATE_SECRET_KEY": "bench-" + "x" * 40,
        "SYNDICATE_TOKEN_KEYS": token_key,
        "SYNDICATE_SITE_URL": SITE,
        "SYNDICATE_INSTANCE_PATH": str(workdir / "instance"),
        "SYNDICATE_LINKEDIN_API_BASE": base,
        "SYNDICATE_LINKEDIN_AUTH_BASE": base,
        "SYNDICATE_LINKEDIN_VERSION": VERSION,
    }


def mint_token(base: str) -> str:
    return control(base, "tokens/mint", {"scopes": SCOPES})["access_token"]


def batches(base: str, posts: list[tuple[str, str, datetime]]) -> list[str]:
    """The URLs syndicate sends for these posts: per page, in batches."""
    client = LinkedInClient(api_base=base, auth_base=base, version=VERSION)
    urls = []
    for page in sorted({p for p, _, _ in posts}):
        urns = [urn for p, urn, _ in posts if p == page]
        for batch in client.batches_for_url(page, urns, max_count=STATS_BATCH):
            urls.append(client.share_statistics_url(page, batch))
    client.close()
    return urls


def bare_round(base: str, posts: list[tuple[str, str, datetime]]) -> tuple[float, int]:
    """Seconds for a plain requests session to send the same batches and parse the answers."""
    token = mint_token(base)
    urls = batches(base, posts)
    session = requests.Session()
    headers = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    started = time.perf_counter()
    answered = 0
    for url in urls:
        response = session.get(url, headers=headers, timeout=30)
        if response.status_code != 200:
            raise SystemExit(f"the sandbox answered {response.status_code}: {response.text}")
        answered += len(response.json()["elements"])
    seconds = time.perf_counter() - started
    session.close()
    if answered != len(posts):
        raise SystemExit(f"the bare loop got {answered} of {len(posts)} posts' figures")
    return seconds, len(urls)


def syndicate_round(
    base: str, databases: Databases, workdir: Path, posts: list[tuple[str, str, datetime]]
) -> tuple[float, str]:
    """Seconds for one `syndicate posts stats refresh` process to fetch and store them all."""
    token = mint_token(base)
    database_url = databases.new()
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        token_key = Fernet.generate_key().decode()
        seed(engine, token_key=token_key, token=token, posts=posts)
        env = env_for(database_url, base, token_key, workdir)
        done = subprocess.run(  # noqa: S603
            [sys.executable, __file__, "--run-refresh"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"the refresh failed: {done.stdout}{done.stderr}")
        timing = json.loads(done.stdout.strip().splitlines()[-1])
        seconds = timing["refresh"]
        with engine.connect() as conn:
            sampled = conn.execute(
                text("SELECT count(DISTINCT post_id) FROM post_stat_samples")
            ).scalar()
        if sampled != len(posts):
            raise SystemExit(f"only {sampled} of {len(posts)} posts got figures: {done.stdout}")
        return seconds, f"{timing['summary']}; start-up {timing['startup']:.2f} s apart"
    finally:
        engine.dispose()


def run_refresh() -> None:
    """In a process of its own, as a scheduler: build the app, then run the job once (until
    nothing is due) and print both times as JSON."""
    started = time.perf_counter()
    from syndicate import create_app
    from syndicate.linkedin.jobs import refresh_post_statistics

    app = create_app()
    built = time.perf_counter()
    with app.app_context():
        summary = refresh_post_statistics(app)
    done = time.perf_counter()
    print(json.dumps({"startup": built - started, "refresh": done - built, "summary": summary}))


def daily_requests(posts: list[tuple[str, str, datetime]], now: datetime) -> tuple[int, int]:
    """Requests and post fetches in the 24 hours after ``now`` under the default schedule,
    batched per page and hour as the refresher claims them (due at the same hour)."""
    schedule = stats.DEFAULT_SCHEDULE
    due: Counter[tuple[str, datetime]] = Counter()
    fetches = 0
    end = now + timedelta(days=1)
    for page, _urn, published in posts:
        at: datetime | None = stats.next_fetch(published, now, schedule)
        while at is not None and at < end:
            due[(page, at.replace(minute=0, second=0, microsecond=0))] += 1
            fetches += 1
            at = stats.next_fetch(published, at, schedule)
    calls = sum(math.ceil(n / STATS_BATCH) for n in due.values())
    return calls, fetches


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=2, choices=(1, 2))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=os.environ.get("SYNDICATE_TEST_DATABASE_URL"))
    parser.add_argument("--serve-sandbox", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--run-refresh", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.serve_sandbox)
        return
    if args.run_refresh:
        run_refresh()
        return

    workdir = Path(tempfile.mkdtemp(prefix="syndicate-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox = subprocess.Popen(  # noqa: S603
        [sys.executable, __file__, "--serve-sandbox", str(port)], cwd=ROOT
    )
    databases = Databases(args.database_url, workdir)
    try:
        for _ in range(100):
            try:
                control(base, "state")
                break
            except OSError:
                time.sleep(0.1)
        now = datetime.now(UTC)
        posts = corpus(args.posts, args.pages, now)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        comparison = Comparison(
            f"the scheduler's statistics job on {backend}, {args.posts} posts of "
            f"{args.pages} page(s) / bare requests loop, same batches",
            ">= 0.5",
            unit=" posts/s",
        )
        print(f"{comparison.name}", flush=True)
        for number in range(args.rounds):
            loads = load_average()
            figures: dict[str, tuple[float, str]] = {}
            for side in ("bare", "syndicate") if number % 2 == 0 else ("syndicate", "bare"):
                if side == "bare":
                    seconds, calls = bare_round(base, posts)
                    figures[side] = seconds, f"{calls} calls"
                else:
                    figures[side] = syndicate_round(base, databases, workdir, posts)
            ours, bare = (args.posts / figures[s][0] for s in ("syndicate", "bare"))
            comparison.rounds.append((ours, bare))
            print(
                f"  round {number + 1} ({loads}): syndicate {figures['syndicate'][0]:.2f} s "
                f"= {ours:.0f} posts/s ({figures['syndicate'][1]}) | bare "
                f"{figures['bare'][0]:.2f} s = {bare:.0f} posts/s ({figures['bare'][1]}) | "
                f"ratio {ours / bare:.2f}",
                flush=True,
            )
        report([comparison])
        calls, fetches = daily_requests(posts, now)
        print(
            f"  default schedule, {args.posts} posts aged 0 to 89 days evenly: {fetches} post "
            f"fetches = {calls} requests in the next 24 h (batches of {STATS_BATCH} per page "
            f"and hour); a full refresh of all {args.posts} is "
            f"{sum(math.ceil(args.posts / args.pages / STATS_BATCH) for _ in range(args.pages))}"
            " requests"
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        databases.close()


if __name__ == "__main__":
    main()
