"""The authorisation matrix, generated from the app's URL map: a new route is covered at once.

Every rule (but ``static``) and every method is requested as an anonymous visitor, an
editor and an admin, with dummy path arguments (ints 999999, strings "nope", paths "x", and
an obviously wrong token for arguments that carry a reader's token). What each may get
depends on the route's class:

- public: anyone; never a 5xx, a GET never sends the visitor to sign in.
- staff: `/dashboard/...` behind ``login_required``: anonymous visitors are sent to /login
  (or get 401/403); editors and admins are let in.
- admin: behind ``admin_required`` (the view carries ``admin_only``): editors get 403.
- api: `/api/...`: 401 without a bearer token, whatever the session cookie says.
- reader: a private link for a reader; a wrong token gives 400, 403, 404 or 410.
- ops: health, readiness and metrics; never a 5xx.

A route that no line of CLASSES matches fails the test until someone classifies it; a
method that is stricter than its route's decorator (an admin check inside the view) is
listed in METHOD_CLASSES.
"""

from __future__ import annotations

from fnmatch import fnmatchcase
from urllib.parse import urlsplit

import pytest
from flask import Flask
from werkzeug.routing import Rule
from werkzeug.routing.converters import (
    AnyConverter,
    FloatConverter,
    IntegerConverter,
    PathConverter,
    UUIDConverter,
)

from syndicate.staff.models import Role

# (rule pattern, class), first match wins. Patterns are fnmatch patterns on the rule text.
CLASSES: list[tuple[str, str]] = [
    ("/api/v1/openapi.json", "public"),
    ("/api/*", "api"),
    ("/dashboard/*", "staff"),  # "admin" when the view is behind admin_required
    ("/healthz", "ops"),
    ("/readyz", "ops"),
    ("/metrics", "ops"),
    ("/", "public"),
    ("/favicon.ico", "public"),
    ("/login", "public"),
    ("/logout", "public"),  # signs out whoever asks; nothing to protect
    ("/articles/<slug>", "public"),
    ("/articles/<slug>/share", "public"),
    ("/articles/<slug>/share/sent", "public"),
    ("/share", "public"),
    ("/sharing/r/*", "reader"),  # the requester's private link
    ("/sharing/verify/*", "reader"),  # the email-verification link
    ("/permissions/*", "public"),
    ("/s/<code>", "public"),
    ("/feeds/*", "public"),
    ("/websub", "public"),  # WebSub subscribers are other servers
]
# One method of a route whose class differs from what its decorator says: (method, rule).
METHOD_CLASSES: dict[tuple[str, str], str] = {
    # Everyone sees the rules; the view refuses editors who try to change them.
    ("POST", "/dashboard/posts/rules"): "admin",
    # Everyone sees the publication's name; only admins change it.
    ("POST", "/dashboard/publication"): "admin",
    # Standing permissions: editors may look, only admins grant or end them.
    ("POST", "/dashboard/sharing/standing"): "admin",
    ("POST", "/dashboard/sharing/standing/<id:standing_id>/end"): "admin",
}
# Path arguments that carry a reader's private token.
READER_ARGUMENTS = {"token", "reader_token"}
WRONG_TOKEN = "wrong-reader-token-0000000000000000"
ROLES = ("anonymous", "editor", "admin")


def classify(rule: Rule, app: Flask, method: str | None = None) -> str | None:
    if (method, rule.rule) in METHOD_CLASSES:
        return METHOD_CLASSES[(method, rule.rule)]
    for pattern, kind in CLASSES:
        if fnmatchcase(rule.rule, pattern):
            view = app.view_functions[rule.endpoint]
            if kind == "staff" and getattr(view, "admin_only", False):
                return "admin"
            if kind == "public" and READER_ARGUMENTS & set(rule.arguments):
                return "reader"
            return kind
    return None


def dummy_arguments(rule: Rule) -> dict[str, object]:
    values: dict[str, object] = {}
    for name, converter in rule._converters.items():
        if isinstance(converter, IntegerConverter):
            values[name] = 999999
        elif isinstance(converter, FloatConverter):
            values[name] = 999999.0
        elif isinstance(converter, UUIDConverter):
            values[name] = "00000000-0000-4000-8000-000000000000"
        elif isinstance(converter, AnyConverter):
            values[name] = sorted(converter.items)[0]
        elif isinstance(converter, PathConverter):
            values[name] = "x"
        elif name in READER_ARGUMENTS:
            values[name] = WRONG_TOKEN
        else:
            values[name] = "nope"
    return values


def routes(app: Flask) -> list[tuple[Rule, str]]:
    """Every rule and method the app serves (HEAD and OPTIONS are Flask's own)."""
    return [
        (rule, method)
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule)
        if rule.endpoint != "static"
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
    ]


def test_every_route_is_classified(app):
    unclassified = sorted({rule.rule for rule, _ in routes(app) if classify(rule, app) is None})
    assert not unclassified, (
        "Classify these routes in CLASSES of tests/web/test_authorization.py as public, "
        "staff, admin, api, reader or ops: " + ", ".join(unclassified)
    )


def test_dashboard_views_are_behind_login_or_admin_checks(app):
    bare = sorted(
        rule.rule for rule, _ in routes(app)
        if classify(rule, app) in {"staff", "admin"}
        and not getattr(app.view_functions[rule.endpoint], "login_only", False)
    )
    assert not bare, f"Dashboard routes without login_required/admin_required: {bare}"


def test_admin_only_views_exist_and_are_detected(app):
    # The marker must survive the decorators; if this finds nothing, the matrix is blind.
    admin = {rule.rule for rule, _ in routes(app) if classify(rule, app) == "admin"}
    assert "/dashboard/users" in admin


def _problem(kind: str, role: str, method: str, status: int, location: str) -> str | None:
    if status >= 500:
        return "server error"
    to_login = status in (301, 302, 303, 307, 308) and urlsplit(location).path == "/login"
    refused = to_login or status in (401, 403)
    if kind in {"staff", "admin"}:
        if role == "anonymous" and not refused:
            return "anonymous visitor was let in"
        if kind == "admin" and role == "editor" and status != 403:
            return "editor was not refused with 403"
        if (role == "admin" or (role == "editor" and kind == "staff")) and refused:
            return f"{role} was refused"
    elif kind == "api":
        if status != 401:
            return "expected 401 without a bearer token (the API ignores the session)"
    elif kind == "reader":
        if status not in (400, 403, 404, 410):
            return "a wrong reader token was not refused"
    elif to_login and method == "GET":  # POST /logout may well end at /login
        return "a public page sent the visitor to sign in"
    return None


@pytest.mark.parametrize("role", ROLES)
def test_authorisation_matrix(app, client, make_user, login, role):
    user = None
    if role != "anonymous":
        user = make_user(role=Role.ADMIN if role == "admin" else Role.EDITOR)
    adapter = app.url_map.bind("localhost")
    problems = []
    checked = 0
    for rule, method in routes(app):
        kind = classify(rule, app, method)
        if kind is None:
            continue  # test_every_route_is_classified names it
        if user is not None:
            login(user)  # again each time: /logout may have ended the session
        path = adapter.build(rule.endpoint, dummy_arguments(rule), method=method)
        headers = {}
        if kind == "api":
            # An admin's session cookie must not open the API, nor a wrong token.
            headers["Authorization"] = "Bearer nope" if role == "editor" else ""
        response = client.open(path, method=method, data={}, headers=headers)
        checked += 1
        problem = _problem(kind, role, method, response.status_code,
                           response.headers.get("Location", ""))
        if problem:
            problems.append(f"{method} {path} ({kind}) as {role}: {response.status_code}, "
                            f"{problem}")
    assert checked > 20
    assert not problems, "\n".join(problems)


def test_a_route_nobody_classified_is_reported(app):
    app.add_url_rule("/brand-new/<int:thing>", "brand_new", lambda thing: "hi")
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "brand_new")
    assert classify(rule, app) is None
    with pytest.raises(AssertionError, match="Classify these routes"):
        test_every_route_is_classified(app)


def test_an_unprotected_dashboard_route_is_reported(app):
    app.add_url_rule("/dashboard/forgotten", "forgotten", lambda: "secret things")
    with pytest.raises(AssertionError, match="without login_required"):
        test_dashboard_views_are_behind_login_or_admin_checks(app)
