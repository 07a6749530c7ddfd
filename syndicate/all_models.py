"""Imports every feature's models so that Base.metadata knows all tables (Alembic, tests)."""

from syndicate.api.idempotency import IdempotencyKey
from syndicate.articles import models as articles_models
from syndicate.events import Event, EventCursor
from syndicate.feeds import models as feeds_models
from syndicate.linkedin import models as linkedin_models
from syndicate.mail import models as mail_models
from syndicate.outbox import OutboxMessage
from syndicate.posts import models as posts_models
from syndicate.sharing import models as sharing_models
from syndicate.staff import models as staff_models
from syndicate.web import models as web_models
from syndicate.webhooks import models as webhooks_models

__all__ = [
    "Event",
    "IdempotencyKey",
    "EventCursor",
    "OutboxMessage",
    "articles_models",
    "feeds_models",
    "linkedin_models",
    "mail_models",
    "posts_models",
    "sharing_models",
    "staff_models",
    "web_models",
    "webhooks_models",
]
