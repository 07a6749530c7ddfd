"""Mail has no table of its own: each email is an outbox message of kind ``mail.send``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from syndicate.models import OutboxMessage, OutboxState

MAIL_KIND = "mail.send"
# Stored as the outbox outcome when delivery ran without an SMTP server configured.
NOT_SENT_OUTCOME = "not sent: SYNDICATE_SMTP_URL is empty"


@dataclass(frozen=True)
class Mail:
    """One email as the outbox payload holds it."""

    to: str
    subject: str
    text: str
    html: str | None
    reply_to: str | None
    queued_at: datetime
    # Random, fixed when queued: the Message-ID's left part, the same on every retry.
    key: str

    def to_payload(self) -> dict[str, Any]:
        return {
            "to": self.to,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "reply_to": self.reply_to,
            "queued_at": self.queued_at.isoformat(),
            "key": self.key,
        }

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Mail:
        """Read a payload back; raises ValueError if it is not a mail payload."""
        try:
            queued_at = datetime.fromisoformat(str(payload["queued_at"]))
            mail = cls(
                to=str(payload["to"]),
                subject=str(payload["subject"]),
                text=str(payload["text"]),
                html=None if payload.get("html") is None else str(payload["html"]),
                reply_to=None if payload.get("reply_to") is None else str(payload["reply_to"]),
                queued_at=queued_at,
                key=str(payload["key"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a mail payload: {exc}") from None
        if queued_at.tzinfo is None or not mail.key:
            raise ValueError("not a mail payload: naive queued_at or empty key")
        return mail


@dataclass(frozen=True)
class MailRecord:
    """A queued email with its delivery state, for the dashboard."""

    message: OutboxMessage

    @property
    def id(self) -> int:
        return self.message.id

    def _field(self, name: str) -> str:
        value = (self.message.payload or {}).get(name)
        return "" if value is None else str(value)

    @property
    def to(self) -> str:
        return self._field("to")

    @property
    def subject(self) -> str:
        return self._field("subject")

    @property
    def text(self) -> str:
        return self._field("text")

    @property
    def html(self) -> str:
        return self._field("html")

    @property
    def reply_to(self) -> str:
        return self._field("reply_to")

    @property
    def not_sent_without_smtp(self) -> bool:
        return self.message.state is OutboxState.DONE and self.message.outcome == NOT_SENT_OUTCOME

    @property
    def status(self) -> str:
        """What happened to it, in words a publisher understands."""
        state = self.message.state
        if state is OutboxState.DONE:
            return "not sent (no SMTP)" if self.not_sent_without_smtp else "sent"
        return {
            OutboxState.PENDING: "queued",
            OutboxState.SENDING: "sending",
            OutboxState.FAILED: "retrying",
            OutboxState.DEAD: "gave up",
        }[state]

    @property
    def status_class(self) -> str:
        return {
            "sent": "published",
            "not sent (no SMTP)": "draft",
            "retrying": "failed",
            "gave up": "failed",
        }.get(self.status, "draft")
