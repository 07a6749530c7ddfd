"""Benchmark: import a generated N-item RSS feed from a local server, then re-import it unchanged,
against feedparser.parse of the same bytes.

    .venv/bin/python bench/import_bench.py [--items 5000] [--rounds 3]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

Each round (on a fresh database) times feedparser.parse of the feed's bytes, the first import
(`syndicate import` through the real fetcher, from a loopback HTTP server) and the unchanged
re-import, parse first in odd rounds and last in even ones; it prints the seconds, the load
average and the statements and rows each import wrote, counted by a SQLAlchemy
after_cursor_execute hook on the import's engine (INSERT, UPDATE, DELETE; rows by the
driver's rowcount). Then the medians of the per-round ratios against issue 15's goals: first
import <= 2x the parse, unchanged re-import <= 1.2x and zero rows written.

Wall time on a shared machine moves with the load, so each figure also carries the CPU
seconds spent on it: this process's (the loopback server's thread included), and for
PostgreSQL on this machine the import's server backend (from /proc). The CPU ratios are
printed too; they are the steadier figure when the load average is high.

Without --database-url temporary SQLite files are used; with one, temporary databases are
created beside the given one and dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Comparison, Databases, load_average, report  # noqa: E402

from syndicate import migrate  # noqa: E402
from syndicate.articles.importing import import_url  # noqa: E402
from syndicate.db import Database, make_engine  # noqa: E402
from syndicate.fetch import Fetcher  # noqa: E402

PARAGRAPH = (
    "Readers on LinkedIn and in their feed readers see this paragraph, with “typographic "
    "quotes”, an em dash — and names such as Zoë Šimić or Łukasz. "
)


def make_feed(items: int) -> bytes:
    """An RSS 2.0 feed whose items carry full content of about 1-2 KB each."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    parts = [
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
        "<title>Bench Magazine</title><link>https://bench.example/</link>"
        "<description>Generated for the import benchmark</description>"
    ]
    for n in range(items):
        body = "".join(
            f'<p>{PARAGRAPH * (1 + (n + k) % 3)}<a href="/articles/{n}">Part {k}</a></p>'
            for k in range(3)
        )
        parts.append(
            "<item>"
            f"<title>Article {n}: “Why feeds still matter” — part {n % 7}</title>"
            f"<link>https://bench.example/articles/why-feeds-matter-{n}</link>"
            f'<guid isPermaLink="false">bench-{n}</guid>'
            f"<pubDate>{format_datetime(start + timedelta(minutes=n))}</pubDate>"
            f"<dc:creator>{['Zoë Šimić', 'Ada Writer', 'Łukasz Nowak'][n % 3]}</dc:creator>"
            f"<category>{['World', 'Culture', 'Technology'][n % 3]}</category>"
            f'<category domain="tag">tag {n % 25}</category>'
            f"<description>{escape(f'Summary of article {n}, short and plain.')}</description>"
            f"<content:encoded><![CDATA[{body}]]></content:encoded>"
            "</item>"
        )
    parts.append("</channel></rss>")
    return "".join(parts).encode()


def serve(body: bytes) -> tuple[ThreadingHTTPServer, threading.Thread, str]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/rss+xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{server.server_port}/feed.xml"


def timed(action) -> tuple[float, object]:  # noqa: ANN001
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def backend_cpu(pid: int | None) -> float:
    """CPU seconds a PostgreSQL backend on this machine has used (0 when it cannot be read)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime: fields 14 and 15 of stat, counted after the ")" of the command.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Run:
    """One import: wall seconds, CPU seconds here and in the database server, its summary."""

    seconds: float
    cpu: float
    server_cpu: float
    summary: str

    def __str__(self) -> str:
        server = f" + {self.server_cpu:.2f} s PostgreSQL" if self.server_cpu else ""
        return f"{self.seconds:.2f} s (CPU {self.cpu:.2f} s here{server})"


@dataclass
class Writes:
    """Write statements and rows an engine executed (after_cursor_execute)."""

    statements: int = 0
    rows: int = 0

    def watch(self, engine) -> None:  # noqa: ANN001
        event.listen(engine, "after_cursor_execute", self.count)

    def count(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if statement.lstrip().split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}:
            self.statements += 1
            # rowcount is -1 where the driver cannot tell (some batched INSERT ... RETURNING):
            # count the rows of the parameters then.
            if cursor.rowcount >= 0:
                self.rows += cursor.rowcount
            else:
                self.rows += len(parameters) if executemany else 1

    def __str__(self) -> str:
        return f"{self.statements} write statements, {self.rows} rows"


def import_twice(url: str, feed_url: str, fetcher: Fetcher) -> tuple[Run, Run, Writes]:
    """The first import into an empty database, then the unchanged re-import, with the
    writes of the re-import."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        database = Database(engine)
        now = datetime.now(UTC)
        writes = Writes()
        writes.watch(engine)

        def run_import() -> Run:
            started, cpu = time.perf_counter(), time.process_time()
            with database.transaction() as session:
                pid = None
                if engine.dialect.name == "postgresql":
                    pid = session.connection().exec_driver_sql("SELECT pg_backend_pid()").scalar()
                server = backend_cpu(pid)
                summary = import_url(session, feed_url, fetcher=fetcher, now=now)
            return Run(
                time.perf_counter() - started,
                time.process_time() - cpu,
                backend_cpu(pid) - server,
                str(summary),
            )

        first = run_import()
        first.summary += f"; {writes}"
        again_writes = Writes()
        again_writes.watch(engine)
        event.remove(engine, "after_cursor_execute", writes.count)
        again = run_import()
        again.summary += f"; {again_writes}"
        return first, again, again_writes
    finally:
        engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument(
        "--database-url",
        default="",
        help="PostgreSQL server URL; temporary databases are made beside it",
    )
    parser.add_argument("--rounds", type=int, default=3, help="fresh database each round")
    args = parser.parse_args()

    feed = make_feed(args.items)
    server, thread, feed_url = serve(feed)
    workdir = tempfile.TemporaryDirectory()
    databases = Databases(args.database_url, workdir.name)
    fetcher = Fetcher(allow_private=True, max_bytes=256 * 1024 * 1024, timeout=120)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.items} items, {len(feed) / 1e6:.1f} MB feed, {backend}", flush=True)
    first_ratio = Comparison("first import / feedparser.parse", "<= 2", unit=" s")
    again_ratio = Comparison("unchanged re-import / feedparser.parse", "<= 1.2", unit=" s")
    first_cpu = Comparison("first import / parse, CPU seconds", "<= 2", unit=" s")
    again_cpu = Comparison("unchanged re-import / parse, CPU seconds", "<= 1.2", unit=" s")
    rows_written = []
    try:
        for number in range(max(1, args.rounds)):
            loads = load_average()

            def parse() -> tuple[float, float]:
                cpu = time.process_time()
                seconds, parsed = timed(lambda: feedparser.parse(feed))
                assert len(parsed.entries) == args.items  # type: ignore[attr-defined]
                return seconds, time.process_time() - cpu

            parsed = parse() if number % 2 == 0 else None
            first, again, again_writes = import_twice(databases.new(), feed_url, fetcher)
            if parsed is None:
                parsed = parse()
            parse_seconds, parse_cpu = parsed
            first_ratio.rounds.append((first.seconds, parse_seconds))
            again_ratio.rounds.append((again.seconds, parse_seconds))
            first_cpu.rounds.append((first.cpu + first.server_cpu, parse_cpu))
            again_cpu.rounds.append((again.cpu + again.server_cpu, parse_cpu))
            rows_written.append(again_writes.rows)
            print(
                f"  round {number + 1} ({loads}): parse {parse_seconds:.2f} s (CPU "
                f"{parse_cpu:.2f} s) | first import {first} ({first.seconds / parse_seconds:.2f}x) "
                f"[{first.summary}] | unchanged re-import {again} "
                f"({again.seconds / parse_seconds:.2f}x) [{again.summary}]",
                flush=True,
            )
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        databases.close()
        workdir.cleanup()

    report([first_ratio, again_ratio, first_cpu, again_cpu])
    verdict = "meets" if not any(rows_written) else "BELOW GOAL"
    print(f"  rows written by the unchanged re-imports: {rows_written}  goal 0: {verdict}")
    ok = first_ratio.meets and again_ratio.meets and not any(rows_written)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
