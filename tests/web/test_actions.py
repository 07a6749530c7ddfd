"""web/actions.act: the dashboard's one commit per form, and what it does on a refusal."""

from __future__ import annotations

import pytest
from flask import Blueprint, Flask, get_flashed_messages
from flask_wtf import FlaskForm
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from wtforms import StringField
from wtforms.validators import DataRequired

from syndicate.errors import DomainError
from syndicate.web.actions import CONFLICT_MESSAGE, act, run
from syndicate.web.models import Alert


class KeyForm(FlaskForm):
    key = StringField("Key", validators=[DataRequired()])


class KeyRefused(DomainError):
    status = 400


def _store(db: Session, key: str, *, now, then_fail: str = "") -> Alert:
    alert = Alert(key=key, message="m", created_at=now)
    db.add(alert)
    db.flush()
    if then_fail == "domain":
        raise KeyRefused("That key is not allowed.", "key")
    if then_fail == "elsewhere":
        raise DomainError("Refused for a reason no field shows.", "nope")
    if then_fail == "duplicate":
        db.add(Alert(key="taken", message="m", created_at=now))
    return alert


@pytest.fixture
def form_app(app: Flask, clock) -> Flask:
    bp = Blueprint("act_test", __name__)

    @bp.post("/act-test/<mode>")
    def store(mode: str):
        form = KeyForm()

        def page(status: int):
            errors = {name: field.errors for name, field in form._fields.items() if field.errors}
            return {"errors": errors, "flashed": get_flashed_messages()}, status

        return act(
            lambda db: _store(db, form.key.data, now=clock.now(), then_fail=mode),
            form=form,
            then=lambda alert: f"/done/{alert.id}",
            page=page,
            done=lambda alert: f"Stored {alert.key}.",
        )

    app.register_blueprint(bp)
    return app


def _count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Alert))


def test_a_valid_form_commits_once_and_redirects_with_303(form_app, session):
    client = form_app.test_client()
    response = client.post("/act-test/ok", data={"key": "first"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/done/")
    assert _count(session) == 1
    with client.session_transaction() as browser:
        assert browser["_flashes"] == [("success", "Stored first.")]


def test_an_invalid_form_answers_422_and_runs_nothing(form_app, session):
    response = form_app.test_client().post("/act-test/ok", data={"key": ""})
    assert response.status_code == 422
    assert response.json["errors"]["key"]
    assert _count(session) == 0


def test_a_domain_error_rolls_back_and_shows_its_message_beside_the_field(form_app, session):
    response = form_app.test_client().post("/act-test/domain", data={"key": "x"})
    assert response.status_code == 400
    assert response.json["errors"] == {"key": ["That key is not allowed."]}
    assert _count(session) == 0  # the flushed row went with the rollback


def test_a_domain_error_without_a_form_field_is_flashed(form_app, session):
    response = form_app.test_client().post("/act-test/elsewhere", data={"key": "x"})
    assert response.status_code == 422
    assert response.json["flashed"] == ["Refused for a reason no field shows."]
    assert _count(session) == 0


def test_a_unique_key_taken_at_commit_answers_409_and_stores_nothing(form_app, session, clock):
    session.add(Alert(key="taken", message="m", created_at=clock.now()))
    session.commit()
    response = form_app.test_client().post("/act-test/duplicate", data={"key": "new"})
    assert response.status_code == 409
    assert response.json["flashed"] == [CONFLICT_MESSAGE]
    assert _count(session) == 1  # "new" was not kept beside the conflict


# --- buttons without a form, answers that are not redirects, several messages -------------


class TakenRefused(DomainError):
    status = 409


@pytest.fixture
def button_app(app: Flask, clock) -> Flask:
    bp = Blueprint("act_button_test", __name__)

    @bp.post("/act-button/<mode>")
    def press(mode: str):
        def store(db: Session) -> Alert:
            if mode == "refused":
                db.add(Alert(key="half", message="m", created_at=clock.now()))
                db.flush()
                raise TakenRefused("Someone pressed it first.")
            return _store(db, mode, now=clock.now(), then_fail=mode)

        if mode == "shown":
            return act(store, render=lambda alert: (f"shown {alert.key}", 201), done="Kept.")
        return act(
            store,
            then="/done",
            done=lambda alert: [("success", f"Stored {alert.key}."), ("info", "Note this.")],
        )

    @bp.post("/act-own-page")
    def own_page():
        def page(status: int):
            return {"flashed": get_flashed_messages()}, status

        def refuse(db: Session) -> None:
            raise TakenRefused("Shown by the page itself.")

        return act(
            refuse,
            then="/done",
            page=page,
            refused=lambda error: ({"own": error.message}, error.status),
        )

    @bp.post("/act-run/<mode>")
    def plain(mode: str):
        try:
            alert = run(lambda db: _store(db, "plain", now=clock.now(), then_fail=mode))
        except DomainError as error:
            return error.message, 400
        return str(alert.id), 200

    app.register_blueprint(bp)
    return app


def test_a_button_refused_answers_the_error_page_with_its_reason(button_app, session):
    response = button_app.test_client().post("/act-button/refused")
    assert response.status_code == 409
    assert "Someone pressed it first." in response.get_data(as_text=True)
    assert _count(session) == 0


def test_a_button_meeting_a_conflict_answers_409_with_the_conflict_message(
    button_app, session, clock
):
    session.add(Alert(key="taken", message="m", created_at=clock.now()))
    session.commit()
    response = button_app.test_client().post("/act-button/duplicate")
    assert response.status_code == 409
    assert "Someone else changed this" in response.get_data(as_text=True)
    assert _count(session) == 1


def test_done_may_flash_several_messages_in_order_with_their_categories(button_app, session):
    client = button_app.test_client()
    response = client.post("/act-button/ok")
    assert response.status_code == 303 and response.headers["Location"] == "/done"
    with client.session_transaction() as browser:
        assert browser["_flashes"] == [("success", "Stored ok."), ("info", "Note this.")]


def test_render_answers_after_the_commit_instead_of_redirecting(button_app, session):
    client = button_app.test_client()
    response = client.post("/act-button/shown")
    assert response.status_code == 201 and response.get_data(as_text=True) == "shown shown"
    assert _count(session) == 1


def test_a_refusal_the_page_shows_its_own_way_skips_the_flash(button_app):
    response = button_app.test_client().post("/act-own-page")
    assert response.status_code == 409
    assert response.json == {"own": "Shown by the page itself."}


def test_run_commits_once_or_rolls_back_and_raises(button_app, session):
    client = button_app.test_client()
    refused = client.post("/act-run/domain")
    assert refused.status_code == 400 and _count(session) == 0
    stored = client.post("/act-run/ok")
    assert stored.status_code == 200 and _count(session) == 1
