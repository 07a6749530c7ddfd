"""Ids and page numbers in paths: a number that can name no row is a 404, never a 500.

The routes are read from the app's URL map, so a new route that takes an id is checked at
once, and one written with ``<int:...>`` fails the first test.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from werkzeug.routing import IntegerConverter, Rule

from syndicate import create_app
from syndicate.staff.models import Role
from syndicate.web.converters import IdConverter, PageConverter
from tests.conftest import app_config
from tests.web.test_authorization import dummy_arguments

OUT_OF_RANGE = [0, 2**31, 2**63 - 1, 2**63, 2**64]


def _url_map_rules() -> list[Rule]:
    instance = Path(tempfile.gettempdir()) / "syndicate-url-map-only"
    app = create_app(app_config("sqlite://", INSTANCE_PATH=str(instance)))
    return sorted(app.url_map.iter_rules(), key=lambda rule: rule.rule)


RULES = _url_map_rules()
NUMBERED = [
    (rule, name)
    for rule in RULES
    for name, converter in rule._converters.items()
    if isinstance(converter, IdConverter | PageConverter)
]


def test_no_route_takes_an_unbounded_int():
    bare = [
        rule.rule
        for rule in RULES
        if any(type(c) is IntegerConverter for c in rule._converters.values())
    ]
    assert not bare, f"use <id:...> or <page:...> instead of <int:...> in {bare}"


def test_every_id_in_a_dashboard_path_uses_the_id_converter():
    ids = {(rule.rule, name) for rule, name in NUMBERED}
    assert ("/dashboard/articles/<id:article_id>", "article_id") in ids
    assert ("/dashboard/alerts/<id:alert_id>/dismiss", "alert_id") in ids
    assert any(rule.startswith("/feeds/archive/") for rule, _ in ids)
    assert len(ids) >= 25


@pytest.mark.parametrize("number", OUT_OF_RANGE)
@pytest.mark.parametrize(("rule", "name"), NUMBERED, ids=[f"{r.rule}:{n}" for r, n in NUMBERED])
def test_a_number_no_row_can_have_is_404(app, client, make_user, login, rule, name, number):
    login(make_user(role=Role.ADMIN))
    method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"OPTIONS"})[0]
    path = app.url_map.bind("localhost").build(
        rule.endpoint, {**dummy_arguments(rule), name: number}, method=method
    )
    assert client.open(path, method=method).status_code == 404


def test_digits_of_other_scripts_are_not_numbers(client, make_user, login):
    login(make_user(role=Role.ADMIN))
    assert client.get("/dashboard/articles/%C2%B2").status_code == 404  # "²"
    assert client.get("/dashboard/articles/%D9%A1").status_code == 404  # Arabic-Indic 1
    assert client.get("/dashboard/articles?page=%C2%B2").status_code == 400
    assert client.get("/dashboard/articles?page=99999999999999999999").status_code == 400


def test_an_id_in_range_still_reaches_its_row(client, make_user, make_article, login):
    login(make_user())
    article = make_article()
    assert client.get(f"/dashboard/articles/{article.id}").status_code == 200
    assert client.get(f"/dashboard/articles/{article.id + 1000}").status_code == 404
