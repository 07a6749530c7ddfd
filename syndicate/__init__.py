"""syndicate: feeds, LinkedIn posts and share permissions for a publisher's articles."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(config: Mapping[str, Any] | None = None, *, web: bool = True) -> Flask:
    """Build the app: settings, collaborators, then each feature in turn. Nothing runs at import.

    ``web=False`` is the app of a job process (``syndicate scheduler``, ``syndicate posts
    dispatch``): the same settings, database, collaborators and commands, without the pages,
    the API, templates and metrics, whose modules (views, forms, schemas) are never imported.
    Jobs reach only ``app.config`` and ``app.extensions``, so they run the same either way.
    """
    from syndicate import (
        api,
        articles,
        cli,
        db,
        feeds,
        linkedin,
        mail,
        outbox,
        posts,
        publication,
        sharing,
        staff,
        webhooks,
    )
    from syndicate import web as web_feature
    from syndicate.clock import SystemClock
    from syndicate.crypto import TokenVault
    from syndicate.fetch import Fetcher
    from syndicate.linkedin.client import LinkedInClient
    from syndicate.mail.smtp import make_mailer

    app = _app_with_settings(config or {})

    app.extensions["clock"] = (config or {}).get("CLOCK") or SystemClock()
    app.extensions["token_vault"] = TokenVault(app.config["TOKEN_KEYS"])
    app.extensions["linkedin_client"] = (config or {}).get(
        "LINKEDIN_CLIENT_OBJECT"
    ) or LinkedInClient.from_config(app.config)
    # Every fetch of a URL outside (imports, WebSub, webhooks, thumbnails) goes through it.
    app.extensions["fetcher"] = (config or {}).get("FETCHER_OBJECT") or Fetcher.from_config(
        app.config
    )
    # Every email leaves through it (the mail job), and doctor checks it; None: no SMTP server.
    app.extensions["mailer"] = make_mailer(app.config["SMTP_URL"], app.config["MAIL_FROM"])
    db.init_app(app, engine=(config or {}).get("ENGINE"))

    if web:
        web_feature.init_app(app)
        outbox.init_app(app)
        staff.init_app(app)
        articles.init_app(app)
        linkedin.init_app(app)
        mail.init_app(app)
        posts.init_app(app)
        api.init_app(app)
        webhooks.init_app(app)
        sharing.init_app(app)
        feeds.init_app(app)
        publication.init_app(app)
        if app.config["LINKEDIN_SANDBOX"]:
            _mount_sandbox(app)
    cli.init_app(app)
    return app


def _app_with_settings(config: Mapping[str, Any]) -> Flask:
    """The Flask app with every setting: environment, instance folder, then `config`."""
    from syndicate.config import read_environment, resolve
    from syndicate.instance_settings import with_instance_settings

    instance_path = (
        config.get("INSTANCE_PATH")
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
    raw.update({k: v for k, v in config.items() if k != "INSTANCE_PATH"})
    app.config.update(resolve(raw, Path(app.instance_path)))
    # Flask-level options derived from our settings; tests may still override them.
    app.config["MAX_CONTENT_LENGTH"] = config.get("MAX_CONTENT_LENGTH", 2 * 1024 * 1024)
    app.config["MAX_FORM_MEMORY_SIZE"] = app.config["MAX_CONTENT_LENGTH"]
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=app.config["ENV"] == "production",
        SESSION_COOKIE_NAME="syndicate_session",
        WTF_CSRF_TIME_LIMIT=None,
        TESTING=app.config["ENV"] == "testing",
    )
    if "WTF_CSRF_ENABLED" in config:
        app.config["WTF_CSRF_ENABLED"] = config["WTF_CSRF_ENABLED"]
    return app


def _mount_sandbox(app: Flask) -> None:
    """Serve the LinkedIn sandbox under /linkedin-sandbox of this same server (make run)."""
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from syndicate.config import SANDBOX_PATH
    from syndicate.linkedin_sandbox.app import create_sandbox

    sandbox = create_sandbox(base_url=app.config["SITE_URL"] + SANDBOX_PATH)
    app.extensions["linkedin_sandbox"] = sandbox
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {SANDBOX_PATH: sandbox})  # type: ignore[method-assign]
