"""Dispatch throughput, exactly-once and scheduler memory, against a bare client loop.

    .venv/bin/python bench/dispatch_bench.py [--posts 1000] [--workers 4] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/test] [--memory-posts 100000]

The LinkedIn sandbox runs in its own process on 127.0.0.1. In each of --rounds rounds, in
alternating order: (bare) one plain `requests` session posts the N bodies the dispatcher
would send (same JSON, same headers) to the sandbox's /rest/posts, one after the other; and
(dispatcher) N posts fall due at once in a fresh database and W `syndicate posts dispatch
--until-idle` processes publish them (start-up included, as a scheduler pays it). Printed per
round: posts per second of both, the load average, where the CPU went, and duplicates and
lost posts (goal 0); then the median ratio dispatcher/bare (goal >= 0.5, issue 15) and the
peak memory of a `syndicate scheduler` process with few and with many scheduled posts in the
database (goal < 150 MB and flat; --memory-posts 0 skips it).

The machine is shared (PostgreSQL, other people's work), so a low ratio with much CPU spent
elsewhere says "measure again", not "the dispatcher got slower".
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import time
import urllib.request
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


def mint_token(base: str) -> str:
    scopes = ["openid", "profile", "email", "w_member_social"]
    return control(base, "tokens/mint", {"scopes": scopes})["access_token"]


def bare_round(base: str, posts: int, sandbox_pid: int) -> tuple[float, str]:
    """Posts per second of a plain requests session posting the dispatcher's bodies."""
    control(base, "reset", {})
    token = mint_token(base)
    session = requests.Session()
    headers = {
        "Authorization": f"Bearer {token}",
        "LinkedIn-Version": VERSION,
        "X-Restli-Protocol-Version": "2.0.0",
    }
    meter = CpuMeter(sandbox_pid)
    started = time.perf_counter()
    for i in range(posts):
        response = session.post(
            base + "/rest/posts", json=body(i, "due"), headers=headers, timeout=30
        )
        if response.status_code != 201:
            raise SystemExit(f"the sandbox answered {response.status_code}: {response.text}")
    per_second = posts / (time.perf_counter() - started)
    session.close()
    return per_second, meter.report(posts, "self")


def dispatch_round(
    args: argparse.Namespace, base: str, databases: Databases, workdir: Path, sandbox_pid: int
) -> tuple[float, str, dict[str, str]]:
    """Posts per second of W dispatch processes publishing N due posts of a fresh database;
    also the exactly-once check and the environment (for the memory measure)."""
    control(base, "reset", {})
    token = mint_token(base)
    database_url = databases.new()
    engine = make_engine(database_url)
    try:
        migrate.upgrade(engine)
        token_key = Fernet.generate_key().decode()
        due = _db_time(engine, datetime.now(UTC) - timedelta(seconds=1))
        seed(engine, token_key=token_key, token=token, count=args.posts, due=due, tag="due")
        env = env_for(database_url, base, token_key, workdir)
        meter = CpuMeter(sandbox_pid)
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
        per_second = args.posts / (time.perf_counter() - started)
        cpu = meter.report(args.posts, "children")
        with engine.connect() as conn:
            published = conn.execute(
                text("SELECT count(*) FROM posts WHERE state = 'published'")
            ).scalar()
        stored = control(base, "posts")
        stored_posts = stored.get("posts", stored.get("elements", []))
        duplicates = len(stored_posts) - len({p["sentCommentary"] for p in stored_posts})
        cpu += (
            f"; published {published}, at the sandbox {len(stored_posts)}, duplicates "
            f"{duplicates}, lost {args.posts - published} (goal 0 and 0)"
        )
        env["BENCH_TOKEN_KEY"], env["BENCH_TOKEN"] = token_key, token
        return per_second, cpu, env
    finally:
        engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
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
    databases = Databases(args.database_url, workdir)
    try:
        for _ in range(100):
            try:
                control(base, "state")
                break
            except OSError:
                time.sleep(0.1)
        backend = "PostgreSQL" if args.database_url else "SQLite"
        comparison = Comparison(
            f"{args.workers} dispatch processes on {backend}, {args.posts} due posts / "
            "bare requests loop",
            ">= 0.5",
            unit=" posts/s",
        )
        print(f"{comparison.name}  (goal {comparison.goal})", flush=True)
        env: dict[str, str] = {}
        for number in range(args.rounds):
            loads = load_average()
            figures = {}
            for side in ("bare", "dispatcher") if number % 2 == 0 else ("dispatcher", "bare"):
                if side == "bare":
                    figures[side] = bare_round(base, args.posts, sandbox.pid)
                else:
                    per_second, cpu, env = dispatch_round(
                        args, base, databases, workdir, sandbox.pid
                    )
                    figures[side] = per_second, cpu
            comparison.rounds.append((figures["dispatcher"][0], figures["bare"][0]))
            print(
                f"  round {number + 1} ({loads}): dispatcher {figures['dispatcher'][0]:.1f} "
                f"posts/s | bare {figures['bare'][0]:.1f} posts/s | ratio "
                f"{figures['dispatcher'][0] / figures['bare'][0]:.2f}\n"
                f"    CPU, bare loop: {figures['bare'][1]}\n"
                f"    CPU, dispatcher: {figures['dispatcher'][1]}",
                flush=True,
            )
        report([comparison])
        print(
            f"  (dispatcher {statistics.median(a for a, _ in comparison.rounds):.1f} posts/s, "
            f"bare {statistics.median(b for _, b in comparison.rounds):.1f} posts/s)"
        )
        if args.memory_posts:
            memory(args, env)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
        databases.close()


def memory(args: argparse.Namespace, env: dict[str, str]) -> None:
    """Peak memory of a scheduler with the last round's posts, then with many more."""
    few = peak_memory_mb(env, 8)
    engine = make_engine(env["SYNDICATE_DATABASE_URL"])
    try:
        seed(
            engine,
            token_key=env["BENCH_TOKEN_KEY"],
            token=env["BENCH_TOKEN"],
            count=args.memory_posts,
            due=_db_time(engine, datetime.now(UTC) + timedelta(days=30)),
            tag="later",
        )
    finally:
        engine.dispose()
    many = peak_memory_mb(env, 8)
    print(
        f"scheduler peak memory: {few:.0f} MB with {args.posts} posts, {many:.0f} MB with "
        f"{args.posts + args.memory_posts} (goal < 150 MB and flat)"
    )


if __name__ == "__main__":
    main()
