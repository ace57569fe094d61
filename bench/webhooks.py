"""Webhook throughput: deliveries per second from the worker's dispatcher to a local receiver.

Queues `deliveries` signed webhooks in `lanes` lanes (as that many calls would) in a throwaway
SQLite database, submits every lane to a `WebhookDispatcher` as recording their events does,
and prints how many reached the receiver per second, each once and in its lane's order.
No failure happens, so no workflow is involved (that is the first, cheap attempt).

    .venv/bin/python bench/webhooks.py --deliveries 2000 --lanes 200
"""

import argparse
import asyncio
import json
import os
import socket
import sys
import tempfile
import time
from collections import defaultdict

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trunkline.db import Database
from trunkline.organizations import create_organization
from trunkline.webhooks.client import WebhookClient
from trunkline.webhooks.deliveries import new_delivery
from trunkline.webhooks.dispatcher import WebhookDispatcher
from trunkline.webhooks.sender import LaneSender


class Receiver:
    """Counts arrivals, per lane in arrival order."""

    def __init__(self, expected: int) -> None:
        self.order: dict[str, list[int]] = defaultdict(list)
        self.ids: set[str] = set()
        self.count = 0
        self.all_in = asyncio.Event()
        self._expected = expected

    async def handle(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.order[body["call_id"]].append(body["n"])
        self.ids.add(request.headers["webhook-id"])
        self.count += 1
        if self.count >= self._expected:
            self.all_in.set()
        return Response("ok")


async def run(deliveries: int, lanes: int) -> None:
    database = Database(f"sqlite:///{tempfile.mkdtemp(prefix='webhooks-')}/bench.db")
    await database.create_tables()
    receiver = Receiver(deliveries)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    app = Starlette(routes=[Route("/hook", receiver.handle, methods=["POST"])])
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    serving = asyncio.create_task(server.serve(sockets=[sock]))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    async with database.session() as session:
        organization = (await create_organization(session, "Bench")).organization
        queued = [
            new_delivery(
                organization.id,
                {"url": url},
                "call.status",
                {"type": "call.status", "call_id": f"call-{n % lanes}", "n": n},
                call_id=f"call-{n % lanes}",
            )
            for n in range(deliveries)
        ]
        session.add_all(queued)
        await session.commit()
    client = WebhookClient(timeout_seconds=10, allow_private_targets=True)
    dispatcher = WebhookDispatcher(database, LaneSender(database, client), None, "")  # type: ignore[arg-type]
    began = time.perf_counter()
    dispatcher.submit({delivery.lane for delivery in queued})
    await asyncio.wait_for(receiver.all_in.wait(), timeout=600)
    elapsed = time.perf_counter() - began
    in_order = all(ns == sorted(ns) for ns in receiver.order.values())
    print(
        f"webhooks: {deliveries} in {lanes} lanes delivered in {elapsed:.2f} s = "
        f"{deliveries / elapsed:.0f} deliveries/s; {len(receiver.ids)} distinct, "
        f"{receiver.count - len(receiver.ids)} repeats, every lane in order: {in_order}"
    )
    await dispatcher.aclose()
    await client.aclose()
    server.should_exit = True
    await serving
    await database.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--lanes", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(run(args.deliveries, args.lanes))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
