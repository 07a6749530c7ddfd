"""The dispatcher's post.published and post.failed reach a webhook receiver (LinkedIn sandbox)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from syndicate.posts import services as posts
from syndicate.posts.jobs import make_dispatcher
from syndicate.webhooks.jobs import deliver_webhooks, enqueue_webhook_deliveries
from tests.posts.conftest import connect_target


@pytest.fixture
def app_overrides(sandbox_settings):  # noqa: ANN001, ANN201
    return sandbox_settings


def _schedule(session, app, article, target, clock):  # noqa: ANN001, ANN202
    data = posts.compose_defaults(article, target, site_url=app.config["SITE_URL"], campaign="c")
    data.when = clock.now() + timedelta(minutes=5)
    post = posts.create_post(session, article, target, data, user=None, now=clock.now(),
                             site_url=app.config["SITE_URL"], campaign="c")
    session.commit()
    return post


def test_published_and_failed_posts_are_delivered(
    app, session, clock, receiver, make_endpoint, make_article, linkedin_sandbox
):
    make_endpoint(receiver.url, ["post.published", "post.failed"])
    target = connect_target(session, app, linkedin_sandbox, clock.now())
    good = _schedule(session, app, make_article(title="Goes out"), target, clock)
    clock.advance(timedelta(minutes=6))
    make_dispatcher(app).run_until_idle()

    org = connect_target(session, app, linkedin_sandbox, clock.now(),
                         urn="urn:li:organization:2414183", display_name="Org")
    bad = _schedule(session, app, make_article(title="Refused"), org, clock)
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
