"""The dashboard's unit of work: one form, one service call, one commit.

The twin of ``api/handling.py`` for HTML forms. A view parses the request and hands ``act``
the service call; ``act`` validates the form, takes SQLite's write lock, runs the call,
commits once, flashes and redirects with 303 (so a reload does not post again). A
``DomainError`` rolls everything back and puts its message beside the field at fault; an
``IntegrityError`` (a unique key another request took first) rolls back and answers 409.
``run`` is the same unit of work for the few requests with no form to show again (the OAuth
callback, the WebSub hub, signing in). No view commits or rolls back by hand.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

from flask import flash, g, redirect
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from syndicate.db import get_session
from syndicate.errors import DomainError, DomainErrors
from syndicate.web.errors import error_response
from syndicate.web.forms import FlaskForm

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


def run(action: Callable[[Session], T]) -> T:
    """One change with no form around it: take the write lock, run, commit once.

    Whatever the action raises rolls it all back and propagates, for the caller to answer
    (the OAuth callback's own error page, the WebSub hub's plain-text 400).
    """
    db = writing_session()
    try:
        result = action(db)
        db.commit()
    except BaseException:
        _end(db.rollback)
        raise
    g.db_writing = False
    return result


def show_error(form: FlaskForm | None, error: DomainError, fields: Mapping[str, str] = {}) -> None:  # noqa: B006
    """Each message beside its field, or at the top of the page when the form has no such
    field. A DomainErrors shows every one of its refusals.

    ``fields`` renames a service's field to the form's (a service's "queue" is the form's "when").
    """
    for one in error.errors if isinstance(error, DomainErrors) else (error,):
        name = one.field_name or ""
        field = form._fields.get(fields.get(name, name)) if form is not None else None
        if field is not None:
            if one.message not in field.errors:
                field.errors = [*field.errors, one.message]
        else:
            flash(one.message, "error")


# What ``done`` may return: one success message, or (category, message) pairs in order.
Done = str | Sequence[tuple[str, str]] | None


def act(
    action: Callable[[Session], T],
    *,
    then: str | Callable[[T], str] | None = None,
    render: Callable[[T], ResponseReturnValue] | None = None,
    page: Callable[[int], ResponseReturnValue] | None = None,
    form: FlaskForm | None = None,
    done: Done | Callable[[T], Done] = None,
    fields: Mapping[str, str] = {},  # noqa: B006
    refused: Callable[[DomainError], ResponseReturnValue | None] | None = None,
    check: Callable[[], object] | None = None,
) -> ResponseReturnValue:
    """Run one change and commit it, or show the form again with the reason.

    - ``action(session)``: the service call; it may flush, never commit.
    - ``then``: where to go after the commit (or a function of the action's result); or
    - ``render(result)``: the answer after the commit when it cannot be a redirect (a
      secret shown once, in this response only).
    - ``page(status)``: the page to show again when the form is invalid (422), the service
      refuses (its status) or the commit meets a conflict (409). Without one (a button with
      no form to show again), the error page says why.
    - ``form``: validated first (CSRF included); its fields receive the service's message.
    - ``done``: the success message flashed after the commit.
    - ``refused(error)``: the answer to a refusal the page shows its own way (a post that
      exists already, with its link); None falls back to the message and ``page``.
    - ``check()``: the service's checks of the input that need no database. When the form
      itself is invalid they run too, so that the page shows every error at once, not the
      form's first and the service's on the next try.
    """
    if (then is None) == (render is None):
        raise TypeError("act needs exactly one of then= and render=")
    if form is not None and not form.validate_on_submit():
        if check is not None and form.is_submitted():
            try:
                check()
            except DomainError as error:
                show_error(form, error, fields)
        return _again(page, 422, None)
    try:
        result = run(action)
    except DomainError as error:
        answer = refused(error) if refused is not None else None
        if answer is not None:
            return answer
        if page is None:
            return error_response(error.status, error.message)
        show_error(form, error, fields)
        return page(error.status)
    except IntegrityError:
        return _again(page, 409, CONFLICT_MESSAGE)
    _flash_done(done(result) if callable(done) else done)
    if render is not None:
        return render(result)
    assert then is not None
    return redirect(then(result) if callable(then) else then, 303)


def _again(
    page: Callable[[int], ResponseReturnValue] | None, status: int, message: str | None
) -> ResponseReturnValue:
    if page is None:
        return error_response(status, message)
    if message:
        flash(message, "error")
    return page(status)


def _flash_done(messages: Done) -> None:
    if isinstance(messages, str):
        messages = [("success", messages)] if messages else []
    for category, message in messages or ():
        flash(message, category)
