"""The error responses the sandbox gives, with LinkedIn's bodies (reference/linkedin.md §1, §4)."""

from __future__ import annotations

from typing import Any

INVALID_CODE_MESSAGE = (
    "Unable to retrieve access token: appid/redirect uri/code verifier does not match "
    "authorization code. Or authorization code expired. Or external member binding exists"
)
INVALID_GRANT_MESSAGE = (
    "The provided authorization grant or refresh token is invalid, expired or revoked"
)
THROTTLE_MESSAGE = "Resource level throttle limit for calls to this resource is reached."


class Refusal(Exception):
    """An error response given instead of a result: status, JSON body and extra headers."""

    def __init__(
        self, status: int, body: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status, body.get("message") or body.get("error_description"))
        self.status = status
        self.body = body
        self.headers = headers or {}


def _api(
    status: int,
    message: str,
    *,
    code: str | None = None,
    service_code: int | None = None,
    **extra: Any,
) -> Refusal:
    """A LinkedIn API error body: status, serviceErrorCode, code, message."""
    body: dict[str, Any] = {"status": status}
    if service_code is not None:
        body["serviceErrorCode"] = service_code
    if code is not None:
        body["code"] = code
    body["message"] = message
    body.update(extra)
    return Refusal(status, body)


def empty_token() -> Refusal:
    """No bearer token at all."""
    return Refusal(
        401, {"message": "Empty oauth2_access_token", "serviceErrorCode": 401, "status": 401}
    )


def invalid_token() -> Refusal:
    """A token the sandbox never issued."""
    return _api(401, "Invalid access token", code="INVALID_ACCESS_TOKEN", service_code=65600)


def revoked_token() -> Refusal:
    """A revoked token, or a fresh one that is not valid yet."""
    return _api(
        401,
        "The token used in the request has been revoked by the user",
        code="REVOKED_ACCESS_TOKEN",
        service_code=65601,
    )


def expired_token() -> Refusal:
    """A token past its 60 days."""
    return _api(
        401,
        "The token used in the request has expired",
        code="EXPIRED_ACCESS_TOKEN",
        service_code=65602,
    )


def access_denied(resource: str) -> Refusal:
    """403 for `resource` such as "partnerApiPostsExternal.CREATE.20250401"."""
    return _api(
        403, f"Not enough permissions to access: {resource}", code="ACCESS_DENIED", service_code=100
    )


def missing_version() -> Refusal:
    """No LinkedIn-Version header (LinkedIn's exact answer is undocumented)."""
    return _api(
        400,
        "A version must be present. Please specify a version by adding the "
        "LinkedIn-Version header.",
        code="VERSION_MISSING",
    )


def malformed_version(value: str) -> Refusal:
    """A LinkedIn-Version header that is not YYYYMM or YYYYMM.RR."""
    return _api(400, f"Invalid LinkedIn-Version {value!r}: expected YYYYMM", code="INVALID_VERSION")


def inactive_version(label: str) -> Refusal:
    """426 for a version that is not (or no longer) active; `label` is YYYYMM01."""
    return Refusal(
        426,
        {
            "status": 426,
            "code": "NONEXISTENT_VERSION",
            "message": f"Requested version {label} is not active",
        },
    )


def protocol_required() -> Refusal:
    """The sandbox only speaks Rest.li protocol 2.0.0."""
    return _api(
        400,
        "X-Restli-Protocol-Version: 2.0.0 is required (protocol 1.0 encodes "
        "URNs differently and is not supported here)",
        code="INVALID_PROTOCOL_VERSION",
    )


def throttled() -> Refusal:
    """429 as LinkedIn sends it: no Retry-After, no rate-limit headers."""
    return Refusal(429, {"message": THROTTLE_MESSAGE, "serviceErrorCode": 101, "status": 429})


def server_error() -> Refusal:
    """A 500 from LinkedIn's side."""
    return _api(500, "Internal Server Error")


def gateway_timeout() -> Refusal:
    """A 504 from LinkedIn's gateway."""
    return _api(504, "Gateway Timeout")


def not_found(message: str) -> Refusal:
    """404 for an unknown entity."""
    return _api(404, message, code="NOT_FOUND")


def bad_request(message: str) -> Refusal:
    """A generic 400 (malformed JSON, unsupported query)."""
    return _api(400, message)


def field_error(
    status: int, field: str, code: str, description: str, message: str | None = None
) -> Refusal:
    """A 4xx naming one input field in errorDetails.inputErrors."""
    return _api(
        status,
        message or description,
        code=code,
        errorDetails={
            "inputErrors": [
                {
                    "code": code,
                    "description": description,
                    "input": {"inputPath": {"fieldPath": field}},
                }
            ]
        },
    )


def schema_error(field: str, problem: str) -> Refusal:
    """422, as Rest.li answers a body that does not fit the schema."""
    return _api(422, f"ERROR :: {field} :: {problem}\n")


def commentary_too_long(length: int) -> Refusal:
    """400 for more than 3000 characters of commentary."""
    description = (
        f"Invalid Commentary, ShareCommentary text length ({length} characters) "
        "exceeded the maximum allowed (3000 characters)"
    )
    return field_error(
        400,
        "/commentary",
        "FIELD_ARRAY_SIZE_TOO_HIGH",
        description,
        message=f"com.linkedin.content.common.exception.BadRequestResponseException: {description}",
    )


def duplicate_post(urn: str) -> Refusal:
    """422 naming the earlier post with the same author, commentary and content."""
    description = f"Content is a duplicate of {urn}"
    return field_error(
        422,
        "/commentary",
        "DUPLICATE_POST",
        description,
        message=f"com.linkedin.content.common.exception.BadRequestResponseException: {description}",
    )


def oauth_error(status: int, error: str, description: str) -> Refusal:
    """An OAuth endpoint error: {"error","error_description"}."""
    return Refusal(
        status, {"error": error, "error_description": description}, {"Cache-Control": "no-store"}
    )


def missing_parameter(name: str) -> Refusal:
    """400 invalid_request for a missing form parameter."""
    return oauth_error(400, "invalid_request", f'A required parameter "{name}" is missing')


def invalid_client() -> Refusal:
    """401 invalid_client for an unknown client or a wrong secret."""
    return oauth_error(401, "invalid_client", "Client authentication failed")
