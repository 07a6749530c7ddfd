"""The sandbox's /rest API: common checks, posts, images and pages (contract F–J)."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from syndicate.linkedin import demo_figures as figures_module
from syndicate.linkedin_sandbox import errors
from syndicate.linkedin_sandbox.oauth import authenticate
from syndicate.linkedin_sandbox.state import (
    POSTING_ROLES,
    UPLOAD_URL_LIFETIME,
    AccessToken,
    Image,
    Post,
    SandboxState,
)
from syndicate.linkedin_sandbox.text import parse_little_text

MAX_COMMENTARY = 3000
POST_FIELDS = frozenset(
    {
        "author",
        "commentary",
        "visibility",
        "distribution",
        "lifecycleState",
        "isReshareDisabledByAuthor",
        "content",
        "contentLandingPage",
        "contentCallToActionLabel",
        "lifecycleStateInfo",
        "reshareContext",
        "container",
        "adContext",
    }
)
VISIBILITIES = frozenset({"PUBLIC", "CONNECTIONS", "LOGGED_IN", "CONTAINER"})
FEED_DISTRIBUTIONS = frozenset({"MAIN_FEED", "NONE"})
LIFECYCLE_STATES = frozenset({"DRAFT", "PUBLISHED", "PUBLISH_REQUESTED", "PUBLISH_FAILED"})
IMAGE_TYPES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)
_VERSION = re.compile(r"(\d{6})(?:\.\d{2})?", re.ASCII)
_PERSON = re.compile(r"urn:li:person:([A-Za-z0-9_-]+)", re.ASCII)
_ORGANIZATION = re.compile(r"urn:li:organization:(\d+)", re.ASCII)
_RESOURCES = (
    ("POST", re.compile(r"/rest/posts/?"), "partnerApiPostsExternal.CREATE"),
    ("GET", re.compile(r"/rest/posts/.+"), "partnerApiPostsExternal.GET"),
    ("DELETE", re.compile(r"/rest/posts/.+"), "partnerApiPostsExternal.DELETE"),
    ("POST", re.compile(r"/rest/images/?"), "images.ACTION-initializeUpload"),
    ("GET", re.compile(r"/rest/images/.+"), "images.GET"),
    ("GET", re.compile(r"/rest/organizationAcls/?"), "organizationAcls.FINDER-roleAssignee"),
    ("GET", re.compile(r"/rest/organizations/.+"), "organizations.GET"),
    (
        "GET",
        re.compile(r"/rest/organizationalEntityShareStatistics/?"),
        "organizationalEntityShareStatistics.FINDER-organizationalEntity",
    ),
    (
        "GET",
        re.compile(r"/rest/memberCreatorPostAnalytics/?"),
        "memberCreatorPostAnalytics.FINDER-entity",
    ),
    ("GET", re.compile(r"/rest/socialActions/.+"), "socialActions.GET"),
)


def _ms(moment: datetime) -> int:
    """Milliseconds since the epoch, as LinkedIn's timestamps."""
    return int(moment.timestamp() * 1000)


@dataclass(frozen=True)
class RestCall:
    """A /rest request that passed the token, version and protocol checks."""

    token: AccessToken
    version: str


def version_label(header: str | None) -> str | None:
    """The YYYYMM01 form LinkedIn shows for a LinkedIn-Version header, if it parses."""
    match = _VERSION.fullmatch((header or "").strip())
    return f"{match.group(1)}01" if match else None


def rest_call(
    state: SandboxState, *, authorization: str | None, version: str | None, protocol: str | None
) -> RestCall:
    """Checks 1–3 of every /rest call, in LinkedIn's order: token, version, protocol."""
    token = authenticate(state, authorization)
    if not (version or "").strip():
        raise errors.missing_version()
    label = version_label(version)
    if label is None:
        raise errors.malformed_version(version or "")
    if label[:6] not in state.active_versions():
        raise errors.inactive_version(label)
    if (protocol or "").strip() != "2.0.0":
        raise errors.protocol_required()
    return RestCall(token, label)


def fault_refusal(kind: str, *, method: str, path: str, version: str | None) -> errors.Refusal:
    """The response an injected fault gives in place of the real one."""
    label = version_label(version) or "NO_VERSION"
    if kind == "403":
        resource = next(
            (name for m, pattern, name in _RESOURCES if m == method and pattern.fullmatch(path)),
            f"sandbox.{method}",
        )
        return errors.access_denied(f"{resource}.{label}")
    simple = {
        "401": errors.invalid_token,
        "401-revoked": errors.revoked_token,
        "401-expired": errors.expired_token,
        "429": errors.throttled,
        "500": errors.server_error,
        "504": errors.gateway_timeout,
    }
    if kind == "426":
        return errors.inactive_version(label)
    return simple[kind]()


# authors


def parse_author(urn: object) -> tuple[str, str | int] | None:
    """("person", sub) or ("organization", id) for an author URN; None for anything else."""
    if not isinstance(urn, str):
        return None
    if match := _PERSON.fullmatch(urn):
        return "person", match.group(1)
    if match := _ORGANIZATION.fullmatch(urn):
        return "organization", int(match.group(1))
    return None


def require_author(state: SandboxState, call: RestCall, urn: str, resource: str) -> None:
    """403 unless the token may act for `urn` (itself with w_member_social, or a page role)."""
    parsed = parse_author(urn)
    scopes = call.token.scopes
    if parsed is None:
        allowed = False
    elif parsed[0] == "person":
        allowed = parsed[1] == call.token.sub and "w_member_social" in scopes
    else:
        role = state.role_of(call.token.sub, int(parsed[1]))
        allowed = "w_organization_social" in scopes and role in POSTING_ROLES
    if not allowed:
        raise errors.access_denied(f"{resource}.{call.version}")


# request bodies


def _json_object(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or 400."""
    try:
        body = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError):
        raise errors.bad_request("The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise errors.bad_request("The request body must be a JSON object")
    return body


def _field(
    body: Mapping[str, Any], name: str, kind: type, path: str, *, required: bool = True
) -> Any:
    """body[name] checked against `kind`, with Rest.li's 422 when missing or mistyped."""
    if name not in body:
        if required:
            raise errors.schema_error(
                f"{path}/{name}", "field is required but not found and has no default value"
            )
        return None
    value = body[name]
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise errors.schema_error(f"{path}/{name}", f"{json.dumps(value)} is not a {kind.__name__}")
    return value


def _enum(body: Mapping[str, Any], name: str, symbols: frozenset[str], path: str = "") -> str:
    """A string field that must be one of `symbols`."""
    value: str = _field(body, name, str, path)
    if value not in symbols:
        raise errors.schema_error(f"{path}/{name}", f'"{value}" is not an enum symbol')
    return value


@dataclass(frozen=True)
class PostDraft:
    """A post body that passed validation."""

    author: str
    commentary: str
    visibility: str
    distribution: dict[str, Any]
    content: dict[str, Any] | None
    reshare_disabled: bool


def validate_post(state: SandboxState, body: Mapping[str, Any]) -> PostDraft:
    """Check 5: the schema, PUBLISHED, the 3000-character limit and uploaded images."""
    unknown = sorted(set(body) - POST_FIELDS)
    if unknown:
        raise errors.schema_error(f"/{unknown[0]}", "unrecognized field found but not allowed")
    author = _field(body, "author", str, "")
    commentary = _field(body, "commentary", str, "")
    visibility = _enum(body, "visibility", VISIBILITIES)
    distribution = _field(body, "distribution", dict, "")
    _enum(distribution, "feedDistribution", FEED_DISTRIBUTIONS, "/distribution")
    for name in ("targetEntities", "thirdPartyDistributionChannels"):
        _field(distribution, name, list, "/distribution", required=False)
    lifecycle = _enum(body, "lifecycleState", LIFECYCLE_STATES)
    reshare_disabled = _field(body, "isReshareDisabledByAuthor", bool, "", required=False)
    if parse_author(author) is None:
        raise errors.schema_error("/author", f'"{author}" is not a person or organization URN')
    if lifecycle != "PUBLISHED":
        raise errors.field_error(
            400,
            "/lifecycleState",
            "INVALID_FIELD_VALUE",
            "A post can only be created with lifecycleState PUBLISHED",
        )
    if len(commentary) > MAX_COMMENTARY:
        raise errors.commentary_too_long(len(commentary))
    content = _validate_content(state, body.get("content"), author)
    return PostDraft(
        author, commentary, visibility, dict(distribution), content, bool(reshare_disabled)
    )


def _validate_content(state: SandboxState, content: Any, author: str) -> dict[str, Any] | None:
    """An article card or an uploaded image; other content kinds are not imitated."""
    if content is None:
        return None
    if not isinstance(content, dict) or len(content) != 1:
        raise errors.schema_error("/content", "DataMap should have exactly one entry for a union")
    kind, value = next(iter(content.items()))
    if kind not in {"article", "media"}:
        raise errors.field_error(
            400,
            f"/content/{kind}",
            "UNSUPPORTED_CONTENT",
            "The sandbox imitates article and media content only",
        )
    if not isinstance(value, dict):
        raise errors.schema_error(f"/content/{kind}", "is not a record")
    path = f"/content/{kind}"
    if kind == "article":
        source = _field(value, "source", str, path)
        if urlsplit(source).scheme not in {"http", "https"} or not urlsplit(source).netloc:
            raise errors.schema_error(f"{path}/source", f'"{source}" is not an absolute URL')
        _field(value, "title", str, path)
        _field(value, "description", str, path, required=False)
        thumbnail = _field(value, "thumbnail", str, path, required=False)
        if thumbnail is not None:
            _require_image(state, thumbnail, author, f"{path}/thumbnail")
    else:
        _require_image(state, _field(value, "id", str, path), author, f"{path}/id")
        _field(value, "altText", str, path, required=False)
        _field(value, "title", str, path, required=False)
    return content


def _require_image(state: SandboxState, urn: str, author: str, path: str) -> None:
    """400 unless `urn` is an uploaded image owned by the post's author."""
    with state.lock:
        image = state.images.get(urn.removeprefix("urn:li:image:"))
        if image is None or image.status != "AVAILABLE" or not urn.startswith("urn:li:image:"):
            raise errors.field_error(
                400, path, "INVALID_IMAGE", f"Image {urn} does not exist or has not been uploaded"
            )
        if image.owner != author:
            raise errors.field_error(
                400, path, "INVALID_IMAGE", f"Image {urn} is owned by {image.owner}, not {author}"
            )


# posts (G, H, I)


def create_post(state: SandboxState, call: RestCall, raw: bytes) -> str:
    """POST /rest/posts after checks 1–3: author, body, duplicate, then store; the new URN."""
    body = _json_object(raw)
    if parse_author(body.get("author")) is not None:
        require_author(state, call, body["author"], "partnerApiPostsExternal.CREATE")
    draft = validate_post(state, body)
    with state.lock:
        earlier = _duplicate_of(state, draft)
        if earlier is not None:
            raise errors.duplicate_post(earlier.urn)
        post = Post(
            urn=f"urn:li:share:{state.next_share_id}",
            author=draft.author,
            commentary=draft.commentary,
            text=parse_little_text(draft.commentary),
            visibility=draft.visibility,
            distribution=draft.distribution,
            content=draft.content,
            reshare_disabled=draft.reshare_disabled,
            created_at=state.now(),
            created_by=call.token.sub,
        )
        state.next_share_id += 1
        state.posts[post.urn] = post
        return post.urn


def _duplicate_of(state: SandboxState, draft: PostDraft) -> Post | None:
    """The oldest post with the same author, commentary and content."""
    for post in state.posts.values():
        if post.deleted_at is not None and not state.switches.duplicates_include_deleted:
            continue
        if (post.author, post.commentary, post.content) == (
            draft.author,
            draft.commentary,
            draft.content,
        ):
            return post
    return None


def post_json(post: Post) -> dict[str, Any]:
    """A post as GET /rest/posts returns it: the commentary as stored, i.e. cut."""
    body: dict[str, Any] = {
        "id": post.urn,
        "author": post.author,
        "commentary": post.text.kept,
        "visibility": post.visibility,
        "distribution": post.distribution,
        "lifecycleState": "PUBLISHED",
        "isReshareDisabledByAuthor": post.reshare_disabled,
        "createdAt": _ms(post.created_at),
        "publishedAt": _ms(post.created_at),
        "lastModifiedAt": _ms(post.created_at),
        "lifecycleStateInfo": {"isEditedByAuthor": False},
    }
    if post.content is not None:
        body["content"] = post.content
    return body


def get_post(state: SandboxState, call: RestCall, urn: str) -> dict[str, Any]:
    """GET /rest/posts/{urn}: needs r_member_social (or r_organization_social)."""
    if not {"r_member_social", "r_organization_social"} & call.token.scopes:
        raise errors.access_denied(f"partnerApiPostsExternal.GET.{call.version}")
    with state.lock:
        post = state.posts.get(urn)
        if post is None or post.deleted_at is not None:
            raise errors.not_found(f"Post {urn} does not exist")
        return post_json(post)


def delete_post(state: SandboxState, call: RestCall, urn: str) -> None:
    """DELETE /rest/posts/{urn}: 204 again for a post already deleted."""
    with state.lock:
        post = state.posts.get(urn)
        if post is None:
            raise errors.not_found(f"Post {urn} does not exist")
    require_author(state, call, post.author, "partnerApiPostsExternal.DELETE")
    with state.lock:
        if post.deleted_at is None:
            post.deleted_at = state.now()


# images (J)


def initialize_upload(
    state: SandboxState, call: RestCall, action: str | None, raw: bytes
) -> dict[str, Any]:
    """POST /rest/images?action=initializeUpload: an image URN and where to PUT its bytes."""
    if action != "initializeUpload":
        raise errors.bad_request("Only ?action=initializeUpload is supported")
    request = _field(_json_object(raw), "initializeUploadRequest", dict, "")
    owner = _field(request, "owner", str, "/initializeUploadRequest")
    if parse_author(owner) is None:
        raise errors.schema_error(
            "/initializeUploadRequest/owner", f'"{owner}" is not a person or organization URN'
        )
    require_author(state, call, owner, "images.ACTION-initializeUpload")
    with state.lock:
        image = Image(
            id="D4" + secrets.token_hex(10).upper(),
            owner=owner,
            initialized_by=call.token.sub,
            upload_expires_at=state.now() + UPLOAD_URL_LIFETIME,
        )
        state.images[image.id] = image
    return {
        "value": {
            "uploadUrlExpiresAt": _ms(image.upload_expires_at),
            "uploadUrl": f"{state.base_url}/sandbox-upload/{image.id}",
            "image": image.urn,
        }
    }


def sniff_image(data: bytes) -> str | None:
    """The media type of JPEG, PNG or GIF bytes; None for anything else."""
    return next((kind for magic, kind in IMAGE_TYPES if data.startswith(magic)), None)


def upload_image(state: SandboxState, token: AccessToken, image_id: str, data: bytes) -> None:
    """PUT to an upload URL: the initializing member, before expiry, an image format."""
    with state.lock:
        image = state.images.get(image_id)
        if image is None:
            raise errors.not_found("No upload is waiting at this URL")
        if image.initialized_by != token.sub:
            raise errors.Refusal(
                403, {"status": 403, "message": "This upload URL belongs to another member"}
            )
        if state.now() >= image.upload_expires_at:
            raise errors.Refusal(403, {"status": 403, "message": "The upload URL has expired"})
    media_type = sniff_image(data)
    if media_type is None:
        raise errors.bad_request("Only JPEG, PNG and GIF images can be uploaded")
    with state.lock:
        image.data, image.media_type, image.uploaded_at = data, media_type, state.now()


def image_json(state: SandboxState, call: RestCall, urn: str) -> dict[str, Any]:
    """GET /rest/images/{urn}: the status, and a download URL once uploaded."""
    with state.lock:
        image = state.images.get(urn.removeprefix("urn:li:image:"))
        if image is None or not urn.startswith("urn:li:image:"):
            raise errors.not_found(f"Image {urn} does not exist")
        body: dict[str, Any] = {"id": image.urn, "owner": image.owner, "status": image.status}
        if image.uploaded_at is not None:
            body["downloadUrl"] = f"{state.base_url}/sandbox/images/{image.id}"
            body["downloadUrlExpiresAt"] = _ms(state.now() + UPLOAD_URL_LIFETIME)
        return body


# organizations (F)


def _int_arg(args: Mapping[str, str], name: str, default: int) -> int:
    """A non-negative integer query argument."""
    value = args.get(name)
    if value is None:
        return default
    if not value.isascii() or not value.isdigit():
        raise errors.bad_request(f"{name} must be a non-negative integer")
    return int(value)


def organization_acls(
    state: SandboxState, call: RestCall, args: Mapping[str, str]
) -> dict[str, Any]:
    """GET /rest/organizationAcls?q=roleAssignee: the token's member's page roles."""
    if args.get("q") != "roleAssignee":
        raise errors.bad_request("Only q=roleAssignee is supported")
    if not {"r_organization_admin", "rw_organization_admin"} & call.token.scopes:
        raise errors.access_denied(f"organizationAcls.FINDER-roleAssignee.{call.version}")
    start, count = _int_arg(args, "start", 0), _int_arg(args, "count", 10)
    sub = call.token.sub
    with state.lock:
        elements = [
            {
                "organization": org.urn,
                "role": org.roles[sub],
                "roleAssignee": f"urn:li:person:{sub}",
                "state": "APPROVED",
            }
            for org in sorted(state.organizations.values(), key=lambda o: o.id)
            if sub in org.roles
            and args.get("role") in (None, org.roles[sub])
            and args.get("state") in (None, "APPROVED")
        ]
    return {
        "elements": elements[start : start + count],
        "paging": {"count": count, "start": start, "total": len(elements), "links": []},
    }


def organization_json(state: SandboxState, organization_id: str) -> dict[str, Any]:
    """GET /rest/organizations/{id}: the page's names."""
    with state.lock:
        org = (
            state.organizations.get(int(organization_id))
            if organization_id.isascii() and organization_id.isdigit()
            else None
        )
        if org is None:
            raise errors.not_found(f"Organization {organization_id} does not exist")
        return {
            "id": org.id,
            "localizedName": org.name,
            "vanityName": org.vanity_name,
            "name": {
                "localized": {"en_US": org.name},
                "preferredLocale": {"country": "US", "language": "en"},
            },
        }


# post statistics (not in the contract: LinkedIn's documented shapes, see docs/linkedin.md)

STATS_MAX_POSTS = 100
STATS_READ_ROLES = frozenset({"ADMINISTRATOR", "CONTENT_ADMINISTRATOR", "ANALYST"})
MEMBER_QUERY_TYPES = frozenset({"IMPRESSION", "MEMBERS_REACHED", "REACTION", "COMMENT", "RESHARE"})
_SHARE_URN = re.compile(r"urn:li:(share|ugcPost):(\d{1,20})", re.ASCII)
_LIST = re.compile(r"List\(([^()]*)\)")
_ENTITY = re.compile(r"\((share|ugc):(urn:li:(?:share|ugcPost):\d{1,20})\)", re.ASCII)
METRIC_TYPE_KEY = "com.linkedin.adsexternalapi.memberanalytics.v1.CreatorPostAnalyticsMetricTypeV1"


def _failing_statistics(state: SandboxState, call: RestCall, method: str, path: str) -> None:
    """The fail_statistics switch: every statistics call answers that fault while it is on."""
    kind = state.switches.fail_statistics
    if kind is not None:
        raise fault_refusal(kind, method=method, path=path, version=call.version)


def _post_age(state: SandboxState, urn: str, author: str | None) -> timedelta | None:
    """How old the post is, or None when the sandbox would not count it: deleted, someone
    else's (when ``author`` is given), or not a post URN. Posts the sandbox did not see made
    (the demo's, made before it started) exist; their ids carry their creation time."""
    if not _SHARE_URN.fullmatch(urn):
        return None
    with state.lock:
        post = state.posts.get(urn)
        now = state.now()
        if post is not None:
            if post.deleted_at is not None or (author is not None and post.author != author):
                return None
            return now - post.created_at
    created = figures_module.created_ms(urn)
    if created is None:
        return None
    age = now - datetime.fromtimestamp(created / 1000, UTC)
    return age if age >= timedelta(0) else None


def _urn_list(raw_query: str, args: Mapping[str, str], name: str) -> list[str]:
    """The URNs of ``name=List(...)``, which Rest.li 2.0 wants URL-encoded inside the list."""
    value = args.get(name)
    if value is None:
        return []
    match = _LIST.fullmatch(value)
    if match is None:
        raise errors.bad_request(f"{name} must be List(urn,...)")
    if re.search(rf"(?:^|&){name}=List\([^)]*urn:li:", raw_query):
        raise errors.bad_request(f"The URNs in {name}=List(...) must be URL-encoded (Rest.li 2.0)")
    return [u for u in match.group(1).split(",") if u]


def share_statistics(
    state: SandboxState, call: RestCall, args: Mapping[str, str], raw_query: str
) -> dict[str, Any]:
    """GET /rest/organizationalEntityShareStatistics?q=organizationalEntity: lifetime figures
    of a page's posts (shares=List(...) and ugcPosts=List(...))."""
    _failing_statistics(state, call, "GET", "/rest/organizationalEntityShareStatistics")
    if args.get("q") != "organizationalEntity":
        raise errors.bad_request("Only q=organizationalEntity is supported")
    organization = args.get("organizationalEntity", "")
    parsed = parse_author(organization)
    if parsed is None or parsed[0] != "organization":
        raise errors.bad_request("organizationalEntity must be an organization URN")
    role = state.role_of(call.token.sub, int(parsed[1]))
    if not (
        {"rw_organization_admin", "r_organization_admin", "r_organization_social"}
        & call.token.scopes
        and role in STATS_READ_ROLES
    ):
        raise errors.access_denied(
            f"organizationalEntityShareStatistics.FINDER-organizationalEntity.{call.version}"
        )
    shares = _urn_list(raw_query, args, "shares")
    ugc_posts = _urn_list(raw_query, args, "ugcPosts")
    if not shares and not ugc_posts:
        # Without a list LinkedIn answers the page's aggregate; the sandbox does not imitate it.
        raise errors.bad_request("Name the posts with shares=List(...) or ugcPosts=List(...)")
    if len(shares) + len(ugc_posts) > STATS_MAX_POSTS:
        raise errors.bad_request(f"At most {STATS_MAX_POSTS} posts per request")
    elements = []
    for key, urns in (("share", shares), ("ugcPost", ugc_posts)):
        for urn in urns:
            if not urn.startswith(f"urn:li:{key}:"):
                raise errors.bad_request(f"{urn} is not a {key} URN")
            age = _post_age(state, urn, organization)
            if age is None:
                continue
            made = figures_module.figures(urn, age)
            clicks, likes = made["clicks"], made["reactions"]
            comments, shares_count = made["comments"], made["reposts"]
            impressions = made["impressions"]
            engagement = (
                (clicks + likes + comments + shares_count) / impressions if impressions else 0.0
            )
            elements.append(
                {
                    "organizationalEntity": organization,
                    key: urn,
                    "totalShareStatistics": {
                        "impressionCount": impressions,
                        "uniqueImpressionsCount": made["unique_impressions"],
                        "clickCount": clicks,
                        "likeCount": likes,
                        "commentCount": comments,
                        "shareCount": shares_count,
                        "commentMentionsCount": 0,
                        "shareMentionsCount": 0,
                        "engagement": engagement,
                    },
                }
            )
    return {"elements": elements, "paging": {"count": 10, "start": 0, "links": []}}


def member_post_analytics(state: SandboxState, call: RestCall, args: Mapping[str, str]) -> Any:
    """GET /rest/memberCreatorPostAnalytics?q=entity: one figure of the member's own post
    (needs r_member_postAnalytics)."""
    _failing_statistics(state, call, "GET", "/rest/memberCreatorPostAnalytics")
    if args.get("q") != "entity":
        raise errors.bad_request("Only q=entity is supported")
    if "r_member_postAnalytics" not in call.token.scopes:
        raise errors.access_denied(f"memberCreatorPostAnalytics.FINDER-entity.{call.version}")
    match = _ENTITY.fullmatch(args.get("entity", ""))
    if match is None:
        raise errors.bad_request("entity must be (share:urn:li:share:N) or (ugc:urn:li:ugcPost:N)")
    kind, urn = match.groups()
    query_type = args.get("queryType", "")
    if query_type not in MEMBER_QUERY_TYPES:
        raise errors.bad_request(
            f"queryType must be one of {', '.join(sorted(MEMBER_QUERY_TYPES))}"
        )
    if args.get("aggregation", "TOTAL") != "TOTAL":
        raise errors.bad_request("The sandbox imitates aggregation=TOTAL only")
    age = _post_age(state, urn, f"urn:li:person:{call.token.sub}")
    if age is None:
        raise errors.not_found(f"Post {urn} does not exist or is not yours")
    made = figures_module.figures(urn, age)
    count = {
        "IMPRESSION": made["impressions"],
        "MEMBERS_REACHED": made["unique_impressions"],
        "REACTION": made["reactions"],
        "COMMENT": made["comments"],
        "RESHARE": made["reposts"],
    }[query_type]
    return {
        "elements": [
            {
                "count": count,
                "metricType": {METRIC_TYPE_KEY: query_type},
                "targetEntity": {kind: urn},
            }
        ],
        "paging": {"count": 10, "start": 0, "links": []},
    }


def social_actions(state: SandboxState, call: RestCall, urn: str) -> dict[str, Any]:
    """GET /rest/socialActions/{urn}: the post's likes and comments summaries."""
    _failing_statistics(state, call, "GET", "/rest/socialActions")
    if (
        not {
            "r_member_social",
            "w_member_social",
            "r_organization_social",
            "w_organization_social",
        }
        & call.token.scopes
    ):
        raise errors.access_denied(f"socialActions.GET.{call.version}")
    age = _post_age(state, urn, None)
    if age is None:
        raise errors.not_found(f"Post {urn} does not exist")
    made = figures_module.figures(urn, age)
    return {
        "$URN": f"urn:li:socialActions:{urn}",
        "target": urn,
        "likesSummary": {
            "selectedLikes": [],
            "aggregatedTotalLikes": made["reactions"],
            "likedByCurrentUser": False,
            "totalLikes": made["reactions"],
        },
        "commentsSummary": {
            "selectedComments": [],
            "totalFirstLevelComments": made["comments"],
            "commentsState": "OPEN",
            "aggregatedTotalComments": made["comments"],
        },
    }
