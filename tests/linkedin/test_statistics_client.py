"""LinkedInClient's statistics calls against the sandbox over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from syndicate.linkedin import client as li
from syndicate.linkedin import demo_figures
from syndicate.linkedin.services import scopes_for
from tests.factories import SANDBOX_MEMBER
from tests.sandbox_fixtures import post_body

PAGE = "urn:li:organization:1001"
PAGE_SCOPES = scopes_for(pages=True)


@pytest.fixture
def api(linkedin_sandbox):
    client = li.LinkedInClient(
        api_base=linkedin_sandbox.base_url,
        auth_base=linkedin_sandbox.base_url,
        version=datetime.now(UTC).strftime("%Y%m"),
        read_timeout=5,
    )
    yield client
    client.close()


@pytest.fixture
def token(linkedin_sandbox):
    return linkedin_sandbox.state.mint_token(PAGE_SCOPES)


def publish(api, token, n, author=PAGE):
    return [api.create_post(token, post_body(f"Post {i}", author=author)) for i in range(n)]


def test_page_figures_come_for_every_post_in_one_call_and_grow_with_age(
    api, token, linkedin_sandbox
):
    urns = publish(api, token, 3)
    linkedin_sandbox.state.advance_clock(timedelta(hours=3))
    early = api.organization_share_statistics(token, PAGE, urns)
    linkedin_sandbox.state.advance_clock(timedelta(days=2))
    later = api.organization_share_statistics(token, PAGE, urns)
    assert set(early) == set(later) == set(urns)
    for urn in urns:
        expected = demo_figures.figures(urn, timedelta(hours=3))
        assert early[urn].impressions == expected["impressions"] > 0
        assert early[urn].clicks == expected["clicks"]
        assert early[urn].reactions == expected["reactions"]
        assert later[urn].impressions > early[urn].impressions
        assert later[urn].reactions >= early[urn].reactions


def test_the_urns_in_the_list_are_url_encoded_as_restli_2_wants(api):
    url = api.share_statistics_url(PAGE, ["urn:li:share:1", "urn:li:ugcPost:2"])
    assert "shares=List(urn%3Ali%3Ashare%3A1)" in url
    assert "ugcPosts=List(urn%3Ali%3AugcPost%3A2)" in url
    assert f"organizationalEntity={quote(PAGE, safe='')}" in url


def test_batches_respect_the_count_and_the_url_length(api):
    urns = [f"urn:li:share:{7100000000000000000 + n}" for n in range(230)]
    batches = api.batches_for_url(PAGE, urns, max_count=50, max_url=4000)
    assert [u for b in batches for u in b] == urns
    assert max(len(b) for b in batches) == 50
    short = api.batches_for_url(PAGE, urns, max_count=100, max_url=1000)
    assert all(len(api.share_statistics_url(PAGE, b)) <= 1000 for b in short)
    assert len(short) > len(batches)


def test_a_full_batch_of_fifty_is_accepted_by_the_sandbox(api, token, linkedin_sandbox):
    urns = publish(api, token, 50)
    [batch] = api.batches_for_url(PAGE, urns)
    assert len(api.organization_share_statistics(token, PAGE, batch)) == 50


def test_a_deleted_post_is_left_out_of_the_answer(api, token):
    kept, deleted = publish(api, token, 2)
    api.delete_post(token, deleted)
    found = api.organization_share_statistics(token, PAGE, [kept, deleted])
    assert set(found) == {kept}


def test_throttling_and_dead_tokens_are_typed(api, token, linkedin_sandbox):
    [urn] = publish(api, token, 1)
    linkedin_sandbox.state.inject("/rest/organizationalEntityShareStatistics", "429")
    with pytest.raises(li.Throttled):
        api.organization_share_statistics(token, PAGE, [urn])
    linkedin_sandbox.state.inject("/rest/socialActions/*", "401-revoked")
    with pytest.raises(li.TokenRevoked):
        api.social_actions(token, urn)


def test_the_fail_switch_fails_every_statistics_call_until_it_is_off(
    api, token, linkedin_sandbox
):
    [urn] = publish(api, token, 1)
    linkedin_sandbox.state.set_switches(fail_statistics="500")
    for call in (
        lambda: api.organization_share_statistics(token, PAGE, [urn]),
        lambda: api.social_actions(token, urn),
    ):
        with pytest.raises(li.ServerError):
            call()
    linkedin_sandbox.state.set_switches(fail_statistics=None)
    assert api.organization_share_statistics(token, PAGE, [urn])


def test_a_page_the_member_has_no_role_on_is_refused(api, token):
    with pytest.raises(li.PermissionDenied):
        api.organization_share_statistics(token, "urn:li:organization:1004", ["urn:li:share:1"])


def test_member_analytics_need_their_scope_and_social_actions_do_without(
    api, linkedin_sandbox
):
    plain = linkedin_sandbox.state.mint_token(scopes_for(pages=False))
    [urn] = publish(api, plain, 1, author=SANDBOX_MEMBER)
    linkedin_sandbox.state.advance_clock(timedelta(days=1))
    with pytest.raises(li.PermissionDenied):
        api.member_post_analytics(plain, urn)
    social = api.social_actions(plain, urn)
    expected = demo_figures.figures(urn, timedelta(days=1))
    assert (social.reactions, social.comments) == (expected["reactions"], expected["comments"])
    assert social.impressions is None and social.clicks is None and social.reposts is None
    analytics_token = linkedin_sandbox.state.mint_token(
        [*scopes_for(pages=False), "r_member_postAnalytics"]
    )
    figures = api.member_post_analytics(analytics_token, urn)
    assert figures.impressions == expected["impressions"]
    assert figures.reposts == expected["reposts"]
    assert figures.clicks is None


def test_a_deleted_member_post_is_not_found(api, linkedin_sandbox):
    plain = linkedin_sandbox.state.mint_token(scopes_for(pages=False))
    [urn] = publish(api, plain, 1, author=SANDBOX_MEMBER)
    api.delete_post(plain, urn)
    with pytest.raises(li.NotFound):
        api.social_actions(plain, urn)


def test_posts_the_sandbox_did_not_see_made_are_aged_by_their_id(api, token, linkedin_sandbox):
    made = linkedin_sandbox.state.now() - timedelta(days=10)
    urn = f"urn:li:share:{demo_figures.share_id_at(int(made.timestamp() * 1000), 7)}"
    found = api.organization_share_statistics(token, PAGE, [urn])
    age = linkedin_sandbox.state.now() - made
    # The sandbox's clock moved on a little since `age` was taken.
    assert abs(found[urn].impressions - demo_figures.figures(urn, age)["impressions"]) <= 1
