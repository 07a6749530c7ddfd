"""Benchmark: the feeds against a bare Flask app returning the same bytes, driven by wrk.

The app under test is the production entry point (gunicorn -c gunicorn.conf.py wsgi:app, 2
sync workers) on a database of --articles published articles of about 2 KB; the feed shows
50 of them. The ceiling is bench/bare_app.py (Flask, no extension) under the same
gunicorn.conf.py, replaying the app's own answers, recorded first: same status, headers and
body bytes. Measured, each in --rounds rounds alternating app and baseline:

  /feeds/rss.xml identity        vs the bare route returning the same bytes  (goal >= 0.8)
  /feeds/rss.xml gzip            vs the bare route returning the same gzip bytes (>= 0.8)
  /feeds/rss.xml If-None-Match   vs the bare route answering the same 304     (>= 0.9)
  /feeds/rss.xml (cached)        vs a naive query + feedgen render per request in the bare
                                    app                                       (>= 4)

With --nginx (nginx installed with apt-get when missing): the feed through the proxy cache of
docs/deploy.md vs the same nginx serving the feed's bytes from a file (>= 0.9), and how many
seconds a newly published article takes to show through that cache (within max-age).

    .venv/bin/python bench/feeds_bench.py [--articles 50] [--nginx] [--workers 2]
        [--threads 1 --connections 8 --seconds 5 --rounds 3] [--python-load]
        [--database-url postgresql://postgres@127.0.0.1:5432/test]

A temporary SQLite database is used (PostgreSQL: --database-url, a temporary database is
created beside the given one and dropped at the end).
"""

from __future__ import annotations

import argparse
import http.client
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

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
    free_port,
    load_from,
    record,
    report,
    send,
    serve_gunicorn,
    stop,
)

FEED_ITEMS = 50
# The served feeds say "poll every minute" (Cache-Control max-age=60), so that the nginx
# measure can show a change reaching readers through the proxy within max-age in a minute.
FEED_TTL_MINUTES = 1
MAX_AGE = FEED_TTL_MINUTES * 60
PARAGRAPH = (
    "Readers in their feed readers see this paragraph, with “typographic quotes”, an em "
    'dash — and names such as Zoë Šimić or Łukasz, plus a <a href="/about">link</a>. '
)


# ---------------------------------------------------------------------------------------------
# Seeding


def seed(url: str, count: int) -> None:
    """``count`` published articles of about 2 KB each, with authors, categories and events."""
    from sqlalchemy import insert

    from syndicate import migrate
    from syndicate.articles.models import (
        Article,
        ArticleAuthor,
        Author,
        Category,
        article_categories,
    )
    from syndicate.db import make_engine
    from syndicate.models import Event

    engine = make_engine(url)
    migrate.upgrade(engine, "heads")
    start = datetime(2020, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Author),
            [
                {"id": i + 1, "name": n, "slug": s}
                for i, (n, s) in enumerate(
                    [("Zoë Šimić", "zoe-simic"), ("Ada Writer", "ada-writer")]
                )
            ],
        )
        conn.execute(
            insert(Category),
            [
                {"id": i + 1, "name": n, "slug": n.lower()}
                for i, n in enumerate(["World", "Culture", "Tech"])
            ],
        )
        for first in range(0, count, 5000):
            rows, authors, categories, events = [], [], [], []
            for n in range(first, min(first + 5000, count)):
                when = start + timedelta(minutes=n)
                public_id = str(uuid.uuid4())
                body = "".join(f"<p>{PARAGRAPH * (2 + (n + k) % 3)}</p>" for k in range(3))
                rows.append(
                    {
                        "id": n + 1,
                        "public_id": public_id,
                        "slug": f"article-{n}",
                        "title": f"Article {n}: “Why feeds still matter” & more",
                        "summary": f"Summary of article {n}.",
                        "body_format": "html",
                        "body_source": body,
                        "body_html": body,
                        "hero_image_alt": "",
                        "status": "published",
                        "published_at": when,
                        "updated_at": when,
                        "created_at": when,
                        "content_hash": "",
                    }
                )
                authors.append({"article_id": n + 1, "author_id": 1 + n % 2, "position": 0})
                categories.append({"article_id": n + 1, "category_id": 1 + n % 3})
                events.append(
                    {
                        "kind": "article.published",
                        "subject": public_id,
                        "payload": {},
                        "created_at": when,
                    }
                )
            conn.execute(insert(Article), rows)
            conn.execute(insert(ArticleAuthor), authors)
            conn.execute(insert(article_categories), categories)
            conn.execute(insert(Event), events)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


NGINX_CONF = """
worker_processes 2;
user root;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    types {{ application/rss+xml xml; }}
    # The feed cache of docs/deploy.md, with paths of the benchmark's own.
    map $http_accept_encoding $feed_encoding {{
        default "";
        "~*gzip" "gzip";
    }}
    proxy_cache_path {tmp}/cache levels=1:2 keys_zone=syndicate_feeds:10m max_size=64m
                     inactive=1d use_temp_path=off;
    upstream syndicate {{ server 127.0.0.1:{app_port}; keepalive 16; }}
    server {{
        listen 127.0.0.1:{port};
        location = /static-feed.xml {{ root {tmp}/static; }}
        location /feeds/ {{
            proxy_pass http://syndicate;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_cache syndicate_feeds;
            proxy_cache_key "$scheme://$host$uri$is_args$args|$feed_encoding";
            proxy_set_header Accept-Encoding $feed_encoding;
            proxy_ignore_headers Vary;
            proxy_cache_revalidate on;
            proxy_cache_use_stale updating error timeout http_500 http_502 http_503 http_504;
            proxy_cache_background_update on;
            proxy_cache_lock on;
            proxy_cache_valid 200 1m;
        }}
    }}
}}
"""


def change_delay(port: int, database_url: str, *, limit: float = 3 * MAX_AGE) -> float:
    """Publish an article, then poll the feed through nginx until it shows it (seconds)."""
    from syndicate.articles import services as articles
    from syndicate.db import Database, make_engine

    title = f"Fresh news {secrets.token_hex(4)}"
    engine = make_engine(database_url)
    with Database(engine).transaction() as session:
        now = datetime.now(UTC)
        article = articles.create_article(
            session, articles.ArticleInput(title=title, authors=["Ada Writer"]), now=now
        )
        articles.publish_article(session, article, now=now)
    engine.dispose()
    started = time.monotonic()
    while time.monotonic() - started < limit:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/feeds/rss.xml")
        body = conn.getresponse().read()
        conn.close()
        if title.encode() in body:
            return time.monotonic() - started
        time.sleep(0.5)
    return float("inf")


def app_env(database_url: str, instance: Path) -> dict[str, str]:
    from cryptography.fernet import Fernet

    instance.mkdir(parents=True, exist_ok=True)
    return {
        "SYNDICATE_DATABASE_URL": database_url,
        "SYNDICATE_ENV": "testing",
        "SYNDICATE_SECRET_KEY": secrets.token_urlsafe(32),
        "SYNDICATE_TOKEN_KEYS": Fernet.generate_key().decode(),
        "SYNDICATE_SITE_URL": "https://bench.example.test",
        "SYNDICATE_INSTANCE_PATH": str(instance),
        "SYNDICATE_FEED_ITEMS": str(FEED_ITEMS),
        "SYNDICATE_FEED_TTL_MINUTES": str(FEED_TTL_MINUTES),
    }


def run(args: argparse.Namespace, load: Load) -> list[Comparison]:
    comparisons: list[Comparison] = []
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        databases = Databases(args.database_url, tmp)
        try:
            url = databases.new("feeds_bench")
            started = time.monotonic()
            seed(url, args.articles)
            print(
                f"seeded {args.articles} articles in {time.monotonic() - started:.1f} s", flush=True
            )
            # The app's own access log stays on (production's path), into a file.
            with (tmp / "app.log").open("ab") as log:
                app, app_port = serve_gunicorn(
                    "wsgi:app", app_env(url, tmp / "instance"), workers=args.workers, log=log
                )
            processes.append(app)
            feed = Request("/feeds/rss.xml")
            gzip = Request("/feeds/rss.xml", headers={"Accept-Encoding": "gzip"})
            answers = tmp / "answers"
            plain = record(app_port, feed, answers, "rss")
            record(app_port, gzip, answers, "rss-gzip")
            etag = plain.getheader("ETag")
            not_modified = Request("/feeds/rss.xml", headers={"If-None-Match": etag}, expect=304)
            record(app_port, not_modified, answers, "rss-304")
            items = len(re.findall(rb"<item>", plain.body))  # type: ignore[attr-defined]
            with (tmp / "bare.log").open("ab") as log:
                bare, bare_port = serve_gunicorn(
                    "bare_app:create_app()",
                    {
                        "BARE_ANSWERS": str(answers),
                        "BARE_DATABASE_URL": url,
                        "BARE_FEED_ITEMS": str(items),
                    },
                    workers=args.workers,
                    log=log,
                )
            processes.append(bare)
            pairs = [
                ("/feeds/rss.xml identity / bare same bytes", ">= 0.8", feed, "rss"),
                ("/feeds/rss.xml gzip / bare same gzip bytes", ">= 0.8", gzip, "rss-gzip"),
                ("304 / bare 304", ">= 0.9", not_modified, "rss-304"),
            ]
            print(f"feed: {items} items; workers: {args.workers} sync, both servers")
            for name, _, request, bare_name in pairs:
                print(
                    f"  {name}: app {describe(send(app_port, request))}; bare "
                    f"{describe(send(bare_port, request.at(f'/bare/{bare_name}')))}"
                )
            naive = feed.at("/naive/rss.xml")
            print(f"  naive render: {describe(send(bare_port, naive))}", flush=True)
            for port, request in [(app_port, feed), (bare_port, naive)]:
                drive(load, port, request, seconds=1)  # warm every worker
            for name, goal, request, bare_name in pairs:
                bare_request = request.at(f"/bare/{bare_name}")
                comparisons.append(
                    alternate(
                        name,
                        goal,
                        args.rounds,
                        lambda r=request: drive(load, app_port, r),
                        lambda r=bare_request: drive(load, bare_port, r),
                    )
                )
            comparisons.append(
                alternate(
                    "cached feed / naive feedgen render",
                    ">= 4",
                    args.rounds,
                    lambda: drive(load, app_port, feed),
                    lambda: drive(load, bare_port, naive),
                    labels=("cached", "naive"),
                )
            )
            if args.nginx:
                comparisons.extend(nginx_comparison(args, load, app_port, tmp / "nginx", url))
        finally:
            for process in processes:
                stop(process)
            databases.close()
    return comparisons


def nginx_comparison(
    args: argparse.Namespace, load: Load, app_port: int, tmp: Path, database_url: str
) -> list[Comparison]:
    """The feed through nginx's proxy cache vs the same nginx serving the same bytes from a
    file, then how long a newly published article takes to show through the cache."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists() and shutil.which("apt-get"):
        print("nginx is missing: apt-get install -y nginx-light", flush=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "nginx-light"],  # noqa: S607
            stdout=subprocess.DEVNULL,
            check=False,
        )
    if not Path(nginx).exists():
        print("nginx is not installed and could not be: the nginx measure is SKIPPED")
        return []
    tmp.mkdir()
    (tmp / "static").mkdir()
    feed = send(app_port, Request("/feeds/rss.xml")).body  # type: ignore[attr-defined]
    (tmp / "static" / "static-feed.xml").write_bytes(feed)
    port = free_port()
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, app_port=app_port, port=port))
    process = subprocess.Popen([nginx, "-c", str(conf), "-p", str(tmp)])  # noqa: S603
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        cached, static = Request("/feeds/rss.xml"), Request("/static-feed.xml")
        print(
            f"nginx: cached feed {describe(send(port, cached))}; file "
            f"{describe(send(port, static))}"
        )
        drive(load, port, cached, seconds=1)
        comparison = alternate(
            "feed through nginx cache / nginx serving the file",
            ">= 0.9",
            args.rounds,
            lambda: drive(load, port, cached),
            lambda: drive(load, port, static),
            labels=("cache", "file"),
        )
        delay = change_delay(port, database_url)
        verdict = "within" if delay <= MAX_AGE else "NOT within"
        print(
            f"\na new article showed through nginx after {delay:.1f} s: {verdict} the "
            f"feed's max-age of {MAX_AGE} s",
            flush=True,
        )
        return [comparison]
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers, both")
    parser.add_argument("--database-url", default=None)
    parser.add_argument(
        "--nginx",
        action="store_true",
        help="also measure the feed through nginx's proxy cache against nginx "
        "serving the same bytes from a file",
    )
    add_load_options(parser)
    args = parser.parse_args()
    report(run(args, load_from(args)))


if __name__ == "__main__":
    main()
