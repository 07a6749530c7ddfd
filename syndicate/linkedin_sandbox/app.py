"""The LinkedIn sandbox: a separate WSGI app that imitates LinkedIn on one loopback base URL.

It implements "Contract for a fake LinkedIn server" in reference/linkedin.md with LinkedIn's
paths, so the real client talks to it by changing only its base URLs. The demo app is
`sandbox-client` / `sandbox-secret` (every scope, any http://127.0.0.1 or http://localhost
redirect URI); the signed-in member is Sam Sandbox (`sandbox-member-1`), administrator of
page 1001, content administrator of 1002 and analyst of 1003. Test controls live under
/sandbox/control/ and as methods of `app.state`; the page /sandbox/ shows what was posted.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from markupsafe import escape
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from syndicate.linkedin_sandbox import oauth, rest
from syndicate.linkedin_sandbox.errors import Refusal
from syndicate.linkedin_sandbox.jwt import jwks
from syndicate.linkedin_sandbox.state import Post, SandboxClient, SandboxState
from syndicate.linkedin_sandbox.text import render_little_text

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = [
    "SandboxApp",
    "SandboxClient",
    "SandboxState",
    "create_sandbox",
    "render_little_text",
    "running_sandbox",
    "serve_sandbox",
]

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
POSTS_PER_PAGE = 20
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SCOPE_TEXT = {
    "openid": "Use your name and photo to sign you in",
    "profile": "Your name and photo",
    "email": "Your primary email address",
    "w_member_social": "Create, modify and delete posts on your behalf",
    "r_member_social": "Read your posts",
    "w_organization_social": "Post on behalf of the pages you administer",
    "r_organization_social": "Read your pages' posts",
    "r_organization_admin": "See which pages you administer",
    "rw_organization_admin": "Manage the pages you administer",
}

bp = Blueprint("sandbox", __name__)


class SandboxApp(Flask):
    """The sandbox's Flask app; `state` is its whole world."""

    state: SandboxState


def create_sandbox(
    *,
    base_url: str,
    clients: dict[str, SandboxClient] | None = None,
    clock: Callable[[], datetime] | None = None,
    active_versions: set[str] | None = None,
) -> SandboxApp:
    """A sandbox answering as if it lived at `base_url` (e.g. http://127.0.0.1:5001)."""
    app = SandboxApp(
        "syndicate.linkedin_sandbox.app",
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "syndicate" / "static"),
    )
    app.state = SandboxState(
        base_url=base_url, clients=clients, clock=clock, active_versions=active_versions
    )
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.register_blueprint(bp)
    return app


def _state() -> SandboxState:
    """The running sandbox's state."""
    return cast(SandboxApp, current_app).state


# cross-cutting: faults, errors, headers


@bp.before_app_request
def _inject_fault() -> None:
    """Apply a queued fault: answer in place of the real response, or delay."""
    if request.path.startswith("/sandbox/"):
        return
    state = _state()
    fault = state.take_fault(request.method, request.path)
    if fault is None:
        return
    if fault.kind == "delay":
        state.sleep(fault.seconds)
    elif fault.kind == "timeout-after-store":
        g.respond_after = fault.seconds
    else:
        raise rest.fault_refusal(
            fault.kind,
            method=request.method,
            path=request.path,
            version=request.headers.get("LinkedIn-Version"),
        )


@bp.after_app_request
def _finish(response: Response) -> Response:
    """Security headers; and the late answer of a "timeout-after-store" fault."""
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    _state().sleep(g.pop("respond_after", 0.0))
    return response


@bp.app_errorhandler(Refusal)
def _refused(refusal: Refusal) -> Response:
    """A Refusal becomes its JSON body and status."""
    response = jsonify(refusal.body)
    response.status_code = refusal.status
    response.headers.update(refusal.headers)
    return response


@bp.app_errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Response:
    """Routing errors (404, 405, 413) as JSON."""
    response = jsonify({"status": exc.code, "message": exc.description})
    response.status_code = exc.code or 500
    return response


def _json(body: Any, status: int = 200) -> Response:
    """A JSON response with a status."""
    response = jsonify(body)
    response.status_code = status
    return response


def _no_store(body: dict[str, Any]) -> Response:
    """An OAuth JSON response that caches must not keep."""
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _empty(status: int, headers: dict[str, str] | None = None) -> Response:
    """A response with an empty body."""
    return Response(b"", status=status, headers=headers or {})


def _rest_call() -> rest.RestCall:
    """Checks 1–3 for the current /rest request."""
    return rest.rest_call(
        _state(),
        authorization=request.headers.get("Authorization"),
        version=request.headers.get("LinkedIn-Version"),
        protocol=request.headers.get("X-Restli-Protocol-Version"),
    )


# OAuth and OpenID Connect (A–E)


def _auth_page(message: str, status: int) -> tuple[str, int]:
    """The sandbox's HTML page for a refused authorization."""
    return render_template("linkedin_sandbox/error.html", message=message), status


@bp.get("/oauth/v2/authorization")
def authorize() -> ResponseReturnValue:
    """Validate, then redirect at once or show the consent page."""
    state = _state()
    try:
        auth = oauth.validate_authorization(state, request.args)
    except oauth.AuthorizeError as exc:
        return _auth_page(str(exc), 401)
    target = oauth.answer_without_consent(state, auth)
    if target is not None:
        return redirect(target, 302)
    consent = oauth.open_consent(state, auth)
    with state.lock:
        members, signed_in = list(state.members.values()), state.signed_in
    scopes = [(s, SCOPE_TEXT.get(s, s)) for s in sorted(auth.scopes)]
    return render_template(
        "linkedin_sandbox/consent.html",
        consent=consent,
        auth=auth,
        members=members,
        signed_in=signed_in,
        scopes=scopes,
    ), 200


@bp.post("/oauth/v2/authorization")
def authorize_decide() -> ResponseReturnValue:
    """The consent page's Allow or Cancel."""
    decision = request.form.get("decision")
    if decision not in {"allow", "cancel"}:
        return _auth_page("Choose Allow or Cancel.", 400)
    try:
        target = oauth.answer_consent(
            _state(),
            request.form.get("consent", ""),
            allow=decision == "allow",
            sub=request.form.get("member"),
        )
    except oauth.AuthorizeError as exc:
        return _auth_page(str(exc), 400)
    return redirect(target, 302)


@bp.post("/oauth/v2/accessToken")
def access_token() -> Response:
    """Exchange a code (or, for partners, a refresh token)."""
    return _no_store(oauth.exchange(_state(), request.form))


@bp.post("/oauth/v2/introspectToken")
def introspect_token() -> Response:
    """Token introspection."""
    return _no_store(oauth.introspect(_state(), request.form))


@bp.post("/oauth/v2/revoke")
def revoke_token() -> Response:
    """Token revocation."""
    oauth.revoke(_state(), request.form)
    return _empty(200)


@bp.get("/oauth/.well-known/openid-configuration")
def openid_configuration() -> Response:
    """OIDC discovery."""
    return _json(oauth.openid_configuration(_state()))


@bp.get("/oauth/openid/jwks")
def openid_jwks() -> Response:
    """The id_token signing keys."""
    return _json(jwks())


@bp.get("/v2/userinfo")
def userinfo() -> Response:
    """The signed-in member's OIDC claims."""
    state = _state()
    token = oauth.authenticate(state, request.headers.get("Authorization"))
    return _json(oauth.userinfo(state, token))


# REST API (F–J)


@bp.get("/rest/organizationAcls")
def organization_acls() -> Response:
    """The member's page roles."""
    return _json(rest.organization_acls(_state(), _rest_call(), request.args))


@bp.get("/rest/organizations/<organization_id>")
def organization(organization_id: str) -> Response:
    """A page's names."""
    _rest_call()
    return _json(rest.organization_json(_state(), organization_id))


@bp.post("/rest/posts")
def create_post() -> Response:
    """Create a post: 201, x-restli-id, empty body."""
    urn = rest.create_post(_state(), _rest_call(), request.get_data())
    return _empty(201, {"x-restli-id": urn})


@bp.get("/rest/posts/<path:urn>")
def get_post(urn: str) -> Response:
    """Read a post."""
    return _json(rest.get_post(_state(), _rest_call(), urn))


@bp.delete("/rest/posts/<path:urn>")
def delete_post(urn: str) -> Response:
    """Delete a post; deleting it again is also 204."""
    rest.delete_post(_state(), _rest_call(), urn)
    return _empty(204)


@bp.post("/rest/images")
def initialize_upload() -> Response:
    """Start an image upload."""
    return _json(
        rest.initialize_upload(
            _state(), _rest_call(), request.args.get("action"), request.get_data()
        )
    )


@bp.get("/rest/images/<path:urn>")
def image_status(urn: str) -> Response:
    """An image's status."""
    return _json(rest.image_json(_state(), _rest_call(), urn))


@bp.put("/sandbox-upload/<image_id>")
def upload(image_id: str) -> Response:
    """Receive an image's bytes at its upload URL."""
    state = _state()
    token = oauth.authenticate(state, request.headers.get("Authorization"))
    rest.upload_image(state, token, image_id, request.get_data())
    return _empty(201)


# pages for people


@dataclass(frozen=True)
class PostCard:
    """A post as a reader of the feed would see it."""

    urn: str
    author_name: str
    author_urn: str
    text: str
    sent: str
    cut_at: int | None
    cut_char: str | None
    created_at: datetime
    article: dict[str, Any] | None
    image_url: str | None
    image_alt: str


def _image_url(state: SandboxState, urn: str | None) -> str | None:
    """Where the sandbox serves an uploaded image, for the page."""
    if not urn:
        return None
    return f"{state.base_url}/sandbox/images/{urn.removeprefix('urn:li:image:')}"


def post_card(state: SandboxState, post: Post) -> PostCard:
    """What the feed shows for a stored post."""
    content = post.content or {}
    article = content.get("article")
    media = content.get("media") or {}
    if article is not None:
        article = {**article, "thumbnail_url": _image_url(state, article.get("thumbnail"))}
    return PostCard(
        urn=post.urn,
        author_name=state.author_name(post.author),
        author_urn=post.author,
        text=post.text.rendered,
        sent=post.commentary,
        cut_at=post.text.cut_at,
        cut_char=post.text.cut_char,
        created_at=post.created_at,
        article=article,
        image_url=_image_url(state, media.get("id")),
        image_alt=media.get("altText", ""),
    )


@bp.get("/")
def home() -> ResponseReturnValue:
    """The sandbox's page lives under /sandbox/."""
    return redirect(url_for("sandbox.index"), 302)


@bp.get("/sandbox/")
def index() -> str:
    """Every live post, newest first, and the switches."""
    state = _state()
    page = max(request.args.get("page", 1, type=int) or 1, 1)
    live = state.post_list(include_deleted=False)
    shown = live[(page - 1) * POSTS_PER_PAGE : page * POSTS_PER_PAGE]
    return render_template(
        "linkedin_sandbox/index.html",
        cards=[post_card(state, p) for p in shown],
        page=page,
        has_next=len(live) > page * POSTS_PER_PAGE,
        deleted=len(state.post_list()) - len(live),
        status=describe(state),
    )


@bp.get("/sandbox/images/<image_id>")
def image_bytes(image_id: str) -> Response:
    """An uploaded image, for the page's cards."""
    state = _state()
    with state.lock:
        image = state.images.get(image_id)
    if image is None or image.data is None:
        return _json({"status": 404, "message": "No such image"}, 404)
    return Response(image.data, mimetype=image.media_type)


@bp.get("/sandbox/avatar/<sub>.svg")
def avatar(sub: str) -> Response:
    """A member's picture: initials on a square."""
    state = _state()
    with state.lock:
        member = state.members.get(sub)
    if member is None:
        return _json({"status": 404, "message": "No such member"}, 404)
    initials = escape(member.given_name[:1] + member.family_name[:1])
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="96" height="96" viewBox="0 0 96 96">'
        '<rect width="96" height="96" fill="#0a66c2"/><text x="48" y="60" font-size="36" '
        f'text-anchor="middle" fill="#fff" font-family="sans-serif">{initials}</text></svg>'
    )
    return Response(svg, mimetype="image/svg+xml")


# test controls (K)


def describe(state: SandboxState) -> dict[str, Any]:
    """The switches, versions, clock, queued faults and counters."""
    with state.lock:
        return {
            "switches": asdict(state.switches),
            "active_versions": sorted(state.active_versions()),
            "versions_rolling": state.explicit_versions is None,
            "now": state.now().isoformat(),
            "clock_offset_seconds": state.clock_offset.total_seconds(),
            "token_delay_seconds": state.token_delay.total_seconds(),
            "signed_in": state.signed_in,
            "faults": [asdict(f) for f in state.faults],
            "token_calls": dict(state.token_calls),
            "posts": len(state.posts),
            "tokens": len(state.tokens),
            "images": len(state.images),
        }


def control_post_json(state: SandboxState, post: Post) -> dict[str, Any]:
    """A stored post for the controls: the API view plus what the sandbox knows besides."""
    return {
        **rest.post_json(post),
        "sentCommentary": post.commentary,
        "renderedCommentary": post.text.rendered,
        "cutAt": post.text.cut_at,
        "authorName": state.author_name(post.author),
        "deleted": post.deleted_at is not None,
    }


def _control_body() -> dict[str, Any]:
    """The control request's JSON object ({} when empty)."""
    body = request.get_json(silent=True) if request.get_data() else {}
    if not isinstance(body, dict):
        raise ValueError("send a JSON object")
    return body


def _control(view: Callable[..., Response]) -> Callable[..., Response]:
    """Answer a control request's bad input with 400 {"error": …}."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Response:
        try:
            return view(*args, **kwargs)
        except ValueError as exc:
            return _json({"error": str(exc)}, 400)

    return wrapper


def _number(body: dict[str, Any], name: str) -> float:
    """A numeric field of a control request."""
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number")
    return float(value)


@bp.get("/sandbox/control/state")
@_control
def control_state() -> Response:
    """Everything switchable, at a glance."""
    return _json(describe(_state()))


@bp.post("/sandbox/control/reset")
@_control
def control_reset() -> Response:
    """Back to a fresh sandbox."""
    _state().reset()
    return _json(describe(_state()))


@bp.post("/sandbox/control/switches")
@_control
def control_switches() -> Response:
    """Set switches, e.g. {"auto_consent": true, "partner": true}."""
    return _json(asdict(_state().set_switches(**_control_body())))


@bp.get("/sandbox/control/faults")
@_control
def control_faults() -> Response:
    """The queued faults."""
    return _json(describe(_state())["faults"])


@bp.post("/sandbox/control/faults")
@_control
def control_add_fault() -> Response:
    """Queue a fault: {"path": "/rest/posts", "kind": "429", "count": 1, "method", "seconds"}."""
    body = _control_body()
    path, kind = body.get("path"), body.get("kind")
    if not isinstance(path, str) or not isinstance(kind, str):
        raise ValueError("path and kind are required strings")
    method = body.get("method")
    count = body.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool):
        raise ValueError("count must be an integer")
    seconds = _number(body, "seconds") if "seconds" in body else 0.0
    fault = _state().inject(
        path, kind, count=count, seconds=seconds, method=method if isinstance(method, str) else None
    )
    return _json(asdict(fault), 201)


@bp.delete("/sandbox/control/faults")
@_control
def control_clear_faults() -> Response:
    """Drop every queued fault."""
    _state().clear_faults()
    return _empty(204)


def _token_arg(body: dict[str, Any]) -> str | None:
    """The optional token a control request names."""
    token = body.get("token")
    if token is not None and not isinstance(token, str):
        raise ValueError("token must be a string (or left out for every token)")
    return token


@bp.post("/sandbox/control/tokens/revoke")
@_control
def control_revoke() -> Response:
    """Revoke {"token": …}, or every token."""
    return _json({"revoked": _state().revoke_tokens(_token_arg(_control_body()))})


@bp.post("/sandbox/control/tokens/expire")
@_control
def control_expire() -> Response:
    """Expire {"token": …}, or every access token."""
    return _json({"expired": _state().expire_tokens(_token_arg(_control_body()))})


@bp.post("/sandbox/control/tokens/delay")
@_control
def control_token_delay() -> Response:
    """New tokens answer REVOKED_ACCESS_TOKEN for their first {"seconds": N}."""
    _state().set_token_delay(_number(_control_body(), "seconds"))
    return _json(describe(_state()))


@bp.post("/sandbox/control/tokens/mint")
@_control
def control_mint() -> Response:
    """A token without the OAuth dance: {"scopes": [...], "sub": optional}."""
    body = _control_body()
    scopes = body.get("scopes")
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise ValueError("scopes must be a list of strings")
    state = _state()
    sub = body.get("sub", state.signed_in)
    if sub not in state.members:
        raise ValueError(f"no member {sub!r}")
    return _json({"access_token": state.mint_token(scopes, sub=sub)}, 201)


@bp.post("/sandbox/control/versions")
@_control
def control_versions() -> Response:
    """{"active": ["202611", …]}, or {"active": null} for the rolling twelve months."""
    active = _control_body().get("active")
    if active is not None and not isinstance(active, list):
        raise ValueError("active must be a list of YYYYMM strings or null")
    _state().set_active_versions(cast(Iterable[str] | None, active))
    return _json(describe(_state()))


@bp.post("/sandbox/control/clock")
@_control
def control_clock() -> Response:
    """{"offset_seconds": N} sets the offset; {"advance_seconds": N} moves time on."""
    body = _control_body()
    state = _state()
    if "offset_seconds" in body:
        state.set_clock_offset(timedelta(seconds=_number(body, "offset_seconds")))
    if "advance_seconds" in body:
        state.advance_clock(timedelta(seconds=_number(body, "advance_seconds")))
    return _json(describe(state))


@bp.post("/sandbox/control/sign-in")
@_control
def control_sign_in() -> Response:
    """Choose the member who answers consent pages: {"sub": …}."""
    sub = _control_body().get("sub")
    if not isinstance(sub, str):
        raise ValueError("sub must be a string")
    _state().sign_in(sub)
    return _json(describe(_state()))


@bp.get("/sandbox/control/posts")
@_control
def control_posts() -> Response:
    """Every stored post, deleted ones too, newest first."""
    state = _state()
    return _json({"elements": [control_post_json(state, p) for p in state.post_list()]})


# serving


class _QuietHandler(WSGIRequestHandler):
    """No access log lines (tests)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        """Stay silent."""


class _LateBoundApp:
    """Lets the server bind (maybe port 0) before the app, which needs its URL, exists."""

    def __init__(self) -> None:
        self.app: SandboxApp | None = None

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        assert self.app is not None
        return self.app(environ, start_response)


def _url_host(host: str) -> str:
    """A host as it appears in a URL the sandbox hands out."""
    # Only maps a wildcard bind address to a name clients can reach.
    if host in {"", "0.0.0.0"}:  # noqa: S104  # nosec B104
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _start(
    host: str, port: int, *, quiet: bool, **kwargs: Any
) -> tuple[BaseWSGIServer, SandboxApp]:
    """Bind a server, then build the app that knows the server's URL."""
    late = _LateBoundApp()
    server = make_server(
        host,
        port,
        cast("WSGIApplication", late),
        threaded=True,
        request_handler=_QuietHandler if quiet else None,
    )
    base_url = kwargs.pop("base_url", None) or f"http://{_url_host(host)}:{server.server_port}"
    try:
        late.app = create_sandbox(base_url=base_url, **kwargs)
    except BaseException:
        server.server_close()
        raise
    return server, late.app


def serve_sandbox(host: str, port: int, **kwargs: Any) -> None:
    """Serve the sandbox until interrupted; kwargs go to create_sandbox (base_url optional)."""
    server, app = _start(host, port, quiet=False, **kwargs)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        app.state.stopping.set()
        server.server_close()


@contextmanager
def running_sandbox(**kwargs: Any) -> Iterator[tuple[str, SandboxApp]]:
    """A sandbox on 127.0.0.1 and a free port in a background thread: (base_url, app)."""
    server, app = _start("127.0.0.1", 0, quiet=True, **kwargs)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.02},
        name="linkedin-sandbox",
        daemon=True,
    )
    thread.start()
    try:
        yield app.state.base_url, app
    finally:
        app.state.stopping.set()
        server.shutdown()
        thread.join()
        server.server_close()
