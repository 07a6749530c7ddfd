"""What every posts workflow shares: its errors, and ``record``, the one way a post changes
state (with the history row that says so).

The workflows live beside it: ``composing`` (templates, links, preview, creating a post),
``scheduling`` (local times, queue slots, the calendar), ``editing`` (edit, cancel, approve,
dismiss; the dashboard's lists), ``targets`` (a target's posting settings), ``auto_rules``
(auto-post rules) and the dispatcher (``dispatcher`` and ``dispatch_*``). Functions take a
session first and never commit.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from syndicate.errors import DomainError
from syndicate.posts.models import (
    Post,
    PostHistory,
    PostState,
)


class PostError(DomainError):
    """Bad input for a post; the message is fit to show and names the field when it can."""


class PostExists(PostError):
    """The article already has a post for this target."""

    status = 409
    code = "post_exists"

    def __init__(self, existing: Post | None) -> None:
        super().__init__(
            "This article already has a post for that target. Edit it, or re-share deliberately."
        )
        self.existing = existing

    def details(self) -> dict[str, int | None]:
        return {"existing_post_id": self.existing.id if self.existing is not None else None}


class NotEditable(PostError):
    """The post has been claimed for sending or has finished."""

    status = 409
    code = "not_editable"


class NotAllowed(PostError):
    """The staff member's role does not allow this."""

    status = 403
    code = "forbidden"


def record(
    session: Session,
    post: Post,
    to_state: PostState,
    *,
    now: datetime,
    actor: str,
    detail: str = "",
    http_status: int | None = None,
) -> None:
    """Move the post to a state and write the history row that says so."""
    session.add(
        PostHistory(
            post=post,
            at=now,
            from_state=post.state.value if post.state else None,
            to_state=to_state.value,
            attempt=post.attempt,
            actor=actor[:200],
            http_status=http_status,
            detail=detail[:4000],
        )
    )
    post.state = to_state
    post.updated_at = now
