"""Imports every feature's models so that Base.metadata knows all tables (Alembic, tests)."""

from syndicate.articles import models as articles_models
from syndicate.events import Event, EventCursor
from syndicate.staff import models as staff_models

__all__ = ["Event", "EventCursor", "articles_models", "staff_models"]
