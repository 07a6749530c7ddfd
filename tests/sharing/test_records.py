"""What the reader gets: the public permission record, signed, and its end (revoked, expired)."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import event

from syndicate import create_app
from syndicate.config import ConfigError
from syndicate.sharing.context import SYSTEM, Sharing
from syndicate.sharing.deciding import Conditions, default_conditions, grant, revoke
from syndicate.sharing.jobs import maintain_share_requests
from syndicate.sharing.models import Permission, PermissionState, RequestState, ShareRequest
from syndicate.sharing.records import records_by_key, resign_records, signed_record
from syndicate.sharing.signing import (
    Signer,
    canonical_json,
    new_private_key,
    signer_for,
    verify_record,
)
from tests.conftest import app_config
from tests.sharing.conftest import CANONICAL, change_signing_key, mails, pending_request


def _verify_like_the_docs(record: dict, key: dict) -> None:
    """The snippet of docs/sharing.md, verbatim in spirit: raises if the signature is bad."""
    public_key = Ed25519PublicKey.from_public_bytes(base64.b64decode(key["public_key"]))
    unsigned = {k: v for k, v in record.items() if k != "signature"}
    message = json.dumps(
        unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()
    public_key.verify(base64.b64decode(record["signature"]), message)


def _grant(session, app, article, clock, **overrides):  # noqa: ANN001, ANN003, ANN202
    request = pending_request(session, app, article, clock, **overrides)
    if request.state is RequestState.PENDING:
        ctx = Sharing.for_app(app)
        conditions = default_conditions(request, ctx)
        grant(session, request, conditions, actor=SYSTEM, now=clock.now(), ctx=ctx)
        session.commit()
    return request.permission


def test_record_json_is_signed_and_verifies_against_the_published_key(
    client, session, app, article, clock
):
    permission = _grant(session, app, article, clock, name="Zoë Šimić", kind="full")
    response = client.get(
        f"/permissions/{permission.public_id}", headers={"Accept": "application/json"}
    )
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "Accept" in response.headers["Vary"]
    record = response.get_json()
    key = client.get("/permissions/key").get_json()
    assert key["algorithm"] == "Ed25519" and record["key_id"] == key["key_id"]
    assert "BEGIN PUBLIC KEY" in key["pem"]
    _verify_like_the_docs(record, key)
    assert verify_record(record, key["public_key"])

    assert record["id"] == permission.public_id
    assert record["state"] == "active"
    assert record["article"] == {"id": article.public_id, "title": article.title, "url": CANONICAL}
    assert record["grantee"] == {"name": "Zoë Šimić"}
    assert record["scope"]["kind"] == "full"
    assert record["conditions"]["link_required"] is True
    assert record["granted_at"] == "2026-03-02T09:00:00Z"
    assert "ada@example.org" not in json.dumps(record)  # the grantee's email stays private

    # Any change breaks the signature.
    for field, value in (("state", "revoked"), ("expires_at", "2099-01-01T00:00:00Z")):
        assert not verify_record({**record, field: value}, key["public_key"])
    assert not verify_record({**record, "grantee": {"name": "Mallory"}}, key["public_key"])
    same = client.get(f"/permissions/{permission.public_id}.json").get_json()
    assert same == record


def test_record_html_shows_article_grantee_scope_conditions_and_dates(
    client, session, app, article, clock
):
    permission = _grant(session, app, article, clock, kind="excerpt", excerpt_words=120)
    page = client.get(f"/permissions/{permission.public_id}")
    assert page.mimetype == "text/html"
    text = page.get_data(as_text=True)
    for expected in (
        article.title,
        "Ada Reader",
        "an excerpt of up to 120 words",
        "First published by news.example.test",
        "Active.",
        "2026-03-02 09:00 UTC",
        "no end date",
        permission.key_id,
    ):
        assert expected in text, expected
    assert client.get("/permissions/does-not-exist").status_code == 404
    assert client.get("/permissions/" + "x" * 300).status_code == 404
    missing = client.get("/permissions/nope", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "not_found"


def test_revoked_record_says_so_and_stays_verifiable(client, session, app, article, clock):
    permission = _grant(session, app, article, clock)
    ctx = Sharing.for_app(app)
    clock.advance(timedelta(days=2))
    revoke(
        session,
        permission.request,
        "Credit missing.",
        actor=SYSTEM,
        now=clock.now(),
        ctx=ctx,
    )
    session.commit()
    text = client.get(f"/permissions/{permission.public_id}").get_data(as_text=True)
    assert "Revoked" in text and "no longer in force" in text
    record = client.get(f"/permissions/{permission.public_id}.json").get_json()
    assert record["state"] == "revoked" and record["revoked_at"] == "2026-03-04T09:00:00Z"
    assert verify_record(record, client.get("/permissions/key").get_json()["public_key"])


def test_re_signing_after_a_key_change_makes_every_record_verify_again(
    client, session, app, article, clock, runner
):
    active = _grant(session, app, article, clock)
    revoked = _grant(session, app, article, clock, email="bo@example.org", kind="link")
    revoke(
        session,
        revoked.request,
        "Credit missing.",
        actor=SYSTEM,
        now=clock.now(),
        ctx=Sharing.for_app(app),
    )
    session.commit()
    before = {
        p.public_id: client.get(f"/permissions/{p.public_id}.json").get_json()
        for p in (active, revoked)
    }

    change_signing_key(app)
    key = client.get("/permissions/key").get_json()
    for public_id in before:
        served = client.get(f"/permissions/{public_id}.json").get_json()
        assert not verify_record(served, key["public_key"])  # what rotating breaks

    clock.advance(timedelta(hours=1))
    result = runner.invoke(args=["sharing", "re-sign"])
    assert result.exit_code == 0, result.output
    assert f"Signed 2 record(s) again with key {key['key_id']}." in result.output
    for public_id, old in before.items():
        record = client.get(f"/permissions/{public_id}.json").get_json()
        _verify_like_the_docs(record, key)
        assert record["key_id"] == key["key_id"] and record["signed_at"] == "2026-03-02T10:00:00Z"
        unchanged = ("key_id", "signed_at", "signature")
        assert {k: v for k, v in record.items() if k not in unchanged} == {
            k: v for k, v in old.items() if k not in unchanged
        }
    assert before[revoked.public_id]["state"] == "revoked"

    again = runner.invoke(args=["sharing", "re-sign"])
    assert again.exit_code == 0 and "Signed 0 record(s) again" in again.output


def test_re_signing_goes_through_the_records_in_batches(session, app, article, clock):
    first = _grant(session, app, article, clock)
    second = _grant(session, app, article, clock, email="bo@example.org")
    change_signing_key(app)
    ctx = Sharing.for_app(app)
    steps = [resign_records(session, ctx=ctx, now=clock.now(), limit=1)]
    steps.append(resign_records(session, ctx=ctx, now=clock.now(), after_id=steps[0][1], limit=1))
    steps.append(resign_records(session, ctx=ctx, now=clock.now(), after_id=steps[1][1], limit=1))
    assert steps == [(1, first.id), (1, second.id), (0, None)]
    assert records_by_key(session, ctx.signer.key_id) == (2, 0)


def test_re_signing_keeps_a_state_change_that_came_in_between(session, app, article, clock):
    permission = _grant(session, app, article, clock)
    change_signing_key(app)
    ctx = Sharing.for_app(app)
    database = app.extensions["database"]

    def revoke_after_the_read(state):  # noqa: ANN001, ANN202
        """Another worker revokes the grant after re-signing read it, before it writes."""
        if not (state.is_select and "permissions.signature" in str(state.statement)):
            return None
        read = state.invoke_statement().freeze()
        with database.sessions() as other:
            request = other.get(ShareRequest, permission.request_id)
            revoke(other, request, "Credit missing.", actor=SYSTEM, now=clock.now(), ctx=ctx)
            other.commit()
        return read()

    event.listen(session, "do_orm_execute", revoke_after_the_read)
    try:
        resigned, last_id = resign_records(session, ctx=ctx, now=clock.now())
    finally:
        event.remove(session, "do_orm_execute", revoke_after_the_read)
    assert (resigned, last_id) == (0, permission.id)
    session.expire_all()
    record = signed_record(session.get(Permission, permission.id))
    assert record["state"] == "revoked"  # not the stale "active" that re-signing read
    assert verify_record(record, ctx.signer.public_key_b64)


def test_grants_with_an_end_date_are_warned_then_expire(client, session, app, article, clock):
    ctx = Sharing.for_app(app)
    request = pending_request(session, app, article, clock)
    conditions = Conditions(credit_line="Credit", expires_at=clock.now() + timedelta(days=20))
    permission = grant(session, request, conditions, actor=SYSTEM, now=clock.now(), ctx=ctx)
    session.commit()

    assert maintain_share_requests(app) == ""
    clock.advance(timedelta(days=6, hours=1))  # 13 days 23 h left
    assert "1 grant end warning sent" in maintain_share_requests(app)
    warning = mails(session)[-1]
    assert warning.subject.startswith(f"Your permission to share “{article.title}” is valid until")
    assert "/sharing/r/" in warning.text
    assert maintain_share_requests(app) == ""  # warned once

    clock.advance(timedelta(days=14))
    assert "1 grant expired" in maintain_share_requests(app)
    session.expire_all()
    assert permission.state is PermissionState.EXPIRED
    assert permission.request.state is RequestState.EXPIRED
    assert mails(session)[-1].subject.endswith("has ended")
    text = client.get(f"/permissions/{permission.public_id}").get_data(as_text=True)
    assert "Expired" in text and "no longer in force" in text
    record = client.get(f"/permissions/{permission.public_id}.json").get_json()
    assert record["state"] == "expired"
    assert verify_record(record, ctx.signer.public_key_b64)


def test_a_record_past_its_end_says_expired_even_before_the_job_runs(
    client, session, app, article, clock
):
    ctx = Sharing.for_app(app)
    request = pending_request(session, app, article, clock)
    permission = grant(
        session,
        request,
        Conditions("Credit", expires_at=clock.now() + timedelta(days=1)),
        actor=SYSTEM,
        now=clock.now(),
        ctx=ctx,
    )
    session.commit()
    clock.advance(timedelta(days=2))
    record = client.get(
        f"/permissions/{permission.public_id}", headers={"Accept": "application/json"}
    ).get_json()
    assert record["state"] == "expired"
    assert verify_record(record, ctx.signer.public_key_b64)
    assert maintain_share_requests(app) == ""  # already done, nobody told twice
    assert [m.subject for m in mails(session)].count(
        f"Your permission to share “{article.title}” has ended"
    ) == 1


def test_signer_round_trip_and_canonical_form():
    signer = Signer(new_private_key())
    record = {"b": 1, "a": "Zoë", "nested": {"y": None, "x": [1, 2]}}
    assert canonical_json(record) == '{"a":"Zoë","b":1,"nested":{"x":[1,2],"y":null}}'.encode()
    signed = {**record, "signature": signer.sign(record)}
    assert verify_record(signed, signer.public_key_b64)
    assert not verify_record(signed, Signer(new_private_key()).public_key_b64)
    assert not verify_record({**record, "signature": "bm90IGEgc2lnbmF0dXJl"}, signer.public_key_b64)
    assert not verify_record(record, signer.public_key_b64)


def test_signing_key_setting_is_used_and_checked(tmp_path: Path, database_url):
    key = new_private_key()
    app = create_app(app_config(database_url, INSTANCE_PATH=str(tmp_path / "a")))
    app.config["SHARING_SIGNING_KEY"] = key
    assert signer_for(app).public_key_b64 == Signer(key).public_key_b64
    bad = create_app(app_config(database_url, INSTANCE_PATH=str(tmp_path / "b")))
    bad.config["SHARING_SIGNING_KEY"] = "bm90IGEga2V5"
    with pytest.raises(ConfigError, match="SHARING_SIGNING_KEY"):
        signer_for(bad)
    # Development keeps one generated key in the instance folder, stable across processes.
    unset = {"INSTANCE_PATH": str(tmp_path / "c"), "SHARING_SIGNING_KEY": ""}
    dev = create_app(app_config(database_url, **unset))
    again = create_app(app_config(database_url, **unset))
    assert signer_for(dev).key_id == signer_for(again).key_id
    assert (tmp_path / "c" / "sharing_signing_key").stat().st_mode & 0o777 == 0o600
    for made in (app, bad, dev, again):
        made.extensions["database"].engine.dispose()
