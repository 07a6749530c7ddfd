"""Claiming due rows for a while (a lease), and writing a result only while the claim holds.

Posts (``posts/dispatch_claim.py``), outbox messages (``outbox.py``), WebSub deliveries
(``feeds/websub.py``) and source syncs (``articles/importing.py``) are claimed this way, so
that any number of scheduler processes can run side by side:

- **Due.** A row is due when it waits and its time has come, or when a worker holds it
  whose lease is over (``Leases.expired``): that worker stopped, or was too slow.
- **Claim.** Claimers that take a batch read it with ``Leases.lock_due``: on PostgreSQL
  ``FOR UPDATE SKIP LOCKED``, so that concurrent claimers split the due rows instead of
  queueing behind each other; SQLite ignores the clause, and the caller's
  ``Database.write_transaction`` (``BEGIN IMMEDIATE``) serialises claimers instead.
  Claimers that take one row at a time use ``take``: an UPDATE that repeats what made the
  row due, so it changes the row only if nobody took it in between, whatever the isolation
  level; the row is the caller's only when exactly one row changed.
- **Lease.** A claim holds the row until ``now + lease`` and counts one more attempt
  (``Leases.take``), where the table keeps an owner and attempts.
- **Fence.** The worker writes its result only where the row is still as its claim left
  it: same owner, same attempt, still held (``Leases.fenced``). A worker whose lease ran
  out and was taken over changes nothing, and learns so from the row count.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, Table, and_, update
from sqlalchemy.orm import Session

from syndicate.db import changed_rows


@dataclass(frozen=True)
class Leases:
    """The columns of a claimed table that say who holds a row, until when, on which attempt.

    Conditions take values or bind parameters (prebuilt statements bind them per use).
    """

    id: Any
    state: Any
    # The state a claimed row is in while its worker holds it ("sending").
    held: Any
    expires_at: Any
    owner: Any = None
    attempt: Any = None

    @property
    def table(self) -> Table:
        table: Table = self.id.table
        return table

    def expired(self, now: Any) -> ColumnElement[bool]:
        """Held by a worker whose lease is over: due again."""
        return and_(self.state == self.held, self.expires_at <= now)

    def fenced(self, row_id: Any, owner: Any, attempt: Any) -> ColumnElement[bool]:
        """The row as the claim of ``owner`` on ``attempt`` left it: still held, by that claim."""
        return and_(
            self.id == row_id,
            self.owner == owner,
            self.attempt == attempt,
            self.state == self.held,
        )

    def take(self, owner: str | None, until: Any) -> dict[str, Any]:
        """The values of a claim: held by ``owner`` until ``until``, one attempt more."""
        values: dict[str, Any] = {self.state.key: self.held, self.expires_at.key: until}
        if self.owner is not None:
            values[self.owner.key] = owner
        if self.attempt is not None:
            values[self.attempt.key] = self.attempt + 1
        return values

    def lock_due(self, query: Select[Any]) -> Select[Any]:
        """``query`` (due rows of this table) as a claim's locking read; see the module."""
        return query.with_for_update(skip_locked=True, of=self.table)


def take(session: Session, table: Table, row_id: int, *, due: Any, values: dict[str, Any]) -> bool:
    """Claim one row of ``table`` if it is still ``due``; True only for the caller that did."""
    result = session.execute(update(table).where(table.c.id == row_id, due).values(**values))
    return changed_rows(result) == 1
