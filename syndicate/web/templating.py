"""Jinja filters shared by every page: times always carry their zone."""

from __future__ import annotations

from datetime import datetime

from flask import Flask

from syndicate import wording
from syndicate.config import site_name


def format_time(moment: datetime | None, zone: str | None = None) -> str:
    """'2026-12-04 14:00 Europe/Berlin' (wording.time_in_zone), in the signed-in person's
    zone unless ``zone`` says otherwise (the public pages use the site's)."""
    return wording.time_in_zone(moment, zone or _default_zone())


def _default_zone() -> str:
    from flask import current_app

    from syndicate.staff.access import current_user

    user = current_user()
    if user is not None:
        return user.time_zone
    time_zone: str = current_app.config["TIME_ZONE"]
    return time_zone


def init_app(app: Flask) -> None:
    app.jinja_env.filters["localtime"] = format_time
    app.jinja_env.filters["duration"] = wording.duration
    app.jinja_env.filters["count"] = wording.count
    app.jinja_env.globals["site_url"] = app.config["SITE_URL"]

    @app.context_processor
    def _site_name() -> dict[str, str]:
        # Per page rather than once: the setting may change on a running app (tests).
        return {"site_name": site_name(app.config)}
