"""Little-text escaping for post commentary, the way LinkedIn parses it.

LinkedIn reads ``commentary`` as "little text": the characters ``\\ | { } @ [ ] ( ) < > # * _ ~``
are markup. Left unescaped, LinkedIn still answers 201 but the post stops at the first one,
typically a parenthesis. Escaping everything is wrong too: LinkedIn links URLs before it
parses markup, so an escaped ``_`` leaves a backslash inside ``utm_source``; mentions and
hashtags must stay markup. Comments are not little text and are never escaped.
"""

from __future__ import annotations

import re

RESERVED = frozenset("\\|{}@[]()<>#*_~")
MAX_COMMENTARY = 3000

_URL = re.compile(r"https?://\S+")
_MENTION = re.compile(r"@\[[^\[\]()\\\n]+\]\(urn:li:(?:person|organization):[A-Za-z0-9_-]+\)")
_HASHTAG = re.compile(r"#\w+")


def escape_little_text(text: str, *, keep_hashtags: bool = True) -> str:
    """Escape every reserved character except inside URLs, mentions and (optionally) hashtags."""
    out: list[str] = []
    i = 0
    while i < len(text):
        kept = _kept_token_at(text, i, keep_hashtags)
        if kept is not None:
            out.append(kept)
            i += len(kept)
            continue
        ch = text[i]
        out.append("\\" + ch if ch in RESERVED else ch)
        i += 1
    return "".join(out)


def _kept_token_at(text: str, i: int, keep_hashtags: bool) -> str | None:
    ch = text[i]
    if ch == "h" and (match := _URL.match(text, i)):
        return match.group()
    if ch == "@" and (match := _MENTION.match(text, i)):
        return match.group()
    if keep_hashtags and ch == "#" and (match := _HASHTAG.match(text, i)):
        return match.group()
    return None


def linkedin_length(commentary: str) -> int:
    """Length as LinkedIn's 3,000 limit counts it: UTF-16 code units of what is sent."""
    return len(commentary.encode("utf-16-le")) // 2


def mention(name: str, urn: str) -> str:
    """Markup for a mention; the name loses characters that would break the markup."""
    clean = re.sub(r"[\[\]()\\\n]", "", name).strip() or "LinkedIn member"
    return f"@[{clean}]({urn})"
