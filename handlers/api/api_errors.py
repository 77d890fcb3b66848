"""The API's refusals: `ApiProblem`, and the error answers every route documents."""

from collections.abc import Mapping
from typing import Any

from handlers.api.schemas import ApiError


class ApiProblem(Exception):
    """An answer other than success, with its status, code and words."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = ApiError(error=error, message=message, field=field)
        self.headers = dict(headers or {})


def problem(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error answer as the OpenAPI document describes it."""
    answer: dict[str, Any] = {"model": ApiError, "description": description}
    if headers:
        answer["headers"] = headers
    return answer


_RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer"}}}
# What any route may answer (every route needs a token).
COMMON: dict[int | str, dict[str, Any]] = {
    401: problem(
        "no token, or not a live one",
        {"WWW-Authenticate": {"description": "Bearer", "schema": {"type": "string"}}},
    ),
    403: problem("the token is limited to other services"),
    422: problem("the request is not acceptable: the message says why"),
    429: problem("too many requests for this token", _RETRY_AFTER),
    503: problem("the database is unavailable", _RETRY_AFTER),
}
