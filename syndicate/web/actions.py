"""The dashboard's unit of work: one form, one service call, one commit.

The twin of ``api/handling.py`` for HTML forms. A view parses the request and hands ``act``
the service call; ``act`` validates the form, takes SQLite's write lock, runs the call,
commits once, flashes and redirects with 303 (so a reload does not post again). A
``DomainError`` rolls everything back and puts its message beside the field at fault; an
``IntegrityError`` (a unique key another request took first) rolls back and answers 409. No
view commits or rolls back by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TypeVar

from flask import flash, g, redirect
from flask.typing import ResponseReturnValue
from flask_wtf import FlaskForm
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate.db import get_session
from syndicate.errors import DomainError

T = TypeVar("T")

CONFLICT_MESSAGE = "Someone else changed this at the same moment, so nothing was saved. Try again."


def writing_session() -> Session:
    """The request's session, about to read then write: SQLite takes the write lock at BEGIN.

    A deferred SQLite transaction that reads and then writes fails at once (instead of
    waiting) when another worker wrote in between. So the reads done so far (the signed-in
    user) end, and the next statement begins IMMEDIATE. PostgreSQL ignores this: its writers
    lock rows. Calling it twice in a request is harmless.
    """
    db = get_session()
    if g.get("db_writing") or db.get_bind().dialect.name != "sqlite":
        return db
    if db.in_transaction():
        db.commit()  # only reads so far; nothing of the action has run yet
    db.connection(execution_options={"sqlite_begin": "IMMEDIATE"})
    g.db_writing = True
    return db


def _end(finish: Callable[[], None]) -> None:
    finish()
    g.db_writing = False  # the write lock went with the transaction


def show_error(form: FlaskForm | None, error: DomainError, fields: Mapping[str, str] = {}) -> None:  # noqa: B006
    """The message beside its field, or at the top of the page when the form has no such field.

    ``fields`` renames a service's field to the form's (a service's "queue" is the form's "when").
    """
    name = error.field_name or ""
    field = form._fields.get(fields.get(name, name)) if form is not None else None
    if field is not None:
        field.errors = [*field.errors, error.message]
    else:
        flash(error.message, "error")


def act(
    action: Callable[[Session], T],
    *,
    then: str | Callable[[T], str],
    page: Callable[[int], ResponseReturnValue],
    form: FlaskForm | None = None,
    done: str | Callable[[T], str | None] | None = None,
    fields: Mapping[str, str] = {},  # noqa: B006
) -> ResponseReturnValue:
    """Run one change and commit it, or show the form again with the reason.

    - ``action(session)``: the service call; it may flush, never commit.
    - ``then``: where to go after the commit (or a function of the action's result).
    - ``page(status)``: the page to show again when the form is invalid (422), the service
      refuses (its status) or the commit meets a conflict (409).
    - ``form``: validated first (CSRF included); its fields receive the service's message.
    - ``done``: the success message flashed after the commit.
    """
    if form is not None and not form.validate_on_submit():
        return page(422)
    db = writing_session()
    try:
        result = action(db)
        db.commit()
    except DomainError as error:
        _end(db.rollback)
        show_error(form, error, fields)
        return page(error.status)
    except IntegrityError:
        _end(db.rollback)
        flash(CONFLICT_MESSAGE, "error")
        return page(409)
    g.db_writing = False
    message = done(result) if callable(done) else done
    if message:
        flash(message, "success")
    return redirect(then(result) if callable(then) else then, 303)
