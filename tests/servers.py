"""Loopback ports, and ASGI apps served on them inside the test's event loop."""

import asyncio
import itertools
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def free_port() -> int:
    """A port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def listening_socket() -> socket.socket:
    """A socket listening on a free loopback port: requests queue until a server accepts them."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    return sock


@asynccontextmanager
async def serving(app: Any, sock: socket.socket | None = None) -> AsyncIterator[str]:
    """Serve `app` over real HTTP on 127.0.0.1 (on `sock` when given) and yield its base URL."""
    sock = sock or listening_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="auto"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    """An HTTP/1.1 request as bytes, keep-alive, with its `Content-Length`."""
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {len(body)}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def exchange_on_one_connection(base_url: str, requests: list[bytes]) -> list[RawResponse]:
    """Send the requests one after the other on one connection, as a pooled client does.

    Raises `asyncio.IncompleteReadError` when the server closes the connection in between.
    """
    host, port = base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    responses = []
    try:
        for request in requests:
            writer.write(request)
            await writer.drain()
            responses.append(await asyncio.wait_for(_read_response(reader), 30))
    finally:
        writer.close()
    return responses


async def _read_response(reader: asyncio.StreamReader) -> RawResponse:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in head[1:] if line)
    headers = {name.lower(): value for name, value in headers.items()}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return RawResponse(int(head[0].split(" ")[1]), headers, body)


@dataclass(frozen=True)
class Forwarded:
    upstream: int
    path: str
    body: bytes


class RoundRobin:
    """A load balancer in front of several servers: each request goes to the next one in turn
    (no stickiness), as provider webhooks reach a deployment's APIs; `forwarded` records who
    got what."""

    def __init__(self, upstreams: list[str]) -> None:
        self.upstreams = upstreams
        self.forwarded: list[Forwarded] = []
        self._turn = itertools.count()

    def app(self) -> Any:
        async def forward(request: Request) -> Response:
            index = next(self._turn) % len(self.upstreams)
            body = await request.body()
            headers = {
                name: value
                for name, value in request.headers.items()
                if name not in ("host", "content-length")
            }
            async with httpx.AsyncClient(base_url=self.upstreams[index], trust_env=False) as http:
                answer = await http.request(
                    request.method,
                    request.url.path,
                    params=list(request.query_params.multi_items()),
                    content=body,
                    headers=headers,
                    timeout=30,
                )
            self.forwarded.append(Forwarded(index, request.url.path, body))
            content_type = answer.headers.get("content-type")
            return Response(answer.content, answer.status_code, media_type=content_type)

        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", forward, methods=methods)])
