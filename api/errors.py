"""The one error shape every 4xx/5xx answer has, the Speko SDK's: `{"error", "code", "details"}`."""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from trunkline.ids import is_id


class ErrorResponse(BaseModel):
    """Returned with every error status: a message for people, a stable code for programs."""

    error: str
    code: str
    details: Any = None


class ApiError(Exception):
    """Raise from a route to answer with `status` and a machine-readable `code`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def problem(field: str | None, kind: str, message: str) -> dict[str, Any]:
    """One entry of a 422's `details`: what is wrong with which body field."""
    return {"field": field, "location": "body", "type": kind, "message": message}


def invalid_field(code: str, message: str, field: str | None) -> ApiError:
    """A 422 about one body field, its `details` shaped like a `validation_error`'s."""
    return ApiError(422, code, message, [problem(field, code, message)])


Found = TypeVar("Found")


async def find_owned(
    kind: str, resource_id: str, lookup: Callable[[], Awaitable[Found | None]]
) -> Found:
    """The caller's resource, looked up only for an id of our shape; a 404 otherwise."""
    found = await lookup() if is_id(resource_id) else None
    if found is None:
        raise not_found(kind, resource_id)
    return found


def not_found(kind: str, resource_id: str) -> ApiError:
    shown = resource_id if len(resource_id) <= 64 else resource_id[:64] + "…"
    return ApiError(404, "not_found", f"{kind} {shown} not found")


_DESCRIPTIONS = {
    400: "Malformed JSON (`invalid_json`)",
    401: "Missing or invalid API key (`unauthorized`)",
    402: "Not enough credits (`insufficient_credits`)",
    403: "Not allowed for this organization",
    404: "No such resource in your organization (`not_found`)",
    409: "Conflicts with the current state",
    413: "The body is larger than the deployment allows (`payload_too_large`)",
    415: "The body must be JSON (`unsupported_media_type`)",
    422: "Validation failed (`validation_error`); `details` lists each problem",
    502: "The telephony provider failed (`provider_error`)",
    503: "Temporal is unreachable; retry (`temporarily_unavailable`)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries documenting the error shape for these statuses."""
    return {
        status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]}
        for status in statuses
    }


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The one error shape, as a response."""
    body = ErrorResponse(error=message, code=code, details=details)
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": "Bearer"}
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {
            "field": ".".join(str(part) for part in error["loc"][1:]) or None,
            "location": error["loc"][0],
            "type": error["type"],
            "message": error["msg"].removeprefix("Value error, "),
        }
        for error in exc.errors()
    ]


def _validation_message(details: list[dict[str, Any]]) -> str:
    unknown = [d["field"] or '""' for d in details if d["type"] == "extra_forbidden"]
    others = [d for d in details if d["type"] != "extra_forbidden"]
    parts = [f"unknown field(s): {', '.join(unknown)}"] if unknown else []
    parts += [f"{d['field'] or d['location']}: {d['message']}" for d in others]
    return "; ".join(parts) or "invalid request"


async def _on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, exc.details)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error["type"] == "json_invalid" for error in errors):
        position = errors[0]["loc"][-1]
        detail = errors[0].get("ctx", {}).get("error", "")
        message = f"request body is not valid JSON ({detail} at character {position})"
        return error_response(400, "invalid_json", message, {"position": position})
    if any(error["loc"] == ("body",) and error["type"] == "missing" for error in errors):
        return error_response(422, "validation_error", "a JSON request body is required")
    details = _validation_details(exc)
    return error_response(422, "validation_error", _validation_message(details), details)


_HTTP_ERROR_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


_NOT_OFFERED = {
    "/v1/sessions/": "browser sessions",
    "/v1/sms/": "SMS",
    "/v1/knowledge-bases": "knowledge bases",
    "/v1/voices": "the voice catalog",
    "/v1/transcribe": "transcription",
    "/v1/synthesize": "speech synthesis",
    "/v1/complete": "completions",
    "/v1/realtime": "realtime sessions",
}
"""Speko SDK resources outside Trunkline's phone surface: a 404 that says so."""


async def _on_http_error(request: Request, exc: Exception) -> JSONResponse:
    """Starlette's own errors in our shape; a 405 names every method the path serves."""
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_ERROR_CODES.get(exc.status_code, "http_error")
    message, headers = str(exc.detail), exc.headers
    if exc.status_code == 405:
        headers = {**(headers or {}), "Allow": ", ".join(sorted(_allowed_methods(request)))}
    feature = _feature_not_offered(request.url.path) if exc.status_code == 404 else None
    if feature:
        code, message = "not_supported", f"Trunkline does not offer {feature}"
    return error_response(exc.status_code, code, message, headers=headers)


def _feature_not_offered(path: str) -> str | None:
    """The SDK feature `path` belongs to, when Trunkline leaves it out."""
    slashed = path.rstrip("/") + "/"
    return next((name for prefix, name in _NOT_OFFERED.items() if slashed.startswith(prefix)), None)


def _allowed_methods(request: Request) -> set[str]:
    """The methods of every route at the request's path (Starlette names only the first's)."""
    routes: list[APIRoute] = request.app.state.api_routes
    matching = (route for route in routes if route.matches(request.scope)[0] != Match.NONE)
    return {method for route in matching for method in route.methods}


def document_common_errors(routes: list[APIRoute]) -> None:
    """Say in the schema what any route may answer: 413, and for a JSON body 400, 415 and 422."""
    for route in routes:
        statuses = (400, 413, 415, 422) if route.body_field is not None else (413,)
        for status, entry in error_responses(*statuses).items():
            route.responses.setdefault(status, entry)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
