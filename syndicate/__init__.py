"""syndicate: feeds, LinkedIn posts and share permissions for a publisher's articles."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: settings, extensions, blueprints and commands. Nothing runs at import."""
    from syndicate import cli, db, feeds, linkedin, outbox, posts
    from syndicate.api import views as api_views
    from syndicate.articles import sources_views
    from syndicate.articles import views as articles_views
    from syndicate.clock import SystemClock
    from syndicate.config import read_environment, resolve
    from syndicate.crypto import TokenVault
    from syndicate.feeds import views as feeds_views
    from syndicate.instance_settings import with_instance_settings
    from syndicate.linkedin import oauth as linkedin_oauth
    from syndicate.linkedin import views as linkedin_views
    from syndicate.linkedin.client import LinkedInClient
    from syndicate.mail import views as mail_views
    from syndicate.mail.smtp import make_mailer
    from syndicate.posts import views as posts_views
    from syndicate.sharing import dashboard_views as sharing_dashboard_views
    from syndicate.sharing import views as sharing_views
    from syndicate.staff import access
    from syndicate.staff import views as staff_views
    from syndicate.web import converters, errors, metrics, security, templating
    from syndicate.web import logging as web_logging
    from syndicate.web import views as web_views
    from syndicate.webhooks import views as webhooks_views

    instance_path = (
        (config or {}).get("INSTANCE_PATH")
        or os.environ.get("SYNDICATE_INSTANCE_PATH")
        or str(PROJECT_ROOT / "instance")
    )
    app = Flask(
        "syndicate",
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(Path(__file__).parent / "static"),
    )
    raw = read_environment(with_instance_settings(os.environ, Path(app.instance_path)))
    raw.update({k: v for k, v in (config or {}).items() if k != "INSTANCE_PATH"})
    app.config.update(resolve(raw, Path(app.instance_path)))
    # Flask-level options derived from our settings; tests may still override them.
    app.config["MAX_CONTENT_LENGTH"] = (config or {}).get("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["ENV"] == "production",
        SESSION_COOKIE_NAME="syndicate_session",
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=app.config["ENV"] == "testing",
    )
    if config and "WTF_CSRF_ENABLED" in config:
        app.config["WTF_CSRF_ENABLED"] = config["WTF_CSRF_ENABLED"]

    app.extensions["clock"] = (config or {}).get("CLOCK") or SystemClock()
    app.extensions["token_vault"] = TokenVault(app.config["TOKEN_KEYS"])
    app.extensions["linkedin_client"] = (config or {}).get(
        "LINKEDIN_CLIENT_OBJECT"
    ) or LinkedInClient.from_config(app.config)
    # Every email leaves through it (the mail job), and doctor checks it; None: no SMTP server.
    app.extensions["mailer"] = make_mailer(app.config["SMTP_URL"], app.config["MAIL_FROM"])
    converters.init_app(app)
    db.init_app(app, engine=(config or {}).get("ENGINE"))
    linkedin_oauth.init_app(app)
    security.init_app(app)
    access.init_app(app)
    errors.init_app(app)
    web_logging.init_app(app)
    metrics.init_app(app)
    templating.init_app(app)
    outbox.init_app(app)
    linkedin.init_app(app)
    posts.init_app(app)
    feeds.init_app(app)

    app.register_blueprint(web_views.bp)
    app.register_blueprint(staff_views.bp)
    app.register_blueprint(staff_views.api_bp)
    security.csrf.exempt(staff_views.api_bp)
    app.register_blueprint(articles_views.public)
    app.register_blueprint(articles_views.dashboard)
    app.register_blueprint(sources_views.sources)
    app.register_blueprint(linkedin_views.bp)
    app.register_blueprint(mail_views.mail)
    app.register_blueprint(posts_views.bp)
    app.register_blueprint(api_views.bp)
    security.csrf.exempt(api_views.bp)
    app.register_blueprint(webhooks_views.bp)
    app.register_blueprint(sharing_views.public)
    app.register_blueprint(sharing_dashboard_views.dashboard)
    app.register_blueprint(feeds_views.bp)
    app.register_blueprint(feeds_views.dashboard)
    # WebSub subscribers are other servers: they cannot hold a CSRF token.
    security.csrf.exempt(feeds_views.hub)
    if app.config["LINKEDIN_SANDBOX"]:
        _mount_sandbox(app)

    cli.init_app(app)
    return app


def _mount_sandbox(app: Flask) -> None:
    """Serve the LinkedIn sandbox under /linkedin-sandbox of this same server (make run)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from syndicate.config import SANDBOX_PATH
    from syndicate.linkedin_sandbox.app import create_sandbox

    sandbox = create_sandbox(base_url=app.config["SITE_URL"] + SANDBOX_PATH)
    app.extensions["linkedin_sandbox"] = sandbox
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {SANDBOX_PATH: sandbox})  # type: ignore[method-assign]
