"""The OpenAPI document: generated from the validating models, covering every API route, and
holding up against schemathesis (no 5xx, no response outside the schema)."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from jsonschema import Draft202012Validator
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from syndicate.api import schemas
from syndicate.api.registry import REF_TEMPLATE
from syndicate.api.views import operations

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


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


def _fuzz(
    app, headers: dict[str, str], mode: GenerationMode, examples: int, **path: object  # noqa: ANN001
) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        names = {p.name for p in operation.path_parameters}
        if path and not names & set(path):
            continue
        fixed = {name: value for name, value in path.items() if name in names}

        @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # noqa: ANN001
            case.call_and_validate(headers=headers, checks=CHECKS)

        check()


def test_schemathesis_finds_no_server_error_and_no_answer_outside_the_schema(
    app, api, make_article, target, session
):
    app.config["API_RATE_LIMIT"] = "100000 per minute"
    article = make_article(title="Fuzzed article")
    session.commit()
    post = api.post(
        "/posts",
        {"article": article.public_id, "target": target.id, "scheduled_at": "2026-04-01T09:00:00Z"},
    ).get_json()
    _fuzz(app, api.headers(), GenerationMode.POSITIVE, examples=15)
    _fuzz(app, api.headers(), GenerationMode.NEGATIVE, examples=8)
    # Again on rows that exist, so the success answers meet the schema too.
    _fuzz(app, api.headers(), GenerationMode.POSITIVE, examples=8,
          public_id=article.public_id, post_id=post["id"])
