"""Articles over the API: the happy paths and every kind of bad input, answered 4xx in JSON."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from syndicate.articles.models import Article
from syndicate.models import Event
from syndicate.staff.models import ApiToken
from syndicate.staff.services import revoke_api_token

NEW = {
    "title": "Why feeds still matter",
    "body": "Feeds are *simple*.",
    "body_format": "markdown",
    "summary": "A short case for RSS.",
    "authors": ["Ada Writer"],
    "categories": ["Media"],
    "tags": ["RSS", "Open web"],
}


def _count(session, model=Article) -> int:  # noqa: ANN001
    return session.scalar(select(func.count()).select_from(model))


def _error(response) -> dict:  # noqa: ANN001
    body = response.get_json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    return body["error"]


def test_create_get_update_publish_and_unpublish_an_article(api, session):
    created = api.post("/articles", NEW)
    assert created.status_code == 201, created.get_json()
    article = created.get_json()
    assert article["status"] == "draft"
    assert article["slug"] == "why-feeds-still-matter"
    assert article["body_html"] == "<p>Feeds are <em>simple</em>.</p>"
    assert article["tags"] == ["Open web", "RSS"]
    public_id = article["public_id"]

    fetched = api.get(f"/articles/{public_id}")
    assert fetched.status_code == 200
    assert fetched.get_json() == article

    patched = api.patch(f"/articles/{public_id}", {"title": "Feeds matter", "tags": []})
    assert patched.status_code == 200, patched.get_json()
    assert patched.get_json()["title"] == "Feeds matter"
    assert patched.get_json()["tags"] == []
    # Fields not sent keep their values, the slug included.
    assert patched.get_json()["summary"] == NEW["summary"]
    assert patched.get_json()["slug"] == "why-feeds-still-matter"

    published = api.post(f"/articles/{public_id}/publish")
    assert published.status_code == 200
    assert published.get_json()["status"] == "published"
    assert published.get_json()["published_at"] == "2026-03-02T09:00:00Z"
    assert session.scalar(select(Event.kind).where(Event.subject == public_id)) == (
        "article.published"
    )

    unpublished = api.post(f"/articles/{public_id}/unpublish", {})
    assert unpublished.status_code == 200
    assert unpublished.get_json()["status"] == "unpublished"


def test_patch_null_clears_a_url_but_is_refused_for_a_title(api):
    public_id = api.post("/articles", {**NEW, "canonical_url": "https://f5.example/a"}).get_json()[
        "public_id"
    ]
    cleared = api.patch(f"/articles/{public_id}", {"canonical_url": None})
    assert cleared.status_code == 200
    assert cleared.get_json()["canonical_url"] is None

    refused = api.patch(f"/articles/{public_id}", {"title": None})
    assert refused.status_code == 422
    assert [d["field"] for d in _error(refused)["details"]] == ["title"]


def test_list_filters_by_status(api, make_article):
    make_article(title="Published one")
    make_article(title="Draft one", publish=False)
    listed = api.get("/articles?status=draft")
    assert listed.status_code == 200
    assert [a["title"] for a in listed.get_json()["items"]] == ["Draft one"]
    assert listed.get_json()["next_cursor"] is None
    assert "body" not in listed.get_json()["items"][0]


@pytest.mark.parametrize(
    ("raw", "content_type", "status", "code"),
    [
        (b'{"title": "x"', "application/json", 400, "malformed_json"),
        (b"", "application/json", 415, "unsupported_media_type"),
        (b"title=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"title": "x"}', "text/plain", 415, "unsupported_media_type"),
        (b'"just a string"', "application/json", 422, "validation_failed"),
        (b'{"title": "\\ud800"}', "application/json", 400, "malformed_json"),
    ],
)
def test_bad_bodies_are_refused_with_json_errors(api, session, raw, content_type, status, code):
    response = api.post("/articles", data=raw, content_type=content_type)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert _error(response)["code"] == code
    assert _count(session) == 0


def test_unknown_and_invalid_fields_are_listed_in_details(api, session):
    response = api.post(
        "/articles",
        {"title": "", "colour": "blue", "tags": ["ok", 5], "body_format": "rtf", "summary": "a\x00"},
    )
    assert response.status_code == 422
    fields = {d["field"]: d["type"] for d in _error(response)["details"]}
    assert fields == {
        "title": "string_too_short",
        "colour": "extra_forbidden",
        "tags.1": "string_type",
        "body_format": "enum",
        "summary": "string_pattern_mismatch",
    }
    assert _count(session) == 0


def test_service_refusals_name_their_field(api):
    response = api.post("/articles", {"title": "Hero", "hero_image_url": "https://img.example/a.jpg"})
    assert response.status_code == 422
    assert _error(response)["details"][0]["field"] == "hero_image_alt"

    bad_url = api.post("/articles", {"title": "Link", "canonical_url": "javascript:alert(1)"})
    assert bad_url.status_code == 422
    assert _error(bad_url)["details"][0]["field"] == "canonical_url"


def test_an_unparsable_url_is_422_not_500(api, session):
    """urlsplit raises on "http://[" (an unclosed IPv6 address); schemathesis found the 500."""
    response = api.post("/articles", {"title": "Link", "canonical_url": "http://["})
    assert response.status_code == 422
    assert _error(response)["details"][0]["field"] == "canonical_url"
    assert _count(session) == 0


def test_url_and_slug_rules_are_in_the_document_and_enforced_by_it(api, client):
    components = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    assert components["ArticleCreate"]["properties"]["slug"]["anyOf"][0]["pattern"]
    for body in ({"title": "A", "slug": "Not A Slug"}, {"title": "A", "canonical_url": "ftp://x"}):
        response = api.post("/articles", body)
        assert response.status_code == 422
        assert _error(response)["code"] == "validation_failed"


def test_a_taken_slug_is_a_conflict(api):
    assert api.post("/articles", {"title": "One", "slug": "same"}).status_code == 201
    response = api.post("/articles", {"title": "Two", "slug": "same"})
    assert response.status_code == 409
    assert _error(response)["code"] == "slug_taken"


def test_oversized_body_is_413(api, session):
    body = json.dumps({"title": "Big", "body": "x" * (2 * 1024 * 1024)})
    response = api.post("/articles", data=body, content_type="application/json")
    assert response.status_code == 413
    assert _error(response)["code"] == "too_large"
    assert _count(session) == 0


def test_unknown_article_is_404(api):
    response = api.get("/articles/6d0c3a2e-0000-4000-8000-000000000000")
    assert response.status_code == 404
    assert _error(response)["code"] == "not_found"
    assert api.post("/articles/nope/publish").status_code == 404


@pytest.mark.parametrize(
    "query",
    ["limit=0", "limit=101", "limit=ten", "status=lost", "cursor=forged.cursor", "colour=red",
     "limit=5&limit=6"],
)
def test_bad_query_parameters_are_400(api, query):
    response = api.get(f"/articles?{query}")
    assert response.status_code == 400
    assert _error(response)["details"]


def test_missing_malformed_or_revoked_tokens_are_401(api, client, session, login, api_user):
    assert api.get("/articles").status_code == 200

    missing = client.get("/api/v1/articles")
    assert missing.status_code == 401
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert _error(missing)["code"] == "unauthorized"
    assert client.get("/api/v1/articles", headers={"Authorization": "Bearer syn_wrong"}).status_code == 401
    assert client.get("/api/v1/articles", headers={"Authorization": f"Basic {api.token}"}).status_code == 401

    # A signed-in browser session is no credential on the API.
    login(api_user)
    assert client.get("/api/v1/articles").status_code == 401

    token = session.scalar(select(ApiToken).where(ApiToken.user_id == api_user.id))
    revoke_api_token(session, token, now=token.created_at)
    session.commit()
    revoked = api.post("/articles", NEW)
    assert revoked.status_code == 401
    assert _count(session) == 0


def test_a_deactivated_user_s_token_is_401(api, session, api_user):
    api_user.is_active = False
    session.commit()
    assert api.get("/articles").status_code == 401


def test_nul_bytes_anywhere_are_refused_not_stored(api, session):
    assert api.get("/articles/%00").status_code == 404
    assert api.get("/posts/%00/history").status_code == 404
    assert api.get("/articles?cursor=%00").status_code == 400
    assert api.get("/articles?st%00atus=draft").status_code == 400
    assert api.post("/articles", {"title": "a\u0000b"}).status_code == 422
    assert api.post("/articles", {"title": "ok", "authors": ["\u0000"]}).status_code == 422
    assert api.post("/articles", {"title": "ok"}, key="k\u0000").status_code == 400
    assert _count(session) == 0
