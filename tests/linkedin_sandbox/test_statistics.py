"""The sandbox's statistics endpoints over real HTTP: figures that grow with age, and the same
checks and faults as every /rest call."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from urllib.parse import quote

import pytest

from syndicate.clock import FixedClock
from syndicate.linkedin import demo_figures
from syndicate.linkedin_sandbox.app import running_sandbox
from tests.linkedin_sandbox.test_sandbox import START, Sandbox, article
from tests.sandbox_fixtures import post_body


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    clock = FixedClock(START)
    with running_sandbox(clock=clock.now) as (base, app):
        yield Sandbox(base, app, clock)


PAGE = "urn:li:organization:1001"
READ_PAGES = ("w_organization_social", "r_organization_admin", "w_member_social")
STATS = "/rest/organizationalEntityShareStatistics"


def q(urn: str) -> str:
    return quote(urn, safe="")


def page_post(sb: Sandbox, token: str, text: str = "Page post") -> str:
    reply = sb.post(token, post_body(text, author=PAGE, content=article()))
    assert reply.status == 201, reply.text
    return reply.headers["x-restli-id"]


def stats_path(*urns: str, page: str = PAGE) -> str:
    return (
        f"{STATS}?q=organizationalEntity&organizationalEntity={q(page)}"
        f"&shares=List({','.join(q(u) for u in urns)})"
    )


def test_page_figures_follow_the_posts_age_on_the_sandboxs_clock(sandbox: Sandbox) -> None:
    token = sandbox.mint(*READ_PAGES)
    urn = page_post(sandbox, token)
    seen = []
    for hours in (0, 1, 5, 30, 24 * 10, 24 * 80):
        sandbox.clock.set(sandbox.state.posts[urn].created_at + timedelta(hours=hours))
        reply = sandbox.rest("GET", stats_path(urn), sandbox.mint(*READ_PAGES))
        assert reply.status == 200, reply.text
        [element] = reply.json()["elements"]
        assert element["share"] == urn and element["organizationalEntity"] == PAGE
        totals = element["totalShareStatistics"]
        expected = demo_figures.figures(urn, timedelta(hours=hours))
        assert totals["impressionCount"] == expected["impressions"]
        assert totals["likeCount"] == expected["reactions"]
        assert totals["shareCount"] == expected["reposts"]
        seen.append(totals["impressionCount"])
    assert seen == sorted(seen) and seen[0] == 0 and seen[-1] > 0


@pytest.mark.parametrize(
    ("path", "status"),
    [
        (f"{STATS}?q=organizationalEntity&organizationalEntity={q(PAGE)}", 400),
        (f"{STATS}?organizationalEntity={q(PAGE)}&shares=List({q('urn:li:share:1')})", 400),
        (
            f"{STATS}?q=organizationalEntity&organizationalEntity={PAGE}&shares=List(urn:li:share:1)",
            400,
        ),
        (
            f"{STATS}?q=organizationalEntity&organizationalEntity={q('urn:li:person:x')}"
            f"&shares=List({q('urn:li:share:1')})",
            400,
        ),
        (stats_path(*[f"urn:li:share:{n}" for n in range(101)]), 400),
        (
            f"{STATS}?q=organizationalEntity&organizationalEntity={q(PAGE)}"
            f"&shares=List({q('urn:li:ugcPost:1')})",
            400,
        ),
        (stats_path("urn:li:share:1", page="urn:li:organization:1004"), 403),
    ],
)
def test_bad_statistics_requests(sandbox: Sandbox, path: str, status: int) -> None:
    assert sandbox.rest("GET", path, sandbox.mint(*READ_PAGES)).status == status


def test_statistics_pass_the_token_version_and_protocol_checks(sandbox: Sandbox) -> None:
    token = sandbox.mint(*READ_PAGES)
    path = stats_path("urn:li:share:1")
    assert sandbox.rest("GET", path, None).status == 401
    assert sandbox.rest("GET", path, "nope").status == 401
    assert sandbox.rest("GET", path, token, version=None).status == 400
    assert sandbox.rest("GET", path, token, version="202504").status == 426
    assert sandbox.rest("GET", path, token, protocol=None).status == 400
    assert sandbox.rest("GET", path, sandbox.mint("w_member_social")).status == 403
    # An analyst may read a page's figures, though not post for it.
    analyst = stats_path("urn:li:share:1", page="urn:li:organization:1003")
    assert sandbox.rest("GET", analyst, token).status == 200


def test_queued_faults_and_the_fail_switch(sandbox: Sandbox) -> None:
    token = sandbox.mint(*READ_PAGES)
    path = stats_path("urn:li:share:1")
    assert sandbox.control("faults", {"path": STATS, "kind": "429"}).status == 201
    throttled = sandbox.rest("GET", path, token)
    assert (throttled.status, throttled.json()["serviceErrorCode"]) == (429, 101)
    assert sandbox.rest("GET", path, token).status == 200
    assert sandbox.control("switches", {"fail_statistics": "504"}).status == 200
    assert sandbox.rest("GET", path, token).status == 504
    assert sandbox.rest("GET", "/rest/socialActions/urn%3Ali%3Ashare%3A1", token).status == 504
    assert sandbox.rest("GET", "/rest/organizationAcls?q=roleAssignee", token).status == 200
    assert sandbox.control("switches", {"fail_statistics": None}).status == 200
    assert sandbox.rest("GET", path, token).status == 200
    assert sandbox.control("switches", {"fail_statistics": "delay"}).status == 400
    assert sandbox.control("switches", {"fail_statistics": True}).status == 400


def test_member_analytics_are_the_members_own_posts_only(sandbox: Sandbox) -> None:
    token = sandbox.mint("w_member_social", "r_member_postAnalytics")
    mine = sandbox.post(token, post_body("Mine")).headers["x-restli-id"]
    other = sandbox.mint("w_member_social", "r_member_postAnalytics", sub="sandbox-member-2")
    base = "/rest/memberCreatorPostAnalytics?q=entity"
    sandbox.clock.advance(timedelta(days=3))
    ok = sandbox.rest("GET", f"{base}&entity=(share:{q(mine)})&queryType=REACTION", token)
    assert ok.status == 200, ok.text
    [element] = ok.json()["elements"]
    assert element["count"] == demo_figures.figures(mine, timedelta(days=3))["reactions"]
    assert element["targetEntity"] == {"share": mine}
    assert (
        sandbox.rest("GET", f"{base}&entity=(share:{q(mine)})&queryType=REACTION", other).status
        == 404
    )
    for bad in (
        "&entity=(share:nope)&queryType=REACTION",
        f"&entity=(share:{q(mine)})&queryType=LIKES",
        f"&entity=(share:{q(mine)})&queryType=REACTION&aggregation=DAILY",
    ):
        assert sandbox.rest("GET", base + bad, token).status == 400
    plain = sandbox.mint("w_member_social")
    assert (
        sandbox.rest("GET", f"{base}&entity=(share:{q(mine)})&queryType=REACTION", plain).status
        == 403
    )


def test_social_actions_count_likes_and_comments(sandbox: Sandbox) -> None:
    token = sandbox.mint("w_member_social")
    urn = sandbox.post(token, post_body("Liked")).headers["x-restli-id"]
    sandbox.clock.advance(timedelta(days=2))
    reply = sandbox.rest("GET", f"/rest/socialActions/{q(urn)}", token)
    assert reply.status == 200
    body = reply.json()
    expected = demo_figures.figures(urn, timedelta(days=2))
    assert body["likesSummary"]["totalLikes"] == expected["reactions"]
    assert body["commentsSummary"]["aggregatedTotalComments"] == expected["comments"]
    assert sandbox.rest("GET", f"/rest/socialActions/{q('urn:li:share:x')}", token).status == 404
    assert (
        sandbox.rest("GET", f"/rest/socialActions/{q(urn)}", sandbox.mint("openid")).status == 403
    )
