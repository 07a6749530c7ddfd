"""The LinkedIn sandbox over real HTTP: OAuth, OIDC, posts, images, faults and little text."""

from __future__ import annotations

import base64
import http.client
import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from joserfc import jwt
from joserfc.jwk import KeySet

from syndicate.clock import FixedClock
from syndicate.linkedin_sandbox.app import SandboxApp, SandboxClient, running_sandbox
from syndicate.linkedin_sandbox.errors import INVALID_CODE_MESSAGE, INVALID_GRANT_MESSAGE
from syndicate.linkedin_sandbox.text import RESERVED, parse_little_text, render_little_text
from tests.sandbox_fixtures import post_body

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
VERSION = "202611"
LABEL = "20261101"
CLIENT_ID, CLIENT_SECRET = "sandbox-client", "sandbox-secret"
REDIRECT = "http://127.0.0.1:9999/connect/linkedin/callback"
SUB = "sandbox-member-1"
ME = f"urn:li:person:{SUB}"
POSTING = ("w_member_social",)
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
BANNER = "LinkedIn sandbox — not LinkedIn"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def query(self) -> dict[str, str]:
        """The query of the Location header, one value per name."""
        return {k: v[0] for k, v in parse_qs(urlsplit(self.headers["location"]).query).items()}


class Sandbox:
    """Talks to a running sandbox over real HTTP."""

    def __init__(self, base: str, app: SandboxApp, clock: FixedClock) -> None:
        self.base, self.app, self.clock, self.state = base, app, clock, app.state

    def request(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        body: bytes | None = None,
        form: dict[str, str] | None = None,
        json_body: Any = None,
        timeout: float = 5,
    ) -> Reply:
        headers = dict(headers or {})
        if form is not None:
            body = urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif json_body is not None:
            body = json.dumps(json_body).encode()
            headers["Content-Type"] = "application/json"
        parts = urlsplit(self.base)
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            return Reply(
                response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
            )
        finally:
            conn.close()

    def rest(
        self,
        method: str,
        path: str,
        token: str | None,
        *,
        json_body: Any = None,
        raw: bytes | None = None,
        version: str | None = VERSION,
        protocol: str | None = "2.0.0",
        timeout: float = 5,
    ) -> Reply:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if version is not None:
            headers["LinkedIn-Version"] = version
        if protocol is not None:
            headers["X-Restli-Protocol-Version"] = protocol
        return self.request(
            method, path, headers=headers, json_body=json_body, body=raw, timeout=timeout
        )

    def post(self, token: str | None, body: dict[str, Any], **kwargs: Any) -> Reply:
        return self.rest("POST", "/rest/posts", token, json_body=body, **kwargs)

    def control(self, path: str, body: Any = None, method: str = "POST") -> Reply:
        return self.request(method, f"/sandbox/control/{path}", json_body=body)

    def mint(self, *scopes: str, sub: str = SUB) -> str:
        return self.state.mint_token(scopes, sub=sub)


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    clock = FixedClock(START)
    with running_sandbox(clock=clock.now) as (base, app):
        yield Sandbox(base, app, clock)


def article(source: str = "https://mag.example/a", **extra: Any) -> dict[str, Any]:
    return {"article": {"source": source, "title": "A title", "description": "Short", **extra}}


# OAuth helpers


def authorize(
    sb: Sandbox,
    scopes: tuple[str, ...],
    *,
    client_id: str = CLIENT_ID,
    redirect: str = REDIRECT,
    state: str = "st4te",
    **extra: str,
) -> Reply:
    params = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": " ".join(scopes),
        "state": state,
        **extra,
    }
    return sb.request("GET", "/oauth/v2/authorization?" + urlencode(params))


def answer(sb: Sandbox, page: Reply, decision: str = "allow") -> Reply:
    match = re.search(r'name="consent" value="([^"]+)"', page.text)
    assert match, page.text
    return sb.request(
        "POST", "/oauth/v2/authorization", form={"consent": match.group(1), "decision": decision}
    )


def get_code(sb: Sandbox, scopes: tuple[str, ...], **extra: str) -> str:
    reply = authorize(sb, scopes, **extra)
    if reply.status == 200:
        reply = answer(sb, reply)
    assert reply.status == 302
    return reply.query()["code"]


def exchange(sb: Sandbox, code: str, /, **overrides: str | None) -> Reply:
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        **overrides,
    }
    return sb.request(
        "POST", "/oauth/v2/accessToken", form={k: v for k, v in form.items() if v is not None}
    )


def oauth_token(sb: Sandbox, scopes: tuple[str, ...], **extra: str) -> dict[str, Any]:
    reply = exchange(sb, get_code(sb, scopes, **extra))
    assert reply.status == 200, reply.body
    return reply.json()


def userinfo(sb: Sandbox, token: str) -> Reply:
    return sb.request("GET", "/v2/userinfo", headers={"Authorization": f"Bearer {token}"})


# A–E: OAuth and OpenID Connect


def test_code_flow_through_the_consent_page(sandbox: Sandbox) -> None:
    page = authorize(sandbox, ("openid", "profile", "email", "w_member_social"))
    assert page.status == 200
    assert BANNER in page.text
    assert "<script" not in page.text and "style=" not in page.text
    assert "Allow" in page.text and "Cancel" in page.text

    redirected = answer(sandbox, page)
    assert redirected.status == 302
    assert redirected.headers["location"].startswith(REDIRECT + "?")
    assert redirected.query()["state"] == "st4te"

    reply = exchange(sandbox, redirected.query()["code"])
    assert reply.status == 200
    assert reply.headers["cache-control"] == "no-store"
    token = reply.json()
    assert set(token) == {"access_token", "expires_in", "scope", "id_token"}
    assert token["expires_in"] == 5184000
    assert token["scope"] == "email,openid,profile,w_member_social"
    assert 400 <= len(token["access_token"]) <= 1000

    info = userinfo(sandbox, token["access_token"])
    assert info.status == 200
    assert info.json() == {
        "sub": SUB,
        "name": "Sam Sandbox",
        "given_name": "Sam",
        "family_name": "Sandbox",
        "picture": f"{sandbox.base}/sandbox/avatar/{SUB}.svg",
        "email": "sam.sandbox@example.com",
        "email_verified": True,
        "locale": {"country": "US", "language": "en"},
    }
    avatar = sandbox.request("GET", f"/sandbox/avatar/{SUB}.svg")
    assert avatar.status == 200 and avatar.headers["content-type"].startswith("image/svg+xml")


def test_cancel_on_the_consent_page(sandbox: Sandbox) -> None:
    reply = answer(sandbox, authorize(sandbox, ("openid", "profile")), "cancel")
    assert reply.status == 302
    assert reply.query() == {
        "error": "user_cancelled_authorize",
        "error_description": "The user cancelled the authorization",
        "state": "st4te",
    }


def test_a_consent_page_answers_once(sandbox: Sandbox) -> None:
    page = authorize(sandbox, ("openid", "profile"))
    assert answer(sandbox, page).status == 302
    again = answer(sandbox, page)
    assert again.status == 400
    assert "already answered" in again.text


@pytest.mark.parametrize("error", ["user_cancelled_authorize", "user_cancelled_login"])
def test_cancel_switch_redirects_at_once(sandbox: Sandbox, error: str) -> None:
    assert sandbox.control("switches", {"cancel_authorize": error}).status == 200
    reply = authorize(sandbox, ("openid", "profile"))
    assert reply.status == 302
    assert reply.query()["error"] == error
    assert reply.query()["state"] == "st4te"


def test_auto_consent_and_an_existing_grant_skip_the_page(sandbox: Sandbox) -> None:
    sandbox.control("switches", {"auto_consent": True})
    assert authorize(sandbox, ("openid", "profile")).status == 302
    sandbox.control("switches", {"auto_consent": False})
    assert authorize(sandbox, ("openid",)).status == 302
    assert authorize(sandbox, ("openid", "profile", "email")).status == 200


def test_redirect_keeps_its_own_query(sandbox: Sandbox) -> None:
    sandbox.control("switches", {"auto_consent": True})
    reply = authorize(sandbox, ("openid", "profile"), redirect=REDIRECT + "?next=%2Fx")
    assert reply.query()["next"] == "/x"
    assert "code" in reply.query()


@pytest.mark.parametrize(
    "change",
    [
        {"response_type": "token"},
        {"client_id": "someone-else"},
        {"redirect_uri": "https://evil.example/callback"},
        {"redirect_uri": "http://127.0.0.1.evil.example/callback"},
        {"redirect_uri": REDIRECT + "#fragment"},
        {"redirect_uri": "/relative/callback"},
        {"scope": "openid r_ads"},
        {"scope": ""},
    ],
)
def test_bad_authorize_requests_get_a_401_page(sandbox: Sandbox, change: dict[str, str]) -> None:
    params = {
        "response_type": "code",
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "scope": "openid profile",
        "state": "s",
        **change,
    }
    reply = sandbox.request("GET", "/oauth/v2/authorization?" + urlencode(params))
    assert reply.status == 401
    assert BANNER in reply.text
    assert "location" not in reply.headers


def test_registered_client_needs_its_exact_redirect_and_scopes() -> None:
    app_client = SandboxClient(
        "app",
        "app-secret",
        frozenset({"https://app.example/cb"}),
        scopes=frozenset({"openid", "profile"}),
    )
    with running_sandbox(clients={"app": app_client}) as (base, app):
        sb = Sandbox(base, app, FixedClock(START))
        sb.control("switches", {"auto_consent": True})
        ok = authorize(sb, ("openid",), client_id="app", redirect="https://app.example/cb?a=1")
        assert ok.status == 302
        for redirect, scopes in [
            ("https://app.example/cb/x", ("openid",)),
            ("http://127.0.0.1/cb", ("openid",)),
            ("https://app.example/cb", ("openid", "w_member_social")),
        ]:
            assert authorize(sb, scopes, client_id="app", redirect=redirect).status == 401
        assert authorize(sb, ("openid",), client_id=CLIENT_ID).status == 401


def test_token_errors(sandbox: Sandbox) -> None:
    code = get_code(sandbox, ("openid", "profile"))
    missing = exchange(sandbox, code, code=None)
    assert (missing.status, missing.json()) == (
        400,
        {"error": "invalid_request", "error_description": 'A required parameter "code" is missing'},
    )
    no_grant = exchange(sandbox, code, grant_type=None)
    assert no_grant.json()["error_description"] == 'A required parameter "grant_type" is missing'

    bad_secret = exchange(sandbox, code, client_secret="wrong")
    assert (bad_secret.status, bad_secret.json()) == (
        401,
        {"error": "invalid_client", "error_description": "Client authentication failed"},
    )

    other_redirect = exchange(sandbox, code, redirect_uri="http://127.0.0.1:9999/other")
    assert other_redirect.status == 400
    assert other_redirect.json()["error"] == "invalid_redirect_uri"

    assert exchange(sandbox, code).status == 200
    reused = exchange(sandbox, code)
    assert (reused.status, reused.json()) == (
        400,
        {"error": "invalid_redirect_uri", "error_description": INVALID_CODE_MESSAGE},
    )

    assert exchange(sandbox, "made-up").json()["error"] == "invalid_redirect_uri"
    unsupported = exchange(sandbox, code, grant_type="client_credentials")
    assert unsupported.json()["error"] == "unsupported_grant_type"


def test_expired_code(sandbox: Sandbox) -> None:
    code = get_code(sandbox, ("openid", "profile"))
    sandbox.clock.advance(timedelta(minutes=30))
    reply = exchange(sandbox, code)
    assert reply.status == 400
    assert reply.json()["error_description"] == INVALID_CODE_MESSAGE


def test_basic_auth_alone_is_not_enough(sandbox: Sandbox) -> None:
    code = get_code(sandbox, ("openid", "profile"))
    basic = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT}
    reply = sandbox.request(
        "POST", "/oauth/v2/accessToken", form=form, headers={"Authorization": f"Basic {basic}"}
    )
    assert (reply.status, reply.json()) == (
        400,
        {
            "error": "invalid_request",
            "error_description": 'A required parameter "client_id" is missing',
        },
    )


def test_token_type_only_behind_its_switch(sandbox: Sandbox) -> None:
    assert "token_type" not in oauth_token(sandbox, ("w_member_social",))
    sandbox.control("switches", {"include_token_type": True})
    assert oauth_token(sandbox, ("w_member_social",))["token_type"] == "Bearer"


def test_id_token_verifies_against_the_jwks(sandbox: Sandbox) -> None:
    discovery = sandbox.request("GET", "/oauth/.well-known/openid-configuration").json()
    assert discovery["issuer"] == f"{sandbox.base}/oauth"
    assert discovery["token_endpoint"] == f"{sandbox.base}/oauth/v2/accessToken"
    assert discovery["authorization_endpoint"] == f"{sandbox.base}/oauth/v2/authorization"
    assert discovery["userinfo_endpoint"] == f"{sandbox.base}/v2/userinfo"
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    keys = sandbox.request("GET", urlsplit(discovery["jwks_uri"]).path).json()

    token = oauth_token(sandbox, ("openid", "profile", "email"), nonce="n0nce")
    decoded = jwt.decode(token["id_token"], KeySet.import_key_set(keys), algorithms=["RS256"])
    claims = decoded.claims
    assert decoded.header["kid"] == keys["keys"][0]["kid"]
    assert claims["iss"] == f"{sandbox.base}/oauth"
    assert claims["aud"] == CLIENT_ID
    assert claims["sub"] == SUB
    assert claims["nonce"] == "n0nce"
    assert claims["email"] == "sam.sandbox@example.com"
    assert claims["name"] == "Sam Sandbox"
    assert claims["exp"] > claims["iat"] == int(START.timestamp())
    assert "id_token" not in oauth_token(sandbox, ("w_member_social",))


def test_refresh_flow_for_partners(sandbox: Sandbox) -> None:
    refresh_form = {
        "grant_type": "refresh_token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
    }
    plain = oauth_token(sandbox, ("w_member_social",))
    assert "refresh_token" not in plain

    sandbox.control("switches", {"partner": True})
    first = oauth_token(sandbox, ("w_member_social", "r_member_social"))
    assert first["refresh_token_expires_in"] == 365 * 86400

    sandbox.clock.advance(timedelta(days=10))
    reply = sandbox.request(
        "POST",
        "/oauth/v2/accessToken",
        form={**refresh_form, "refresh_token": first["refresh_token"]},
    )
    assert reply.status == 200
    second = reply.json()
    assert second["access_token"] != first["access_token"]
    assert second["refresh_token"] == first["refresh_token"]
    assert second["expires_in"] == 5184000
    assert second["refresh_token_expires_in"] == 355 * 86400
    assert sandbox.state.token_calls["refresh_token"] == 1
    assert sandbox.state.token_calls["authorization_code"] == 2

    sandbox.clock.advance(timedelta(days=356))
    expired = sandbox.request(
        "POST",
        "/oauth/v2/accessToken",
        form={**refresh_form, "refresh_token": first["refresh_token"]},
    )
    assert (expired.status, expired.json()) == (
        400,
        {"error": "invalid_request", "error_description": INVALID_GRANT_MESSAGE},
    )

    sandbox.control("switches", {"partner": False})
    refused = sandbox.request(
        "POST",
        "/oauth/v2/accessToken",
        form={**refresh_form, "refresh_token": first["refresh_token"]},
    )
    assert refused.status == 400


def test_a_new_scope_set_revokes_older_tokens(sandbox: Sandbox) -> None:
    old = oauth_token(sandbox, ("openid", "profile"))["access_token"]
    same = oauth_token(sandbox, ("openid", "profile"))["access_token"]
    assert userinfo(sandbox, old).status == 200
    new = oauth_token(sandbox, ("openid", "profile", "w_member_social"))["access_token"]
    for stale in (old, same):
        reply = userinfo(sandbox, stale)
        assert reply.status == 401
        assert reply.json()["code"] == "REVOKED_ACCESS_TOKEN"
    assert userinfo(sandbox, new).status == 200


def test_introspection_and_revocation() -> None:
    other = SandboxClient("other", "other-secret", allow_loopback_redirects=True)
    clients = {
        CLIENT_ID: SandboxClient(CLIENT_ID, CLIENT_SECRET, allow_loopback_redirects=True),
        "other": other,
    }
    with running_sandbox(clients=clients, clock=FixedClock(START).now) as (base, app):
        sb = Sandbox(base, app, FixedClock(START))
        token = oauth_token(sb, ("w_member_social", "openid", "profile"))["access_token"]
        form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": token}
        info = sb.request("POST", "/oauth/v2/introspectToken", form=form).json()
        now = int(START.timestamp())
        assert info == {
            "active": True,
            "client_id": CLIENT_ID,
            "authorized_at": now,
            "created_at": now,
            "status": "active",
            "expires_at": now + 5184000,
            "scope": "openid,profile,w_member_social",
            "auth_type": "3L",
        }
        foreign = {"client_id": "other", "client_secret": "other-secret", "token": token}
        assert sb.request("POST", "/oauth/v2/introspectToken", form=foreign).json() == {
            "active": False
        }
        assert (
            sb.request(
                "POST", "/oauth/v2/introspectToken", form={**form, "client_id": "nobody"}
            ).status
            == 400
        )
        assert (
            sb.request("POST", "/oauth/v2/introspectToken", form={**form, "token": "nope"}).status
            == 400
        )
        assert (
            sb.request(
                "POST", "/oauth/v2/introspectToken", form={**form, "client_secret": "bad"}
            ).status
            == 401
        )

        revoked = sb.request("POST", "/oauth/v2/revoke", form=form)
        assert (revoked.status, revoked.body) == (200, b"")
        after = sb.request("POST", "/oauth/v2/introspectToken", form=form).json()
        assert (after["active"], after["status"]) == (False, "revoked")
        assert userinfo(sb, token).json()["serviceErrorCode"] == 65601


def test_userinfo_scopes_and_token_errors(sandbox: Sandbox) -> None:
    no_profile = userinfo(sandbox, sandbox.mint("openid", "w_member_social"))
    assert (no_profile.status, no_profile.json()) == (
        403,
        {
            "status": 403,
            "serviceErrorCode": 100,
            "code": "ACCESS_DENIED",
            "message": "Not enough permissions to access: userinfo.GET.NO_VERSION",
        },
    )
    without_email = userinfo(sandbox, sandbox.mint("openid", "profile")).json()
    assert "email" not in without_email and without_email["name"] == "Sam Sandbox"
    empty = sandbox.request("GET", "/v2/userinfo")
    assert (empty.status, empty.json()) == (
        401,
        {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401},
    )
    assert userinfo(sandbox, "AQnothing").json()["serviceErrorCode"] == 65600


def test_fresh_tokens_can_answer_revoked_for_a_while(sandbox: Sandbox) -> None:
    assert sandbox.control("tokens/delay", {"seconds": 30}).status == 200
    token = oauth_token(sandbox, ("openid", "profile"))["access_token"]
    assert userinfo(sandbox, token).json()["code"] == "REVOKED_ACCESS_TOKEN"
    sandbox.control("clock", {"advance_seconds": 31})
    assert userinfo(sandbox, token).status == 200


def test_tokens_expire_after_sixty_days(sandbox: Sandbox) -> None:
    token = sandbox.mint("openid", "profile")
    sandbox.clock.advance(timedelta(days=60))
    reply = userinfo(sandbox, token)
    assert (reply.status, reply.json()) == (
        401,
        {
            "status": 401,
            "serviceErrorCode": 65602,
            "code": "EXPIRED_ACCESS_TOKEN",
            "message": "The token used in the request has expired",
        },
    )


# G: creating posts


def test_post_created(sandbox: Sandbox) -> None:
    reply = sandbox.post(sandbox.mint(*POSTING), post_body())
    assert reply.status == 201
    assert reply.body == b""
    assert re.fullmatch(r"urn:li:share:\d+", reply.headers["x-restli-id"])
    stored = sandbox.control("posts", method="GET").json()["elements"]
    assert [p["id"] for p in stored] == [reply.headers["x-restli-id"]]


def _token_of_kind(sb: Sandbox, kind: str) -> str | None:
    if kind == "missing":
        return None
    if kind == "invalid":
        return "AQ" + "x" * 400
    token = sb.mint(*POSTING)
    if kind == "revoked":
        sb.control("tokens/revoke", {"token": token})
    elif kind == "expired":
        sb.control("tokens/expire", {"token": token})
    return token


@pytest.mark.parametrize(
    ("token", "version", "protocol", "author", "status", "expect"),
    [
        ("missing", "202504", None, None, 401, "Empty oauth2_access_token"),
        ("invalid", "202504", None, None, 401, "INVALID_ACCESS_TOKEN"),
        ("revoked", None, None, "urn:li:person:sandbox-member-2", 401, "REVOKED_ACCESS_TOKEN"),
        ("expired", "202504", "1.0.0", None, 401, "EXPIRED_ACCESS_TOKEN"),
        ("good", None, None, None, 400, "VERSION_MISSING"),
        ("good", "202504", None, None, 426, "Requested version 20250401 is not active"),
        ("good", VERSION, None, "urn:li:person:sandbox-member-2", 400, "INVALID_PROTOCOL_VERSION"),
        (
            "good",
            VERSION,
            "2.0.0",
            "urn:li:person:sandbox-member-2",
            403,
            f"partnerApiPostsExternal.CREATE.{LABEL}",
        ),
        ("good", VERSION, "2.0.0", None, 422, "/author"),
        ("good", VERSION, "2.0.0", ME, 400, "3001 characters"),
    ],
)
def test_post_checks_run_in_order(
    sandbox: Sandbox,
    token: str,
    version: str | None,
    protocol: str | None,
    author: str | None,
    status: int,
    expect: str,
) -> None:
    body = post_body("x" * 3001)
    if author is None:
        del body["author"]
    else:
        body["author"] = author
    reply = sandbox.post(_token_of_kind(sandbox, token), body, version=version, protocol=protocol)
    assert reply.status == status
    assert expect in reply.text
    assert sandbox.state.posts == {}


def test_token_error_bodies(sandbox: Sandbox) -> None:
    expected = {
        "missing": {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401},
        "invalid": {
            "status": 401,
            "serviceErrorCode": 65600,
            "code": "INVALID_ACCESS_TOKEN",
            "message": "Invalid access token",
        },
        "revoked": {
            "status": 401,
            "serviceErrorCode": 65601,
            "code": "REVOKED_ACCESS_TOKEN",
            "message": "The token used in the request has been revoked by the user",
        },
        "expired": {
            "status": 401,
            "serviceErrorCode": 65602,
            "code": "EXPIRED_ACCESS_TOKEN",
            "message": "The token used in the request has expired",
        },
    }
    for kind, body in expected.items():
        reply = sandbox.post(_token_of_kind(sandbox, kind), post_body())
        assert (reply.status, reply.json()) == (401, body)


def test_version_errors(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING)
    sunset = sandbox.post(token, post_body(), version="202504")
    assert (sunset.status, sunset.json()) == (
        426,
        {
            "status": 426,
            "code": "NONEXISTENT_VERSION",
            "message": "Requested version 20250401 is not active",
        },
    )
    assert sandbox.post(token, post_body(), version="202511.01").status == 426
    assert sandbox.post(token, post_body(), version="2026-11").status == 400
    assert sandbox.post(token, post_body(), version="202512.01").status == 201

    sandbox.control("versions", {"active": ["202504"]})
    assert sandbox.post(token, post_body("other"), version="202504").status == 201
    assert sandbox.post(token, post_body("third")).status == 426
    sandbox.control("versions", {"active": None})
    sandbox.clock.advance(timedelta(days=31))
    assert sandbox.post(token, post_body("fourth"), version="202512").status == 426


@pytest.mark.parametrize("scopes", [(), ("openid", "profile"), ("w_organization_social",)])
def test_posting_as_yourself_needs_w_member_social(
    sandbox: Sandbox, scopes: tuple[str, ...]
) -> None:
    reply = sandbox.post(sandbox.mint(*scopes), post_body())
    assert (reply.status, reply.json()) == (
        403,
        {
            "status": 403,
            "serviceErrorCode": 100,
            "code": "ACCESS_DENIED",
            "message": f"Not enough permissions to access: partnerApiPostsExternal.CREATE.{LABEL}",
        },
    )


@pytest.mark.parametrize(
    ("organization", "scopes", "status"),
    [
        (1001, ("w_organization_social",), 201),
        (1002, ("w_organization_social",), 201),
        (1003, ("w_organization_social",), 403),
        (1004, ("w_organization_social",), 403),
        (9999, ("w_organization_social",), 403),
        (1001, ("w_member_social",), 403),
    ],
)
def test_posting_for_a_page_needs_a_role(
    sandbox: Sandbox, organization: int, scopes: tuple[str, ...], status: int
) -> None:
    author = f"urn:li:organization:{organization}"
    assert sandbox.post(sandbox.mint(*scopes), post_body(author=author)).status == status


def test_duplicates_name_the_first_post(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING, "r_member_social")
    first = sandbox.post(token, post_body(content=article())).headers["x-restli-id"]
    duplicate = sandbox.post(token, post_body(content=article()))
    assert duplicate.status == 422
    body = duplicate.json()
    assert body["status"] == 422 and body["code"] == "DUPLICATE_POST"
    assert f"Content is a duplicate of {first}" in body["message"]
    error = body["errorDetails"]["inputErrors"][0]
    assert error["code"] == "DUPLICATE_POST"
    assert error["description"] == f"Content is a duplicate of {first}"
    assert error["input"] == {"inputPath": {"fieldPath": "/commentary"}}

    assert sandbox.post(token, post_body(content=article("https://mag.example/b"))).status == 201
    assert sandbox.post(token, post_body("A new article!")).status == 201

    assert sandbox.rest("DELETE", f"/rest/posts/{quote(first, safe='')}", token).status == 204
    ghost = sandbox.post(token, post_body(content=article()))
    assert ghost.status == 422 and first in ghost.json()["message"]
    sandbox.control("switches", {"duplicates_include_deleted": False})
    assert sandbox.post(token, post_body(content=article())).status == 201


def test_commentary_limit(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING)
    reply = sandbox.post(token, post_body("é" * 3001))
    assert reply.status == 400
    body = reply.json()
    assert body["status"] == 400
    assert (
        "ShareCommentary text length (3001 characters) exceeded the maximum allowed "
        "(3000 characters)"
    ) in body["message"]
    assert body["errorDetails"]["inputErrors"][0]["code"] == "FIELD_ARRAY_SIZE_TOO_HIGH"
    assert sandbox.post(token, post_body("é" * 3000)).status == 201


@pytest.mark.parametrize(
    ("change", "status", "expect"),
    [
        ({"lifecycleState": "DRAFT"}, 400, "PUBLISHED"),
        ({"lifecycleState": "LIVE"}, 422, "/lifecycleState"),
        ({"visibility": "FRIENDS"}, 422, "/visibility"),
        ({"distribution": {}}, 422, "/distribution/feedDistribution"),
        ({"commentary": 5}, 422, "/commentary"),
        ({"specificContent": {}}, 422, "/specificContent"),
        ({"author": "urn:li:company:5"}, 422, "/author"),
        (
            {"content": {"article": {"source": "https://mag.example/a"}}},
            422,
            "/content/article/title",
        ),
        ({"content": {"article": {"source": "mag.example", "title": "t"}}}, 422, "/source"),
        ({"content": {"poll": {}}}, 400, "article and media"),
        (
            {"content": {"article": {"source": "https://m.example", "title": "t"}, "media": {}}},
            422,
            "/content",
        ),
        (
            {
                "content": {
                    "article": {
                        "source": "https://m.example",
                        "title": "t",
                        "thumbnail": "urn:li:image:NOPE",
                    }
                }
            },
            400,
            "urn:li:image:NOPE",
        ),
    ],
)
def test_post_body_validation(
    sandbox: Sandbox, change: dict[str, Any], status: int, expect: str
) -> None:
    reply = sandbox.post(sandbox.mint(*POSTING), {**post_body(), **change})
    assert reply.status == status
    assert expect in reply.json()["message"]


def test_missing_required_fields(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING)
    for name in ("commentary", "visibility", "distribution", "lifecycleState"):
        body = post_body()
        del body[name]
        reply = sandbox.post(token, body)
        assert reply.status == 422
        assert reply.json()["message"].startswith(f"ERROR :: /{name} :: field is required")
    assert sandbox.rest("POST", "/rest/posts", token, raw=b"not json").status == 400
    assert sandbox.rest("POST", "/rest/posts", token, json_body=["a list"]).status == 400


def test_commentary_is_stored_as_rendered(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING, "r_member_social")
    sent = r"Our new piece \(with charts\) is out (finally) #data"
    urn = sandbox.post(token, post_body(sent)).headers["x-restli-id"]
    stored = sandbox.control("posts", method="GET").json()["elements"][0]
    assert stored["renderedCommentary"] == "Our new piece (with charts) is out "
    assert stored["sentCommentary"] == sent
    assert stored["cutAt"] == sent.index(" (finally") + 1
    fetched = sandbox.rest("GET", f"/rest/posts/{quote(urn, safe='')}", token).json()
    assert fetched["commentary"] == r"Our new piece \(with charts\) is out "


# H, I: reading and deleting


def test_get_and_delete_posts(sandbox: Sandbox) -> None:
    writer = sandbox.mint(*POSTING)
    reader = sandbox.mint(*POSTING, "r_member_social")
    urn = sandbox.post(writer, post_body(content=article())).headers["x-restli-id"]
    path = f"/rest/posts/{quote(urn, safe='')}"

    denied = sandbox.rest("GET", path, writer)
    assert denied.status == 403
    assert denied.json()["message"] == (
        f"Not enough permissions to access: partnerApiPostsExternal.GET.{LABEL}"
    )
    post = sandbox.rest("GET", path, reader)
    assert post.status == 200
    assert post.json()["id"] == urn and post.json()["author"] == ME
    assert post.json()["content"] == article()
    assert sandbox.rest("GET", f"/rest/posts/{urn}", reader).status == 200
    assert sandbox.rest("GET", "/rest/posts/urn%3Ali%3Ashare%3A1", reader).status == 404

    robin = sandbox.mint(*POSTING, sub="sandbox-member-2")
    assert sandbox.rest("DELETE", path, robin).status == 403
    for _ in range(2):
        deleted = sandbox.rest("DELETE", path, writer)
        assert (deleted.status, deleted.body) == (204, b"")
    assert sandbox.rest("GET", path, reader).status == 404
    assert sandbox.rest("DELETE", "/rest/posts/urn%3Ali%3Ashare%3A1", writer).status == 404


# F: pages


def test_organization_acls_and_names(sandbox: Sandbox) -> None:
    token = sandbox.mint("r_organization_admin", "w_organization_social")
    reply = sandbox.rest("GET", "/rest/organizationAcls?q=roleAssignee&state=APPROVED", token)
    assert reply.status == 200
    assert reply.json()["elements"] == [
        {
            "organization": "urn:li:organization:1001",
            "role": "ADMINISTRATOR",
            "roleAssignee": ME,
            "state": "APPROVED",
        },
        {
            "organization": "urn:li:organization:1002",
            "role": "CONTENT_ADMINISTRATOR",
            "roleAssignee": ME,
            "state": "APPROVED",
        },
        {
            "organization": "urn:li:organization:1003",
            "role": "ANALYST",
            "roleAssignee": ME,
            "state": "APPROVED",
        },
    ]
    assert reply.json()["paging"]["total"] == 3
    admins = sandbox.rest(
        "GET", "/rest/organizationAcls?q=roleAssignee&role=ADMINISTRATOR", token
    ).json()["elements"]
    assert [e["organization"] for e in admins] == ["urn:li:organization:1001"]
    paged = sandbox.rest("GET", "/rest/organizationAcls?q=roleAssignee&start=2&count=5", token)
    assert len(paged.json()["elements"]) == 1

    denied = sandbox.rest(
        "GET", "/rest/organizationAcls?q=roleAssignee", sandbox.mint("w_organization_social")
    )
    assert denied.status == 403
    assert denied.json()["message"].endswith(f"organizationAcls.FINDER-roleAssignee.{LABEL}")

    org = sandbox.rest("GET", "/rest/organizations/1001", token).json()
    assert (org["id"], org["localizedName"], org["vanityName"]) == (
        1001,
        "Sandbox Magazine",
        "sandbox-magazine",
    )
    assert sandbox.rest("GET", "/rest/organizations/42", token).status == 404


# J: images


def _init_upload(sb: Sandbox, token: str, owner: str = ME) -> Reply:
    return sb.rest(
        "POST",
        "/rest/images?action=initializeUpload",
        token,
        json_body={"initializeUploadRequest": {"owner": owner}},
    )


def _put(sb: Sandbox, upload_url: str, token: str | None, data: bytes) -> Reply:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return sb.request("PUT", urlsplit(upload_url).path, headers=headers, body=data)


def test_image_upload_and_posts_with_images(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING)
    reply = _init_upload(sandbox, token)
    assert reply.status == 200
    value = reply.json()["value"]
    assert value["uploadUrl"].startswith(f"{sandbox.base}/sandbox-upload/")
    assert re.fullmatch(r"urn:li:image:[A-Z0-9]+", value["image"])
    assert value["uploadUrlExpiresAt"] == int((START + timedelta(hours=1)).timestamp() * 1000)
    status_path = f"/rest/images/{quote(value['image'], safe='')}"
    assert sandbox.rest("GET", status_path, token).json()["status"] == "WAITING_UPLOAD"

    thumb = post_body(content=article(thumbnail=value["image"]))
    assert sandbox.post(token, thumb).status == 400
    assert _put(sandbox, value["uploadUrl"], None, PNG).status == 401
    assert _put(sandbox, value["uploadUrl"], token, b"<svg/>").status == 400
    robin = sandbox.mint(*POSTING, sub="sandbox-member-2")
    assert _put(sandbox, value["uploadUrl"], robin, PNG).status == 403
    uploaded = _put(sandbox, value["uploadUrl"], token, PNG)
    assert (uploaded.status, uploaded.body) == (201, b"")
    status = sandbox.rest("GET", status_path, token).json()
    assert status["status"] == "AVAILABLE"
    assert sandbox.request("GET", urlsplit(status["downloadUrl"]).path).body == PNG

    assert sandbox.post(token, thumb).status == 201
    media = post_body(
        "with a picture", content={"media": {"id": value["image"], "altText": "A chart"}}
    )
    assert sandbox.post(token, media).status == 201
    as_page = post_body(
        author="urn:li:organization:1001", content=article(thumbnail=value["image"])
    )
    page_token = sandbox.mint("w_organization_social")
    assert "owned by" in sandbox.post(page_token, as_page).json()["message"]


@pytest.mark.parametrize("data", [b"\xff\xd8\xff\xe0rest", b"GIF89a....", b"GIF87a...."])
def test_jpeg_and_gif_are_accepted(sandbox: Sandbox, data: bytes) -> None:
    token = sandbox.mint(*POSTING)
    url = _init_upload(sandbox, token).json()["value"]["uploadUrl"]
    assert _put(sandbox, url, token, data).status == 201


def test_upload_url_expires(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING)
    url = _init_upload(sandbox, token).json()["value"]["uploadUrl"]
    sandbox.clock.advance(timedelta(hours=1))
    reply = _put(sandbox, url, token, PNG)
    assert reply.status == 403
    assert "expired" in reply.json()["message"]


def test_image_owner_checks(sandbox: Sandbox) -> None:
    page_token = sandbox.mint("w_organization_social")
    assert _init_upload(sandbox, page_token, "urn:li:organization:1001").status == 200
    denied = _init_upload(sandbox, page_token, "urn:li:organization:1003")
    assert denied.status == 403
    assert "images.ACTION-initializeUpload" in denied.json()["message"]
    assert _init_upload(sandbox, page_token, ME).status == 403
    assert _init_upload(sandbox, page_token, "someone").status == 422
    assert sandbox.rest("GET", "/rest/images/urn%3Ali%3Aimage%3AX", page_token).status == 404


# K: faults and controls


@pytest.mark.parametrize(
    ("kind", "status", "body"),
    [
        (
            "401",
            401,
            {
                "status": 401,
                "serviceErrorCode": 65600,
                "code": "INVALID_ACCESS_TOKEN",
                "message": "Invalid access token",
            },
        ),
        (
            "401-revoked",
            401,
            {
                "status": 401,
                "serviceErrorCode": 65601,
                "code": "REVOKED_ACCESS_TOKEN",
                "message": "The token used in the request has been revoked by the user",
            },
        ),
        (
            "401-expired",
            401,
            {
                "status": 401,
                "serviceErrorCode": 65602,
                "code": "EXPIRED_ACCESS_TOKEN",
                "message": "The token used in the request has expired",
            },
        ),
        (
            "403",
            403,
            {
                "status": 403,
                "serviceErrorCode": 100,
                "code": "ACCESS_DENIED",
                "message": "Not enough permissions to access: "
                f"partnerApiPostsExternal.CREATE.{LABEL}",
            },
        ),
        (
            "426",
            426,
            {
                "status": 426,
                "code": "NONEXISTENT_VERSION",
                "message": f"Requested version {LABEL} is not active",
            },
        ),
        (
            "429",
            429,
            {
                "status": 429,
                "serviceErrorCode": 101,
                "message": "Resource level throttle limit for calls to this resource is reached.",
            },
        ),
        ("500", 500, {"status": 500, "message": "Internal Server Error"}),
        ("504", 504, {"status": 504, "message": "Gateway Timeout"}),
    ],
)
def test_injected_faults(sandbox: Sandbox, kind: str, status: int, body: dict[str, Any]) -> None:
    token = sandbox.mint(*POSTING)
    added = sandbox.control(
        "faults", {"path": "/rest/posts", "method": "POST", "kind": kind, "count": 2}
    )
    assert added.status == 201
    for _ in range(2):
        reply = sandbox.post(token, post_body())
        assert (reply.status, reply.json()) == (status, body)
        assert "retry-after" not in reply.headers
        assert not any(h.startswith("x-ratelimit") for h in reply.headers)
    assert sandbox.state.posts == {}
    assert sandbox.post(token, post_body()).status == 201


def test_faults_match_path_and_method_and_queue_up(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING, "r_member_social")
    sandbox.state.inject("/rest/posts/*", "500", method="GET")
    sandbox.state.inject("/rest/posts", "429")
    sandbox.state.inject("/rest/posts", "504")
    assert sandbox.control("faults", method="GET").json()[0]["kind"] == "500"
    assert sandbox.post(token, post_body()).status == 429
    assert sandbox.post(token, post_body()).status == 504
    urn = sandbox.post(token, post_body()).headers["x-restli-id"]
    assert sandbox.rest("GET", f"/rest/posts/{quote(urn, safe='')}", token).status == 500
    assert sandbox.rest("GET", f"/rest/posts/{quote(urn, safe='')}", token).status == 200
    sandbox.state.inject("/oauth/*", "500")
    assert sandbox.control("faults", method="DELETE").status == 204
    assert sandbox.control("state", method="GET").json()["faults"] == []


def test_delay_slows_the_answer(sandbox: Sandbox) -> None:
    sandbox.control("faults", {"path": "/rest/posts", "kind": "delay", "seconds": 0.3})
    started = time.monotonic()
    assert sandbox.post(sandbox.mint(*POSTING), post_body()).status == 201
    assert time.monotonic() - started >= 0.3


def test_timeout_after_store_keeps_the_post(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING)
    sandbox.control("faults", {"path": "/rest/posts", "kind": "timeout-after-store", "seconds": 5})
    with pytest.raises(TimeoutError):
        sandbox.post(token, post_body(), timeout=0.3)
    stored = sandbox.control("posts", method="GET").json()["elements"]
    assert len(stored) == 1
    again = sandbox.post(token, post_body())
    assert again.status == 422
    assert stored[0]["id"] in again.json()["message"]


def test_control_input_errors(sandbox: Sandbox) -> None:
    assert sandbox.control("faults", {"path": "/rest/posts", "kind": "418"}).status == 400
    assert sandbox.control("faults", {"path": "/rest/posts", "kind": "delay"}).status == 400
    assert sandbox.control("switches", {"nope": True}).status == 400
    assert sandbox.control("switches", {"cancel_authorize": "maybe"}).status == 400
    assert sandbox.control("versions", {"active": ["2026-11"]}).status == 400
    assert sandbox.control("clock", {"advance_seconds": "soon"}).status == 400
    assert sandbox.control("sign-in", {"sub": "nobody"}).status == 400
    assert sandbox.control("tokens/mint", {"scopes": "w_member_social"}).status == 400


def test_controls_mint_sign_in_and_reset(sandbox: Sandbox) -> None:
    minted = sandbox.control(
        "tokens/mint", {"scopes": ["openid", "profile"], "sub": "sandbox-member-2"}
    )
    assert minted.status == 201
    assert userinfo(sandbox, minted.json()["access_token"]).json()["name"] == "Robin Reader"

    sandbox.control("sign-in", {"sub": "sandbox-member-2"})
    sandbox.control("switches", {"auto_consent": True})
    token = oauth_token(sandbox, ("openid", "profile"))["access_token"]
    assert userinfo(sandbox, token).json()["sub"] == "sandbox-member-2"

    sandbox.post(sandbox.mint(*POSTING), post_body())
    state = sandbox.control("reset").json()
    assert state["posts"] == 0 and state["switches"]["auto_consent"] is False
    assert state["signed_in"] == SUB
    assert userinfo(sandbox, token).status == 401


def test_clock_offset_control(sandbox: Sandbox) -> None:
    state = sandbox.control("clock", {"offset_seconds": 3600}).json()
    assert state["now"] == (START + timedelta(hours=1)).isoformat()
    assert sandbox.control("clock", {"advance_seconds": 60}).json()["clock_offset_seconds"] == 3660


# the page


def test_page_shows_posts_as_readers_see_them(sandbox: Sandbox) -> None:
    token = sandbox.mint(*POSTING)
    url = _init_upload(sandbox, token).json()["value"]["uploadUrl"]
    _put(sandbox, url, token, PNG)
    image = url.rsplit("/", 1)[1]
    sandbox.post(token, post_body("First <b>post</b> (cut here)"))
    sandbox.clock.advance(timedelta(minutes=5))
    sandbox.post(
        token,
        post_body(
            "Second post", content=article(thumbnail=f"urn:li:image:{image}", title="Card title")
        ),
    )
    page_token = sandbox.mint("w_organization_social")
    sandbox.clock.advance(timedelta(minutes=5))
    sandbox.post(page_token, post_body("From the page", author="urn:li:organization:1001"))

    page = sandbox.request("GET", "/sandbox/")
    assert page.status == 200
    html = page.text
    assert BANNER in html
    assert "<script" not in html and "style=" not in html and "<style" not in html
    assert "script-src" not in page.headers["content-security-policy"]
    assert html.index("From the page") < html.index("Second post") < html.index("First ")
    assert "Sandbox Magazine" in html and "Sam Sandbox" in html
    assert "Card title" in html and f"/sandbox/images/{image}" in html
    assert "First &lt;b&gt;post&lt;/b&gt; (cut here)" in html
    assert "LinkedIn stopped the text" in html
    assert sandbox.request("GET", "/").headers["location"].endswith("/sandbox/")


def test_running_sandbox_closes_its_port() -> None:
    with running_sandbox() as (base, _app):
        port = urlsplit(base).port
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        with pytest.raises(ConnectionRefusedError):
            conn.request("GET", "/sandbox/")
    finally:
        conn.close()


# little text


def test_plain_text_is_unchanged() -> None:
    assert render_little_text("Hello, world. It's 5 o'clock; 50% off!") == (
        "Hello, world. It's 5 o'clock; 50% off!"
    )


def test_escapes_are_unescaped() -> None:
    assert render_little_text(r"Hello \(world\) \#1 \@home a\_b\*c\~d \\ \| \{\} \[\] \<\>") == (
        r"Hello (world) #1 @home a_b*c~d \ | {} [] <>"
    )


@pytest.mark.parametrize("char", sorted(RESERVED - {"#"}))
def test_cut_at_the_first_unescaped_reserved_character(char: str) -> None:
    parsed = parse_little_text(f"Before {char} after")
    assert parsed.rendered == "Before "
    assert (parsed.cut_at, parsed.cut_char, parsed.kept) == (7, char, "Before ")


def test_cut_keeps_what_came_before() -> None:
    assert render_little_text(r"Read \(this\) now (really) please") == "Read (this) now "
    assert render_little_text("ends with a backslash\\") == "ends with a backslash"
    assert render_little_text("a lone # hash") == "a lone "
    assert parse_little_text("no cut").cut_at is None


def test_mentions_render_as_names() -> None:
    text = (
        "Thanks @[Sam Sandbox](urn:li:person:sandbox-member-1) and "
        "@[Sandbox Magazine](urn:li:organization:1001)!"
    )
    parsed = parse_little_text(text)
    assert parsed.rendered == "Thanks Sam Sandbox and Sandbox Magazine!"
    assert [m.urn for m in parsed.mentions] == [
        "urn:li:person:sandbox-member-1",
        "urn:li:organization:1001",
    ]
    assert render_little_text("Hi @[Sam](https://x.example) there") == "Hi "
    assert render_little_text("mail me @ home") == "mail me "


def test_hashtags_are_kept() -> None:
    assert render_little_text("New post #python #machine_learning #2026") == (
        "New post #python #machine_learning #2026"
    )
    assert render_little_text(r"Template {hashtag|\#|flask} works") == "Template #flask works"


def test_urls_are_taken_literally() -> None:
    text = "See https://mag.example/a_b?utm_source=x_y&q=(1) (more)"
    assert render_little_text(text) == "See https://mag.example/a_b?utm_source=x_y&q=(1) "
    assert render_little_text(r"https://mag.example/a\_b") == r"https://mag.example/a\_b"


def _escape_all(text: str) -> str:
    return "".join("\\" + c if c in RESERVED else c for c in text)


_URL = re.compile(r"https?://\S+")


def _escape_outside_urls(text: str) -> str:
    out, last = [], 0
    for match in _URL.finditer(text):
        out += [_escape_all(text[last : match.start()]), match.group()]
        last = match.end()
    return "".join([*out, _escape_all(text[last:])])


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaping_every_reserved_character_round_trips(text: str) -> None:
    assume(not _URL.search(text))
    parsed = parse_little_text(_escape_all(text))
    assert parsed.rendered == text
    assert parsed.cut_at is None


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.text().filter(lambda t: "://" not in t),
            st.from_regex(r"https?://[a-z]{1,8}\.example/[a-z_()#@~]{0,10}", fullmatch=True),
        )
    )
)
def test_escaping_outside_urls_round_trips(parts: list[str]) -> None:
    text = " ".join(parts)
    assume(all(not _URL.search(p) or _URL.fullmatch(p) for p in parts))
    assert render_little_text(_escape_outside_urls(text)) == text


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_rendering_never_grows_and_keeps_a_prefix(text: str) -> None:
    parsed = parse_little_text(text)
    assert text.startswith(parsed.kept)
    assert len(parsed.rendered) <= len(text)
