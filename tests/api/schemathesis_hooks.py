"""A check schemathesis runs beside its own (schemathesis.toml loads this module).

schemathesis.toml lets positive requests be refused with 400 and 422, because a schema cannot
say which ids exist, which cursors this server signed or which Idempotency-Keys were used.
Those refusals carry their own codes; `validation_failed` and `bad_query` come from the very
models the document is generated from, so a request the document allows must never get them.
"""

from __future__ import annotations

import schemathesis

SHAPE_REFUSALS = frozenset({"validation_failed", "bad_query"})


@schemathesis.check
def document_allows_what_validation_accepts(ctx, response, case):  # noqa: ANN001, ANN201
    """A request valid against the OpenAPI document is never refused for its shape."""
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return None
    if response.status_code not in (400, 422):
        return None
    try:
        error = response.json().get("error") or {}
    except ValueError:
        return None
    if error.get("code") in SHAPE_REFUSALS:
        raise AssertionError(
            f"The OpenAPI document allows this request, yet validation refused it: "
            f"{error.get('details')}"
        )
    return None
