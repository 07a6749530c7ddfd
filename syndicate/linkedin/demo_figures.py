"""Made-up but plausible figures of a LinkedIn post, from its URN and its age alone.

The LinkedIn sandbox answers its statistics endpoints with them, and the demo content draws
its posts' past samples from them, so the two agree. Each post gets its own reach, speed
and rates from a hash of its URN; every figure only ever grows with age.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

# LinkedIn's post ids carry their creation time: the id's top 41 bits are milliseconds since
# the Unix epoch (the rest tells posts of the same millisecond apart).
_TIME_SHIFT = 22


def _unit(urn: str, salt: str) -> float:
    """A number in [0, 1) fixed by the URN and the salt."""
    digest = hashlib.sha256(f"{salt}:{urn}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def figures(urn: str, age: timedelta) -> dict[str, int]:
    """impressions, unique_impressions, clicks, reactions, comments and reposts ``age`` after
    the post went out (all zero before)."""
    hours = max(age.total_seconds() / 3600, 0.0)
    reach = 300 + 6000 * _unit(urn, "reach") ** 2
    speed = 6 + 42 * _unit(urn, "speed")  # hours until about two thirds are reached
    # A fast start that levels off, and a long tail of late readers.
    share = (1 - math.exp(-hours / speed)) * 0.85 + 0.15 * min(hours / (24 * 60), 1.0)
    impressions = int(reach * share)
    click_rate = 0.006 + 0.03 * _unit(urn, "clicks")
    reaction_rate = 0.01 + 0.05 * _unit(urn, "reactions")
    reactions = int(impressions * reaction_rate)
    return {
        "impressions": impressions,
        "unique_impressions": int(impressions * (0.7 + 0.2 * _unit(urn, "unique"))),
        "clicks": int(impressions * click_rate),
        "reactions": reactions,
        "comments": int(reactions * (0.05 + 0.2 * _unit(urn, "comments"))),
        "reposts": int(reactions * (0.02 + 0.1 * _unit(urn, "reposts"))),
    }


def share_id_at(milliseconds: int, sequence: int) -> int:
    """A post id as LinkedIn makes them: the creation time in the top bits."""
    return (milliseconds << _TIME_SHIFT) | (sequence & ((1 << _TIME_SHIFT) - 1))


def created_ms(urn: str) -> int | None:
    """The creation time (ms since the epoch) a share or ugcPost URN carries, if it parses."""
    ident = urn.rpartition(":")[2]
    if not ident.isascii() or not ident.isdigit() or len(ident) > 20:
        return None
    return int(ident) >> _TIME_SHIFT
