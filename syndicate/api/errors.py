"""The API's answer other than success, raised by the pipeline, its steps and the views."""

from __future__ import annotations

from typing import Any

from flask import Response

from syndicate.web.errors import error_response


class ApiError(Exception):
    """An answer other than success: status, message, stable code and details."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.details = details
        self.headers = headers or {}

    def response(self) -> Response:
        response = error_response(self.status, self.message, self.code, self.details)
        response.headers.update(self.headers)
        return response
