"""Imports every module that defines tables, so that Base.metadata knows them all.

Alembic (migrations/env.py) and the tests import this; the app never needs to.
"""

from syndicate import models as shared_models
from syndicate.api.idempotency import IdempotencyKey
from syndicate.articles import models as articles_models
from syndicate.feeds import models as feeds_models
from syndicate.linkedin import models as linkedin_models
from syndicate.mail import models as mail_models
from syndicate.posts import models as posts_models
from syndicate.publication import models as publication_models
from syndicate.sharing import models as sharing_models
from syndicate.staff import models as staff_models
from syndicate.web import models as web_models
from syndicate.webhooks import models as webhooks_models

__all__ = [
    "IdempotencyKey",
    "articles_models",
    "feeds_models",
    "linkedin_models",
    "mail_models",
    "posts_models",
    "publication_models",
    "sharing_models",
    "shared_models",
    "staff_models",
    "web_models",
    "webhooks_models",
]
