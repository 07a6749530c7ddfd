"""Periodic source sync, run by the scheduler process."""

from __future__ import annotations

from flask import Flask


def sync_due_sources(app: Flask) -> str:
    from syndicate.articles.importing import sync_due

    return sync_due(app)
