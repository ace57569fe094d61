"""Webhook throughput: deliveries per second from the worker's dispatcher to a local receiver.

Queues `deliveries` signed webhooks in `lanes` lanes (as that many calls would) in a throwaway
SQLite database, submits every lane to a `WebhookDispatcher` as recording their events does,
and prints how many reached the receiver per second, each once and in its lane's order.
No failure happens, so no workflow is involved (that is the first, cheap attempt). The receiver
runs in a process of its own, as a customer's would: its work is not the sender's.

    .venv/bin/python bench/webhooks.py --deliveries 2000 --lanes 200
"""

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

import httpx
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
    """Counts arrivals, per lane in arrival order; `/stats` tells the sender what came."""

    def __init__(self) -> None:
        self.order: dict[str, list[int]] = defaultdict(list)
        self.ids: set[str] = set()
        self.count = 0

    async def handle(self, request: Request) -> Response:
        body = json.loads(await request.body())
        self.order[body["call_id"]].append(body["n"])
        self.ids.add(request.headers["webhook-id"])
        self.count += 1
        return Response("ok")

    async def stats(self, request: Request) -> Response:
        in_order = all(ns == sorted(ns) for ns in self.order.values())
        facts = {"count": self.count, "distinct": len(self.ids), "in_order": in_order}
        return Response(json.dumps(facts), media_type="application/json")


def serve(port: int) -> None:
    """The receiver's process."""
    receiver = Receiver()
    routes = [
        Route("/hook", receiver.handle, methods=["POST"]),
        Route("/stats", receiver.stats, methods=["GET"]),
    ]
    uvicorn.run(Starlette(routes=routes), host="127.0.0.1", port=port, log_level="warning")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def receiver_stats(http: httpx.AsyncClient, base: str) -> dict:
    return (await http.get(f"{base}/stats")).json()


async def run(deliveries: int, lanes: int, port: int) -> dict:
    """Send every delivery to the receiver on `port`; returns the figures."""
    database = Database(f"sqlite:///{tempfile.mkdtemp(prefix='webhooks-')}/bench.db")
    await database.create_tables()
    base = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(trust_env=False) as http:
        while True:  # until the receiver answers
            try:
                await receiver_stats(http, base)
                break
            except httpx.TransportError:
                await asyncio.sleep(0.1)
        async with database.session() as session:
            organization = (await create_organization(session, "Bench")).organization
            queued = [
                new_delivery(
                    organization.id,
                    {"url": f"{base}/hook"},
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
        cpu, began = time.process_time(), time.perf_counter()
        dispatcher.submit({delivery.lane for delivery in queued})
        while (stats := await receiver_stats(http, base))["count"] < deliveries:  # noqa: ASYNC110 (another process)
            await asyncio.sleep(0.05)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        await dispatcher.aclose()
        await client.aclose()
    await database.dispose()
    return {**stats, "elapsed": elapsed, "cpu": cpu}


def report(deliveries: int, lanes: int, stats: dict) -> None:
    elapsed, cpu = stats["elapsed"], stats["cpu"]
    print(
        f"webhooks: {deliveries} in {lanes} lanes delivered in {elapsed:.2f} s = "
        f"{deliveries / elapsed:.0f} deliveries/s, {cpu / deliveries * 1000:.2f} ms of the "
        f"sender's CPU each; {stats['distinct']} distinct, "
        f"{stats['count'] - stats['distinct']} repeats, every lane in order: {stats['in_order']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--lanes", type=int, default=200)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # the receiver's process
    args = parser.parse_args()
    if args.serve:
        serve(args.serve)
        return
    port = free_port()
    receiver = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    try:
        stats = asyncio.run(run(args.deliveries, args.lanes, port))
    finally:
        receiver.terminate()
        receiver.wait()
    report(args.deliveries, args.lanes, stats)
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
