"""build_scheduler(): the APScheduler process. It only ticks; the database holds the truth.

Every job is a plain function of the app that opens its own sessions and claims its work
atomically, so any number of scheduler processes may run at once without doing work twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask

from syndicate.publication.naming import apply_stored_name

log = logging.getLogger(__name__)


def periodic_jobs() -> dict[str, Callable[[Flask], Any]]:
    """Every feature's periodic jobs by name."""
    from syndicate.api.jobs import purge_idempotency_keys
    from syndicate.articles.jobs import sync_due_sources
    from syndicate.feeds.jobs import deliver_websub
    from syndicate.linkedin.jobs import maintain_connections, refresh_post_statistics
    from syndicate.mail.jobs import deliver_mail
    from syndicate.posts.jobs import apply_auto_post_rules, dispatch_posts
    from syndicate.sharing.jobs import maintain_share_requests, notify_corrections
    from syndicate.staff.jobs import purge_expired_sessions
    from syndicate.webhooks.jobs import deliver_webhooks, enqueue_webhook_deliveries

    return {
        "sources.sync": sync_due_sources,
        "linkedin.connections": maintain_connections,
        "posts.auto_post": apply_auto_post_rules,
        "posts.dispatch": dispatch_posts,
        "linkedin.post_statistics": refresh_post_statistics,
        "mail.deliver": deliver_mail,
        "feeds.websub": deliver_websub,
        "webhooks.enqueue": enqueue_webhook_deliveries,
        "webhooks.deliver": deliver_webhooks,
        "api.idempotency_purge": purge_idempotency_keys,
        "staff.sessions_purge": purge_expired_sessions,
        "sharing.maintenance": maintain_share_requests,
        "sharing.corrections": notify_corrections,
    }


def _guarded(app: Flask, name: str, job: Callable[[Flask], Any]) -> Callable[[], None]:
    def run() -> None:
        try:
            with app.app_context():
                apply_stored_name(app)  # the name an administrator set, for emails and feeds
                result = job(app)
            if result:
                log.info("%s: %s", name, result)
        except Exception:
            # One failing run must not stop the ticker; the next tick tries again.
            log.exception("job %s failed", name)

    return run


def build_scheduler(app: Flask) -> BlockingScheduler:
    scheduler = BlockingScheduler(timezone="UTC")
    tick = app.config["SCHEDULER_TICK_SECONDS"]
    for name, job in periodic_jobs().items():
        scheduler.add_job(
            _guarded(app, name, job),
            "interval",
            seconds=tick,
            id=name,
            name=name,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
    return scheduler


def run_all_once(app: Flask) -> dict[str, Any]:
    return {name: job(app) for name, job in periodic_jobs().items()}
