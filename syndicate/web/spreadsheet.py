"""CSV downloads that spreadsheet programs open safely: UTF-8 with a byte-order mark, and no
cell a spreadsheet would run as a formula."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

from flask import Response, stream_with_context

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """A spreadsheet cannot run it: text starting like a formula gets a leading quote."""
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def csv_response(rows: Iterable[Iterable[Any]], filename: str) -> Response:
    """Stream ``rows`` as a CSV attachment, every cell through ``safe_cell``."""

    def generate() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        # A byte-order mark makes spreadsheet programs read the file as UTF-8.
        yield "\ufeff"
        for row in rows:
            writer.writerow([safe_cell(v) for v in row])
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()

    return Response(
        stream_with_context(generate()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
