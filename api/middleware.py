"""ASGI layers around the whole API: they see every request before routing and authentication."""

import json
import logging
import re
import sys
from collections.abc import Callable
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_response, problem

logger = logging.getLogger(__name__)

_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class BodyTooLarge(StarletteHTTPException):
    """The body grew past the limit while it was read (a chunked upload)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request bodies are limited to {limit} bytes")


class _Watched:
    """Passes response messages on, noting whether the response has started."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = self.started or message["type"] == "http.response.start"
        await self._send(message)


async def _answer_failure(
    app: ASGIApp,
    scope: Scope,
    receive: Receive,
    send: Send,
    failure: type[Exception],
    answer: Callable[[], Response],
) -> None:
    """Run `app`; when it raises `failure` before it started answering, send `answer()`."""
    watched = _Watched(send)
    try:
        await app(scope, receive, watched)
    except failure:
        if watched.started:
            raise
        await answer()(scope, receive, send)


class ContainErrors:
    """An unexpected error answers 500 in the error shape and keeps the connection usable.

    Starlette's last-resort handler re-raises after answering, and uvicorn then drops the
    keep-alive connection without `Connection: close`, so a pooled client's next request fails.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        await _answer_failure(self.app, scope, receive, send, Exception, _internal_error)


def _internal_error() -> Response:
    """The 500 of an unexpected error, logged with its traceback; or the 503 of a Temporal
    client that could not connect."""
    if _temporal_unreachable(sys.exception()):
        return error_response(503, "temporarily_unavailable", "Temporal is unreachable; retry")
    logger.exception("unhandled error")
    return error_response(500, "internal_error", "internal server error")


def _temporal_unreachable(error: BaseException | None) -> bool:
    """The API's Temporal client connects on first use, and says it could not with a bare
    RuntimeError (later failures are RPCErrors, handled where they happen)."""
    return isinstance(error, RuntimeError) and str(error).startswith("Failed client connect")


class BodyLimit:
    """Refuse a body over `limit` bytes with a 413: a declared length before reading anything,
    a chunked body as soon as it grows past the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isascii() and declared.isdigit() and int(declared) > self.limit:
            return await self._too_large()(scope, receive, send)
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise BodyTooLarge(self.limit)
            return message

        await _answer_failure(self.app, scope, counted, send, BodyTooLarge, self._too_large)

    def _too_large(self) -> Response:
        message = f"request bodies are limited to {self.limit} bytes"
        return error_response(413, "payload_too_large", message)


class RequireJson:
    """A `/v1` request with a body must send it as JSON: 415 rather than a confusing 422."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _has_body(scope) or not scope["path"].startswith("/v1/"):
            return await self.app(scope, receive, send)
        content_type = Headers(scope=scope).get("content-type", "")
        content_type = content_type.split(";")[0].strip().lower()
        if content_type == "application/json":
            return await self.app(scope, receive, send)
        message = f"send the body as application/json, not {content_type or 'an unspecified type'}"
        await error_response(415, "unsupported_media_type", message)(scope, receive, send)


def _has_body(scope: Scope) -> bool:
    """A POST, PUT or PATCH that sends a body."""
    if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
        return False
    headers = Headers(scope=scope)
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers


class RefuseLoneSurrogates:
    """A JSON body holding a lone surrogate (`"\\udc00"`) is a 422 naming the field, before
    anything is written: no database stores it and no JSON encoder sends it back."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _has_body(scope):
            return await self.app(scope, receive, send)
        body, replay = await _read_body(receive)
        path = _lone_surrogate_path(body)
        if path is None:
            return await self.app(scope, replay, send)
        field = ".".join(path) or None
        message = f"{field or 'the body'}: text must not contain lone surrogates (\\ud800-\\udfff)"
        details = [problem(field, "lone_surrogate", message)]
        await error_response(422, "validation_error", message, details)(scope, receive, send)


async def _read_body(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body, and a `receive` that hands it on as if nothing had been read."""
    chunks = []
    message = await receive()
    while message["type"] == "http.request":
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
        message = await receive()
    body = b"".join(chunks)
    if message["type"] == "http.request":
        message = {"type": "http.request", "body": body, "more_body": False}
    first = [message]  # else the client went away: hand that on

    async def replay() -> Message:
        return first.pop() if first else await receive()

    return body, replay


def _lone_surrogate_path(body: bytes) -> tuple[str, ...] | None:
    """Where a JSON body holds a lone surrogate (in a key or a string), or None."""
    if not _SURROGATE_ESCAPE.search(body):
        return None  # the only way to write one in JSON is a `\u` escape
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None  # not JSON: the route says so
    pending: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, str) and _has_lone_surrogate(value):
            return path
        for key, item in _children(value):
            step = (*path, str(key).encode("utf-8", "backslashreplace").decode())
            if isinstance(key, str) and _has_lone_surrogate(key):
                return step
            pending.append((step, item))
    return None


def _children(value: Any) -> Any:
    """The (key, item) pairs of a JSON object or array; none for anything else."""
    if isinstance(value, dict):
        return value.items()
    return enumerate(value) if isinstance(value, list) else ()


def _has_lone_surrogate(text: str) -> bool:
    """Only a lone surrogate keeps a str from encoding as UTF-8."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False
