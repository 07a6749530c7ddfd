"""LinkedInClient against the sandbox over real HTTP: every documented answer has a type."""

import socket
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syndicate.linkedin import client as li
from syndicate.linkedin.services import scopes_for
from syndicate.linkedin.text import MAX_COMMENTARY, escape_little_text, linkedin_length
from syndicate.linkedin_sandbox.text import render_little_text
from tests.factories import SANDBOX_MEMBER
from tests.sandbox_fixtures import post_body

SCOPES = [*scopes_for(pages=True), "r_member_social"]


@pytest.fixture
def api(linkedin_sandbox):
    version = datetime.now(UTC).strftime("%Y%m")
    client = li.LinkedInClient(
        api_base=linkedin_sandbox.base_url,
        auth_base=linkedin_sandbox.base_url,
        version=version,
        client_id="syndicate-test",
        client_secret="syndicate-test-secret",
        read_timeout=2,
    )
    yield client
    client.close()


@pytest.fixture
def token(linkedin_sandbox):
    return linkedin_sandbox.state.mint_token(SCOPES)


def stored(linkedin_sandbox, urn):
    return next(p for p in linkedin_sandbox.state.post_list() if p.urn == urn)


def test_create_post_returns_the_urn_linkedin_names(api, token, linkedin_sandbox):
    urn = api.create_post(token, post_body("Hello"))
    assert urn.startswith("urn:li:share:")
    assert stored(linkedin_sandbox, urn).text.rendered == "Hello"


def test_title_with_every_reserved_character_arrives_uncut(api, token, linkedin_sandbox):
    title = (
        "Talks (finally) resume: *US* & China_on [fentanyl] {2026} <update> #Policy "
        "@desk ~50% | back\\slash"
    )
    link = "https://f5mag.example/a?utm_source=linkedin&utm_medium=social"
    urn = api.create_post(token, post_body(escape_little_text(f"{title}\n\n{link}")))
    assert stored(linkedin_sandbox, urn).text.rendered == f"{title}\n\n{link}"


def test_unescaped_parenthesis_is_what_cuts_posts(api, token, linkedin_sandbox):
    urn = api.create_post(token, post_body("Talks (finally) resume"))
    assert stored(linkedin_sandbox, urn).text.rendered == "Talks "


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=200))
def test_escaping_any_text_renders_back_to_it(text):
    assert render_little_text(escape_little_text(text)) == text


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "(a)",
                "_b_",
                "#tag",
                "@x",
                "https://x.example/a_b?c=d_e",
                "[y]",
                "{z}",
                " ",
                "\n",
                "Zoë",
                "—",
            ]
        ),
        max_size=20,
    )
)
def test_urls_mentions_and_hashtags_survive_escaping(parts):
    text = "".join(parts)
    assert render_little_text(escape_little_text(text)) == text


def test_mentions_stay_markup():
    marked = "Thanks @[Sam Sandbox](urn:li:person:sandbox-member-1)!"
    assert escape_little_text(marked) == marked.replace("!", "!")


def test_length_counts_utf16_units_like_linkedin():
    assert linkedin_length("abc") == 3
    assert linkedin_length("😀") == 2
    assert MAX_COMMENTARY == 3000


def test_duplicate_post_names_the_original(api, token):
    first = api.create_post(token, post_body("Same words"))
    with pytest.raises(li.DuplicatePost) as caught:
        api.create_post(token, post_body("Same words"))
    assert caught.value.urn == first and caught.value.status == 422


@pytest.mark.parametrize(
    "kind, error",
    [
        ("401", li.TokenInvalid),
        ("401-revoked", li.TokenRevoked),
        ("401-expired", li.TokenExpired),
        ("403", li.PermissionDenied),
        ("426", li.VersionInactive),
        ("429", li.Throttled),
        ("500", li.ServerError),
        ("504", li.ServerError),
    ],
)
def test_each_injected_fault_maps_to_its_exception(api, token, linkedin_sandbox, kind, error):
    linkedin_sandbox.state.inject("/rest/posts", kind, method="POST")
    with pytest.raises(error) as caught:
        api.create_post(token, post_body(f"fault {kind}"))
    assert caught.value.status == int(kind[:3])
    assert linkedin_sandbox.state.post_list() == []


def test_retryable_errors_say_so():
    assert li.Throttled("x").retryable and li.ServerError("x").retryable
    assert li.ConnectionFailed("x").retryable
    assert not li.OutcomeUnknown("x").retryable and not li.DuplicatePost("x", urn=None).retryable


def test_revoked_and_unknown_tokens_from_the_real_checks(api, token, linkedin_sandbox):
    linkedin_sandbox.state.revoke_tokens(token)
    with pytest.raises(li.TokenRevoked):
        api.create_post(token, post_body("x"))
    with pytest.raises(li.TokenInvalid):
        api.create_post("not-a-token", post_body("x"))


def test_inactive_version_is_version_inactive(linkedin_sandbox, token):
    old = li.LinkedInClient(
        api_base=linkedin_sandbox.base_url, auth_base=linkedin_sandbox.base_url, version="202001"
    )
    with pytest.raises(li.VersionInactive) as caught:
        old.create_post(token, post_body("x"))
    assert "not active" in str(caught.value)
    old.close()


def test_posting_for_a_page_without_a_role_is_denied(api, token):
    with pytest.raises(li.PermissionDenied):
        api.create_post(token, post_body("x", author="urn:li:organization:1003"))
    assert api.create_post(token, post_body("y", author="urn:li:organization:1001"))


def test_timeout_after_the_post_was_stored_is_outcome_unknown(api, token, linkedin_sandbox):
    linkedin_sandbox.state.inject("/rest/posts", "timeout-after-store", method="POST", seconds=4)
    with pytest.raises(li.OutcomeUnknown):
        api.create_post(token, post_body("Did it go out?"))
    assert [p.text.rendered for p in linkedin_sandbox.state.post_list()] == ["Did it go out?"]
    # LinkedIn's duplicate answer is how the outcome gets settled afterwards.
    with pytest.raises(li.DuplicatePost) as caught:
        api.create_post(token, post_body("Did it go out?"))
    assert caught.value.urn == linkedin_sandbox.state.post_list()[0].urn


def test_nothing_listening_is_connection_failed_not_unknown():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = li.LinkedInClient(
        api_base=f"http://127.0.0.1:{port}", auth_base=f"http://127.0.0.1:{port}", version="202611"
    )
    with pytest.raises(li.ConnectionFailed):
        dead.create_post("t", post_body("x"))
    dead.close()


def test_image_upload_gives_an_image_urn_usable_as_thumbnail(api, token, linkedin_sandbox):
    from pathlib import Path

    png = (Path(__file__).parents[2] / "syndicate/static/demo/harbour-dawn.png").read_bytes()
    upload = api.initialize_image_upload(token, SANDBOX_MEMBER)
    image = api.upload_image(token, upload, png)
    body = post_body("With a card")
    body["content"] = {
        "article": {
            "source": "https://f5mag.example/a",
            "title": "T",
            "description": "D",
            "thumbnail": image,
        }
    }
    urn = api.create_post(token, body)
    assert stored(linkedin_sandbox, urn).content["article"]["thumbnail"] == image


def test_refresh_refused_is_an_oauth_error(api):
    with pytest.raises(li.OAuthError) as caught:
        api.refresh("no-such-refresh-token")
    assert caught.value.status == 400
