"""The dispatcher's post.published and post.failed reach a webhook receiver (LinkedIn sandbox)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syndicate.posts.jobs import make_dispatcher
from syndicate.webhooks.jobs import deliver_webhooks, enqueue_webhook_deliveries


@pytest.fixture
def app_overrides(sandbox_settings):  # noqa: ANN001, ANN201
    return sandbox_settings


def test_published_and_failed_posts_are_delivered(
    app,
    clock,
    receiver,
    make_endpoint,
    make_article,
    make_sandbox_target,
    make_post,
    linkedin_sandbox,
):
    make_endpoint(receiver.url, ["post.published", "post.failed"])
    target = make_sandbox_target(time_zone="Europe/Berlin")
    good = make_post(
        article=make_article(title="Goes out"),
        target=target,
        campaign="c",
        when=clock.now() + timedelta(minutes=5),
    )
    clock.advance(timedelta(minutes=6))
    make_dispatcher(app).run_until_idle()

    org = make_sandbox_target(
        urn="urn:li:organization:2414183", display_name="Org", time_zone="Europe/Berlin"
    )
    bad = make_post(
        article=make_article(title="Refused"),
        target=org,
        campaign="c",
        when=clock.now() + timedelta(minutes=5),
    )
    linkedin_sandbox.state.inject("/rest/posts", "403", method="POST")
    clock.advance(timedelta(minutes=6))
    make_dispatcher(app).run_until_idle()

    enqueue_webhook_deliveries(app)
    deliver_webhooks(app)
    by_kind = {r.headers["Syndicate-Event"]: r.json for r in receiver.received}
    assert sorted(by_kind) == ["post.failed", "post.published"]
    assert by_kind["post.published"]["data"]["post_id"] == good.id
    assert by_kind["post.published"]["data"]["urn"].startswith("urn:li:share:")
    failed = by_kind["post.failed"]["data"]
    assert failed["post_id"] == bad.id
    assert failed["state"] == "failed"
    assert failed["target"] == "urn:li:organization:2414183"
    assert failed["error"]
