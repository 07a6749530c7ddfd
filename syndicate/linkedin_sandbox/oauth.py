"""The sandbox's OAuth 2.0 and OpenID Connect side (reference/linkedin.md §1, contract A–E)."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from syndicate.linkedin_sandbox import errors
from syndicate.linkedin_sandbox.jwt import sign_jwt
from syndicate.linkedin_sandbox.state import (
    ACCESS_TOKEN_LIFETIME,
    CODE_LIFETIME,
    CONSENT_LIFETIME,
    ID_TOKEN_LIFETIME,
    REFRESH_TOKEN_LIFETIME,
    AccessToken,
    AuthorizationCode,
    AuthorizationRequest,
    Consent,
    Member,
    RefreshToken,
    SandboxClient,
    SandboxState,
    new_secret,
)

CANCEL_DESCRIPTIONS = {
    "user_cancelled_authorize": "The user cancelled the authorization",
    "user_cancelled_login": "The user cancelled LinkedIn login",
}


class AuthorizeError(Exception):
    """An authorize request the sandbox refuses with its 401 page."""


def _ts(moment: datetime) -> int:
    """Seconds since the epoch."""
    return int(moment.timestamp())


def with_query(uri: str, params: Mapping[str, str | None]) -> str:
    """`uri` with `params` added to whatever query it already has (None values left out)."""
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), ""))


# authorize (A)


def validate_authorization(state: SandboxState, params: Mapping[str, str]) -> AuthorizationRequest:
    """Check response_type, the app, the exact redirect URI and the scopes."""
    if params.get("response_type") != "code":
        raise AuthorizeError('response_type must be "code".')
    client = state.clients.get(params.get("client_id", ""))
    if client is None:
        raise AuthorizeError("The client_id is not a registered app.")
    redirect_uri = params.get("redirect_uri", "")
    if not redirect_uri or not client.accepts_redirect(redirect_uri):
        raise AuthorizeError("The redirect_uri does not match the app's registered redirect URLs.")
    scopes = frozenset(params.get("scope", "").split())
    if not scopes:
        raise AuthorizeError("No scope was requested.")
    if not scopes <= client.scopes:
        extra = ", ".join(sorted(scopes - client.scopes))
        raise AuthorizeError(f"The app is not allowed these scopes: {extra}.")
    return AuthorizationRequest(
        client.client_id,
        redirect_uri,
        scopes,
        params.get("state") or None,
        params.get("nonce") or None,
    )


def cancel_redirect(request: AuthorizationRequest, error: str) -> str:
    """Where a cancelled authorization sends the browser."""
    return with_query(
        request.redirect_uri,
        {
            "error": error,
            "error_description": CANCEL_DESCRIPTIONS[error],
            "state": request.state,
        },
    )


def answer_without_consent(state: SandboxState, request: AuthorizationRequest) -> str | None:
    """The redirect when no page is needed (cancel switch, auto consent, existing grant)."""
    with state.lock:
        if state.switches.cancel_authorize:
            return cancel_redirect(request, state.switches.cancel_authorize)
        granted = state.grants.get((state.signed_in, request.client_id), frozenset())
        if state.switches.auto_consent or request.scopes <= granted:
            return _grant(state, request, state.signed_in)
    return None


def open_consent(state: SandboxState, request: AuthorizationRequest) -> Consent:
    """Remember a consent page so that its answer can only come once."""
    with state.lock:
        _prune(state)
        consent = Consent(new_secret(32), request, state.now() + CONSENT_LIFETIME)
        state.consents[consent.id] = consent
        return consent


def answer_consent(state: SandboxState, consent_id: str, *, allow: bool, sub: str | None) -> str:
    """The redirect after the member pressed Allow or Cancel."""
    with state.lock:
        consent = state.consents.get(consent_id)
        if consent is None or consent.answered or state.now() >= consent.expires_at:
            raise AuthorizeError("This consent page expired or was already answered.")
        consent.answered = True
        if not allow:
            return cancel_redirect(consent.request, "user_cancelled_authorize")
        if sub in state.members:
            state.signed_in = sub
        return _grant(state, consent.request, state.signed_in)


def _grant(state: SandboxState, request: AuthorizationRequest, sub: str) -> str:
    """Record the grant and redirect with a fresh code."""
    _prune(state)
    state.grants[(sub, request.client_id)] = request.scopes
    code = AuthorizationCode(new_secret(150), request, sub, state.now() + CODE_LIFETIME)
    state.codes[code.value] = code
    return with_query(request.redirect_uri, {"code": code.value, "state": request.state})


def _prune(state: SandboxState) -> None:
    """Forget codes and consent pages that can no longer be used."""
    now = state.now()
    state.codes = {k: c for k, c in state.codes.items() if c.expires_at > now}
    state.consents = {k: c for k, c in state.consents.items() if c.expires_at > now}


# token endpoint (B)


def _require(form: Mapping[str, str], names: tuple[str, ...]) -> None:
    """400 for the first missing form parameter."""
    for name in names:
        if not form.get(name):
            raise errors.missing_parameter(name)


def _client(state: SandboxState, form: Mapping[str, str]) -> SandboxClient:
    """The app named in the form, if its secret matches."""
    client = state.clients.get(form["client_id"])
    if client is None or not secrets.compare_digest(
        form["client_secret"].encode(), client.client_secret.encode()
    ):
        raise errors.invalid_client()
    return client


def exchange(state: SandboxState, form: Mapping[str, str]) -> dict[str, Any]:
    """POST /oauth/v2/accessToken: credentials only from the form body, never Basic."""
    grant_type = form.get("grant_type", "")
    with state.lock:
        state.token_calls[grant_type or "(missing)"] += 1
    if not grant_type:
        raise errors.missing_parameter("grant_type")
    if grant_type == "authorization_code":
        return _exchange_code(state, form)
    if grant_type == "refresh_token":
        return _exchange_refresh(state, form)
    raise errors.oauth_error(
        400, "unsupported_grant_type", f"The grant type {grant_type!r} is not supported"
    )


def _exchange_code(state: SandboxState, form: Mapping[str, str]) -> dict[str, Any]:
    """grant_type=authorization_code."""
    _require(form, ("code", "redirect_uri", "client_id", "client_secret"))
    client = _client(state, form)
    with state.lock:
        code = state.codes.get(form["code"])
        if (
            code is None
            or code.used
            or state.now() >= code.expires_at
            or code.request.client_id != client.client_id
            or code.request.redirect_uri != form["redirect_uri"]
        ):
            raise errors.oauth_error(400, "invalid_redirect_uri", errors.INVALID_CODE_MESSAGE)
        code.used = True
        token, refresh = _issue(state, client.client_id, code.sub, code.request.scopes)
        body = _token_body(state, token, refresh)
        if "openid" in token.scopes:
            body["id_token"] = id_token(state, token, state.members[code.sub], code.request.nonce)
        return body


def _exchange_refresh(state: SandboxState, form: Mapping[str, str]) -> dict[str, Any]:
    """grant_type=refresh_token, for partner apps only."""
    _require(form, ("refresh_token", "client_id", "client_secret"))
    client = _client(state, form)
    with state.lock:
        if not state.switches.partner:
            raise errors.oauth_error(
                400,
                "unauthorized_client",
                "Refresh tokens are for partner apps (sandbox switch 'partner' is off)",
            )
        refresh = state.refresh_tokens.get(form["refresh_token"])
        if (
            refresh is None
            or refresh.revoked
            or state.now() >= refresh.expires_at
            or refresh.client_id != client.client_id
        ):
            raise errors.oauth_error(400, "invalid_request", errors.INVALID_GRANT_MESSAGE)
        token, refresh = _issue(
            state,
            client.client_id,
            refresh.sub,
            refresh.scopes,
            authorized_at=refresh.authorized_at,
        )
        return _token_body(state, token, refresh)


def _issue(
    state: SandboxState,
    client_id: str,
    sub: str,
    scopes: frozenset[str],
    authorized_at: datetime | None = None,
) -> tuple[AccessToken, RefreshToken | None]:
    """A new access token (and the partner refresh token); other scope sets are revoked."""
    now = state.now()
    issued: list[AccessToken | RefreshToken] = [
        *state.tokens.values(),
        *state.refresh_tokens.values(),
    ]
    for old in issued:
        if old.client_id == client_id and old.sub == sub and old.scopes != scopes:
            old.revoked = True
    token = AccessToken(
        value="AQ" + new_secret(498),
        client_id=client_id,
        sub=sub,
        scopes=scopes,
        authorized_at=authorized_at or now,
        created_at=now,
        expires_at=now + ACCESS_TOKEN_LIFETIME,
        usable_from=now + state.token_delay,
    )
    state.tokens[token.value] = token
    refresh = _refresh_token(state, token) if state.switches.partner else None
    return token, refresh


def _refresh_token(state: SandboxState, token: AccessToken) -> RefreshToken:
    """The grant's live refresh token, or a new one: its 365 days are never extended."""
    now = state.now()
    for refresh in state.refresh_tokens.values():
        if (
            (refresh.client_id, refresh.sub, refresh.scopes)
            == (token.client_id, token.sub, token.scopes)
            and not refresh.revoked
            and now < refresh.expires_at
        ):
            return refresh
    refresh = RefreshToken(
        value="AQ" + new_secret(498),
        client_id=token.client_id,
        sub=token.sub,
        scopes=token.scopes,
        authorized_at=now,
        expires_at=now + REFRESH_TOKEN_LIFETIME,
    )
    state.refresh_tokens[refresh.value] = refresh
    return refresh


def _token_body(
    state: SandboxState, token: AccessToken, refresh: RefreshToken | None
) -> dict[str, Any]:
    """The token response: no token_type unless switched on."""
    now = state.now()
    body: dict[str, Any] = {
        "access_token": token.value,
        "expires_in": round((token.expires_at - now).total_seconds()),
        "scope": ",".join(sorted(token.scopes)),
    }
    if state.switches.include_token_type:
        body["token_type"] = "Bearer"  # noqa: S105 - a token type, not a secret
    if refresh is not None:
        body["refresh_token"] = refresh.value
        body["refresh_token_expires_in"] = round((refresh.expires_at - now).total_seconds())
    return body


# introspection and revocation (C)


def introspect(state: SandboxState, form: Mapping[str, str]) -> dict[str, Any]:
    """POST /oauth/v2/introspectToken."""
    _require(form, ("client_id", "client_secret", "token"))
    if form["client_id"] not in state.clients:
        raise errors.oauth_error(400, "invalid_request", "The client_id is invalid")
    client = _client(state, form)
    with state.lock:
        token = state.tokens.get(form["token"]) or state.refresh_tokens.get(form["token"])
        if token is None:
            raise errors.oauth_error(400, "invalid_request", "The token is invalid")
        if token.client_id != client.client_id:
            return {"active": False}
        now = state.now()
        if isinstance(token, AccessToken):
            status, created = token.status_at(now), token.created_at
        else:
            status = (
                "revoked" if token.revoked else ("expired" if now >= token.expires_at else "active")
            )
            created = token.authorized_at
        return {
            "active": status == "active",
            "client_id": token.client_id,
            "authorized_at": _ts(token.authorized_at),
            "created_at": _ts(created),
            "status": status,
            "expires_at": _ts(token.expires_at),
            "scope": ",".join(sorted(token.scopes)),
            "auth_type": "3L",
        }


def revoke(state: SandboxState, form: Mapping[str, str]) -> None:
    """POST /oauth/v2/revoke: revoke the app's own token; unknown tokens are no error."""
    _require(form, ("token", "client_id", "client_secret"))
    client = _client(state, form)
    with state.lock:
        token = state.tokens.get(form["token"]) or state.refresh_tokens.get(form["token"])
        if token is not None and token.client_id == client.client_id:
            token.revoked = True


# bearer tokens, OIDC and userinfo (D, E, G.1)


def authenticate(state: SandboxState, authorization: str | None) -> AccessToken:
    """The token in an Authorization: Bearer header, or the 401 LinkedIn gives."""
    scheme, _, value = (authorization or "").partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value:
        raise errors.empty_token()
    with state.lock:
        token = state.tokens.get(value)
        now = state.now()
        if token is None:
            raise errors.invalid_token()
        status = token.status_at(now)
        if status == "revoked" or now < token.usable_from:
            raise errors.revoked_token()
        if status == "expired":
            raise errors.expired_token()
        return token


def openid_configuration(state: SandboxState) -> dict[str, Any]:
    """The discovery document, with LinkedIn's fields and this sandbox's URLs."""
    base = state.base_url
    return {
        "issuer": f"{base}/oauth",
        "authorization_endpoint": f"{base}/oauth/v2/authorization",
        "token_endpoint": f"{base}/oauth/v2/accessToken",
        "userinfo_endpoint": f"{base}/v2/userinfo",
        "jwks_uri": f"{base}/oauth/openid/jwks",
        "response_types_supported": ["code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "profile", "email"],
        "claims_supported": [
            "iss",
            "aud",
            "iat",
            "exp",
            "sub",
            "name",
            "given_name",
            "family_name",
            "picture",
            "email",
            "email_verified",
            "locale",
        ],
    }


def picture_url(state: SandboxState, member: Member) -> str:
    """The member's avatar, served by the sandbox itself."""
    return f"{state.base_url}/sandbox/avatar/{member.sub}.svg"


def _profile_claims(state: SandboxState, token: AccessToken, member: Member) -> dict[str, Any]:
    """The member's claims that the token's scopes allow."""
    claims: dict[str, Any] = {"sub": member.sub}
    if "profile" in token.scopes:
        claims.update(
            name=member.name,
            given_name=member.given_name,
            family_name=member.family_name,
            picture=picture_url(state, member),
        )
    if "email" in token.scopes:
        claims.update(email=member.email, email_verified=True)
    return claims


def id_token(state: SandboxState, token: AccessToken, member: Member, nonce: str | None) -> str:
    """An RS256 id_token for the member, audience the app."""
    now = state.now()
    claims = {
        "iss": f"{state.base_url}/oauth",
        "aud": token.client_id,
        "iat": _ts(now),
        "exp": _ts(now + ID_TOKEN_LIFETIME),
        **_profile_claims(state, token, member),
    }
    if nonce is not None:
        claims["nonce"] = nonce
    return sign_jwt(claims)


def userinfo(state: SandboxState, token: AccessToken) -> dict[str, Any]:
    """GET /v2/userinfo for a token that carries openid and profile."""
    if not {"openid", "profile"} <= token.scopes:
        raise errors.access_denied("userinfo.GET.NO_VERSION")
    member = state.member(token.sub)
    return {
        **_profile_claims(state, token, member),
        "locale": {"country": member.country, "language": member.language},
    }
