"""The one error shape every 4xx/5xx answer has: `{"error": {"code", "message", "details"}}`."""

import logging
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from trunkline.ids import is_id

logger = logging.getLogger(__name__)


class ErrorBody(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorResponse(BaseModel):
    """Returned with every error status."""

    error: ErrorBody


class ApiError(Exception):
    """Raise from a route to answer with `status` and a machine-readable `code`."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details


def invalid_field(code: str, message: str, field: str | None) -> ApiError:
    """A 422 about one body field, its `details` shaped like a `validation_error`'s."""
    problem = {"field": field, "location": "body", "type": code, "message": message}
    return ApiError(422, code, message, [problem])


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


def _error(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, details=details))
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
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
    unknown = [d["field"] for d in details if d["type"] == "extra_forbidden"]
    others = [d for d in details if d["type"] != "extra_forbidden"]
    parts = [f"unknown field(s): {', '.join(unknown)}"] if unknown else []
    parts += [f"{d['field'] or d['location']}: {d['message']}" for d in others]
    return "; ".join(parts) or "invalid request"


async def _on_api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error(exc.status, exc.code, exc.message, exc.details)


async def _on_validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    if any(error["type"] == "json_invalid" for error in errors):
        position = errors[0]["loc"][-1]
        detail = errors[0].get("ctx", {}).get("error", "")
        message = f"request body is not valid JSON ({detail} at character {position})"
        return _error(400, "invalid_json", message, {"position": position})
    if any(error["loc"] == ("body",) and error["type"] == "missing" for error in errors):
        return _error(422, "validation_error", "a JSON request body is required")
    details = _validation_details(exc)
    return _error(422, "validation_error", _validation_message(details), details)


async def _on_http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    return _error(exc.status_code, code, str(exc.detail))


async def _on_unexpected_error(_request: Request, exc: Exception) -> JSONResponse:
    if _temporal_unreachable(exc):
        return _error(503, "temporarily_unavailable", "Temporal is unreachable; retry shortly")
    logger.exception("unhandled error", exc_info=exc)
    return _error(500, "internal_error", "internal server error")


def _temporal_unreachable(exc: Exception) -> bool:
    """The API's Temporal client connects on first use, and says it could not with a bare
    RuntimeError (later failures are RPCErrors, handled where they happen)."""
    return isinstance(exc, RuntimeError) and str(exc).startswith("Failed client connect")


async def require_json_bodies(request: Request, call_next: Any) -> Any:
    """A `/v1` request with a body must send it as JSON: 415 rather than a confusing 422."""
    if not request.url.path.startswith("/v1/"):
        return await call_next(request)
    has_body = (
        request.headers.get("content-length", "0") != "0" or "transfer-encoding" in request.headers
    )
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if (
        has_body
        and request.method in ("POST", "PUT", "PATCH")
        and content_type != "application/json"
    ):
        return _error(
            415,
            "unsupported_media_type",
            f"send the body as application/json, not {content_type or 'an unspecified type'}",
        )
    return await call_next(request)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _on_api_error)
    app.add_exception_handler(RequestValidationError, _on_validation_error)
    app.add_exception_handler(StarletteHTTPException, _on_http_error)
    app.add_exception_handler(Exception, _on_unexpected_error)
