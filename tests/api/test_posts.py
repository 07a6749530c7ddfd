"""Posts over the API: scheduling in every way, conflicts, history, and bad dates."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from syndicate.posts.models import Post, PostState


def _count(session) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(Post))


def _error(response) -> dict:  # noqa: ANN001
    return response.get_json()["error"]


@pytest.fixture
def article(make_article, session):  # noqa: ANN001, ANN201
    article = make_article(title="Slow news (and why)", summary="A summary.", tags=["Slow news"])
    session.commit()
    return article


def test_schedule_at_an_rfc3339_time_then_read_reschedule_and_cancel(api, article, target, session):
    created = api.post(
        "/posts",
        {"article": article.public_id, "target": target.id,
         "scheduled_at": "2026-03-05T10:30:00+01:00"},
    )
    assert created.status_code == 201, created.get_json()
    post = created.get_json()
    assert post["state"] == "scheduled"
    assert post["scheduled_at"] == "2026-03-05T09:30:00Z"
    assert post["article"] == article.public_id
    assert post["target"] == {"id": target.id, "urn": target.urn, "display_name": "Ada API"}
    # No commentary given: the target's template (the default one) fills it in.
    assert post["commentary"].startswith("Slow news (and why)\n\nA summary.\n\n")
    assert "#SlowNews" in post["commentary"]
    assert post["history"] is None

    fetched = api.get(f"/posts/{post['id']}")
    assert fetched.status_code == 200
    assert [h["to_state"] for h in fetched.get_json()["history"]] == ["scheduled"]

    moved = api.post(f"/posts/{post['id']}/reschedule", {"scheduled_at": "2026-03-06T08:00:00Z"})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["scheduled_at"] == "2026-03-06T08:00:00Z"

    cancelled = api.post(f"/posts/{post['id']}/cancel")
    assert cancelled.status_code == 200
    assert cancelled.get_json()["state"] == "cancelled"

    history = api.get(f"/posts/{post['id']}/history").get_json()["items"]
    assert [h["to_state"] for h in history] == ["scheduled", "scheduled", "cancelled"]
    assert history[1]["detail"].startswith("rescheduled for 2026-03-06T08:00")
    assert history[0]["actor"] == "api@example.test"

    again = api.post(f"/posts/{post['id']}/cancel")
    assert again.status_code == 409
    assert _error(again)["code"] == "not_editable"
    late = api.post(f"/posts/{post['id']}/reschedule", {"queue": True})
    assert late.status_code == 409


def test_schedule_at_a_local_time_by_urn_with_own_text(api, article, target):
    created = api.post(
        "/posts",
        {
            "article": article.public_id,
            "target": target.urn,
            "commentary": "Read this (it is good).",
            "card_title": "A card",
            "scheduled_at": {"local": "2026-03-29T02:30", "time_zone": "Europe/Berlin"},
        },
    )
    assert created.status_code == 201, created.get_json()
    post = created.get_json()
    assert post["commentary"] == "Read this (it is good)."
    assert post["card_title"] == "A card"
    # 02:30 does not exist that night in Berlin; it goes out at 03:30 CEST = 01:30 UTC.
    assert post["scheduled_at"] == "2026-03-29T01:30:00Z"
    assert "does not exist" in post["schedule_note"]


def test_queue_takes_the_next_free_slot_and_draft_has_no_time(api, article, make_target):
    slotted = make_target(
        urn="urn:li:organization:77", time_zone="Europe/Berlin",
        queue_slots=[{"weekday": 2, "time": "09:00"}],
    )
    queued = api.post("/posts", {"article": article.public_id, "target": slotted.id, "queue": True})
    assert queued.status_code == 201, queued.get_json()
    # Monday 2 March 2026 09:00 UTC now; Wednesday 09:00 Berlin (CET) is 08:00 UTC.
    assert queued.get_json()["scheduled_at"] == "2026-03-04T08:00:00Z"

    other = make_target(urn="urn:li:organization:78", time_zone="Europe/Berlin")
    draft = api.post("/posts", {"article": article.public_id, "target": other.id, "draft": True})
    assert draft.status_code == 201
    assert draft.get_json()["state"] == "draft"
    assert draft.get_json()["scheduled_at"] is None
    scheduled = api.post(
        f"/posts/{draft.get_json()['id']}/reschedule", {"scheduled_at": "2026-04-01T07:00:00Z"}
    )
    assert scheduled.get_json()["state"] == "scheduled"


def test_a_second_post_of_the_pair_is_409_unless_reshared(api, article, target, session):
    body = {"article": article.public_id, "target": target.id, "scheduled_at": "2026-03-05T10:00:00Z"}
    first = api.post("/posts", body)
    second = api.post("/posts", body)
    assert second.status_code == 409
    assert _error(second)["code"] == "post_exists"
    assert _error(second)["details"] == {"existing_post_id": first.get_json()["id"]}
    assert api.post("/posts", {**body, "reshare": True}).status_code == 201
    assert _count(session) == 2


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"scheduled_at": "2026-03-29T09:00:00"}, "scheduled_at"),
        ({"scheduled_at": "2026-13-01T09:00:00Z"}, "scheduled_at"),
        ({"scheduled_at": "29.03.2026 09:00"}, "scheduled_at"),
        ({"scheduled_at": "0001-01-01T00:00:00+01:00"}, "scheduled_at"),
        ({"scheduled_at": "2026-03-01T09:00:00Z"}, "scheduled_at"),
        ({"scheduled_at": {"local": "2026-03-29T09:00", "time_zone": "Mars/Olympus"}},
         "scheduled_at.time_zone"),
        ({"scheduled_at": {"local": "2026-02-30T09:00", "time_zone": "Europe/Berlin"}},
         "scheduled_at"),
        ({"scheduled_at": {"local": "2026-03-29T09:00"}}, "scheduled_at.time_zone"),
        ({"scheduled_at": "2026-03-05T10:00:00Z", "queue": True}, "scheduled_at"),
        ({}, "scheduled_at"),
        ({"queue": True}, "queue"),
    ],
)
def test_bad_schedules_are_422_and_store_nothing(api, article, target, session, schedule, field):
    response = api.post("/posts", {"article": article.public_id, "target": target.id, **schedule})
    assert response.status_code == 422, response.get_json()
    fields = [d["field"] for d in _error(response)["details"]]
    assert field in fields
    assert _count(session) == 0


def test_unknown_references_and_unpublished_articles_are_422(api, article, target, make_article):
    when = {"scheduled_at": "2026-03-05T10:00:00Z"}
    unknown_article = api.post("/posts", {"article": "nope", "target": target.id, **when})
    assert _error(unknown_article)["details"][0]["field"] == "article"
    unknown_target = api.post("/posts", {"article": article.public_id, "target": 999999, **when})
    assert _error(unknown_target)["details"][0]["field"] == "target"
    huge = api.post("/posts", {"article": article.public_id, "target": 2**40, **when})
    assert huge.status_code == 422
    draft = make_article(publish=False)
    refused = api.post("/posts", {"article": draft.public_id, "target": target.id, **when})
    assert refused.status_code == 422
    assert _error(refused)["details"][0]["field"] == "article"


def test_list_posts_by_state_with_cursor(api, session, app, clock, make_article, target):
    ids = []
    for n in range(5):
        article = make_article(title=f"Posted {n}")
        session.commit()
        body = {"article": article.public_id, "target": target.id,
                "scheduled_at": "2026-03-05T10:00:00Z"}
        ids.append(api.post("/posts", body).get_json()["id"])
    api.post(f"/posts/{ids[0]}/cancel")

    seen, cursor = [], None
    while True:
        page = api.get("/posts?state=scheduled&limit=2" + (f"&cursor={cursor}" if cursor else ""))
        assert page.status_code == 200
        seen += [p["id"] for p in page.get_json()["items"]]
        cursor = page.get_json()["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(ids[1:], reverse=True)
    assert [p["id"] for p in api.get("/posts?state=cancelled").get_json()["items"]] == [ids[0]]
    assert api.get("/posts?state=lost").status_code == 400


def test_unknown_posts_are_404(api):
    assert api.get("/posts/424242").status_code == 404
    assert api.get("/posts/424242/history").status_code == 404
    assert api.post("/posts/424242/cancel").status_code == 404
    assert api.get("/posts/99999999999").status_code == 404
    assert api.get("/posts/0").status_code == 404


def test_post_state_enum_is_what_the_schema_says(api):
    states = api.client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["PostState"]
    assert states["enum"] == [s.value for s in PostState]
