"""Benchmark: the cached feed against a constant-bytes ceiling and a naive render, under gunicorn.

Serves the app with gunicorn (2 sync workers) on 127.0.0.1 and drives it from separate client
processes (a small Python load generator; wrk is not installed here). In one run it measures

  (a) /feeds/rss.xml with 50 full-content items, plain and with Accept-Encoding: gzip,
  (b) the same with If-None-Match (304),
  (c) the ceiling: routes in the same app returning constant bytes of the same size and
      encoding, and an empty 304,
  (d) a naive handler that queries and renders with feedgen on every request,

with 100 and with 100,000 published articles in the database, then prints requests per second
and the ratios a/c, b/c, a/d and a(100k)/a(100) against the goals of issue 7. With --nginx
(Debian's nginx-light installed) it also measures (e) the feed through the proxy cache of
docs/deploy.md, (f) nginx serving the same bytes from a file, and (g) how many seconds a newly
published article takes to show through that proxy, against the feed's max-age.

    .venv/bin/python bench/feeds_bench.py [--seconds 3] [--clients 4] [--rounds 3]
                                          [--large 100000] [--nginx]

Each figure is the median of --rounds rounds; a round measures every route of a server one
after the other, so a slow spell on this shared machine hits the feed and its ceiling alike.

A temporary SQLite database is used per size (PostgreSQL: --database-url, a temporary
database is created beside the given one and dropped at the end).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness import Databases, free_port, serve_gunicorn, stop  # noqa: E402

FEED_ITEMS = 50
# The served feeds say "poll every minute" (Cache-Control max-age=60), so that (g) can show
# a change reaching readers through the proxy within max-age in a minute, not fifteen.
FEED_TTL_MINUTES = 1
MAX_AGE = FEED_TTL_MINUTES * 60
GOALS = {"a/c": 0.8, "b/c": 0.9, "a(100k)/a(100)": 0.9, "a/d": 4.0, "e/f": 0.8}
PARAGRAPH = ("Readers in their feed readers see this paragraph, with “typographic quotes”, an em "
             "dash — and names such as Zoë Šimić or Łukasz, plus a <a href=\"/about\">link</a>. ")


# ---------------------------------------------------------------------------------------------
# The app gunicorn serves: the real app plus the ceiling and naive routes.


def bench_app() -> Any:
    """create_app() with the feeds blueprint and the comparison routes (gunicorn factory)."""
    from flask import Response

    from syndicate import create_app
    from syndicate.db import get_database
    from syndicate.feeds import views as feeds_views
    from syndicate.feeds.services import FeedKey, FeedSettings, render_feed
    from syndicate.web import security

    app = create_app()
    if "feeds" not in app.blueprints:
        app.register_blueprint(feeds_views.bp)
        app.register_blueprint(feeds_views.dashboard)
        security.csrf.exempt(feeds_views.hub)
    app.config["FEED_ITEMS"] = FEED_ITEMS
    app.config["FEED_TTL_MINUTES"] = FEED_TTL_MINUTES
    key = FeedKey("site", None, "rss")
    with app.app_context(), get_database(app).sessions() as session:
        constant = render_feed(session, key, FeedSettings.from_config(app.config))

    @app.get("/bench/constant")
    def constant_plain() -> Response:
        return Response(constant.body, headers={"Content-Type": constant.content_type,
                                                "ETag": constant.etag})

    @app.get("/bench/constant-gzip")
    def constant_gzip() -> Response:
        return Response(constant.gzipped, headers={
            "Content-Type": constant.content_type, "ETag": constant.etag,
            "Content-Encoding": "gzip"})

    @app.get("/bench/not-modified")
    def not_modified() -> Response:
        return Response(status=304, headers={"ETag": constant.etag})

    @app.get("/bench/naive")
    def naive() -> Response:
        with get_database(app).sessions() as session:
            feed = render_feed(session, key, FeedSettings.from_config(app.config))
        return Response(feed.body, headers={"Content-Type": feed.content_type})

    return app


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
        conn.execute(insert(Author), [{"id": i + 1, "name": n, "slug": s} for i, (n, s) in
                                      enumerate([("Zoë Šimić", "zoe-simic"),
                                                 ("Ada Writer", "ada-writer")])])
        conn.execute(insert(Category), [{"id": i + 1, "name": n, "slug": n.lower()}
                                        for i, n in enumerate(["World", "Culture", "Tech"])])
        for first in range(0, count, 5000):
            rows, authors, categories, events = [], [], [], []
            for n in range(first, min(first + 5000, count)):
                when = start + timedelta(minutes=n)
                public_id = str(uuid.uuid4())
                body = "".join(f"<p>{PARAGRAPH * (2 + (n + k) % 3)}</p>" for k in range(3))
                rows.append({
                    "id": n + 1, "public_id": public_id, "slug": f"article-{n}",
                    "title": f"Article {n}: “Why feeds still matter” & more",
                    "summary": f"Summary of article {n}.", "body_format": "html",
                    "body_source": body, "body_html": body, "hero_image_alt": "",
                    "status": "published", "published_at": when, "updated_at": when,
                    "created_at": when, "content_hash": "",
                })
                authors.append({"article_id": n + 1, "author_id": 1 + n % 2, "position": 0})
                categories.append({"article_id": n + 1, "category_id": 1 + n % 3})
                events.append({"kind": "article.published", "subject": public_id,
                               "payload": {}, "created_at": when})
            conn.execute(insert(Article), rows)
            conn.execute(insert(ArticleAuthor), authors)
            conn.execute(insert(article_categories), categories)
            conn.execute(insert(Event), events)
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()


# ---------------------------------------------------------------------------------------------
# Load generation


def _hammer(args: tuple[int, str, dict[str, str], float, int]) -> int:
    """Requests one client process completes with the expected status before the deadline."""
    port, path, headers, seconds, expected = args
    done = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            if response.status == expected:
                done += 1
        finally:
            conn.close()
    return done


def measure(pool: Any, port: int, path: str, headers: dict[str, str], *, seconds: float,
            clients: int, expected: int = 200) -> float:
    _hammer((port, path, headers, 0.3, expected))  # warm every worker's cache
    counts = pool.map(_hammer, [(port, path, headers, seconds, expected)] * clients)
    return sum(counts) / seconds


def serve(database_url: str, instance: Path) -> tuple[subprocess.Popen[bytes], int]:
    from cryptography.fernet import Fernet

    env = {"SYNDICATE_DATABASE_URL": database_url, "SYNDICATE_ENV": "testing",
           "SYNDICATE_SECRET_KEY": secrets.token_urlsafe(32),
           "SYNDICATE_TOKEN_KEYS": Fernet.generate_key().decode(),
           "SYNDICATE_SITE_URL": "https://bench.example.test",
           "SYNDICATE_INSTANCE_PATH": str(instance), "PYTHONPATH": str(ROOT)}
    instance.mkdir(parents=True, exist_ok=True)
    # The app's own access log stays on (production's path); it goes to a file, not the report.
    with (instance / "gunicorn.log").open("ab") as log:
        return serve_gunicorn("feeds_bench:bench_app()", env, workers=2, log=log)


def run(args: argparse.Namespace) -> dict[str, float]:
    gzip = {"Accept-Encoding": "gzip"}
    results: dict[str, float] = {}
    servers: dict[int, tuple[subprocess.Popen[bytes], int, str]] = {}
    with tempfile.TemporaryDirectory() as tmp, multiprocessing.Pool(args.clients) as pool:
        databases = Databases(args.database_url, tmp)
        try:
            # Both sizes are served at once and measured in the same rounds, so a slow spell
            # on this shared machine cannot favour one of them in a(100k)/a(100).
            for count in (args.small, args.large):
                url = databases.new(f"feeds_bench_{count}")
                started = time.monotonic()
                seed(url, count)
                print(f"seeded {count} articles in {time.monotonic() - started:.1f} s",
                      flush=True)
                process, port = serve(url, Path(tmp) / f"instance-{count}")
                servers[count] = (process, port, url)
            routes: dict[str, tuple[int, str, dict[str, str], int]] = {}
            for count, (_, port, _) in servers.items():
                suffix = "" if count == args.small else f"({count})"
                routes[f"a plain{suffix}"] = (port, "/feeds/rss.xml", {}, 200)
                routes[f"a gzip{suffix}"] = (port, "/feeds/rss.xml", gzip, 200)
                routes[f"c plain{suffix}"] = (port, "/bench/constant", {}, 200)
                routes[f"c gzip{suffix}"] = (port, "/bench/constant-gzip", gzip, 200)
            _, port, url = servers[args.small]
            conn = http.client.HTTPConnection("127.0.0.1", port)
            conn.request("GET", "/feeds/rss.xml")
            response = conn.getresponse()
            etag, size = response.getheader("ETag"), len(response.read())
            conn.close()
            print(f"feed: {size} bytes, {FEED_ITEMS} items", flush=True)
            routes["b 304"] = (port, "/feeds/rss.xml", {"If-None-Match": etag}, 304)
            routes["c 304"] = (port, "/bench/not-modified", {}, 304)
            routes["d naive"] = (port, "/bench/naive", {}, 200)
            rounds: dict[str, list[float]] = {name: [] for name in routes}
            for number in range(args.rounds):
                for name, (port, path, headers, expected) in routes.items():
                    rounds[name].append(measure(
                        pool, port, path, headers, seconds=args.seconds,
                        clients=args.clients, expected=expected))
                print(f"round {number + 1} of {args.rounds} done", flush=True)
            results.update({name: statistics.median(v) for name, v in rounds.items()})
            if args.nginx:
                nginx_dir = Path(tmp) / "nginx"
                nginx_dir.mkdir()
                _, port, url = servers[args.small]
                results.update(nginx_ratio(pool, args, port, nginx_dir, url))
        finally:
            for process, _, _ in servers.values():
                stop(process)
            databases.close()
    return results


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


def nginx_ratio(pool: Any, args: argparse.Namespace, app_port: int, tmp: Path,
                database_url: str) -> dict[str, float]:
    """(e) the feed through nginx's proxy cache, (f) nginx serving the same bytes as a file,
    and (g) how long a newly published article takes to show through the proxy."""
    import shutil

    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        print("nginx is not installed (apt-get install nginx-light); skipping (e) and (f)")
        return {}
    conn = http.client.HTTPConnection("127.0.0.1", app_port)
    conn.request("GET", "/feeds/rss.xml")
    feed = conn.getresponse().read()
    conn.close()
    (tmp / "static").mkdir()
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
        figures = {
            "e nginx feed": measure(pool, port, "/feeds/rss.xml", {}, seconds=args.seconds,
                                    clients=args.clients),
            "f nginx file": measure(pool, port, "/static-feed.xml", {}, seconds=args.seconds,
                                    clients=args.clients),
        }
        figures["g visible after (s)"] = change_delay(port, database_url)
        return figures
    finally:
        process.send_signal(signal.SIGQUIT)
        process.wait(timeout=10)


def change_delay(port: int, database_url: str, *, limit: float = 3 * MAX_AGE) -> float:
    """Publish an article, then poll the feed through nginx until it shows it (seconds)."""
    from syndicate.articles import services as articles
    from syndicate.db import Database, make_engine

    title = f"Fresh news {secrets.token_hex(4)}"
    engine = make_engine(database_url)
    with Database(engine).transaction() as session:
        now = datetime.now(UTC)
        article = articles.create_article(
            session, articles.ArticleInput(title=title, authors=["Ada Writer"]), now=now)
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


def report(results: dict[str, float], small: int, large: int) -> None:
    delay = results.pop("g visible after (s)", None)
    print("\nrequests per second")
    for name, value in results.items():
        print(f"  {name:<22} {value:10.0f}")
    if delay is not None:
        verdict = "within" if delay <= MAX_AGE else "NOT within"
        print(f"\n(g) a new article showed through nginx after {delay:.1f} s: {verdict} the "
              f"feed's max-age of {MAX_AGE} s")
    ratios = {
        "a/c plain": results["a plain"] / results["c plain"],
        "a/c gzip": results["a gzip"] / results["c gzip"],
        "b/c": results["b 304"] / results["c 304"],
        "a/d": results["a plain"] / results["d naive"],
        "a(100k)/a(100) plain": results[f"a plain({large})"] / results["a plain"],
        "a(100k)/a(100) gzip": results[f"a gzip({large})"] / results["a gzip"],
        f"a/c plain at {large}": results[f"a plain({large})"] / results[f"c plain({large})"],
        f"a/c gzip at {large}": results[f"a gzip({large})"] / results[f"c gzip({large})"],
    }
    if "e nginx feed" in results:
        ratios["e/f"] = results["e nginx feed"] / results["f nginx file"]
    print(f"\nratios ({large} vs {small} articles for the last two)")
    for name, value in ratios.items():
        goal = GOALS[name.split(" ")[0]]
        verdict = "meets" if value >= goal else "below"
        print(f"  {name:<22} {value:6.2f}   goal >= {goal}: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--nginx", action="store_true",
                        help="also measure (e) the feed through nginx's proxy cache and (f) "
                             "nginx serving the same bytes from a file")
    args = parser.parse_args()
    results = run(args)
    report(results, args.small, args.large)


if __name__ == "__main__":
    main()
