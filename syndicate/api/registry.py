"""The route registry: every API operation is declared once, and the OpenAPI 3.1 document is
built from those declarations and the very pydantic models that validate requests.

``@registry.route(...)`` records method, path, summary, models and status codes, adds the
Flask URL rule, and wraps the view in the request pipeline the registry was given
(``syndicate.api.handling.handler``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, current_app
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from werkzeug.routing import BaseConverter, Map, UUIDConverter, parse_converter_args
from werkzeug.routing.converters import NumberConverter

from syndicate.api.schemas import EmptyBody, ErrorBody

REF_TEMPLATE = "#/components/schemas/{model}"
MUTATING = frozenset({"POST", "PATCH", "PUT", "DELETE"})
_RULE_PART = re.compile(r"<(?:(?P<converter>\w+)(?:\((?P<args>[^)]*)\))?:)?(?P<name>\w+)>")

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    400: "Malformed request: unparsable JSON, a bad query parameter or Idempotency-Key.",
    401: "Missing, unknown or revoked API token.",
    403: "The token's user may not do this.",
    404: "No such resource.",
    409: "Conflict: the resource exists or can no longer change, or a request with this "
    "Idempotency-Key is still in progress.",
    413: "The body is too large.",
    415: "The body is not application/json.",
    422: "The body is valid JSON but not a valid request; `details` lists the fields. Also an "
    "Idempotency-Key reused with a different body.",
    429: "Too many requests for this token; wait and retry.",
}


@dataclass(frozen=True)
class Operation:
    """One API operation as declared: what the pipeline enforces and the document describes."""

    method: str
    rule: str  # Flask rule relative to the blueprint, e.g. "/articles/<public_id>"
    endpoint: str
    summary: str
    tag: str
    response: type[BaseModel]
    status: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: frozenset[int] = field(default_factory=frozenset)
    description: str = ""

    @property
    def mutating(self) -> bool:
        return self.method in MUTATING

    @property
    def body_required(self) -> bool:
        return self.body is not None and self.body is not EmptyBody

    def error_statuses(self) -> list[int]:
        """Every error status the pipeline or the view can answer with."""
        statuses = {400, 401, 429, *self.errors}
        if "<" in self.rule:
            statuses.add(404)
        if self.mutating:
            statuses |= {409, 413, 415, 422}
        return sorted(statuses)


# Wraps a view of an operation into the Flask view that runs it (handling.handler).
Pipeline = Callable[[Operation, Callable[..., Any]], Callable[..., Any]]


class Registry:
    """Collects operations of one blueprint and builds their OpenAPI document."""

    def __init__(self, blueprint: Blueprint, prefix: str, *, pipeline: Pipeline) -> None:
        self.blueprint = blueprint
        self.prefix = prefix
        self.pipeline = pipeline
        self.operations: list[Operation] = []

    def route(
        self,
        method: str,
        rule: str,
        *,
        summary: str,
        tag: str,
        response: type[BaseModel],
        status: int = 200,
        body: type[BaseModel] | None = None,
        query: type[BaseModel] | None = None,
        errors: tuple[int, ...] = (),
        description: str = "",
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        method = method.upper()
        if method in MUTATING and body is None:
            body = EmptyBody

        def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
            operation = Operation(
                method=method,
                rule=rule,
                endpoint=view.__name__,
                summary=summary,
                tag=tag,
                response=response,
                status=status,
                body=body,
                query=query,
                errors=frozenset(errors),
                description=description or (view.__doc__ or "").strip(),
            )
            self.operations.append(operation)
            self.blueprint.add_url_rule(
                rule, operation.endpoint, self.pipeline(operation, view), methods=[method]
            )
            return view

        return decorate

    # --- the document ---------------------------------------------------------------------

    def openapi(self, *, title: str, version: str, description: str = "") -> dict[str, Any]:
        """The OpenAPI 3.1 document (JSON Schema 2020-12 dialect) of every operation; call it
        in an app context (path parameters are typed by the app's URL converters)."""
        wanted: list[tuple[type[BaseModel], Any]] = [(ErrorBody, "serialization")]
        for op in self.operations:
            wanted.append((op.response, "serialization"))
            if op.body is not None:
                wanted.append((op.body, "validation"))
            if op.query is not None:
                wanted.append((op.query, "validation"))
        unique = list(dict.fromkeys(wanted))
        refs, top = models_json_schema(unique, ref_template=REF_TEMPLATE)
        components = dict(sorted(top.get("$defs", {}).items()))

        paths: dict[str, dict[str, Any]] = {}
        for op in self.operations:
            path, path_params = openapi_path(self.prefix + op.rule, current_app.url_map.converters)
            paths.setdefault(path, {})[op.method.lower()] = self._operation(
                op, refs, components, path_params
            )
        return {
            "openapi": "3.1.0",
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "info": {"title": title, "version": version, "description": description},
            "paths": paths,
            "components": {
                "schemas": components,
                "securitySchemes": {
                    "bearer": {
                        "type": "http",
                        "scheme": "bearer",
                        "description": "An API token made on the dashboard's API tokens page.",
                    }
                },
            },
            "security": [{"bearer": []}],
        }

    def _operation(
        self,
        op: Operation,
        refs: dict[Any, dict[str, Any]],
        components: dict[str, Any],
        path_params: list[dict[str, Any]],
    ) -> dict[str, Any]:
        parameters = list(path_params)
        if op.query is not None:
            parameters += query_parameters(op.query, refs[(op.query, "validation")], components)
        if op.mutating:
            parameters.append(
                {
                    "name": "Idempotency-Key",
                    "in": "header",
                    "required": False,
                    "description": "Retry safely: the same key and body within 24 hours return "
                    "the first response (with `Idempotent-Replayed: true`) and do nothing again.",
                    "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY_PATTERN},
                }
            )
        error_ref = refs[(ErrorBody, "serialization")]
        responses: dict[str, Any] = {
            str(op.status): {
                "description": STATUS_TEXT.get(op.status, "Success"),
                "content": {"application/json": {"schema": refs[(op.response, "serialization")]}},
            }
        }
        for status in op.error_statuses():
            responses[str(status)] = {
                "description": STATUS_TEXT[status],
                "content": {"application/json": {"schema": error_ref}},
            }
        document: dict[str, Any] = {
            "operationId": op.endpoint,
            "summary": op.summary,
            "tags": [op.tag],
            "parameters": parameters,
            "responses": responses,
        }
        if op.description:
            document["description"] = op.description
        if op.body is not None:
            document["requestBody"] = {
                "required": op.body_required,
                "content": {"application/json": {"schema": refs[(op.body, "validation")]}},
            }
        return document


IDEMPOTENCY_KEY_PATTERN = r"^[\x21-\x7e]{1,200}$"


def openapi_path(
    rule: str, converters: Mapping[str, type[BaseConverter]]
) -> tuple[str, list[dict[str, Any]]]:
    """A Flask rule as an OpenAPI path template, with its path parameters typed by the very
    converters (``app.url_map.converters``) that match them."""
    params: list[dict[str, Any]] = []

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        args, kwargs = parse_converter_args(match.group("args") or "")
        converter = converters[match.group("converter") or "default"](Map(), *args, **kwargs)
        params.append(
            {"name": name, "in": "path", "required": True, "schema": _path_schema(converter)}
        )
        return "{" + name + "}"

    return _RULE_PART.sub(replace, rule), params


def _path_schema(converter: BaseConverter) -> dict[str, Any]:
    if isinstance(converter, NumberConverter) and converter.num_convert is int:
        schema: dict[str, Any] = {"type": "integer"}
        low = converter.min if converter.min is not None else (None if converter.signed else 0)
        if low is not None:
            schema["minimum"] = low
        if converter.max is not None:
            schema["maximum"] = converter.max
        return schema
    if isinstance(converter, UUIDConverter):
        return {"type": "string", "format": "uuid"}
    return {"type": "string"}


def query_parameters(
    model: type[BaseModel], ref: dict[str, Any], components: dict[str, Any]
) -> list[dict[str, Any]]:
    """One query parameter per field of the query model, never nullable (absent means unset)."""
    name = ref["$ref"].rsplit("/", 1)[-1]
    schema = components[name]
    required = set(schema.get("required", []))
    params = []
    for field_name, prop in schema.get("properties", {}).items():
        prop = dict(prop)
        variants = [v for v in prop.pop("anyOf", []) if v.get("type") != "null"]
        if len(variants) == 1:
            prop.update(variants[0])
        elif variants:
            prop["anyOf"] = variants
        if prop.get("default") is None:
            prop.pop("default", None)
        description = prop.pop("description", None)
        param: dict[str, Any] = {
            "name": field_name,
            "in": "query",
            "required": field_name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        params.append(param)
    return params
