"""Cursor pagination: newest first by (created_at, id), a signed opaque cursor per page.

Keyset paging never skips or repeats a row however many rows arrive meanwhile (new rows sort
before the cursor), and the signature keeps clients from forging positions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")


class BadCursor(ValueError):
    """The cursor was not made by this server for this list."""


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    next_cursor: str | None


class Cursors:
    """Signs and reads cursors of one list ("articles", "posts")."""

    def __init__(self, secret_key: str, list_name: str) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt=f"syndicate.api.cursor.{list_name}")

    def encode(self, sort_value: datetime, row_id: int) -> str:
        return self._serializer.dumps([sort_value.isoformat(), row_id])

    def decode(self, cursor: str) -> tuple[datetime, int]:
        try:
            sort_text, row_id = self._serializer.loads(cursor)
            sort_value = datetime.fromisoformat(sort_text)
        except (BadData, TypeError, ValueError):
            raise BadCursor("The cursor is not one this server gave out for this list.") from None
        if sort_value.tzinfo is None or not isinstance(row_id, int):
            raise BadCursor("The cursor is not one this server gave out for this list.")
        return sort_value, row_id


def keyset_page(
    session: Session,
    query: Select[Any],
    *,
    sort: InstrumentedAttribute[datetime],
    row_id: InstrumentedAttribute[int],
    cursors: Cursors,
    cursor: str | None,
    limit: int,
) -> Page[Any]:
    """One page of ``query`` newest first, after ``cursor``; raises BadCursor."""
    if cursor:
        after_sort, after_id = cursors.decode(cursor)
        query = query.where(
            or_(sort < after_sort, and_(sort == after_sort, row_id < after_id))
        )
    rows: Sequence[Any] = session.scalars(
        query.order_by(sort.desc(), row_id.desc()).limit(limit + 1)
    ).all()
    items = list(rows[:limit])
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = cursors.encode(getattr(last, sort.key), getattr(last, row_id.key))
    return Page(items, next_cursor)
