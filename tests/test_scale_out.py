"""The deployment at scale, proven: gunicorn with 4 workers, 2 scheduler processes,
PostgreSQL and Redis, under a minute of mixed traffic while 500 posts fall due.

Asserted: no 5xx anywhere, every post published exactly once (none lost, none twice), the
sign-in rate limit holds across workers (counters shared in Redis, not per process), and a
publish after the load shows in the feed whichever worker answers.
SYNDICATE_SCALE_SECONDS shortens or lengthens the load (default 60).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from syndicate.articles import services as articles
from syndicate.crypto import TokenVault
from syndicate.db import Database, make_engine
from syndicate.posts.models import Post, PostState
from syndicate.sharing.models import ShareRequest
from syndicate.staff.models import Role
from syndicate.staff.services import create_api_token, create_user
from tests.conftest import missing_service
from tests.factories import make_post, make_sandbox_target

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
REDIS_URL = os.environ.get("SYNDICATE_TEST_REDIS_URL", "")
SECONDS = float(os.environ.get("SYNDICATE_SCALE_SECONDS", "60"))
POSTS = 500


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed(database: Database, sandbox, token_key: str, site: str) -> tuple[str, str]:
    """An admin with an API token, a connected target, a published article and 500 posts
    falling due over the first half of the load. Returns (API token, article slug)."""
    now = datetime.now(UTC)
    with database.transaction() as session:
        admin = create_user(
            session, "ops@example.test", "a long test password", role=Role.ADMIN, now=now
        )
        _, api_token = create_api_token(session, admin, "load", now=now)
        target = make_sandbox_target(
            session, sandbox=sandbox, vault=TokenVault([token_key]), now=now, pages=False
        )
        shared = articles.create_article(
            session,
            articles.ArticleInput(
                title="Under load: the article readers ask to share",
                summary="S",
                body="<p>Body</p>",
                categories=["Ops"],
                authors=["Ada"],
            ),
            now=now,
        )
        articles.publish_article(session, shared, now=now)
        for i in range(POSTS):
            article = articles.create_article(
                session,
                articles.ArticleInput(title=f"Scale story {i} (part {i % 9})", summary="Summary"),
                now=now,
            )
            articles.publish_article(session, article, now=now)
            due = now + timedelta(seconds=SECONDS / 2 * i / POSTS)
            make_post(
                session,
                article=article,
                target=target,
                now=now,
                site_url=site,
                when=now + timedelta(minutes=5),
                campaign="load",
                due_at=due,
                scheduled_at=due,
            )
        return api_token, shared.slug


class Load:
    """Traffic from several threads; every answer's status is counted."""

    def __init__(self, base: str, api_token: str, slug: str) -> None:
        self.base = base
        self.api_token = api_token
        self.slug = slug
        self.statuses: Counter[tuple[str, int]] = Counter()
        self.errors: list[str] = []
        self.stop = threading.Event()
        self.lock = threading.Lock()

    def count(self, kind: str, response: requests.Response) -> None:
        with self.lock:
            self.statuses[(kind, response.status_code)] += 1
            if response.status_code >= 500:
                self.errors.append(f"{kind} {response.status_code} {response.text[:200]}")

    def feeds(self) -> None:
        http = requests.Session()
        etags: dict[str, str] = {}
        paths = [
            "/feeds/rss.xml",
            "/feeds/atom.xml",
            "/feeds/feed.json",
            "/feeds/category/ops/rss.xml",
        ]
        while not self.stop.is_set():
            for path in paths:
                headers = {"If-None-Match": etags[path]} if path in etags else {}
                response = http.get(self.base + path, headers=headers, timeout=30)
                if "ETag" in response.headers:
                    etags[path] = response.headers["ETag"]
                self.count("feed", response)

    def api(self) -> None:
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {self.api_token}"
        while not self.stop.is_set():
            self.count("api", http.get(self.base + "/api/v1/articles?limit=20", timeout=30))
            self.count(
                "api", http.get(self.base + "/api/v1/posts?state=published&limit=50", timeout=30)
            )

    def share_form(self) -> None:
        n = 0
        while not self.stop.is_set():
            http = requests.Session()
            form = http.get(f"{self.base}/articles/{self.slug}/share", timeout=30)
            self.count("share-form", form)
            fields = dict(re.findall(r'name="([^"]+)" type="hidden" value="([^"]*)"', form.text))
            fields.update(
                {
                    "name": "Load Reader",
                    "email": f"reader{n}@example.test",
                    "where": "linkedin_profile",
                    "where_url": "https://www.linkedin.com/in/reader",
                    "kind": "link",
                    "message": "My subscribers would enjoy it.",
                }
            )
            n += 1
            self.count(
                "share-submit",
                http.post(f"{self.base}/articles/{self.slug}/share", data=fields, timeout=30),
            )

    def run(self, seconds: float) -> None:
        workers = [
            threading.Thread(target=job, daemon=True)
            for job in (self.feeds, self.feeds, self.api, self.share_form)
        ]
        for worker in workers:
            worker.start()
        time.sleep(seconds)
        self.stop.set()
        for worker in workers:
            worker.join(timeout=60)


@pytest.fixture
def deployment(fresh_database, linkedin_sandbox, tmp_path):
    if not fresh_database.startswith("postgresql"):
        pytest.skip("the scale-out proof is for PostgreSQL (SQLite is one machine, one writer)")
    if not REDIS_URL:
        missing_service("SYNDICATE_TEST_REDIS_URL is not set, so the scale-out test cannot run")
    import redis

    # The limiter's counters live in Redis; start from none (the test database is ours).
    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port()
    site = f"http://127.0.0.1:{port}"
    token_key = Fernet.generate_key().decode()
    database = Database(make_engine(fresh_database))
    api_token, slug = seed(database, linkedin_sandbox, token_key, site)
    env = {
        **os.environ,
        # Development, not production: production's Secure cookies would not come back
        # over plain HTTP on loopback; everything else is the same code path.
        "SYNDICATE_ENV": "development",
        "SYNDICATE_DATABASE_URL": fresh_database,
        "SYNDICATE_SECRET_KEY": "scale-out-secret-" + "x" * 32,
        "SYNDICATE_TOKEN_KEYS": token_key,
        "SYNDICATE_SITE_URL": site,
        "SYNDICATE_INSTANCE_PATH": str(tmp_path / "instance"),
        "SYNDICATE_RATELIMIT_STORAGE_URI": REDIS_URL,
        "SYNDICATE_LINKEDIN_API_BASE": linkedin_sandbox.base_url,
        "SYNDICATE_LINKEDIN_AUTH_BASE": linkedin_sandbox.base_url,
        "SYNDICATE_LINKEDIN_CLIENT_ID": "syndicate-test",
        "SYNDICATE_LINKEDIN_CLIENT_SECRET": "syndicate-test-secret",
        "SYNDICATE_LINKEDIN_VERSION": datetime.now(UTC).strftime("%Y%m"),
        "SYNDICATE_SCHEDULER_TICK_SECONDS": "1",
        "SYNDICATE_BIND": f"127.0.0.1:{port}",
        "SYNDICATE_WORKERS": "4",
        "SYNDICATE_SHARING_MIN_FILL_SECONDS": "0",
    }
    logs = [(tmp_path / f"{name}.log").open("w") for name in ("web", "s1", "s2")]
    processes = [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=logs[0],
            stderr=logs[0],
        )
    ]
    processes += [
        subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "syndicate", "scheduler"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
        )
        for log in logs[1:]
    ]
    try:
        for _ in range(200):
            try:
                if requests.get(site + "/readyz", timeout=10).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        else:
            pytest.fail(
                "gunicorn did not become ready: " + (tmp_path / "web.log").read_text()[-2000:]
            )
        yield site, database, api_token, slug, tmp_path
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in logs:
            log.close()
        database.engine.dispose()


def test_four_workers_two_schedulers_under_load(deployment, linkedin_sandbox):
    site, database, api_token, slug, tmp_path = deployment
    load = Load(site, api_token, slug)
    load.run(SECONDS)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with database.transaction() as session:
            published = session.scalar(
                select(func.count()).select_from(Post).where(Post.state == PostState.PUBLISHED)
            )
        if published == POSTS:
            break
        time.sleep(0.5)
    with database.transaction() as session:
        states = {
            state: n
            for state, n in session.execute(select(Post.state, func.count()).group_by(Post.state))
        }
        share_requests = session.scalar(select(func.count()).select_from(ShareRequest))
        urns = list(
            session.scalars(select(Post.linkedin_urn).where(Post.state == PostState.PUBLISHED))
        )
    at_linkedin = [p.urn for p in linkedin_sandbox.state.post_list()]

    # Sign-in attempts from one address, spread over the workers: the tenth is the last
    # one let through, because every worker counts in the same Redis.
    browser = requests.Session()
    page = browser.get(site + "/login", timeout=30).text
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    logins = [
        browser.post(
            site + "/login",
            timeout=30,
            data={"email": "x@example.test", "password": "wrong", "csrf_token": csrf},
        )
        for _ in range(16)
    ]
    login_statuses = [r.status_code for r in logins]

    # A publish reaches every worker's feed cache (each LISTENs for article events): many
    # requests in a row, spread over the four workers, all show it within a second.
    fresh = f"Fresh after the load {time.monotonic_ns()}"
    with database.transaction() as session:
        now = datetime.now(UTC)
        article = articles.create_article(
            session, articles.ArticleInput(title=fresh, authors=["Ada"]), now=now
        )
        articles.publish_article(session, article, now=now)
    time.sleep(1)
    feed_reads = [requests.get(site + "/feeds/atom.xml", timeout=30).text for _ in range(40)]
    assert all(fresh in body for body in feed_reads)

    summary = {f"{kind} {status}": n for (kind, status), n in sorted(load.statuses.items())}
    print(f"\nscale-out over {SECONDS:.0f} s: {summary}; posts {states}")
    assert not load.errors, load.errors[:5]
    assert sum(n for (kind, _), n in load.statuses.items() if kind == "feed") > 100
    assert sum(n for (kind, s), n in load.statuses.items() if kind == "api" and s == 200) > 50
    # Five share requests an hour per address (SYNDICATE_SHARING_RATE_LIMIT_IP), counted
    # in Redis by all four workers together: exactly five got through.
    assert load.statuses[("share-submit", 200)] == 5
    assert load.statuses[("share-submit", 429)] > 0
    assert share_requests == 5
    assert states == {PostState.PUBLISHED: POSTS}, states
    assert len(at_linkedin) == len(set(at_linkedin)) == POSTS
    assert sorted(urns) == sorted(at_linkedin)
    assert login_statuses.count(401) == 10 and login_statuses[10:] == [429] * 6, login_statuses
