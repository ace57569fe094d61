"""Benchmark: N outbound and N inbound calls through the whole embedded stack.

First measures the floor twice (`bench/bare.py`: a bare call-shaped workflow on the same Temporal,
the mean of two fresh servers).
Then starts `trunkline dev` on free ports in a temporary data folder, sets up an agent whose
status webhook is a local receiver, places the calls, at once or (`--rate R`) R outbound and
R inbound a second (far ends answer at once and hang up after a few seconds), waits for all of
them to end, and prints:

- completed calls per second;
- p50/p95/p99 of `POST /v1/sessions/phone` response time;
- inbound setup: the simulator sending the signed `call.initiated` → the agent dispatch arriving
  at the simulator;
- hangup: the simulator sending `call.hangup` → the `call.status` webhook for it arriving here;
- report: the call ending (`endedAt`) → its `call.report` webhook arriving here (the report
  waits a 3 s transcript grace period and for the recording to be finished).

- answered lag: `POST /v1/sessions/phone` sent → its in-progress `call.status` arriving here;
- webhooks received, distinct and repeated (each `webhook-id` should arrive once);
- CPU per call of API, worker and Temporal (the simulator apart), against the floor;
- workflows and Temporal actions per call, by kind, counted from every history.

With `--open N` it instead answers N outbound calls, leaves them open, and prints each
process's memory per open call and its CPU per open call per second while they sit idle (set
`WORKER_MAX_CACHED_WORKFLOWS` to try another worker cache size).

    .venv/bin/python bench/calls.py --calls 20 --hangup-after 3
    .venv/bin/python bench/calls.py --calls 120 --rate 2 --hangup-after 2   # 4 calls/s for 60 s
    .venv/bin/python bench/calls.py --open 1000 --idle 60
    .venv/bin/python bench/calls.py --open 10000 --settle 900 --idle 120   # steady idle CPU
"""

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from bare import measure as measure_bare
from measure import ROLES, Snapshot, count_histories
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.client import Client

from trunkline.settings import Settings

OUR_NUMBER = "+14155550100"
TRUNK = "00000000-0000-4000-8000-000000000010"
TERMINAL = ("ended", "failed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentiles(label: str, seconds: list[float]) -> str:
    if not seconds:
        return f"{label}: no samples"
    ms = sorted(value * 1000 for value in seconds)
    cuts = statistics.quantiles(ms, n=100, method="inclusive") if len(ms) > 1 else ms * 99
    return (
        f"{label}: n={len(ms)} p50={cuts[49]:.1f} ms p95={cuts[94]:.1f} ms "
        f"p99={cuts[98]:.1f} ms max={ms[-1]:.1f} ms"
    )


class Receiver:
    """Local `call.status` and `call.report` endpoints remembering when each webhook arrived."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, dict[str, Any]]] = []
        self.reports: list[tuple[float, dict[str, Any]]] = []
        self.deliveries: list[tuple[float, str, str]] = []
        """(arrived, path, webhook-id) of every request."""

    async def _receive(self, request: Request) -> tuple[float, dict[str, Any]]:
        arrived = time.time()
        self.deliveries.append((arrived, request.url.path, request.headers["webhook-id"]))
        return arrived, json.loads(await request.body())

    async def status(self, request: Request) -> Response:
        self.arrivals.append(await self._receive(request))
        return Response("ok")

    async def report(self, request: Request) -> Response:
        self.reports.append(await self._receive(request))
        return Response("ok")

    def serve(self, sock: socket.socket) -> tuple[uvicorn.Server, asyncio.Task[None]]:
        """Serve on an already listening socket, so webhooks queue until it accepts them."""
        app = Starlette(
            routes=[
                Route("/status", self.status, methods=["POST"]),
                Route("/report", self.report, methods=["POST"]),
            ]
        )
        server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
        return server, asyncio.create_task(server.serve(sockets=[sock]))


class Stack:
    """`trunkline dev` in a subprocess, on free ports, in a throwaway data folder."""

    def __init__(self) -> None:
        self.ports = {name: free_port() for name in ("api", "temporal", "ui", "sim")}
        self.data_dir = tempfile.mkdtemp(prefix="trunkline-bench-")
        argv = [sys.executable, "-m", "trunkline.cli", "dev"]
        argv += [f"--{name}-port={port}" for name, port in self.ports.items()]
        self.log = Path(self.data_dir) / "stack.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                argv,
                env={**os.environ, "TRUNKLINE_DATA_DIR": self.data_dir},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.api_key = self._wait_ready()

    def _wait_ready(self) -> str:
        """The bootstrap API key, once the stack says it is ready (its log goes to a file)."""
        deadline = time.time() + 120
        while time.time() < deadline and self.process.poll() is None:
            output = self.log.read_text()
            key = re.search(r"TRUNKLINE_API_KEY=(\S+)", output)
            if "trunkline dev: ready" in output and key:
                return key.group(1)
            time.sleep(0.2)
        raise RuntimeError(f"the dev stack did not start; see {self.log}")

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.wait(timeout=60)


async def set_up(api: httpx.AsyncClient, sim: httpx.AsyncClient, receiver_port: int) -> str:
    agent = await api.post(
        "/v1/agents",
        json={
            "name": "Bench desk",
            "firstMessage": "Hello from the bench.",
            "webhooks": {
                "status": {"url": f"http://127.0.0.1:{receiver_port}/status"},
                "postCall": {"url": f"http://127.0.0.1:{receiver_port}/report"},
            },
        },
    )
    agent_id = agent.json()["id"]
    await api.post(
        "/v1/phone-numbers/import",
        json={
            "e164": OUR_NUMBER,
            "sipConnectionInstallationId": TRUNK,
            "direction": "both",
            "agentId": agent_id,
        },
    )
    await sim.put("/control/misbehaviour", json={})
    return agent_id


async def run(calls: int, hangup_after: float, rate: float | None) -> None:
    # the same number of bare calls arriving as ours do: fixed costs spread over as many calls
    floors = [await measure_bare(2 * calls, rate=2 * rate if rate else 20) for _ in range(2)]
    bare_cpu = statistics.mean(floors)  # two fresh servers: one run's floor varies by a tenth
    print(f"floor: {bare_cpu * 1000:.1f} ms CPU per bare call (the mean of the two)")
    stack = Stack()
    receiver = Receiver()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    receiver_port = sock.getsockname()[1]
    server, serving = receiver.serve(sock)
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    try:
        async with (
            httpx.AsyncClient(base_url=stack.url("api"), headers=headers, timeout=60) as api,
            httpx.AsyncClient(base_url=stack.url("sim"), timeout=60) as sim,
        ):
            agent_id = await set_up(api, sim, receiver_port)
            callees = [f"+1201555{1000 + i:04d}" for i in range(calls)]
            far_end = {"answerAfterSeconds": 0, "hangupAfterSeconds": hangup_after}
            for callee in callees:
                await sim.put(f"/control/far-ends/{callee}", json=far_end)

            placed: dict[str, float] = {}

            async def outbound(i: int, callee: str) -> float:
                await asyncio.sleep(i / rate if rate else 0)
                placed_at, started = time.time(), time.perf_counter()
                response = await api.post(
                    "/v1/sessions/phone", json={"to": callee, "agentId": agent_id}
                )
                response.raise_for_status()
                placed[response.json()["sessionId"]] = placed_at
                return time.perf_counter() - started

            async def inbound(i: int) -> None:
                await asyncio.sleep(i / rate if rate else 0)
                body = {
                    "from": f"+1973555{1000 + i:04d}",
                    "to": OUR_NUMBER,
                    "caller": {"hangupAfterSeconds": hangup_after},
                }
                (await sim.post("/control/inbound-calls", json=body)).raise_for_status()

            before = Snapshot.of_tree(stack.process.pid)
            began = time.time()
            post_times, *_ = await asyncio.gather(
                asyncio.gather(*(outbound(i, c) for i, c in enumerate(callees))),
                *(inbound(i) for i in range(calls)),
            )
            await wait_for_webhooks(receiver, 2 * calls)
            await wait_until_closed(stack)  # the work after the last report counts too
            spent = Snapshot.of_tree(stack.process.pid).minus(before)
            await sim.post("/control/drain")
            state = (await sim.get("/control/state")).json()
            all_calls = await list_calls(api)
            elapsed = last_end(all_calls) - began
        report(calls, elapsed, post_times, state, all_calls, receiver)
        print(
            percentiles(
                "answered lag (call placed → in-progress call.status)",
                answered_lags(placed, receiver),
            )
        )
        print(delivery_counts(receiver))
        print(f"calls whose status webhooks arrived out of order: {out_of_order(receiver)}")
        await report_cost(stack, 2 * calls, spent, bare_cpu)
    finally:
        server.should_exit = True
        await serving
        stack.stop()


async def hold_open(calls: int, idle_seconds: float, settle_seconds: float) -> None:
    """Answer `calls` outbound calls and leave them open; print what each open call costs,
    idle CPU measured `settle_seconds` after they all settled (the watchdog backs off)."""
    stack = Stack()
    headers = {"Authorization": f"Bearer {stack.api_key}"}
    try:
        async with (
            httpx.AsyncClient(base_url=stack.url("api"), headers=headers, timeout=120) as api,
            httpx.AsyncClient(base_url=stack.url("sim"), timeout=120) as sim,
        ):
            agent_id = await set_up(api, sim, receiver_port=9)
            empty = Snapshot.of_tree(stack.process.pid)
            await asyncio.sleep(idle_seconds)  # what the stack burns with no call at all
            before = Snapshot.of_tree(stack.process.pid)
            baseline = before.minus(empty)
            limit = asyncio.Semaphore(20)

            async def place(i: int) -> None:
                callee = f"+1201{5550000 + i:07d}"
                far_end = {"answerAfterSeconds": 0, "hangupAfterSeconds": None}
                async with limit:
                    await sim.put(f"/control/far-ends/{callee}", json=far_end)
                    response = await api.post(
                        "/v1/sessions/phone", json={"to": callee, "agentId": agent_id}
                    )
                    response.raise_for_status()

            await asyncio.gather(*(place(i) for i in range(calls)))
            placed, calls = calls, await wait_until_settled(api, calls)
            await sim.post("/control/drain", timeout=None)
            await asyncio.sleep(settle_seconds)
            settled = Snapshot.of_tree(stack.process.pid)
            await asyncio.sleep(idle_seconds)
            idle = Snapshot.of_tree(stack.process.pid).minus(settled).minus(baseline)
        cache = Settings().worker_max_cached_workflows
        print(
            f"open calls: {calls} of {placed} placed, idle for {idle_seconds:.0f} s from "
            f"{settle_seconds:.0f} s after they settled (idle CPU net of the stack's own with "
            "no calls); "
            f"worker cache WORKER_MAX_CACHED_WORKFLOWS={cache}"
        )
        for role in ROLES:
            grown = settled.rss.get(role, 0) - before.rss.get(role, 0)
            print(
                f"  {role}: RSS {settled.rss.get(role, 0) / 2**20:.0f} MB "
                f"({grown / calls / 1024:.1f} KB per open call), idle CPU "
                f"{idle.cpu.get(role, 0.0) * 1000 / calls / idle_seconds:.4f} ms per open call/s"
            )
        ours = [role for role in ROLES if role != "sim"]
        total = sum(settled.rss.get(role, 0) for role in ours)
        idle_cpu = sum(idle.cpu.get(role, 0.0) for role in ours)
        print(
            f"  API + worker + Temporal: RSS {total / 2**30:.2f} GB, idle CPU "
            f"{idle_cpu * 1000 / calls / idle_seconds:.4f} ms per open call per second"
        )
    finally:
        stack.stop()


async def wait_until_settled(api: httpx.AsyncClient, count: int) -> int:
    """Until `count` calls are in progress or over (a dial may fail under the burst); returns
    how many are in progress."""
    deadline = time.time() + 3600
    while time.time() < deadline:
        calls = await list_calls(api)
        open_calls = sum(c["status"] == "in-progress" for c in calls)
        if open_calls + sum(c["status"] in TERMINAL for c in calls) >= count:
            return open_calls
        await asyncio.sleep(2)
    raise RuntimeError(f"fewer than {count} calls settled within an hour")


async def list_calls(api: httpx.AsyncClient, **filters: str) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": 100, **filters, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/calls", params=params)).json()
        calls += page["calls"]
        cursor = page["next_cursor"]
        if not cursor:
            return calls


async def wait_for_webhooks(receiver: Receiver, calls: int) -> None:
    """Until every call's terminal status webhook and its `call.report` have arrived.

    The bench waits on its own receiver, not by polling the API whose CPU it measures."""

    def arrived() -> bool:
        ended = {b["call_id"] for _, b in receiver.arrivals if b["status"] in TERMINAL}
        reported = {body["call_id"] for _, body in receiver.reports}
        return len(ended) >= calls and len(reported) >= calls

    deadline = time.time() + 600
    while time.time() < deadline:
        if arrived():
            return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"not all {calls} calls ended and were reported within 600 s")


async def wait_until_closed(stack: Stack) -> None:
    """Until no workflow runs: every call, report and webhook lane has finished its work."""
    client = await Client.connect(f"127.0.0.1:{stack.ports['temporal']}")
    deadline = time.time() + 600
    while (await client.count_workflows('ExecutionStatus="Running"')).count:
        if time.time() > deadline:
            raise RuntimeError("workflows still running 600 s after the last report")
        await asyncio.sleep(0.5)


def last_end(all_calls: list[dict[str, Any]]) -> float:
    """When the last call reached a terminal status."""
    return max(datetime.fromisoformat(c["ended_at"]).timestamp() for c in all_calls)


def answered_lags(placed: dict[str, float], receiver: Receiver) -> list[float]:
    """Per outbound call: `POST /v1/sessions/phone` sent → its in-progress `call.status` here."""
    answered: dict[str, float] = {}
    for at, body in receiver.arrivals:
        if body["status"] == "in-progress":
            answered.setdefault(body["call_id"], at)
    return [answered[call] - at for call, at in placed.items() if call in answered]


def delivery_counts(receiver: Receiver) -> str:
    """How many webhooks arrived, and how many were repeats of one already received."""
    ids = Counter(webhook_id for _, _, webhook_id in receiver.deliveries)
    repeats = sum(count - 1 for count in ids.values())
    return f"webhooks received: {sum(ids.values())} ({len(ids)} distinct, {repeats} repeats)"


RANK = {"queued": 0, "dialing": 1, "ringing": 2, "in-progress": 3, "ended": 4, "failed": 4}


def out_of_order(receiver: Receiver) -> int:
    """Calls whose `call.status` webhooks arrived with a status going backwards; each such
    call's arrivals are printed, to see what came when."""
    seen: dict[str, int] = {}
    backwards: set[str] = set()
    for _, body in receiver.arrivals:
        rank = RANK[body["status"]]
        if rank < seen.get(body["call_id"], 0):
            backwards.add(body["call_id"])
        seen[body["call_id"]] = max(rank, seen.get(body["call_id"], 0))
    for call_id in sorted(backwards):
        arrived = [
            (round(at, 3), body["event_type"], body["status"])
            for at, body in receiver.arrivals
            if body["call_id"] == call_id
        ]
        print(f"  out of order: {call_id}: {arrived}")
    return len(backwards)


def hangup_latencies(
    state: dict[str, Any], all_calls: list[dict[str, Any]], receiver: Receiver
) -> list[float]:
    """Per call: the carrier's `call.hangup` sent → the first `call.status` saying `ended`."""
    room_of_leg = {leg["callControlId"]: leg["room"] for leg in state["legs"]}
    session_of_room = {c["room_name"]: c["id"] for c in all_calls}
    hangup_sent: dict[str, float] = {}
    for webhook in state["webhooks"]:
        session = session_of_room.get(room_of_leg.get(webhook["callControlId"]))
        if webhook["event"] == "call.hangup" and session:
            hangup_sent.setdefault(session, webhook["sentAt"])
    ended_received: dict[str, float] = {}
    for at, body in receiver.arrivals:
        if body["status"] == "ended":
            ended_received.setdefault(body["call_id"], at)
    return [
        ended_received[session] - sent
        for session, sent in hangup_sent.items()
        if session in ended_received
    ]


def report_latencies(all_calls: list[dict[str, Any]], receiver: Receiver) -> list[float]:
    """Per call: it ended → the first `call.report` webhook for it arrived."""
    ended = {c["id"]: datetime.fromisoformat(c["ended_at"]).timestamp() for c in all_calls}
    first: dict[str, float] = {}
    for at, body in receiver.reports:
        first.setdefault(body["call_id"], at)
    return [at - ended[call] for call, at in first.items() if call in ended]


def report(
    calls: int,
    elapsed: float,
    post_times: list[float],
    state: dict[str, Any],
    all_calls: list[dict[str, Any]],
    receiver: Receiver,
) -> None:
    initiated = {
        w["callControlId"]: w["sentAt"]
        for w in state["webhooks"]
        if w["event"] == "call.initiated" and w["callControlId"]
    }
    session_by_control = {c["call_control_id"]: c["id"] for c in all_calls if c["call_control_id"]}
    dispatched = {d["metadata"]["sessionId"]: d["createdAt"] for d in state["dispatches"]}
    inbound_setup = [
        dispatched[session_by_control[control]] - sent
        for control, sent in initiated.items()
        if control in session_by_control and session_by_control[control] in dispatched
    ]
    hangup_lag = hangup_latencies(state, all_calls, receiver)
    statuses = dict(Counter(c["status"] for c in all_calls))
    print(f"calls: {calls} outbound + {calls} inbound; final statuses: {statuses}")
    print(f"completed calls per second: {2 * calls / elapsed:.2f} (over {elapsed:.1f} s)")
    print(percentiles("POST /v1/sessions/phone", post_times))
    print(percentiles("inbound setup (call.initiated sent → agent dispatched)", inbound_setup))
    print(percentiles("hangup (call.hangup sent → call.status received)", hangup_lag))
    print(
        percentiles(
            "report (call ended → call.report received)", report_latencies(all_calls, receiver)
        )
    )
    print(recordings(all_calls, receiver))


def recordings(all_calls: list[dict[str, Any]], receiver: Receiver) -> str:
    """Of the answered calls' reports: how many have their recording, how many say why not,
    and how many do neither (there should be none)."""
    answered = {c["id"] for c in all_calls if c.get("answered_at")}
    artifacts = {body["call_id"]: body.get("artifacts") or {} for _, body in receiver.reports}
    kinds = Counter(
        "recorded"
        if (a := artifacts.get(call, {})).get("recording") and not a.get("recording_error")
        else "with recording_error"
        if a.get("recording_error")
        else "neither"
        for call in answered
    )
    return f"recordings of {len(answered)} answered calls: {dict(kinds)}"


async def report_cost(stack: Stack, calls: int, spent: Snapshot, bare_cpu: float) -> None:
    """CPU per call by process against the bare floor, and Temporal actions per call."""
    ours = sum(spent.cpu.get(role, 0.0) for role in ("api", "worker", "temporal"))
    by_role = ", ".join(f"{role} {spent.cpu.get(role, 0.0) * 1000 / calls:.1f}" for role in ROLES)
    print(f"CPU per call (ms): {by_role}")
    print(
        f"CPU per call, API + worker + Temporal: {ours * 1000 / calls:.1f} ms = "
        f"{ours / calls / bare_cpu:.2f}x the bare call-shaped workflow"
    )
    client = await Client.connect(f"127.0.0.1:{stack.ports['temporal']}")
    counts = await count_histories(client)
    actions = counts.actions
    kinds = ", ".join(f"{kind} {count / calls:.1f}" for kind, count in sorted(actions.items()))
    print(
        f"per call on Temporal: {counts.workflows / calls:.1f} workflows, "
        f"{sum(actions.values()) / calls:.1f} actions ({kinds}); behind them "
        f"{counts.workflow_tasks / calls:.1f} workflow tasks "
        f"({counts.failed_workflow_tasks / calls:.2f} failed), "
        f"{counts.local_activities / calls:.1f} local activities, "
        f"{counts.events / calls:.1f} history events, "
        f"{counts.patch_markers / calls:.1f} patch markers"
    )
    by_type = ", ".join(
        f"{name} {count / calls:.2f}" for name, count in counts.activity_types.most_common()
    )
    print(f"activities per call by type: {by_type}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=20, help="outbound calls, and as many inbound")
    parser.add_argument("--hangup-after", type=float, default=3.0, help="seconds after answering")
    parser.add_argument(
        "--rate",
        type=float,
        help="outbound and inbound calls each arriving at this many per second (default: at once)",
    )
    parser.add_argument(
        "--open",
        type=int,
        metavar="N",
        help="instead: answer N outbound calls, leave them open, and measure what they cost",
    )
    parser.add_argument("--idle", type=float, default=60.0, help="seconds to watch open calls")
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds to wait before watching them (each call's watchdog backs off from its "
        "first probe, 30 s after the last news, to one every 10 minutes)",
    )
    args = parser.parse_args()
    if args.open:
        asyncio.run(hold_open(args.open, args.idle, args.settle))
    else:
        asyncio.run(run(args.calls, args.hangup_after, args.rate))
    sys.stdout.flush()
    os._exit(0)  # the Temporal SDK can abort at interpreter exit (sdk-python #300)


if __name__ == "__main__":
    main()
