"""Jinja filters shared by every page: times always carry their zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask

from syndicate import wording
from syndicate.config import site_name


def format_time(
    moment: datetime | None, zone: str | None = None, fmt: str = "%Y-%m-%d %H:%M"
) -> str:
    """'2026-03-29 03:30 CEST (Europe/Berlin)': the local time, its abbreviation and zone."""
    if moment is None:
        return "—"
    zone = zone or _default_zone()
    local = moment.astimezone(ZoneInfo(zone))
    return (
        f"{local.strftime(fmt)} {local.tzname()} ({zone})"
        if zone != "UTC"
        else (f"{local.strftime(fmt)} UTC")
    )


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
