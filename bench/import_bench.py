"""Benchmark: import a generated N-item RSS feed from a local server, then re-import it unchanged.

Both times are printed as ratios to feedparser parsing the same bytes in the same run
(goals: first import within 3x, unchanged re-import within 1.5x).

    .venv/bin/python bench/import_bench.py [--items 5000] [--database-url postgresql://...]

Without --database-url temporary SQLite files are used; with one, temporary databases are
created beside the given one and dropped at the end. Each figure is the median of --runs runs
(default 3), each run on a fresh database, since a shared machine makes single runs noisy.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from xml.sax.saxutils import escape

import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Databases  # noqa: E402

from syndicate import migrate  # noqa: E402
from syndicate.articles.importing import import_url  # noqa: E402
from syndicate.db import Database, make_engine  # noqa: E402
from syndicate.fetch import Fetcher  # noqa: E402

FIRST_GOAL = 3.0
UNCHANGED_GOAL = 1.5
PARAGRAPH = ("Readers on LinkedIn and in their feed readers see this paragraph, with “typographic "
             "quotes”, an em dash — and names such as Zoë Šimić or Łukasz. ")


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
            f"<p>{PARAGRAPH * (1 + (n + k) % 3)}<a href=\"/articles/{n}\">Part {k}</a></p>"
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


def import_twice(url: str, feed_url: str, fetcher: Fetcher) -> tuple[float, object, float, object]:
    """Time the first import into an empty database, then the unchanged re-import."""
    engine = make_engine(url)
    try:
        migrate.upgrade(engine)
        database = Database(engine)
        now = datetime.now(UTC)

        def run_import():  # noqa: ANN202
            with database.transaction() as session:
                return import_url(session, feed_url, fetcher=fetcher, now=now)

        first, first_summary = timed(run_import)
        again, again_summary = timed(run_import)
    finally:
        engine.dispose()
    return first, first_summary, again, again_summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=5000)
    parser.add_argument("--database-url", default="",
                        help="PostgreSQL server URL; temporary databases are made beside it")
    parser.add_argument("--runs", type=int, default=3,
                        help="each figure is the median of this many runs (fresh database each)")
    args = parser.parse_args()
    runs = max(1, args.runs)

    feed = make_feed(args.items)
    server, thread, feed_url = serve(feed)
    workdir = tempfile.TemporaryDirectory()
    databases = Databases(args.database_url, workdir.name)
    fetcher = Fetcher(allow_private=True, max_bytes=256 * 1024 * 1024, timeout=120)
    parse_times, first_times, again_times = [], [], []
    try:
        for _ in range(runs):
            seconds, parsed = timed(lambda: feedparser.parse(feed))
            assert len(parsed.entries) == args.items  # type: ignore[attr-defined]
            parse_times.append(seconds)
            first, first_summary, again, again_summary = import_twice(
                databases.new(), feed_url, fetcher)
            assert first_summary.new == args.items, first_summary  # type: ignore[attr-defined]
            assert again_summary.unchanged == args.items, again_summary  # type: ignore[attr-defined]
            first_times.append(first)
            again_times.append(again)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        databases.close()
        workdir.cleanup()

    parse = statistics.median(parse_times)
    first = statistics.median(first_times)
    again = statistics.median(again_times)
    backend = "PostgreSQL" if args.database_url else "SQLite"
    print(f"{args.items} items, {len(feed) / 1e6:.1f} MB feed, {backend}, median of {runs} runs")
    print(f"feedparser.parse alone:   {parse:7.2f} s")
    print(f"first import:             {first:7.2f} s  {first / parse:5.2f}x  "
          f"(goal <= {FIRST_GOAL}x)  [{first_summary}]")
    print(f"unchanged re-import:      {again:7.2f} s  {again / parse:5.2f}x  "
          f"(goal <= {UNCHANGED_GOAL}x)  [{again_summary}]")
    ok = first / parse <= FIRST_GOAL and again / parse <= UNCHANGED_GOAL
    print("goals met" if ok else "goals NOT met")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
