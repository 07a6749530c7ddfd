"""The ceiling of the benchmarks: a minimal Flask app with no extension, served by gunicorn
with the same gunicorn.conf.py as the app under test (bench/harness.py).

``/bare/<name>`` replays an answer recorded from the app (harness.record): the same status,
headers and body bytes, for GET and for POST (a POST's form body is parsed first, as the
app's form would be). ``/naive/rss.xml`` (when BARE_DATABASE_URL is set) is the naive feed:
one query and a feedgen render on every request, no cache.

    gunicorn -c gunicorn.conf.py --pythonpath bench 'bare_app:create_app()'
    BARE_ANSWERS=directory of <name>.json and <name>.body  BARE_DATABASE_URL=...  BARE_FEED_ITEMS=50
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flask import Flask, Response, request


def create_app() -> Flask:
    app = Flask(__name__)
    answers = {}
    directory = os.environ.get("BARE_ANSWERS")
    if directory:
        for meta in Path(directory).glob("*.json"):
            recorded = json.loads(meta.read_text())
            answers[meta.stem] = (
                recorded["status"],
                recorded["headers"],
                meta.with_suffix(".body").read_bytes(),
            )

    @app.route("/bare/<name>", methods=["GET", "POST"])
    def replay(name: str) -> Response:
        status, headers, body = answers[name]
        if request.method == "POST":
            request.form  # noqa: B018  # parse the body like the app does
        return Response(body, status=status, headers=headers)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response(b"ok\n", mimetype="text/plain")

    if os.environ.get("BARE_DATABASE_URL"):
        naive_feed(app, os.environ["BARE_DATABASE_URL"], int(os.environ["BARE_FEED_ITEMS"]))
    return app


def naive_feed(app: Flask, database_url: str, items: int) -> None:
    """/naive/rss.xml: the newest ``items`` published articles, queried and rendered with
    feedgen on every request."""
    from feedgen.feed import FeedGenerator
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    newest = text(
        "SELECT id, public_id, slug, title, summary, body_html, published_at "
        "FROM articles WHERE status = 'published' "
        "ORDER BY published_at DESC, id DESC LIMIT :items"
    )
    authors = text(
        "SELECT aa.article_id, au.name FROM article_authors aa "
        "JOIN authors au ON au.id = aa.author_id WHERE aa.article_id IN :ids "
        "ORDER BY aa.position"
    ).bindparams(expanding_ids())
    categories = text(
        "SELECT ac.article_id, c.name FROM article_categories ac "
        "JOIN categories c ON c.id = ac.category_id "
        "WHERE ac.article_id IN :ids"
    ).bindparams(expanding_ids())
    site = "https://bench.example.test"

    @app.get("/naive/rss.xml")
    def naive() -> Response:
        with engine.connect() as conn:
            rows = conn.execute(newest, {"items": items}).all()
            ids = [row.id for row in rows]
            names: dict[int, list[str]] = {}
            for article_id, name in conn.execute(authors, {"ids": ids}):
                names.setdefault(article_id, []).append(name)
            kinds: dict[int, list[str]] = {}
            for article_id, name in conn.execute(categories, {"ids": ids}):
                kinds.setdefault(article_id, []).append(name)
        fg = FeedGenerator()
        fg.title("Bench feed")
        fg.link(href=site + "/", rel="alternate")
        fg.description("The naive render of the benchmark")
        fg.load_extension("dc", atom=False, rss=True)
        for row in rows:
            fe = fg.add_entry(order="append")
            fe.id(f"urn:uuid:{row.public_id}")
            fe.title(row.title)
            fe.link(href=f"{site}/articles/{row.slug}")
            fe.published(_aware(row.published_at))
            fe.description(row.summary)
            fe.content(row.body_html, type="CDATA")
            for name in names.get(row.id, []):
                fe.dc.dc_creator(name)
            fe.category([{"term": name} for name in kinds.get(row.id, [])])
        return Response(fg.rss_str(pretty=False), mimetype="application/rss+xml")


def expanding_ids():  # noqa: ANN201
    from sqlalchemy import bindparam

    return bindparam("ids", expanding=True)


def _aware(moment):  # noqa: ANN001, ANN202
    from datetime import UTC, datetime

    if isinstance(moment, str):  # SQLite through a plain text() query
        moment = datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
