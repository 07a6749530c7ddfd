"""Articles, categories, tags and authors; the editor; imports from the publisher's site."""

from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    """Public article pages, the editor, and the sources imports come from."""
    from syndicate.articles import sources_views, views

    app.register_blueprint(views.public)
    app.register_blueprint(views.dashboard)
    app.register_blueprint(sources_views.sources)
