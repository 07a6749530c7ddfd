"""The LinkedIn sandbox: a separate WSGI app that imitates LinkedIn on one loopback base URL.

It implements "Contract for a fake LinkedIn server" in reference/linkedin.md with LinkedIn's
paths, so the real client talks to it by changing only its base URLs. The demo app is
`sandbox-client` / `sandbox-secret` (every scope, any http://127.0.0.1 or http://localhost
redirect URI); the signed-in member is Sam Sandbox (`sandbox-member-1`), administrator of
page 1001, content administrator of 1002 and analyst of 1003.

This module is the WSGI app, LinkedIn's endpoints and the serving; the test controls under
/sandbox/control/ are in controls.py (and methods of `app.state`), the page /sandbox/ that
shows what was posted in pages.py.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from syndicate.linkedin_sandbox import controls, oauth, pages, rest
from syndicate.linkedin_sandbox.context import (
    SandboxApp,
    current_state,
    empty_response,
    json_response,
)
from syndicate.linkedin_sandbox.errors import Refusal
from syndicate.linkedin_sandbox.jwt import jwks
from syndicate.linkedin_sandbox.state import SandboxClient, SandboxState
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
    "r_member_postAnalytics": "See how your posts did",
}

bp = Blueprint("sandbox", __name__)


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
    app.register_blueprint(pages.bp)
    app.register_blueprint(controls.bp)
    return app


# cross-cutting: faults, errors, headers


@bp.before_app_request
def _inject_fault() -> None:
    """Apply a queued fault: answer in place of the real response, or delay."""
    if request.path.startswith("/sandbox/"):
        return
    state = current_state()
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
    current_state().sleep(g.pop("respond_after", 0.0))
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


def _no_store(body: dict[str, Any]) -> Response:
    """An OAuth JSON response that caches must not keep."""
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _rest_call() -> rest.RestCall:
    """Checks 1–3 for the current /rest request."""
    return rest.rest_call(
        current_state(),
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
    state = current_state()
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
            current_state(),
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
    return _no_store(oauth.exchange(current_state(), request.form))


@bp.post("/oauth/v2/introspectToken")
def introspect_token() -> Response:
    """Token introspection."""
    return _no_store(oauth.introspect(current_state(), request.form))


@bp.post("/oauth/v2/revoke")
def revoke_token() -> Response:
    """Token revocation."""
    oauth.revoke(current_state(), request.form)
    return empty_response(200)


@bp.get("/oauth/.well-known/openid-configuration")
def openid_configuration() -> Response:
    """OIDC discovery."""
    return json_response(oauth.openid_configuration(current_state()))


@bp.get("/oauth/openid/jwks")
def openid_jwks() -> Response:
    """The id_token signing keys."""
    return json_response(jwks())


@bp.get("/v2/userinfo")
def userinfo() -> Response:
    """The signed-in member's OIDC claims."""
    state = current_state()
    token = oauth.authenticate(state, request.headers.get("Authorization"))
    return json_response(oauth.userinfo(state, token))


# REST API (F–J)


@bp.get("/rest/organizationAcls")
def organization_acls() -> Response:
    """The member's page roles."""
    return json_response(rest.organization_acls(current_state(), _rest_call(), request.args))


@bp.get("/rest/organizations/<organization_id>")
def organization(organization_id: str) -> Response:
    """A page's names."""
    _rest_call()
    return json_response(rest.organization_json(current_state(), organization_id))


@bp.get("/rest/organizationalEntityShareStatistics")
def share_statistics() -> Response:
    """Lifetime figures of a page's posts."""
    return json_response(
        rest.share_statistics(
            current_state(),
            _rest_call(),
            request.args,
            request.query_string.decode("ascii", "replace"),
        )
    )


@bp.get("/rest/memberCreatorPostAnalytics")
def member_post_analytics() -> Response:
    """One figure of a member's own post."""
    return json_response(rest.member_post_analytics(current_state(), _rest_call(), request.args))


@bp.get("/rest/socialActions/<path:urn>")
def social_actions(urn: str) -> Response:
    """A post's likes and comments."""
    return json_response(rest.social_actions(current_state(), _rest_call(), urn))


@bp.post("/rest/posts")
def create_post() -> Response:
    """Create a post: 201, x-restli-id, empty body."""
    urn = rest.create_post(current_state(), _rest_call(), request.get_data())
    return empty_response(201, {"x-restli-id": urn})


@bp.get("/rest/posts/<path:urn>")
def get_post(urn: str) -> Response:
    """Read a post."""
    return json_response(rest.get_post(current_state(), _rest_call(), urn))


@bp.delete("/rest/posts/<path:urn>")
def delete_post(urn: str) -> Response:
    """Delete a post; deleting it again is also 204."""
    rest.delete_post(current_state(), _rest_call(), urn)
    return empty_response(204)


@bp.post("/rest/images")
def initialize_upload() -> Response:
    """Start an image upload."""
    return json_response(
        rest.initialize_upload(
            current_state(), _rest_call(), request.args.get("action"), request.get_data()
        )
    )


@bp.get("/rest/images/<path:urn>")
def image_status(urn: str) -> Response:
    """An image's status."""
    return json_response(rest.image_json(current_state(), _rest_call(), urn))


@bp.put("/sandbox-upload/<image_id>")
def upload(image_id: str) -> Response:
    """Receive an image's bytes at its upload URL."""
    state = current_state()
    token = oauth.authenticate(state, request.headers.get("Authorization"))
    rest.upload_image(state, token, image_id, request.get_data())
    return empty_response(201)


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
