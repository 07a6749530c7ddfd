"""Real scheduler processes, real signals, the sandbox over real HTTP: exactly once.

These start `syndicate scheduler` processes against a committed database of the test's own
and kill or stop them at the awkward moments: before the request to LinkedIn, after LinkedIn
stored the post but before the worker could record it, and while another worker took over.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import func, select

from syndicate.articles import services as articles
from syndicate.db import Database, make_engine
from syndicate.linkedin.models import LinkedInTarget
from syndicate.posts.models import Post, PostState
from syndicate.staff.models import Role
from syndicate.staff.services import create_user
from tests.factories import make_post, make_sandbox_target

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
SITE = "https://news.example.test"


class World:
    """A committed database with a connected target, and scheduler processes to run on it."""

    def __init__(self, url: str, sandbox, tmp_path: Path, **settings: str) -> None:
        self.url = url
        self.sandbox = sandbox
        self.key = Fernet.generate_key().decode()
        self.database = Database(make_engine(url))
        self.tmp_path = tmp_path
        self.processes: list[subprocess.Popen] = []
        self.logs_open: list = []
        self.env = {
            **os.environ,
            "SYNDICATE_ENV": "testing",
            "SYNDICATE_DATABASE_URL": url,
            "SYNDICATE_SECRET_KEY": "process-test-secret-" + "x" * 20,
            "SYNDICATE_TOKEN_KEYS": self.key,
            "SYNDICATE_SITE_URL": SITE,
            "SYNDICATE_INSTANCE_PATH": str(tmp_path / "instance"),
            "SYNDICATE_LINKEDIN_API_BASE": sandbox.base_url,
            "SYNDICATE_LINKEDIN_AUTH_BASE": sandbox.base_url,
            "SYNDICATE_LINKEDIN_CLIENT_ID": "syndicate-test",
            "SYNDICATE_LINKEDIN_CLIENT_SECRET": "syndicate-test-secret",
            "SYNDICATE_LINKEDIN_VERSION": datetime.now(UTC).strftime("%Y%m"),
            "SYNDICATE_SCHEDULER_TICK_SECONDS": "1",
            "SYNDICATE_LINKEDIN_TIMEOUT": "2",
            "SYNDICATE_DISPATCH_LEASE": "8s",
            "SYNDICATE_DISPATCH_RECONCILE_AFTER": "1s",
            **{f"SYNDICATE_{k}": v for k, v in settings.items()},
        }
        from syndicate.crypto import TokenVault

        now = datetime.now(UTC)
        with self.database.transaction() as session:
            self.user = create_user(
                session, "ops@example.test", "a long test password", role=Role.ADMIN, now=now
            )
            target = make_sandbox_target(
                session, sandbox=sandbox, vault=TokenVault([self.key]), now=now, pages=False
            )
            self.target_id = target.id

    def seed(self, n: int, *, due: datetime, thumbnail: bool = False) -> list[int]:
        now = datetime.now(UTC)
        ids = []
        with self.database.transaction() as session:
            target = session.get(LinkedInTarget, self.target_id)
            for i in range(n):
                article = articles.create_article(
                    session,
                    articles.ArticleInput(
                        title=f"Story {i} (part {i % 7}) — #{i}",
                        summary="Summary",
                        hero_image_url=f"{SITE}/static/demo/harbour-dawn.png"
                        if thumbnail
                        else None,
                        hero_image_alt="Harbour" if thumbnail else "",
                    ),
                    now=now,
                )
                articles.publish_article(session, article, now=now)
                post = make_post(
                    session,
                    article=article,
                    target=target,
                    now=now,
                    site_url=SITE,
                    when=now + timedelta(seconds=1),
                    campaign="t",
                    due_at=due,
                    scheduled_at=due,
                )
                ids.append(post.id)
        return ids

    def start(self, count: int = 1) -> list[subprocess.Popen]:
        started = []
        for _ in range(count):
            log = (self.tmp_path / f"s{len(self.processes)}.log").open("w")
            self.logs_open.append(log)
            process = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "syndicate", "scheduler"],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            self.processes.append(process)
            started.append(process)
        return started

    def states(self) -> dict[str, int]:
        with self.database.transaction() as session:
            rows = session.execute(select(Post.state, func.count()).group_by(Post.state)).all()
        return {state.value: count for state, count in rows}

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "condition") -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.processes and all(p.poll() is not None for p in self.processes):
                break  # every scheduler has exited: waiting longer cannot help
            time.sleep(0.05)
        raise AssertionError(
            f"timed out waiting for {what}; states: {self.states()}; logs: {self.logs()[-3000:]}"
        )

    def logs(self) -> str:
        return "\n".join(p.read_text() for p in sorted(self.tmp_path.glob("s*.log")))

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGCONT)
                process.kill()
            process.wait(timeout=10)
        for log in self.logs_open:
            log.close()
        self.database.engine.dispose()


@pytest.fixture
def postgres_only(fresh_database):
    """The crash tests run on PostgreSQL, the multi-host database; SQLite gets the
    many-schedulers test, which is what a single machine can meet."""
    if not fresh_database.startswith("postgresql"):
        pytest.skip("crash and signal tests run on PostgreSQL (and keep the suite short)")


@pytest.fixture
def world(fresh_database, linkedin_sandbox, tmp_path):
    worlds = []

    def make(**settings: str) -> World:
        created = World(fresh_database, linkedin_sandbox, tmp_path, **settings)
        worlds.append(created)
        return created

    yield make
    for created in worlds:
        created.close()


def sandbox_urns(sandbox) -> list[str]:
    return [p.urn for p in sandbox.state.post_list()]


def published_urns(world: World) -> list[str]:
    with world.database.transaction() as session:
        return list(
            session.scalars(select(Post.linkedin_urn).where(Post.state == PostState.PUBLISHED))
        )


def test_four_schedulers_publish_200_due_posts_exactly_once(world, linkedin_sandbox):
    w = world()
    w.seed(200, due=datetime.now(UTC) - timedelta(seconds=1))
    w.start(4)
    w.wait_for(lambda: w.states().get("published") == 200, timeout=180, what="200 published")
    urns = sandbox_urns(linkedin_sandbox)
    assert len(urns) == len(set(urns)) == 200
    assert sorted(published_urns(w)) == sorted(urns)


def test_killed_before_the_call_the_post_is_sent_once_by_another(
    postgres_only, world, linkedin_sandbox
):
    w = world()
    linkedin_sandbox.state.inject("/rest/images", "delay", seconds=6, count=1)
    [post_id] = w.seed(1, due=datetime.now(UTC) - timedelta(seconds=1), thumbnail=True)
    [first] = w.start(1)
    w.wait_for(lambda: w.states().get("sending") == 1, what="claimed")
    time.sleep(0.3)  # inside the slow thumbnail upload, before the request to LinkedIn
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert sandbox_urns(linkedin_sandbox) == []
    w.start(1)
    w.wait_for(lambda: w.states().get("published") == 1, timeout=60, what="published")
    assert len(sandbox_urns(linkedin_sandbox)) == 1


def test_killed_after_linkedin_stored_it_no_second_post_appears(
    postgres_only, world, linkedin_sandbox
):
    w = world(LINKEDIN_TIMEOUT="10", DISPATCH_LEASE="16s")
    linkedin_sandbox.state.inject(
        "/rest/posts", "timeout-after-store", method="POST", seconds=30, count=1
    )
    w.seed(1, due=datetime.now(UTC) - timedelta(seconds=1))
    [first] = w.start(1)
    w.wait_for(lambda: len(sandbox_urns(linkedin_sandbox)) == 1, what="stored at LinkedIn")
    first.send_signal(signal.SIGKILL)  # LinkedIn has it; the worker never learned the URN
    first.wait(timeout=10)
    assert w.states() == {"sending": 1}
    w.start(1)
    w.wait_for(lambda: w.states().get("published") == 1, timeout=90, what="settled")
    assert published_urns(w) == sandbox_urns(linkedin_sandbox)
    assert len(sandbox_urns(linkedin_sandbox)) == 1


def test_a_stopped_worker_resumed_after_its_lease_does_not_post_again(
    postgres_only, world, linkedin_sandbox
):
    w = world()
    linkedin_sandbox.state.inject("/rest/images", "delay", seconds=4, count=1)
    w.seed(1, due=datetime.now(UTC) - timedelta(seconds=1), thumbnail=True)
    [stopped] = w.start(1)
    w.wait_for(lambda: w.states().get("sending") == 1, what="claimed")
    time.sleep(0.3)
    stopped.send_signal(signal.SIGSTOP)
    w.start(1)
    w.wait_for(lambda: w.states().get("published") == 1, timeout=60, what="published by B")
    stopped.send_signal(signal.SIGCONT)
    time.sleep(6)  # A finishes its upload and reaches the fence
    assert len(sandbox_urns(linkedin_sandbox)) == 1
    assert w.states() == {"published": 1}


def test_down_across_the_due_time_posts_go_late_or_are_missed_never_lost(
    postgres_only, world, linkedin_sandbox
):
    w = world(MISSED_AFTER="30s")
    now = datetime.now(UTC)
    w.seed(2, due=now - timedelta(seconds=10))  # late but within the window: sent
    w.seed(3, due=now - timedelta(minutes=5))  # beyond the window: missed
    w.start(1)
    w.wait_for(
        lambda: w.states() == {"published": 2, "missed": 3},
        timeout=60,
        what="2 published and 3 missed",
    )
    assert len(sandbox_urns(linkedin_sandbox)) == 2
