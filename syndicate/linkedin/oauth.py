"""The authlib client for LinkedIn's authorization-code flow, configured from settings."""

from __future__ import annotations

from authlib.integrations.flask_client import OAuth
from flask import Flask


def init_app(app: Flask) -> None:
    base = app.config["LINKEDIN_AUTH_BASE"].rstrip("/")
    oauth = OAuth(app)
    oauth.register(  # type: ignore[no-untyped-call]  # types-authlib leaves it unannotated
        "linkedin",
        client_id=app.config["LINKEDIN_CLIENT_ID"],
        client_secret=app.config["LINKEDIN_CLIENT_SECRET"],
        authorize_url=f"{base}/oauth/v2/authorization",
        access_token_url=f"{base}/oauth/v2/accessToken",
        server_metadata_url=f"{base}/oauth/.well-known/openid-configuration",
        # LinkedIn wants the client credentials in the form body, not in Basic auth.
        client_kwargs={"token_endpoint_auth_method": "client_secret_post", "timeout": 20},
    )
    app.extensions["linkedin_oauth"] = oauth


def callback_url(app: Flask) -> str:
    """The redirect URI registered with LinkedIn: absolute, from SITE_URL, exact."""
    site_url: str = app.config["SITE_URL"]
    return site_url + "/dashboard/connections/callback"
