"""Little-text rendering as LinkedIn applies it to a post's commentary (sandbox side)."""

from __future__ import annotations

import re
from dataclasses import dataclass

RESERVED = frozenset("\\|{}@[]()<>#*_~")

_MENTION = re.compile(
    r"@\[(?P<name>[^\[\]()\\\n]+)\]\((?P<urn>urn:li:(?:person|organization):[A-Za-z0-9_-]+)\)"
)
_HASHTAG = re.compile(r"#\w+")
_HASHTAG_TEMPLATE = re.compile(r"\{hashtag\|\\#\|(?P<tag>\w+)\}")
# LinkedIn links URLs before it parses little text, so reserved characters inside a URL
# neither cut the post nor get unescaped (an escaped "_" leaves a backslash in utm_source).
_URL = re.compile(r"https?://\S+")


@dataclass(frozen=True)
class Mention:
    """A mention kept in the rendered text."""

    name: str
    urn: str


@dataclass(frozen=True)
class LittleText:
    """The outcome of rendering: what readers see, and where LinkedIn cut the source."""

    rendered: str
    kept: str
    mentions: tuple[Mention, ...] = ()
    cut_at: int | None = None
    cut_char: str | None = None


def parse_little_text(text: str) -> LittleText:
    """Render `text`: unescape, keep URLs, mentions and hashtags, cut at a stray reserved char."""
    out: list[str] = []
    mentions: list[Mention] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text) and text[i + 1] in RESERVED:
            out.append(text[i + 1])
            i += 2
            continue
        special = _special_at(text, i)
        if special is not None:
            shown, end, mention = special
            out.append(shown)
            if mention is not None:
                mentions.append(mention)
            i = end
            continue
        if ch in RESERVED:
            return LittleText("".join(out), text[:i], tuple(mentions), i, ch)
        out.append(ch)
        i += 1
    return LittleText("".join(out), text, tuple(mentions))


def render_little_text(text: str) -> str:
    """The commentary as a reader sees it on LinkedIn."""
    return parse_little_text(text).rendered


def _special_at(text: str, i: int) -> tuple[str, int, Mention | None] | None:
    """A URL, mention or hashtag starting at `i`: (shown text, end index, mention)."""
    ch = text[i]
    if ch == "h" and (match := _URL.match(text, i)):
        return match.group(), match.end(), None
    if ch == "@" and (match := _MENTION.match(text, i)):
        name = match.group("name")
        return name, match.end(), Mention(name, match.group("urn"))
    if ch == "{" and (match := _HASHTAG_TEMPLATE.match(text, i)):
        return "#" + match.group("tag"), match.end(), None
    if ch == "#" and (match := _HASHTAG.match(text, i)):
        return match.group(), match.end(), None
    return None
