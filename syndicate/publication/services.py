"""The publication's name as stored by an administrator, and the first-run checklist."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from syndicate import events
from syndicate.articles.models import Article
from syndicate.errors import DomainError
from syndicate.linkedin.models import LinkedInConnection
from syndicate.posts.models import Post
from syndicate.publication.models import ChecklistState, SiteSetting
from syndicate.staff.models import User

SITE_NAME_KEY = "site_name"
MAX_NAME = 200
# make run's name for the demo (Makefile): a publication still called that has not chosen.
DEMO_SITE_NAME = "Syndicate Demo Magazine"
# Emitted when the name changes. feeds/cache.py counts it as a change of what feeds show,
# so every process renders its feeds (whose title is the name) and reads the name again.
RENAMED = "site.renamed"


class PublicationError(DomainError):
    """A name that cannot be the publication's."""


# --- the name --------------------------------------------------------------------------


def stored_site_name(session: Session) -> str | None:
    """The name an administrator set in the dashboard, or None (the settings decide)."""
    value = session.scalar(select(SiteSetting.value).where(SiteSetting.key == SITE_NAME_KEY))
    return value or None


def clean_site_name(name: str) -> str:
    """The name as it will be stored; empty means "as the settings say"."""
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise PublicationError(f"The name has at most {MAX_NAME} characters.", "name")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in name):
        raise PublicationError("The name has characters that cannot be shown.", "name")
    return name


def set_site_name(session: Session, name: str, *, user: User, now: datetime) -> str:
    """Store the publication's name (empty: back to SYNDICATE_SITE_NAME); admins only."""
    if not user.is_admin:
        raise PublicationError(
            "Only an administrator can change the publication's name.", "name", status=403
        )
    name = clean_site_name(name)
    row = session.get(SiteSetting, SITE_NAME_KEY)
    if (row.value if row else "") == name:
        return name
    if row is None:
        row = SiteSetting(key=SITE_NAME_KEY, value=name, updated_at=now)
        session.add(row)
    row.value = name
    row.updated_at = now
    row.updated_by_id = user.id
    events.emit(session, RENAMED, "site", {"name": name}, now=now, actor_id=user.id)
    session.flush()
    return name


def name_is_chosen(session: Session, config: Mapping[str, Any]) -> bool:
    """Whether the publication has a name of its own: set here, or in the settings."""
    if stored_site_name(session):
        return True
    configured = str(config.get("SITE_NAME") or config.get("FEED_TITLE") or "")
    return bool(configured) and configured != DEMO_SITE_NAME


# --- the checklist ---------------------------------------------------------------------

# In the order a newcomer does them; templates/publication/_checklist.html says how.
STEPS = ("linkedin", "article", "post", "name", "editor", "feeds")


@dataclass(frozen=True)
class Checklist:
    """Which first-run steps are done, from what exists, for one staff member."""

    done: frozenset[str]
    dismissed: bool

    @property
    def total(self) -> int:
        return len(STEPS)

    @property
    def done_count(self) -> int:
        return len(self.done)

    def is_done(self, step: str) -> bool:
        return step in self.done


def checklist(session: Session, user: User, *, config: Mapping[str, Any]) -> Checklist:
    """Each step is done when its trace exists; only "seen the feeds" is remembered."""
    state = session.get(ChecklistState, user.id)
    traces = {
        "linkedin": exists().where(LinkedInConnection.id.is_not(None)),
        "article": exists().where(Article.id.is_not(None)),
        "post": exists().where(Post.id.is_not(None)),
    }
    row = session.execute(select(*(e.label(k) for k, e in traces.items()))).one()
    done = {step for step in traces if row._mapping[step]}
    if name_is_chosen(session, config):
        done.add("name")
    if (session.scalar(select(func.count()).select_from(User).where(User.is_active)) or 0) > 1:
        done.add("editor")
    if state is not None and state.feeds_seen_at is not None:
        done.add("feeds")
    dismissed = state is not None and state.dismissed_at is not None
    return Checklist(frozenset(done), dismissed=dismissed)


def _state(session: Session, user: User) -> ChecklistState:
    state = session.get(ChecklistState, user.id)
    if state is None:
        state = ChecklistState(user_id=user.id)
        session.add(state)
    return state


def dismiss_checklist(session: Session, user: User, *, now: datetime) -> None:
    """Hide the checklist for this staff member for good (``show_checklist`` undoes it)."""
    state = _state(session, user)
    state.dismissed_at = state.dismissed_at or now
    session.flush()


def show_checklist(session: Session, user: User) -> None:
    _state(session, user).dismissed_at = None
    session.flush()


def mark_feeds_seen(session: Session, user: User, *, now: datetime) -> None:
    state = _state(session, user)
    state.feeds_seen_at = state.feeds_seen_at or now
    session.flush()
