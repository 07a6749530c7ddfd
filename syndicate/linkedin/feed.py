"""How LinkedIn's feed shows a post: the author with a picture, the commentary folded at
"…see more", and the article card (picture, title, domain).

One rule for everyone who draws a post as a reader sees it: the compose preview, the post's
page and its script (which ask the server, see ``posts.views.preview``), and the LinkedIn
sandbox's page (``linkedin_sandbox/pages.py``). All draw ``templates/linkedin/_feed_post.html``.

The fold: LinkedIn's feed shows about three lines of commentary, roughly 210 characters on a
desktop, before "…see more"; the exact place depends on the reader's screen. We use a rule
that never shows more than LinkedIn does: the text up to the end of its third line, and at
most ``SEE_MORE_CHARS`` characters of that, moved back to the last space when the limit
falls inside a word (unless that would hide more than half of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

SEE_MORE_CHARS = 210
SEE_MORE_LINES = 3


@dataclass(frozen=True)
class Fold:
    """The commentary as the feed first shows it (``shown``), and what "…see more" opens."""

    shown: str
    rest: str

    @property
    def folded(self) -> bool:
        return bool(self.rest)


def fold(text: str) -> Fold:
    """Split ``text`` where LinkedIn's feed puts "…see more" (``shown + rest == text``)."""
    lines = text.split("\n")
    limit = min(len("\n".join(lines[:SEE_MORE_LINES])), SEE_MORE_CHARS)
    if len(text) <= limit or not text[limit:].strip():
        return Fold(text, "")
    cut = limit
    if limit == SEE_MORE_CHARS and not text[limit].isspace():
        space = max(text.rfind(" ", 0, limit), text.rfind("\n", 0, limit))
        if space > limit // 2:
            cut = space
    return Fold(text[:cut], text[cut:])


def initials(name: str) -> str:
    """Up to two letters for a picture drawn from a name: 'Sam Sandbox' → 'SS'."""
    words = [w for w in name.split() if w[:1].isalnum()]
    if not words:
        return "?"
    picked = words[:1] + words[1:][-1:]
    return "".join(w[0] for w in picked).upper()


def card_domain(url: str) -> str:
    """The domain an article card names under its title: the link's host without ``www.``."""
    host = urlsplit(url).hostname or ""
    return host.removeprefix("www.")


@dataclass(frozen=True)
class FeedPost:
    """Everything the feed shows of a post, ready for ``linkedin/_feed_post.html``."""

    author_name: str
    initials: str
    text: Fold
    link: str | None = None
    title: str | None = None
    domain: str = ""
    image_url: str | None = None
    image_alt: str = ""
    # An image post (no article card): the picture alone, with its alternative text.
    media_url: str | None = None


def feed_post(
    *,
    author_name: str,
    text: str,
    link: str | None = None,
    title: str | None = None,
    image_url: str | None = None,
    image_alt: str = "",
    media_url: str | None = None,
) -> FeedPost:
    """A post as the feed shows it; ``text`` is the commentary as readers read it."""
    return FeedPost(
        author_name=author_name,
        initials=initials(author_name),
        text=fold(text),
        link=link,
        title=title,
        domain=card_domain(link) if link else "",
        image_url=image_url,
        image_alt=image_alt,
        media_url=media_url,
    )
