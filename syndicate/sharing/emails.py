"""Every email a sharer receives, in plain text and HTML, each with their private link.

Letters are built here from short paragraphs and links; ``queue_mail`` puts them in the
outbox in the caller's transaction, so an email exists if and only if the change committed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from markupsafe import escape

from syndicate import wording
from syndicate.mail.models import Mail
from syndicate.mail.services import new_mail
from syndicate.web.templating import format_time

PRIVATE_LINK_LABEL = "Your request, at your private link (keep it to yourself)"


@dataclass(frozen=True)
class Letter:
    subject: str
    paragraphs: Sequence[str]
    links: Sequence[tuple[str, str]] = field(default_factory=tuple)
    # Text shown verbatim and set apart (a credit line to copy, the publisher's reason).
    quote: str = ""

    def text(self, greeting: str, signature: str) -> str:
        parts = [greeting, *self.paragraphs]
        if self.quote:
            parts.append("\n".join(f"> {line}" for line in self.quote.splitlines()))
        parts += [f"{label}:\n{url}" for label, url in self.links]
        parts.append(f"— {signature}")
        return "\n\n".join(parts) + "\n"

    def html(self, greeting: str, signature: str) -> str:
        parts = [f"<p>{escape(greeting)}</p>"]
        parts += [f"<p>{escape(p)}</p>" for p in self.paragraphs]
        if self.quote:
            lines = "<br>".join(str(escape(line)) for line in self.quote.splitlines())
            parts.append(f"<blockquote>{lines}</blockquote>")
        parts += [
            f'<p><a href="{escape(url)}">{escape(label)}</a></p>' for label, url in self.links
        ]
        parts.append(f"<p>— {escape(signature)}</p>")
        return "<!doctype html><html><body>" + "\n".join(parts) + "</body></html>"


def compose(
    letter: Letter,
    *,
    to: str,
    name: str,
    publisher: str,
    private_url: str | None,
    now: datetime,
    reply_to: str | None = None,
) -> Mail:
    """The letter as an email to one sharer, ready for the outbox.

    Every letter after the verification one ends with the sharer's private link.
    """
    greeting = f"Hello {name}," if name else "Hello,"
    if private_url:
        letter = replace(letter, links=[*letter.links, (PRIVATE_LINK_LABEL, private_url)])
    return new_mail(
        to=to,
        subject=letter.subject,
        text=letter.text(greeting, publisher),
        html=letter.html(greeting, publisher),
        now=now,
        reply_to=reply_to,
    )


def when(moment: datetime | None, zone: str) -> str:
    return format_time(moment, zone)


def valid_until(ends_at: datetime, zone: str) -> str:
    """When a permission ends, in ``zone``, as staff set it: "valid until" a day, last day
    included. Its end is the midnight after that day in the staff member's zone, so where
    that is a midnight in ``zone`` too, the day before it is named ("2026-12-14 (last day
    included, Europe/Berlin)"); elsewhere the moment it ends ("2026-12-14 23:00 UTC").
    Every page and email says it this way."""
    local = ends_at.astimezone(ZoneInfo(zone))
    if local.time() != time(0):
        return format_time(ends_at, zone)
    last_day = local.date() - timedelta(days=1)
    return f"{last_day:%Y-%m-%d} (last day included, {zone})"


# An opening quotation mark and the one that closes it.
_QUOTES = {'"': '"', "“": "”", "„": "“", "«": "»", "»": "«", "‘": "’", "'": "'", "‚": "‘"}
_INNER_DOUBLE = re.compile(r'"([^"]*)"|“([^”]*)”|„([^“]*)“')


def quoted(title: str) -> str:
    """A title in quotation marks, never two of them in a row: “Title”. A title that is a
    quotation as a whole keeps its own marks; quotations inside one become single marks
    (“‘We measured the wrong thing’—what bike counters taught”)."""
    title = title.strip()
    if len(title) > 1 and _QUOTES.get(title[0]) == title[-1]:
        return title
    inner = _INNER_DOUBLE.sub(lambda m: f"‘{next(g for g in m.groups() if g is not None)}’", title)
    return f"“{inner}”"


def verify(
    title: str, kind: str, url: str, *, works_for: timedelta, deleted_after: timedelta
) -> Letter:
    return Letter(
        f"Confirm your request to share {quoted(title)}",
        [
            f"You asked for permission to share {quoted(title)} ({kind}). Please confirm that "
            "this is your email address: the request reaches the publisher only once you do.",
            f"The link below works once, for {wording.duration(works_for)}.",
            "If you did not ask, ignore this email: nothing is sent without your confirmation, "
            f"and the unconfirmed request is deleted after {wording.duration(deleted_after)}.",
        ],
        [("Confirm your request", url)],
    )


def received(title: str) -> Letter:
    return Letter(
        f"We received your request to share {quoted(title)}",
        [
            "Thank you: your request is with the publisher, who will answer by email.",
            "At your private link you can follow it, answer questions or withdraw it. Keep "
            "the link to yourself: anyone who has it can act on your request.",
        ],
        [],
    )


def granted(
    title: str,
    *,
    scope: str,
    conditions: Sequence[str],
    credit_line: str,
    record_url: str,
    share_url: str,
) -> Letter:
    return Letter(
        f"You may share {quoted(title)}",
        [
            f"Good news: you may share {quoted(title)} ({scope}).",
            *conditions,
            "Please credit the article with this line:",
        ],
        [
            (
                "Your tracked link to share (it counts how many of your readers come through)",
                share_url,
            ),
            ("The public record of this permission, which anyone can check", record_url),
        ],
        quote=credit_line,
    )


def denied(title: str, reason: str) -> Letter:
    return Letter(
        f"Your request to share {quoted(title)} was declined",
        ["The publisher declined your request, with this reason:"],
        [],
        quote=reason,
    )


def info_requested(title: str, question: str) -> Letter:
    return Letter(
        f"A question about your request to share {quoted(title)}",
        [
            "The publisher needs to know more before deciding:",
        ],
        [],
        quote=question,
    )


def answered(title: str) -> Letter:
    return Letter(
        f"Your answer about {quoted(title)} was passed on",
        ["Thank you: the publisher has your answer and will decide soon."],
        [],
    )


def withdrawn(title: str) -> Letter:
    return Letter(
        f"You withdrew your request to share {quoted(title)}",
        ["Your request is withdrawn; the publisher will not act on it."],
        [],
    )


def revoked(title: str, reason: str, record_url: str) -> Letter:
    return Letter(
        f"Your permission to share {quoted(title)} was revoked",
        [
            "The publisher revoked your permission, with this reason. Please remove any "
            "copy you published; links to the article may stay.",
        ],
        [("The permission record (now marked revoked)", record_url)],
        quote=reason,
    )


def closed(title: str, waited: timedelta) -> Letter:
    return Letter(
        f"Your request to share {quoted(title)} has closed",
        [
            f"No decision was made within {wording.whole_days(waited)}, so the request has "
            "closed. You are welcome to ask again.",
        ],
        [],
    )


def expiring(title: str, until: str, record_url: str) -> Letter:
    """``until``: the end as ``valid_until`` says it."""
    return Letter(
        f"Your permission to share {quoted(title)} is valid until {until}",
        [
            f"Your permission is valid until {until}. After that, please remove any copy you "
            "published, or ask the publisher for more time.",
        ],
        [("The permission record", record_url)],
    )


def ended(title: str, record_url: str) -> Letter:
    return Letter(
        f"Your permission to share {quoted(title)} has ended",
        [
            "Your permission has reached its end date. Please remove any copy you "
            "published; links to the article may stay.",
        ],
        [("The permission record (now marked expired)", record_url)],
    )


def corrected(title: str, article_url: str, record_url: str) -> Letter:
    return Letter(
        f"{quoted(title)} was corrected",
        [
            "An article you have permission to share was corrected. If you published a copy "
            "or an excerpt, please update it from the current version.",
        ],
        [("The corrected article", article_url), ("Your permission", record_url)],
    )


def retracted(title: str, record_url: str) -> Letter:
    return Letter(
        f"{quoted(title)} was withdrawn by the publisher",
        [
            "An article you have permission to share has been withdrawn. Please take down "
            "any copy or excerpt you published and stop sharing it.",
        ],
        [("Your permission", record_url)],
    )
