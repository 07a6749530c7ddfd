"""Deciding: the staff inbox, its actions, the audit log, rules, bulk actions and the export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from syndicate.models import Event
from syndicate.sharing.context import SYSTEM, Actor, InvalidTransition, Sharing
from syndicate.sharing.deciding import default_conditions, deny, grant
from syndicate.sharing.inbox import safe_cell
from syndicate.sharing.models import (
    PermissionState,
    RequestState,
    ShareRequest,
    StandingPermission,
)
from syndicate.sharing.standing import create_standing_permission, end_standing_permission
from syndicate.staff.models import Role
from syndicate.web.models import Alert
from tests.sharing.conftest import mails, pending_request


def _reload(session, request: ShareRequest) -> ShareRequest:  # noqa: ANN001
    session.expire_all()
    return session.get(ShareRequest, request.id)


def test_dashboard_pages_need_a_signed_in_staff_member(client, session, app, article, clock):
    request = pending_request(session, app, article, clock)
    for path in (
        "/dashboard/sharing/",
        f"/dashboard/sharing/{request.id}",
        "/dashboard/sharing/export.csv",
        "/dashboard/sharing/stats",
        "/dashboard/sharing/button",
        "/dashboard/sharing/standing",
    ):
        response = client.get(path)
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert client.post(f"/dashboard/sharing/{request.id}/approve").status_code == 302
    assert _reload(session, request).state is RequestState.PENDING


def test_inbox_filters_by_state_type_and_article_and_paginates(
    client, session, app, clock, make_article, article, staff_user
):
    other = make_article(title="Harbour towns at night")
    pending_request(session, app, article, clock, email="a@example.org", kind="full")
    pending_request(
        session, app, other, clock, email="b@example.org", kind="translation", language="German"
    )
    pending_request(session, app, article, clock, email="c@example.org", kind="link")
    staff_user()

    def names(**args):  # noqa: ANN003, ANN202
        page = client.get("/dashboard/sharing/", query_string=args)
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        return {e for e in ("a@example.org", "b@example.org", "c@example.org") if e in text}

    assert names() == {"a@example.org", "b@example.org", "c@example.org"}
    assert names(state="approved") == {"c@example.org"}
    assert names(state="pending") == {"a@example.org", "b@example.org"}
    assert names(kind="translation") == {"b@example.org"}
    assert names(article=str(article.id)) == {"a@example.org", "c@example.org"}
    assert names(article=str(article.id), kind="full") == {"a@example.org"}
    app.config["PAGE_SIZE"] = 2
    first = client.get("/dashboard/sharing/").get_data(as_text=True)
    assert "Page 1 of 2" in first
    assert client.get("/dashboard/sharing/?page=2").status_code == 200
    for bad in (
        {"state": "unverified"},
        {"state": "nope"},
        {"kind": "all"},
        {"article": "x"},
        {"page": "0"},
        {"article": "99999999999"},
    ):
        assert client.get("/dashboard/sharing/", query_string=bad).status_code == 400, bad


def test_inbox_empty_state_says_what_to_do(client, staff_user):
    staff_user()
    page = client.get("/dashboard/sharing/").get_data(as_text=True)
    assert "No share request yet" in page and "share button" in page


def test_ask_answer_approve_with_conditions_and_every_step_in_the_audit_log(
    client, session, app, article, clock, staff_user
):
    request = pending_request(session, app, article, clock)
    editor = staff_user(name="Eda Editor", time_zone="Europe/Berlin")
    detail = client.get(f"/dashboard/sharing/{request.id}").get_data(as_text=True)
    assert "This is their first request." in detail
    assert "First published by news.example.test at" in detail  # default credit line

    asked = client.post(
        f"/dashboard/sharing/{request.id}/ask",
        data={"ask-note": "Which newsletter, and how many subscribers?"},
    )
    assert asked.status_code == 303
    assert _reload(session, request).state is RequestState.INFO_REQUESTED
    question = mails(session)[-1]
    assert question.subject.startswith("A question about your request")
    assert "Which newsletter" in question.text
    private = question.link("/sharing/r/").split("news.example.test", 1)[1]

    page = client.get(private).get_data(as_text=True)
    assert "Which newsletter, and how many subscribers?" in page
    answered = client.post(
        f"{private}/answer", data={"answer": "Coastal Weekly, about 4,000 readers."}
    )
    assert answered.status_code == 303
    assert _reload(session, request).state is RequestState.PENDING
    assert session.scalar(select(Alert).where(Alert.key == f"sharing.answer.{request.id}"))

    clock.advance(timedelta(hours=1))
    approved = client.post(
        f"/dashboard/sharing/{request.id}/approve",
        data={
            "approve-credit_line": "First published by F5mag at https://f5mag.example/x",
            "approve-link_required": "y",
            "approve-excerpt_limit": "",
            "approve-expires_on": "2026-12-31",
            "approve-note": "Enjoy!",
        },
    )
    assert approved.status_code == 303
    request = _reload(session, request)
    assert request.state is RequestState.APPROVED
    assert request.credit_line == "First published by F5mag at https://f5mag.example/x"
    assert request.decided_by_id == editor.id
    # "Until 2026-12-31" in Berlin is the end of that day there: 23:00 UTC.
    assert request.expires_at == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert request.permission.expires_at == request.expires_at
    alert = session.scalar(select(Alert).where(Alert.key == f"sharing.answer.{request.id}"))
    assert alert.resolved_at is not None

    trail = [
        (e.actor_kind.value, e.actor_label, e.from_state, e.to_state, e.at) for e in request.events
    ]
    assert [(kind, frm, to) for kind, _, frm, to, _ in trail] == [
        ("reader", None, "unverified"),
        ("reader", "unverified", "pending"),
        ("staff", "pending", "info_requested"),
        ("reader", "info_requested", "pending"),
        ("staff", "pending", "approved"),
    ]
    assert trail[-1][1] == "Eda Editor" and trail[-1][4] == clock.now()
    kinds = session.scalars(select(Event.kind).where(Event.subject == request.public_id)).all()
    assert kinds == ["share_request.created", "share_request.decided"]

    subjects = [m.subject for m in mails(session, "ada@example.org")]
    assert subjects == [
        f"Confirm your request to share “{article.title}”",
        f"We received your request to share “{article.title}”",
        f"A question about your request to share “{article.title}”",
        f"Your answer about “{article.title}” was passed on",
        f"You may share “{article.title}”",
    ]
    for mail in mails(session)[1:]:
        assert mail.html and "/sharing/r/" in mail.text and "/sharing/r/" in mail.html
    granted = mails(session)[-1]
    assert "2026-12-31 23:00 UTC" in granted.text or "2027-01-01" in granted.text
    assert "> First published by F5mag at https://f5mag.example/x" in granted.text


def test_deny_needs_a_reason_and_tells_the_reader(client, session, app, article, clock, staff_user):
    request = pending_request(session, app, article, clock)
    staff_user()
    empty = client.post(f"/dashboard/sharing/{request.id}/deny", data={"deny-note": "  "})
    assert empty.status_code == 422
    assert _reload(session, request).state is RequestState.PENDING

    denied = client.post(
        f"/dashboard/sharing/{request.id}/deny",
        data={"deny-note": "We only allow links to this investigation."},
    )
    assert denied.status_code == 303
    request = _reload(session, request)
    assert request.state is RequestState.DENIED
    assert request.decision_note == "We only allow links to this investigation."
    mail = mails(session)[-1]
    assert mail.subject.endswith("was declined")
    assert "> We only allow links to this investigation." in mail.text
    # A decided request cannot be decided again.
    again = client.post(
        f"/dashboard/sharing/{request.id}/approve",
        data={"approve-credit_line": "x", "approve-link_required": "y"},
    )
    assert again.status_code == 409
    assert "denied now, so it cannot be approved" in again.get_data(as_text=True)


def test_approve_refuses_a_past_end_date_and_an_empty_credit_line(
    client, session, app, article, clock, staff_user
):
    request = pending_request(session, app, article, clock)
    staff_user()
    for data in (
        {"approve-credit_line": "", "approve-link_required": "y"},
        {"approve-credit_line": "x", "approve-expires_on": "2020-01-01"},
        {"approve-credit_line": "x", "approve-expires_on": "not a date"},
        {"approve-credit_line": "x", "approve-excerpt_limit": "-3"},
    ):
        response = client.post(f"/dashboard/sharing/{request.id}/approve", data=data)
        assert response.status_code == 422, data
    assert _reload(session, request).state is RequestState.PENDING
    assert _reload(session, request).permission is None


def test_revoke_marks_the_record_revoked_and_tells_the_grantee(
    client, session, app, article, clock, staff_user
):
    request = pending_request(session, app, article, clock, kind="link")
    staff_user()
    assert (
        client.post(f"/dashboard/sharing/{request.id}/revoke", data={"revoke-note": ""}).status_code
        == 422
    )
    clock.advance(timedelta(days=3))
    response = client.post(
        f"/dashboard/sharing/{request.id}/revoke",
        data={"revoke-note": "The credit line was removed."},
    )
    assert response.status_code == 303
    request = _reload(session, request)
    assert request.state is RequestState.REVOKED
    assert request.permission.state is PermissionState.REVOKED
    assert request.permission.revoked_at == clock.now()
    mail = mails(session)[-1]
    assert mail.subject.endswith("was revoked") and "credit line was removed" in mail.text


def test_two_staff_deciding_at_once_cannot_both_win(session, app, article, clock, make_user):
    request = pending_request(session, app, article, clock)
    ctx = Sharing.for_app(app)
    first, second = make_user(), make_user()
    grant(
        session,
        request,
        default_conditions(request, ctx),
        actor=Actor.staff(first),
        now=clock.now(),
        ctx=ctx,
    )
    with pytest.raises(InvalidTransition):
        deny(session, request, "late", actor=Actor.staff(second), now=clock.now(), ctx=ctx)
    with pytest.raises(InvalidTransition):
        grant(
            session,
            request,
            default_conditions(request, ctx),
            actor=Actor.staff(second),
            now=clock.now(),
            ctx=ctx,
        )
    assert _reload(session, request).state is RequestState.APPROVED


def test_requester_history_shows_their_earlier_requests(
    client, session, app, article, clock, make_article, staff_user
):
    other = make_article(title="Harbour towns at night")
    first = pending_request(session, app, other, clock, kind="link")
    second = pending_request(session, app, article, clock)
    pending_request(session, app, article, clock, email="someone.else@example.org")
    staff_user()
    page = client.get(f"/dashboard/sharing/{second.id}").get_data(as_text=True)
    assert f"/dashboard/sharing/{first.id}" in page
    assert "Harbour towns at night" in page
    assert "someone.else@example.org" not in page


def test_bulk_approve_and_deny_skip_what_is_already_decided(
    client, session, app, article, clock, staff_user
):
    open_ones = [
        pending_request(session, app, article, clock, email=f"r{i}@example.org") for i in range(3)
    ]
    decided = pending_request(session, app, article, clock, email="link@example.org", kind="link")
    staff_user()

    no_reason = client.post(
        "/dashboard/sharing/bulk",
        data={"action": "deny", "note": "", "ids": [str(open_ones[0].id)]},
        follow_redirects=True,
    )
    assert "a reason for denying" in no_reason.get_data(as_text=True)
    assert _reload(session, open_ones[0]).state is RequestState.PENDING

    response = client.post(
        "/dashboard/sharing/bulk",
        data={
            "action": "approve",
            "note": "",
            "ids": [str(open_ones[0].id), str(open_ones[1].id), str(decided.id)],
        },
        follow_redirects=True,
    )
    text = response.get_data(as_text=True)
    assert "2 requests approved. 1 skipped" in text and f"#{decided.id}" in text
    denied = client.post(
        "/dashboard/sharing/bulk",
        data={"action": "deny", "note": "Not this month.", "ids": [str(o.id) for o in open_ones]},
        follow_redirects=True,
    )
    assert "1 request denied. 2 skipped" in denied.get_data(as_text=True)
    states = [_reload(session, r).state for r in open_ones]
    assert states == [RequestState.APPROVED, RequestState.APPROVED, RequestState.DENIED]
    assert mails(session, "r2@example.org")[-1].subject.endswith("was declined")

    for bad in (
        {"action": "delete", "ids": ["1"]},
        {"action": "approve", "ids": ["x"]},
        {"action": "approve", "ids": ["²"]},
        {"action": "approve", "ids": ["2147483648"]},
        {"action": "approve", "ids": [str(i) for i in range(1, 300)]},
    ):
        assert client.post("/dashboard/sharing/bulk", data=bad).status_code == 400, bad


def test_bulk_actions_need_the_csrf_token(app, client, session, article, clock, staff_user):
    request = pending_request(session, app, article, clock)
    staff_user()
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post(
        "/dashboard/sharing/bulk", data={"action": "approve", "ids": [str(request.id)]}
    )
    assert response.status_code == 400
    assert _reload(session, request).state is RequestState.PENDING


def test_csv_export_follows_the_filter_and_defuses_formulas(
    client, session, app, article, clock, staff_user
):
    pending_request(
        session,
        app,
        article,
        clock,
        name='=HYPERLINK("http://evil")',
        message="+1 555 and -2 @mention",
        email="eve@example.org",
    )
    pending_request(session, app, article, clock, kind="link", email="ok@example.org")
    staff_user()
    response = client.get("/dashboard/sharing/export.csv", query_string={"state": "pending"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0][:4] == ["id", "received_at", "state", "kind"]
    assert len(rows) == 2
    row = dict(zip(rows[0], rows[1], strict=True))
    assert row["requester_name"] == '\'=HYPERLINK("http://evil")'
    assert row["message"] == "'+1 555 and -2 @mention"
    assert row["requester_email"] == "eve@example.org"
    assert row["state"] == "pending"
    everything = client.get("/dashboard/sharing/export.csv").get_data(as_text=True)
    assert "ok@example.org" in everything and "/permissions/" in everything


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+SUM(A1)", "'+SUM(A1)"),
        ("-2", "'-2"),
        ("@cmd", "'@cmd"),
        ("\t=x", "'\t=x"),
        ("plain", "plain"),
        (42, 42),
        (None, ""),
    ],
)
def test_safe_cell(value, expected):
    assert safe_cell(value) == expected


def test_excerpts_up_to_the_setting_are_granted_at_once(session, app, article, clock):
    app.config["SHARING_AUTO_GRANT_EXCERPT_WORDS"] = 150
    short = pending_request(
        session, app, article, clock, kind="excerpt", excerpt_words=150, email="short@example.org"
    )
    long = pending_request(
        session, app, article, clock, kind="excerpt", excerpt_words=151, email="long@example.org"
    )
    assert short.state is RequestState.APPROVED and short.excerpt_limit == 150
    assert long.state is RequestState.PENDING


def test_excerpts_wait_for_a_person_by_default_and_links_can_too(session, app, article, clock):
    excerpt = pending_request(session, app, article, clock, kind="excerpt", excerpt_words=20)
    assert excerpt.state is RequestState.PENDING
    app.config["SHARING_AUTO_GRANT_LINKS"] = "false"
    link = pending_request(session, app, article, clock, kind="link", email="l@example.org")
    assert link.state is RequestState.PENDING


def test_standing_permission_grants_within_scope_quota_and_end_date(
    client, session, app, article, clock, staff_user
):
    staff_user(role=Role.ADMIN)
    created = client.post(
        "/dashboard/sharing/standing",
        data={
            "who": "partner.example",
            "kinds": ["full", "excerpt"],
            "quota": "2",
            "ends_on": "2026-06-30",
            "note": "Syndication partner",
        },
    )
    assert created.status_code == 303
    standing = session.scalar(select(StandingPermission))
    assert standing.domain == "partner.example" and standing.quota == 2

    first = pending_request(session, app, article, clock, email="ed@partner.example")
    translation = pending_request(
        session,
        app,
        article,
        clock,
        email="tr@partner.example",
        kind="translation",
        language="French",
    )
    second = pending_request(session, app, article, clock, email="ed2@partner.example")
    third = pending_request(session, app, article, clock, email="ed3@partner.example")
    stranger = pending_request(session, app, article, clock, email="ed@notpartner.example")
    assert first.state is RequestState.APPROVED
    assert first.standing_permission_id == standing.id
    assert "standing permission for anyone @partner.example" in first.events[-1].note
    assert translation.state is RequestState.PENDING  # not in its scope
    assert second.state is RequestState.APPROVED
    assert third.state is RequestState.PENDING  # quota used up
    assert stranger.state is RequestState.PENDING
    session.refresh(standing)
    assert standing.used == 2

    clock.set(datetime(2026, 7, 2, tzinfo=UTC))
    email_standing = create_standing_permission(
        session,
        who="Solo@Example.org",
        kinds=["full"],
        quota=None,
        ends_at=None,
        note="",
        actor=SYSTEM,
        now=clock.now(),
    )
    end_standing_permission(session, email_standing, now=clock.now())
    late = pending_request(session, app, article, clock, email="ed4@partner.example")
    solo = pending_request(session, app, article, clock, email="solo@example.org")
    assert late.state is RequestState.PENDING and solo.state is RequestState.PENDING


def test_standing_permissions_refuse_bad_input_and_editors(client, session, staff_user):
    staff_user(role=Role.ADMIN)
    for data in (
        {"who": "not a domain", "kinds": ["full"]},
        {"who": "x@", "kinds": ["full"]},
        {"who": "partner.example", "kinds": []},
        {"who": "partner.example", "kinds": ["everything"]},
        {"who": "partner.example", "kinds": ["full"], "quota": "0"},
        {"who": "partner.example", "kinds": ["full"], "ends_on": "2001-01-01"},
    ):
        assert client.post("/dashboard/sharing/standing", data=data).status_code == 422, data
    assert session.scalar(select(StandingPermission)) is None
    staff_user(role=Role.EDITOR)
    assert client.get("/dashboard/sharing/standing").status_code == 200
    assert (
        client.post(
            "/dashboard/sharing/standing", data={"who": "partner.example", "kinds": ["full"]}
        ).status_code
        == 403
    )


def test_detail_of_unknown_request_is_404(client, staff_user):
    staff_user()
    assert client.get("/dashboard/sharing/999999").status_code == 404
    assert client.get("/dashboard/sharing/99999999999999").status_code == 404
    assert client.post("/dashboard/sharing/999999/deny", data={"deny-note": "x"}).status_code == 404
