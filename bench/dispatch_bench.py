"""Dispatch throughput, exactly-once and scheduler memory, against a bare client loop.

    .venv/bin/python bench/dispatch_bench.py [--posts 5000] [--workers 4]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--memory-posts 100000]

In one run: the LinkedIn sandbox runs in its own process on 127.0.0.1; a bare loop of the
project's LinkedInClient posts N bodies to it (the baseline); then N posts fall due at once
and W `syndicate posts dispatch --until-idle` processes publish them. Printed: posts per
second of both, their ratio (goal >= 0.5), duplicates and lost posts (goal 0), and the peak
memory of a `syndicate scheduler` process with few and with many scheduled posts in the
database (goal < 150 MB and flat).

Also printed, on Linux, where the CPU went in both phases: the bare loop's client and the
sandbox, the dispatcher processes (start-up included) and the sandbox, and how busy the
whole machine was. The machine is shared (PostgreSQL, other people's work), so a low ratio
with much CPU spent elsewhere says "measure again", not "the dispatcher got slower".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from sqlalchemy import insert, text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness import Databases, free_port  # noqa: E402

from syndicate import migrate  # noqa: E402
from syndicate.crypto import TokenVault  # noqa: E402
from syndicate.db import make_engine  # noqa: E402
from syndicate.linkedin.client import LinkedInClient  # noqa: E402

SITE = "https://bench.example.test"
VERSION = datetime.now(UTC).strftime("%Y%m")


def serve_sandbox(port: int) -> None:
    from syndicate.linkedin_sandbox.app import _start

    server, app = _start("127.0.0.1", port, quiet=True)
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


def body(i: int, tag: str) -> dict:
    return {
        "author": "urn:li:person:sandbox-member-1",
        "commentary": f"Benchmark {tag} post {i} \\(with escapes\\)",
        "visibility": "PUBLIC",
        "distribution": {
            "feedDistribution": "MAIN_FEED",
            "targetEntities": [],
            "thirdPartyDistributionChannels": [],
        },
        "content": {"article": {"source": f"{SITE}/articles/{tag}-{i}", "title": f"T {i}"}},
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": False,
    }


def seed(engine, *, token_key: str, token: str, count: int, due: datetime, tag: str) -> None:
    """Bulk-insert published articles and one post each, due at ``due``."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        target_id = conn.execute(text("SELECT id FROM linkedin_targets")).scalar()
        if target_id is None:
            connection_id = conn.execute(
                text(
                    "INSERT INTO linkedin_connections (member_urn, name, access_token_encrypted, "
                    "expires_at, scopes, state, state_reason, created_at, updated_at) VALUES "
                    "(:urn, 'Sam Sandbox', :token, :exp, 'openid profile email w_member_social', "
                    "'active', '', :now, :now) RETURNING id"
                ),
                {
                    "urn": "urn:li:person:sandbox-member-1",
                    "token": TokenVault([token_key]).encrypt(token),
                    "exp": _db_time(engine, now + timedelta(days=60)),
                    "now": _db_time(engine, now),
                },
            ).scalar()
            target_id = conn.execute(
                text(
                    "INSERT INTO linkedin_targets (connection_id, urn, kind, display_name, "
                    "time_zone, queue_slots, template, needs_approval, is_active, created_at, "
                    "updated_at) VALUES (:c, :urn, 'member', 'Sam Sandbox', 'UTC', '[]', '', "
                    ":f, :t, :now, :now) RETURNING id"
                ),
                {
                    "c": connection_id,
                    "urn": "urn:li:person:sandbox-member-1",
                    "f": False,
                    "t": True,
                    "now": _db_time(engine, now),
                },
            ).scalar()
        from syndicate.articles.models import Article
        from syndicate.posts.models import Post

        for start in range(0, count, 2000):
            rows = range(start, min(count, start + 2000))
            ids = (
                conn.execute(
                    insert(Article).returning(Article.id),
                    [
                        {
                            "public_id": secrets.token_hex(16),
                            "slug": f"{tag}-{i}",
                            "title": f"T {i}",
                            "summary": "",
                            "body_source": "",
                            "body_html": "",
                            "hero_image_alt": "",
                            "status": "published",
                            "published_at": now,
                            "updated_at": now,
                            "created_at": now,
                            "content_hash": "",
                            "body_format": "html",
                        }
                        for i in rows
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
                        "target_id": target_id,
                        "is_reshare": False,
                        "commentary": f"Benchmark {tag} post {i} (with escapes)",
                        "link_url": f"{SITE}/articles/{tag}-{i}",
                        "card_title": f"T {i}",
                        "card_description": "",
                        "state": "scheduled",
                        "scheduled_at": due,
                        "due_at": due,
                        "attempt": 0,
                        "retry_count": 0,
                        "last_error": "",
                        "source": "manual",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for article_id, i in zip(ids, rows, strict=True)
                ],
            )


def _db_time(engine, moment: datetime):  # noqa: ANN202
    return moment.replace(tzinfo=None) if engine.dialect.name == "sqlite" else moment


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
        "SYNDICATE_SCHEDULER_TICK_SECONDS": "1",
    }


class CpuMeter:
    """CPU seconds of this process, its reaped children, the sandbox and the machine."""

    def __init__(self, sandbox_pid: int) -> None:
        self.sandbox_pid = sandbox_pid
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        me = resource.getrusage(resource.RUSAGE_SELF)
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        values = {
            "self": me.ru_utime + me.ru_stime,
            "children": children.ru_utime + children.ru_stime,
            "sandbox": 0.0,
            "busy": 0.0,
            "total": 0.0,
        }
        tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        try:
            fields = Path(f"/proc/{self.sandbox_pid}/stat").read_text().rsplit(")", 1)[1].split()
            values["sandbox"] = (int(fields[11]) + int(fields[12])) / tick
            cpu = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            values["total"] = sum(cpu[:8]) / tick
            values["busy"] = values["total"] - (cpu[3] + cpu[4]) / tick
        except (OSError, IndexError, ValueError):
            pass  # not Linux: only the rusage figures
        return values

    def report(self, posts: int, who: str) -> str:
        end = self._read()
        spent = {key: end[key] - self.start[key] for key in end}
        mine = spent[who] + spent["sandbox"]
        name = "the client" if who == "self" else "the dispatchers (start-up included)"
        text = (
            f"{spent[who] / posts * 1000:.2f} ms/post in {name}, "
            f"{spent['sandbox'] / posts * 1000:.2f} ms/post in the sandbox"
        )
        if spent["total"]:
            others = (spent["busy"] - mine) / spent["total"]
            text += (
                f"; machine {spent['busy'] / spent['total']:.0%} busy, {others:.0%} of its CPU "
                "elsewhere (PostgreSQL, other work)"
            )
        return text


def peak_memory_mb(env: dict[str, str], seconds: float) -> float:
    """Peak RSS of a scheduler process running its jobs for a while."""
    process = subprocess.Popen(
        [sys.executable, "-m", "syndicate", "scheduler"],
        cwd=ROOT,  # noqa: S603
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(seconds)
        status = Path(f"/proc/{process.pid}/status").read_text()
        return (
            int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
            / 1024
        )
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--database-url", default=os.environ.get("SYNDICATE_TEST_DATABASE_URL"))
    parser.add_argument("--memory-posts", type=int, default=100_000)
    parser.add_argument("--serve-sandbox", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_sandbox:
        serve_sandbox(args.serve_sandbox)
        return

    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="syndicate-bench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    sandbox = subprocess.Popen(
        [sys.executable, __file__, "--serve-sandbox", str(port)],  # noqa: S603
        cwd=ROOT,
    )
    databases = engine = None
    try:
        for _ in range(100):
            try:
                control(base, "state")
                break
            except OSError:
                time.sleep(0.1)
        token = control(
            base, "tokens/mint", {"scopes": ["openid", "profile", "email", "w_member_social"]}
        )["access_token"]

        client = LinkedInClient(api_base=base, auth_base=base, version=VERSION)
        meter = CpuMeter(sandbox.pid)
        started = time.perf_counter()
        for i in range(args.posts):
            client.create_post(token, body(i, "bare"))
        bare = args.posts / (time.perf_counter() - started)
        bare_cpu = meter.report(args.posts, "self")
        client.close()
        control(base, "reset", {})
        token = control(
            base, "tokens/mint", {"scopes": ["openid", "profile", "email", "w_member_social"]}
        )["access_token"]

        databases = Databases(args.database_url, workdir)
        database_url = databases.new()
        engine = make_engine(database_url)
        migrate.upgrade(engine)
        token_key = Fernet.generate_key().decode()
        seed(
            engine,
            token_key=token_key,
            token=token,
            count=args.posts,
            due=_db_time(engine, datetime.now(UTC) - timedelta(seconds=1)),
            tag="due",
        )
        env = env_for(database_url, base, token_key, workdir)
        meter = CpuMeter(sandbox.pid)
        started = time.perf_counter()
        workers = [
            subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "syndicate", "posts", "dispatch", "--until-idle"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
            )
            for _ in range(args.workers)
        ]
        for worker in workers:
            worker.wait()
        elapsed = time.perf_counter() - started
        dispatched = args.posts / elapsed
        dispatch_cpu = meter.report(args.posts, "children")

        with engine.connect() as conn:
            published = conn.execute(
                text("SELECT count(*) FROM posts WHERE state = 'published'")
            ).scalar()
            distinct = conn.execute(
                text("SELECT count(DISTINCT linkedin_urn) FROM posts WHERE state='published'")
            ).scalar()
        stored = control(base, "posts")
        stored_posts = stored.get("posts", stored.get("elements", []))
        duplicates = len(stored_posts) - len({p["sentCommentary"] for p in stored_posts})
        lost = args.posts - published

        few = peak_memory_mb(env, 8)
        seed(
            engine,
            token_key=token_key,
            token=token,
            count=args.memory_posts,
            due=_db_time(engine, datetime.now(UTC) + timedelta(days=30)),
            tag="later",
        )
        many = peak_memory_mb(env, 8)

        print(f"bare client loop:      {bare:8.1f} posts/s  ({args.posts} posts, 1 process)")
        print(
            f"dispatcher:            {dispatched:8.1f} posts/s  ({args.workers} processes, "
            f"{'PostgreSQL' if args.database_url else 'SQLite'})"
        )
        print(f"ratio dispatcher/bare: {dispatched / bare:8.2f}   (goal >= 0.5)")
        print(f"CPU, bare loop:        {bare_cpu}")
        print(f"CPU, dispatcher:       {dispatch_cpu}")
        print(
            f"published {published}, distinct URNs {distinct}, at the sandbox "
            f"{len(stored_posts)}; duplicates {duplicates}, lost {lost} (goal 0 and 0)"
        )
        print(
            f"scheduler peak memory: {few:.0f} MB with {args.posts} posts, {many:.0f} MB with "
            f"{args.posts + args.memory_posts} (goal < 150 MB and flat)"
        )
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        if engine is not None:
            engine.dispose()
        if databases is not None:
            databases.close()


if __name__ == "__main__":
    main()
