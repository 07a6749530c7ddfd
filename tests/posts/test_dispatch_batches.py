"""Batches: a worker claims several due posts at once, keeps their leases while it works
through them, and a worker that dies mid-batch leaves the rest to others, none sent twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syndicate.posts.dispatch_send import post_body
from syndicate.posts.models import Post, PostState


@pytest.fixture
def due_posts(make_post, target, make_article, clock):
    def make(count):
        posts = [
            make_post(
                article=make_article(title=f"Batch story {i}", summary="A summary."),
                target=target,
                when=clock.now() + timedelta(minutes=5),
                campaign="batch",
            )
            for i in range(count)
        ]
        clock.advance(timedelta(minutes=5))
        return posts

    return make


def states(session, posts):
    session.expire_all()
    return [session.get(Post, p.id).state for p in posts]


def sent_texts(sandbox):
    return [p.text.rendered for p in sandbox.state.post_list()]


def test_workers_claim_disjoint_batches_of_due_posts(session, due_posts, dispatcher):
    posts = due_posts(10)
    batches = [dispatcher(owner=name).claim(4) for name in ("a", "b", "c", "d")]
    ids = [claim.post_id for batch in batches for claim in batch]
    assert [len(batch) for batch in batches] == [4, 4, 2, 0]
    assert sorted(ids) == sorted(p.id for p in posts)  # each exactly once
    assert set(states(session, posts)) == {PostState.SENDING}


def test_a_crash_mid_batch_leaves_the_rest_to_others_after_the_lease_none_sent_twice(
    session, due_posts, dispatcher, clock, app, linkedin_sandbox
):
    posts = due_posts(5)
    dead = dispatcher(owner="dead")
    batch = dead.claim(5)
    assert len(batch) == 5
    assert dead.process(batch[0]) == dead.process(batch[1]) == "published"
    # The third post left, LinkedIn stored it, and the worker died before recording it;
    # the last two were never started.
    assert dead._fence(batch[2], clock.now())
    token = app.extensions["token_vault"].decrypt(batch[2].job.token_encrypted)
    third_urn = app.extensions["linkedin_client"].create_post(
        token, post_body(batch[2].job, author=batch[2].job.target_urn, thumbnail=None)
    )
    alive = dispatcher(owner="alive")
    assert alive.run_until_idle().claimed == 0  # the dead worker's leases still hold
    clock.advance(timedelta(minutes=3))  # past the lease
    assert alive.run_until_idle().published == 2
    assert states(session, posts)[2] is PostState.UNKNOWN  # sent, never recorded: checked
    clock.advance(timedelta(minutes=3))  # past the reconcile window
    assert alive.run_until_idle().published == 1
    assert states(session, posts) == [PostState.PUBLISHED] * 5
    assert session.get(Post, posts[2].id).linkedin_urn == third_urn
    texts = sent_texts(linkedin_sandbox)
    assert len(texts) == len(set(texts)) == 5  # every post at LinkedIn, once


class SlowLinkedIn:
    """LinkedIn answering each post after ``delay`` (the test's clock moves on meanwhile);
    while it answers the second, another worker looks for due posts."""

    def __init__(self, client, clock, delay, rival):
        self.client, self.clock, self.delay, self.rival = client, clock, delay, rival
        self.version = client.version
        self.rival_claimed: list[int] = []

    def create_post(self, token, body):
        self.clock.advance(self.delay)
        if not self.rival_claimed:
            self.rival_claimed.append(self.rival.run_once().claimed)
        return self.client.create_post(token, body)


def test_a_slow_batch_keeps_the_leases_of_the_posts_still_waiting(
    session, due_posts, dispatcher, clock, app, linkedin_sandbox
):
    posts = due_posts(3)
    lease = timedelta(minutes=2)
    # Three answers of 70 s each: the third post starts at 140 s, past the lease the
    # claim took at 0 s, so without renewing it another worker could take it first.
    slow = SlowLinkedIn(
        app.extensions["linkedin_client"],
        clock,
        timedelta(seconds=70),
        rival=dispatcher(owner="rival", lease=lease),
    )
    worker = dispatcher(owner="slow", client=slow, lease=lease)
    clock_at_claim = clock.now()
    result = worker.run_once(limit=3)
    assert clock.now() - clock_at_claim >= timedelta(seconds=210)
    assert result.published == 3
    assert slow.rival_claimed == [0]
    assert states(session, posts) == [PostState.PUBLISHED] * 3
    assert len(sent_texts(linkedin_sandbox)) == 3


def test_renewing_skips_leases_that_ran_out(session, due_posts, dispatcher, clock):
    due_posts(2)
    worker = dispatcher(owner="w")
    batch = worker.claim(2)
    clock.advance(timedelta(minutes=1))
    assert worker.renew(batch) == 2
    clock.advance(timedelta(minutes=3))  # past even the renewed lease
    assert worker.renew(batch) == 0
    taken = dispatcher(owner="other").claim(2)
    assert sorted(c.post_id for c in taken) == sorted(c.post_id for c in batch)
