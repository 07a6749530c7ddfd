"""The OpenAPI document: generated from the validating models, covering every API route, and
holding up against schemathesis (no 5xx, no response outside the schema)."""

from __future__ import annotations

import json
import re

import pytest
import schemathesis
from jsonschema import Draft202012Validator
from pydantic import ValidationError
from schemathesis.engine import events, from_schema

from syndicate import PROJECT_ROOT
from syndicate.api import schemas
from syndicate.api.registry import REF_TEMPLATE
from syndicate.api.views import operations
from syndicate.staff.models import Role
from syndicate.staff.services import create_api_token
from tests import factories
from tests.sharing.conftest import pending_request


@pytest.fixture
def document(client) -> dict:  # noqa: ANN001
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_document_is_openapi_3_1_and_every_schema_is_valid_2020_12(document):
    assert document["openapi"] == "3.1.0"
    assert document["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    # pydantic writes bounds it could not translate as "ge"/"le", which JSON Schema ignores.
    assert not re.search(r'"(ge|gt|le|lt)":', json.dumps(document))


def test_request_schemas_are_the_validating_models(document):
    components = document["components"]["schemas"]
    for model in (schemas.ArticleCreate, schemas.ArticleUpdate, schemas.PostCreate,
                  schemas.RescheduleIn):
        generated = model.model_json_schema(ref_template=REF_TEMPLATE)
        generated.pop("$defs", None)
        assert components[model.__name__] == generated
    body = document["paths"]["/api/v1/posts"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/PostCreate"
    }
    assert components["ArticleCreate"]["additionalProperties"] is False


def test_every_api_route_is_documented(app, document):
    documented = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
    }
    routed = set()
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == "api.openapi_document":
            continue
        if rule.endpoint.startswith("staff_api."):
            continue  # /api/v1/me belongs to the staff feature
        path = rule.rule
        for argument in rule.arguments:
            path = re.sub(r"<[^>]*" + argument + ">", "{" + argument + "}", path)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            routed.add((method, path))
    assert routed == documented
    assert len(operations()) == len(documented)


def test_mutating_operations_take_an_idempotency_key(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = {p["name"] for p in operation["parameters"]}
            assert ("Idempotency-Key" in names) == (method in {"post", "patch"}), (method, path)


def _problems(events_: object) -> list[str]:
    """Every failed check and engine error of a schemathesis run, one line each."""
    problems = []
    for event in events_:
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            for checks in event.recorder.checks.values():
                for check in checks:
                    if check.failure_info is not None:
                        curl = check.failure_info.code_sample.splitlines()[-1][:400]
                        problems.append(f"{check.name}: {check.failure_info.failure} {curl}")
        elif isinstance(event, events.NonFatalError | events.FatalError):
            problems.append(f"error: {event}")
    return problems


def test_schemathesis_with_every_check_finds_nothing_against_a_running_app(live_app):
    """`st run --checks all` in-process, with schemathesis.toml, against real HTTP."""
    app, server = live_app
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    now = app.extensions["clock"].now()
    with app.extensions["database"].transaction() as session:
        user = factories.make_user(session, now=now, role=Role.ADMIN)
        _token, raw = create_api_token(session, user, "schemathesis", now=now)
        factories.make_article(session, now=now, title="Fuzzed article")
        share_article = factories.make_article(session, now=now, title="Shared article")
        factories.make_target(session, now=now)
    with app.extensions["database"].sessions() as session:
        pending_request(session, app, share_article, app.extensions["clock"])

    config = schemathesis.Config.from_path(PROJECT_ROOT / "schemathesis.toml")
    config.update(seed=13, max_failures=None)
    project = config.projects.default
    project.update(base_url=server.url, headers={"Authorization": f"Bearer {raw}"})
    project.checks.update(included_check_names=["all"])
    project.generation.update(max_examples=25)
    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json", config=config)
    problems = _problems(from_schema(schema).execute())
    assert not problems, "\n\n".join(problems)


def _integer_fields(schema: dict, components: dict) -> list[str]:
    """The properties of a request schema that the document types as integers."""
    found = []
    for name, prop in schema.get("properties", {}).items():
        variants = [prop, *prop.get("anyOf", [])]
        if any(v.get("type") == "integer" for v in variants):
            found.append(name)
    return found


def test_every_integer_field_takes_a_whole_number_written_as_a_float(document):
    """JSON Schema's "integer" allows 6964.0, so validation must too, field by field."""
    components = document["components"]["schemas"]
    checked = []
    for op in operations():
        if op.body is None:
            continue
        for field_name in _integer_fields(components[op.body.__name__], components):
            body = json.dumps({field_name: 6964.0})
            try:
                op.body.model_validate_json(body)
            except ValidationError as exc:
                at_fault = [e for e in exc.errors() if e["loc"][:1] == (field_name,)]
                assert at_fault == [], (op.body.__name__, field_name, at_fault)
            checked.append((op.body.__name__, field_name))
    assert ("DecisionIn", "excerpt_limit") in checked
    assert ("PostCreate", "target") in checked


def test_a_grant_with_excerpt_limit_6964_0_is_accepted(api, make_article, session, app, clock):
    article = make_article(title="Worth an excerpt")
    session.commit()
    pending = pending_request(session, app, article, clock)
    granted = api.post(
        f"/share-requests/{pending.public_id}/decide",
        {"decision": "grant", "excerpt_limit": 6964.0},
    )
    assert granted.status_code == 200, granted.get_json()
    assert granted.get_json()["excerpt_limit"] == 6964
    for refused in (6964.5, "6964", True):
        answer = api.post(
            f"/share-requests/{pending.public_id}/decide",
            {"decision": "grant", "excerpt_limit": refused},
        )
        assert answer.status_code == 422
        assert answer.get_json()["error"]["details"][0]["field"] == "excerpt_limit"
