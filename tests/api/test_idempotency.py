"""Idempotency-Key: a replay answers the same and does nothing; concurrent duplicates run once."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

from sqlalchemy import func, select

from syndicate.api import idempotency
from syndicate.articles.models import Article
from syndicate.db import get_database
from syndicate.models import Event
from syndicate.posts.models import Post
from syndicate.staff.services import create_api_token
from tests import factories
from tests.api.conftest import Api


def _count(session, model) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(model))


def test_a_replay_returns_the_stored_answer_and_creates_nothing(api, session):
    body = {"title": "Once only"}
    first = api.post("/articles", body, key="create-once-1")
    assert first.status_code == 201
    assert "Idempotent-Replayed" not in first.headers

    replay = api.post("/articles", body, key="create-once-1")
    assert replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json() == first.get_json()
    assert _count(session, Article) == 1

    # The same JSON written differently is the same request.
    spaced = api.post("/articles", data='{ "title" :  "Once only" }', key="create-once-1",
                      content_type="application/json")
    assert spaced.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_with_another_body_or_path_is_422(api, session):
    assert api.post("/articles", {"title": "First"}, key="k-1").status_code == 201
    other_body = api.post("/articles", {"title": "Second"}, key="k-1")
    assert other_body.status_code == 422
    assert other_body.get_json()["error"]["code"] == "idempotency_key_reused"
    public_id = api.get("/articles").get_json()["items"][0]["public_id"]
    other_path = api.post(f"/articles/{public_id}/publish", {"title": "First"}, key="k-1")
    assert other_path.status_code == 422
    assert _count(session, Article) == 1


def test_errors_are_stored_too_and_a_new_key_runs_again(api, session):
    refused = api.post("/articles", {"title": ""}, key="bad-1")
    assert refused.status_code == 422
    assert api.post("/articles", {"title": ""}, key="bad-1").headers["Idempotent-Replayed"] == "true"
    assert api.post("/articles", {"title": "Fine"}, key="good-1").status_code == 201
    assert _count(session, Article) == 1


def test_patch_and_actions_honour_the_key(api, session):
    public_id = api.post("/articles", {"title": "Draft"}).get_json()["public_id"]
    for _ in range(2):
        assert api.post(f"/articles/{public_id}/publish", key="pub-1").status_code == 200
        patched = api.patch(f"/articles/{public_id}", {"summary": "s"}, key="patch-1")
        assert patched.status_code == 200
    kinds = session.scalars(select(Event.kind).order_by(Event.id)).all()
    assert kinds == ["article.published", "article.updated"]  # each once


def test_keys_belong_to_their_user(api, client, session, make_user, clock):
    other = make_user(email="other@example.test")
    _token, raw = create_api_token(session, other, "other", now=clock.now())
    session.commit()
    assert api.post("/articles", {"title": "Mine"}, key="shared").status_code == 201
    theirs = Api(client, raw).post("/articles", {"title": "Theirs"}, key="shared")
    assert theirs.status_code == 201
    assert "Idempotent-Replayed" not in theirs.headers
    assert _count(session, Article) == 2


def test_a_key_expires_after_24_hours(api, session, clock):
    assert api.post("/articles", {"title": "Daily"}, key="day").status_code == 201
    clock.advance(timedelta(hours=24, seconds=1))
    again = api.post("/articles", {"title": "Daily"}, key="day")
    assert again.status_code == 201
    assert "Idempotent-Replayed" not in again.headers
    assert _count(session, Article) == 2


def test_a_duplicate_in_progress_gets_409_and_a_stale_claim_is_taken_over(api, app, session, api_user, clock):
    with app.test_request_context("/api/v1/articles", method="POST", data=b'{"title":"Late"}'):
        from syndicate.api.handling import fingerprint

        wanted = fingerprint(b'{"title":"Late"}')
    idempotency.begin(
        get_database(app), user_id=api_user.id, key="stale", method="POST",
        path="/api/v1/articles", request_hash=wanted, now=clock.now(),
    )
    busy = api.post("/articles", {"title": "Late"}, key="stale")
    assert busy.status_code == 409
    assert busy.get_json()["error"]["code"] == "idempotency_in_progress"

    # The first request died without committing anything: after a while a retry runs.
    clock.advance(idempotency.STALE_CLAIM + timedelta(seconds=1))
    assert api.post("/articles", {"title": "Late"}, key="stale").status_code == 201
    assert _count(session, Article) == 1


def test_hostile_bodies_with_a_key_are_answered_and_stored(api, session):
    deep = b"[" * 100_000 + b"]" * 100_000
    for _ in range(2):
        response = api.post("/articles", data=deep, key="deep", content_type="application/json")
        assert response.status_code == 400
    assert response.headers["Idempotent-Replayed"] == "true"
    assert _count(session, Article) == 0


def test_malformed_keys_are_400(api, session):
    for key in ["", "x" * 201, "has space", "naïve"]:
        response = api.post("/articles", {"title": "K"}, headers={"Idempotency-Key": key})
        assert response.status_code == 400, key
        assert response.get_json()["error"]["code"] == "bad_idempotency_key"
    assert _count(session, Article) == 0


def test_two_threads_with_the_same_key_create_one_post(fresh_app):
    database = get_database(fresh_app)
    now = fresh_app.extensions["clock"].now()
    with database.transaction() as s:
        user = factories.make_user(s, now=now, email="racer@example.test")
        _token, raw = create_api_token(s, user, "race", now=now)
        article = factories.make_article(s, now=now)
        public_id = article.public_id
        target_id = factories.make_target(s, now=now).id

    # reshare posts have no unique constraint: only the key can keep them from doubling.
    body = json.dumps({"article": public_id, "target": target_id, "reshare": True,
                       "scheduled_at": (now + timedelta(days=1)).isoformat()})
    barrier = threading.Barrier(6)
    answers: list[tuple[int, dict]] = []
    lock = threading.Lock()

    def send() -> None:
        client = fresh_app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/posts", data=body, content_type="application/json",
            headers={"Authorization": f"Bearer {raw}", "Idempotency-Key": "race-1"},
        )
        with lock:
            answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    statuses = sorted(status for status, _ in answers)
    assert len(answers) == 6
    assert set(statuses) <= {201, 409}, answers
    created = [body for status, body in answers if status == 201]
    assert created and all(b == created[0] for b in created)
    with database.sessions() as s:
        assert s.scalar(select(func.count()).select_from(Post)) == 1


def test_expired_keys_are_purged_by_the_job(app, api, session, clock):
    from syndicate.api.idempotency import IdempotencyKey
    from syndicate.api.jobs import purge_idempotency_keys

    api.post("/articles", {"title": "Kept a day"}, key="purge-me")
    assert purge_idempotency_keys(app) == ""
    clock.advance(timedelta(hours=25))
    assert purge_idempotency_keys(app) == "api: 1 expired idempotency keys purged"
    assert session.scalar(select(func.count()).select_from(IdempotencyKey)) == 0
