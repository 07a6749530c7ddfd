"""A LinkedIn target's posting settings: time zone, queue slots, daily cap, template and
whether its posts need approval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from syndicate.articles.models import Article
from syndicate.linkedin.models import LinkedInTarget
from syndicate.posts.composing import DEFAULT_TEMPLATE, render_template
from syndicate.posts.context import NotAllowed, PostError
from syndicate.posts.scheduling import parse_slots
from syndicate.staff.models import User


@dataclass
class TargetSettings:
    time_zone: str
    queue_slots: str
    daily_cap: int | None
    template: str
    needs_approval: bool | None = None  # None: leave as it is


def update_target_settings(
    session: Session,
    target: LinkedInTarget,
    settings: TargetSettings,
    *,
    user: User,
    now: datetime,
    example: Article,
) -> None:
    """Change a target's posting settings after checking every one of them."""
    from syndicate.staff.services import StaffError, check_time_zone

    try:
        zone = check_time_zone(settings.time_zone.strip())
    except StaffError as exc:
        raise PostError(str(exc), "time_zone") from None
    slots = parse_slots(settings.queue_slots)
    if settings.daily_cap is not None and not 1 <= settings.daily_cap <= 100:
        raise PostError("The daily cap is a number from 1 to 100, or empty for none.", "daily_cap")
    template = settings.template.replace("\r\n", "\n").strip()
    render_template(template, example, link="https://example.test/")
    if settings.needs_approval is not None and settings.needs_approval != target.needs_approval:
        if not user.is_admin:
            raise NotAllowed("Only an administrator can change whether posts need approval.")
        target.needs_approval = settings.needs_approval
    target.time_zone = zone
    target.queue_slots = slots
    target.daily_cap = settings.daily_cap
    # The form shows the default when a target has none: saving it unchanged keeps "none",
    # so the target follows the default when it changes.
    target.template = "" if template == DEFAULT_TEMPLATE else template
    target.updated_at = now
    session.flush()
