"""A customer's webhook endpoint on loopback: records what arrives and answers as scripted."""

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.servers import serving


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: str


@dataclass(frozen=True)
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str = "ok"
    delay_seconds: float = 0


class WebhookReceiver:
    """Answers each request with the next scripted reply (then with the default reply)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.default = Reply()
        self._script: deque[Reply] = deque()
        self._by_path: dict[str, deque[Reply]] = {}
        self._arrived = asyncio.Condition()
        self.url = ""

    def script(self, *replies: Reply, path: str | None = None) -> None:
        """Queue replies for the next requests (only those to `path`, when given)."""
        (self._by_path.setdefault(path, deque()) if path else self._script).extend(replies)

    async def wait_for(self, count: int, within: float = 10) -> list[Received]:
        """Wait until `count` requests have arrived and return them all."""
        async with self._arrived:
            await asyncio.wait_for(
                self._arrived.wait_for(lambda: len(self.received) >= count), within
            )
        return list(self.received)

    async def _handle(self, request: Request) -> Response:
        queue = self._by_path.get(request.url.path) or self._script
        reply = queue.popleft() if queue else self.default
        body = (await request.body()).decode()
        async with self._arrived:
            self.received.append(Received(request.url.path, dict(request.headers), body))
            self._arrived.notify_all()
        if reply.delay_seconds:
            await asyncio.sleep(reply.delay_seconds)
        return Response(reply.body, reply.status, reply.headers)

    @asynccontextmanager
    async def serving(self) -> AsyncIterator["WebhookReceiver"]:
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST"])])
        async with serving(app) as base_url:
            self.url = base_url
            yield self
