"""LinkedInClient: the one owner of every HTTP call to LinkedIn's REST API and token endpoints.

Every error body LinkedIn documents is mapped to a typed exception, so callers decide on
types, never on status codes or message strings. The distinction that matters most for
publishing exactly once: a failure *before* the request left (``ConnectionFailed``) is safe
to retry; a timeout or broken connection *after* it left (``OutcomeUnknown``) is not.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

RESTLI_PROTOCOL = "2.0.0"


class LinkedInError(Exception):
    """Any failure talking to LinkedIn; ``status`` and ``body`` when LinkedIn answered."""

    retryable = False

    def __init__(
        self, message: str, *, status: int | None = None, body: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body or {}


class AuthError(LinkedInError):
    """The token cannot be used: the connection needs reconnecting."""


class TokenInvalid(AuthError):
    pass


class TokenRevoked(AuthError):
    pass


class TokenExpired(AuthError):
    pass


class PermissionDenied(LinkedInError):
    pass


class VersionInactive(LinkedInError):
    """The LinkedIn-Version we send has been sunset: fix SYNDICATE_LINKEDIN_VERSION."""


class DuplicatePost(LinkedInError):
    """LinkedIn says the same content exists already; ``urn`` names it when LinkedIn does."""

    def __init__(
        self,
        message: str,
        *,
        urn: str | None,
        status: int | None = None,
        body: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body)
        self.urn = urn


class Throttled(LinkedInError):
    retryable = True


class ServerError(LinkedInError):
    retryable = True


class ConnectionFailed(LinkedInError):
    """The request never reached LinkedIn (DNS, refused, connect timeout): safe to retry."""

    retryable = True


class OutcomeUnknown(LinkedInError):
    """The request left but no answer came back: it may or may not have taken effect."""


class BadRequest(LinkedInError):
    pass


class NotFound(LinkedInError):
    pass


class OAuthError(LinkedInError):
    """The token endpoint refused (``error`` and ``error_description`` in ``body``)."""


_DUPLICATE_URN = re.compile(r"duplicate of (urn:li:(?:share|ugcPost):\d+)")


# Share URNs per organizationalEntityShareStatistics call, and the longest URL we send:
# LinkedIn documents neither, and URLs much over 4 KB are refused by some proxies on the way.
STATS_BATCH = 50
MAX_URL_LENGTH = 4000
# memberCreatorPostAnalytics answers one queryType per call.
MEMBER_ANALYTICS_QUERIES = (
    ("IMPRESSION", "impressions"),
    ("REACTION", "reactions"),
    ("COMMENT", "comments"),
    ("RESHARE", "reposts"),
)


@dataclass(frozen=True)
class PostFigures:
    """A post's lifetime figures; None for what the API that gave them does not count."""

    impressions: int | None
    clicks: int | None
    reactions: int | None
    comments: int | None
    reposts: int | None


def _count(value: Any) -> int | None:
    """A non-negative whole count from LinkedIn's JSON, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return max(int(value), 0)


@dataclass(frozen=True)
class ImageUpload:
    upload_url: str
    image_urn: str


class LinkedInClient:
    """Calls LinkedIn (or the sandbox: only the base URLs differ)."""

    def __init__(
        self,
        *,
        api_base: str,
        auth_base: str,
        version: str,
        client_id: str = "",
        client_secret: str = "",
        connect_timeout: float = 5.0,
        read_timeout: float = 20.0,
        http: requests.Session | None = None,
    ) -> None:
        self.api_base = api_base.rstrip("/")
        self.auth_base = auth_base.rstrip("/")
        self.version = version
        self.client_id = client_id
        self.client_secret = client_secret
        self.timeout = (connect_timeout, read_timeout)
        self.http = http or requests.Session()
        self.http.trust_env = False  # no proxies or netrc credentials from the environment

    @classmethod
    def from_config(cls, config: Any, **kwargs: Any) -> LinkedInClient:
        return cls(
            api_base=config["LINKEDIN_API_BASE"],
            auth_base=config["LINKEDIN_AUTH_BASE"],
            version=config["LINKEDIN_VERSION"],
            client_id=config["LINKEDIN_CLIENT_ID"],
            client_secret=config["LINKEDIN_CLIENT_SECRET"],
            read_timeout=config.get("LINKEDIN_TIMEOUT", 20.0),
            **kwargs,
        )

    def close(self) -> None:
        self.http.close()

    # --- REST ---------------------------------------------------------------------------

    def _headers(self, token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {token}",
            "LinkedIn-Version": self.version,
            "X-Restli-Protocol-Version": RESTLI_PROTOCOL,
        }

    def _send(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        try:
            return self.http.request(method, url, timeout=self.timeout, **kwargs)
        except requests.ConnectTimeout as exc:
            raise ConnectionFailed(f"could not connect to LinkedIn: {exc}") from None
        except requests.ConnectionError as exc:
            # A refused or unresolvable connection never carried the request; anything
            # else (a reset mid-response) may have.
            if _never_sent(exc):
                raise ConnectionFailed(f"could not connect to LinkedIn: {exc}") from None
            raise OutcomeUnknown(f"connection to LinkedIn broke: {exc}") from None
        except requests.Timeout:
            raise OutcomeUnknown(
                f"LinkedIn did not answer within {self.timeout[1]:g} s; "
                "the request may have taken effect"
            ) from None

    def _rest(self, method: str, path: str, token: str, **kwargs: Any) -> requests.Response:
        response = self._send(method, self.api_base + path, headers=self._headers(token), **kwargs)
        if response.status_code >= 400:
            raise _api_error(response)
        return response

    def userinfo(self, token: str) -> dict[str, Any]:
        """The OIDC profile: sub, name, email, picture..."""
        response = self._send(
            "GET", self.api_base + "/v2/userinfo", headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code >= 400:
            raise _api_error(response)
        userinfo: dict[str, Any] = response.json()
        return userinfo

    def organization_roles(self, token: str) -> list[tuple[str, str]]:
        """(organization URN, role) for every approved role the member holds."""
        response = self._rest(
            "GET",
            "/rest/organizationAcls",
            token,
            params={"q": "roleAssignee", "state": "APPROVED", "count": 100},
        )
        return [
            (element["organization"], element["role"])
            for element in response.json().get("elements", [])
            if element.get("state", "APPROVED") == "APPROVED"
        ]

    def organization(self, token: str, organization_urn: str) -> dict[str, Any]:
        organization_id = organization_urn.rsplit(":", 1)[-1]
        found: dict[str, Any] = self._rest(
            "GET", f"/rest/organizations/{quote(organization_id)}", token
        ).json()
        return found

    def create_post(self, token: str, body: dict[str, Any]) -> str:
        """Publish; return the new post's URN (from the x-restli-id header)."""
        response = self._rest("POST", "/rest/posts", token, json=body)
        urn = response.headers.get("x-restli-id")
        if not urn:
            raise OutcomeUnknown("LinkedIn answered without naming the new post")
        return urn

    def get_post(self, token: str, urn: str) -> dict[str, Any]:
        post: dict[str, Any] = self._rest("GET", f"/rest/posts/{quote(urn, safe='')}", token).json()
        return post

    def delete_post(self, token: str, urn: str) -> None:
        self._rest("DELETE", f"/rest/posts/{quote(urn, safe='')}", token)

    def initialize_image_upload(self, token: str, owner_urn: str) -> ImageUpload:
        response = self._rest(
            "POST",
            "/rest/images",
            token,
            params={"action": "initializeUpload"},
            json={"initializeUploadRequest": {"owner": owner_urn}},
        )
        value = response.json()["value"]
        return ImageUpload(upload_url=value["uploadUrl"], image_urn=value["image"])

    def upload_image(self, token: str, upload: ImageUpload, data: bytes) -> str:
        response = self._send(
            "PUT", upload.upload_url, data=data, headers={"Authorization": f"Bearer {token}"}
        )
        if response.status_code >= 400:
            raise _api_error(response)
        return upload.image_urn

    # --- post statistics -----------------------------------------------------------------

    def share_statistics_url(self, organization_urn: str, post_urns: Sequence[str]) -> str:
        """The organizationalEntityShareStatistics URL for these posts of one page.

        Rest.li 2.0 wants every URN inside ``List(...)`` URL-encoded, and the list itself
        left as it is; ``shares=`` takes share URNs, ``ugcPosts=`` ugcPost URNs.
        """
        shares = [u for u in post_urns if u.startswith("urn:li:share:")]
        ugc = [u for u in post_urns if not u.startswith("urn:li:share:")]
        query = [
            "q=organizationalEntity",
            f"organizationalEntity={quote(organization_urn, safe='')}",
        ]
        if shares:
            query.append(f"shares=List({','.join(quote(u, safe='') for u in shares)})")
        if ugc:
            query.append(f"ugcPosts=List({','.join(quote(u, safe='') for u in ugc)})")
        return f"{self.api_base}/rest/organizationalEntityShareStatistics?{'&'.join(query)}"

    def batches_for_url(
        self,
        organization_urn: str,
        post_urns: Sequence[str],
        *,
        max_count: int = STATS_BATCH,
        max_url: int = MAX_URL_LENGTH,
    ) -> list[list[str]]:
        """``post_urns`` cut into batches of at most ``max_count`` whose URL fits ``max_url``.

        The length is counted as the URL grows (each URN encoded, a comma, or a new list),
        which is what ``share_statistics_url`` would build.
        """
        base = len(self.share_statistics_url(organization_urn, []))
        batches: list[list[str]] = []
        batch: list[str] = []
        length = base
        lists: set[str] = set()
        for urn in post_urns:
            key = "shares" if urn.startswith("urn:li:share:") else "ugcPosts"
            encoded = len(quote(urn, safe=""))
            cost = encoded + (1 if key in lists else len(f"&{key}=List()"))
            if batch and (len(batch) >= max_count or length + cost > max_url):
                batches.append(batch)
                batch, length, lists = [], base, set()
                cost = encoded + len(f"&{key}=List()")
            batch.append(urn)
            length += cost
            lists.add(key)
        if batch:
            batches.append(batch)
        return batches

    def organization_share_statistics(
        self, token: str, organization_urn: str, post_urns: Sequence[str]
    ) -> dict[str, PostFigures]:
        """Lifetime figures of a page's posts, by post URN, in one call.

        A post LinkedIn leaves out of the answer (deleted, or not the page's) is missing from
        the result; the caller decides what that means.
        """
        if not post_urns:
            return {}
        url = self.share_statistics_url(organization_urn, post_urns)
        response = self._send("GET", url, headers=self._headers(token))
        if response.status_code >= 400:
            raise _api_error(response)
        found: dict[str, PostFigures] = {}
        for element in _json(response).get("elements") or []:
            if not isinstance(element, dict):
                continue
            urn = element.get("share") or element.get("ugcPost")
            totals = element.get("totalShareStatistics")
            if not isinstance(urn, str) or not isinstance(totals, dict):
                continue
            found[urn] = PostFigures(
                impressions=_count(totals.get("impressionCount")),
                clicks=_count(totals.get("clickCount")),
                reactions=_count(totals.get("likeCount")),
                comments=_count(totals.get("commentCount")),
                reposts=_count(totals.get("shareCount")),
            )
        return found

    def member_post_analytics(self, token: str, post_urn: str) -> PostFigures:
        """A member's post's lifetime figures from memberCreatorPostAnalytics (needs the
        scope r_member_postAnalytics): one call per figure, as the API has one queryType per
        call; it gives no clicks."""
        kind = "share" if post_urn.startswith("urn:li:share:") else "ugc"
        figures: dict[str, int | None] = {}
        for query_type, name in MEMBER_ANALYTICS_QUERIES:
            url = (
                f"{self.api_base}/rest/memberCreatorPostAnalytics?q=entity"
                f"&entity=({kind}:{quote(post_urn, safe='')})"
                f"&queryType={query_type}&aggregation=TOTAL"
            )
            response = self._send("GET", url, headers=self._headers(token))
            if response.status_code >= 400:
                raise _api_error(response)
            elements = _json(response).get("elements") or []
            figures[name] = sum(
                _count(e.get("count")) or 0 for e in elements if isinstance(e, dict)
            )
        return PostFigures(clicks=None, **figures)

    def social_actions(self, token: str, post_urn: str) -> PostFigures:
        """Reactions and comments of a post from socialActions (likesSummary and
        commentsSummary); the other figures are unknown to this API."""
        body = self._rest("GET", f"/rest/socialActions/{quote(post_urn, safe='')}", token).json()
        likes = body.get("likesSummary") or {}
        comments = body.get("commentsSummary") or {}
        return PostFigures(
            impressions=None,
            clicks=None,
            reactions=_count(likes.get("totalLikes")),
            comments=_count(
                comments.get("aggregatedTotalComments", comments.get("totalFirstLevelComments"))
            ),
            reposts=None,
        )

    # --- OAuth token endpoints -----------------------------------------------------------

    def _oauth(self, path: str, form: dict[str, str]) -> requests.Response:
        form = {**form, "client_id": self.client_id, "client_secret": self.client_secret}
        return self._send("POST", self.auth_base + path, data=form)

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        response = self._oauth(
            "/oauth/v2/accessToken", {"grant_type": "refresh_token", "refresh_token": refresh_token}
        )
        body = _json(response)
        if response.status_code >= 400:
            raise OAuthError(
                body.get("error_description") or body.get("error") or "refused",
                status=response.status_code,
                body=body,
            )
        return body

    def revoke(self, token: str) -> bool:
        """Ask LinkedIn to revoke; False when it would not (the token is gone here anyway)."""
        try:
            response = self._oauth("/oauth/v2/revoke", {"token": token})
        except LinkedInError:
            return False
        return response.status_code < 400

    def introspect(self, token: str) -> dict[str, Any]:
        response = self._oauth("/oauth/v2/introspectToken", {"token": token})
        body = _json(response)
        if response.status_code >= 400:
            raise OAuthError(
                body.get("error_description") or "introspection refused",
                status=response.status_code,
                body=body,
            )
        return body


def _never_sent(exc: requests.ConnectionError) -> bool:
    text = repr(exc)
    return any(
        marker in text
        for marker in (
            "NewConnectionError",
            "NameResolutionError",
            "Connection refused",
            "Failed to establish",
            "ConnectTimeout",
        )
    )


def _json(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"message": response.text[:500]}
    return body if isinstance(body, dict) else {"message": str(body)[:500]}


def _api_error(response: requests.Response) -> LinkedInError:
    """The typed exception for an error answer, from its status and LinkedIn's body."""
    status = response.status_code
    body = _json(response)
    message = str(body.get("message") or body.get("error_description") or response.reason)
    service_code = body.get("serviceErrorCode")
    code = body.get("code")
    kwargs: dict[str, Any] = {"status": status, "body": body}
    if status == 401:
        if service_code == 65601 or code == "REVOKED_ACCESS_TOKEN":
            return TokenRevoked(message, **kwargs)
        if service_code == 65602 or code == "EXPIRED_ACCESS_TOKEN":
            return TokenExpired(message, **kwargs)
        return TokenInvalid(message, **kwargs)
    if status == 403:
        return PermissionDenied(message, **kwargs)
    if status == 404:
        return NotFound(message, **kwargs)
    if status == 426:
        return VersionInactive(message, **kwargs)
    if status == 429:
        return Throttled(message, **kwargs)
    if status == 422 and _is_duplicate(body):
        match = _DUPLICATE_URN.search(str(body))
        return DuplicatePost(message, urn=match.group(1) if match else None, **kwargs)
    if status >= 500:
        return ServerError(message, **kwargs)
    return BadRequest(message, **kwargs)


def _is_duplicate(body: dict[str, Any]) -> bool:
    if body.get("code") == "DUPLICATE_POST":
        return True
    errors = (body.get("errorDetails") or {}).get("inputErrors") or []
    return any(isinstance(e, dict) and e.get("code") == "DUPLICATE_POST" for e in errors)
