"""Scale-out: two APIs and two workers share one Temporal server and one PostgreSQL database.

Calls come in through both APIs (outbound through each in turn, inbound through a round-robin
load balancer in front of both, as the carrier's webhooks would); one worker is SIGKILLed while
calls ring and talk, and the other finishes every call: each ends exactly once, with one report,
one terminal `call.status` webhook and one dial. The figures (calls and webhooks per API, the
work each worker did, how long the survivor took to take the orphaned calls over) are printed.
"""

import asyncio
import json
import signal
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from socket import socket
from typing import Any

import pytest
from spekoai import AsyncSpeko
from sqlmodel import col, func, select
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus
from temporalio.testing import WorkflowEnvironment

from simulator.app import Simulator
from simulator.scripts import Caller
from tests.calls_support import OUR_NUMBER, Line, place_call, script, set_up_line
from tests.conftest import RunningApi, Tenant, new_tenant
from tests.processes import api_ready, start_process, start_worker_process, stop_worker_processes
from tests.receiver import WebhookReceiver
from tests.servers import RoundRobin, free_port, serving
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.models import Call, CallEvent, CallReport, WebhookDelivery
from trunkline.settings import Settings
from trunkline.workflow_io import TERMINAL_STATUSES

OUTBOUND = 10
INBOUND = 10
TALK_SECONDS = 3.0
"""How long each answered call lasts before its far end hangs up."""
TERMINAL_EVENTS = ["call.ended", "call.failed", "watchdog.phone_gone"]
"""The events that move a call to its terminal status (`CallWorkflow._finish`)."""
LIVE_AT_KILL = 6
"""The worker dies once this many calls are in progress (the others still ring or queue)."""


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: what several processes share in a deployment."""
    return postgres_url


@dataclass
class Deployment:
    api_urls: list[str]
    workers: list[subprocess.Popen[bytes]]
    balancer: RoundRobin


@asynccontextmanager
async def deployment(
    settings: Settings, balancer_socket: socket, logs: Path
) -> AsyncIterator[Deployment]:
    """Two `trunkline api` and two `trunkline worker` processes on the test's settings, and a
    round-robin load balancer in front of the APIs where `settings.public_base_url` points."""
    ports = [free_port(), free_port()]
    apis = [
        start_process(settings, "api", "--api-port", str(port), log=logs / f"api-{n}.log")
        for n, port in enumerate(ports, 1)
    ]
    workers = [start_worker_process(settings, logs / f"worker-{n}.log") for n in (1, 2)]
    try:
        api_urls = [f"http://127.0.0.1:{port}" for port in ports]
        await asyncio.gather(*(api_ready(p, url) for p, url in zip(apis, api_urls, strict=True)))
        balancer = RoundRobin(api_urls)
        async with serving(balancer.app(), balancer_socket):
            yield Deployment(api_urls, workers, balancer)
    finally:
        await stop_worker_processes(*workers, *apis)


def polling(logs: Path, workers: int) -> bool:
    """Whether every worker says it polls (`worker.run_worker` logs so once its pollers run)."""
    return all(
        "worker polling" in (logs / f"worker-{n}.log").read_text() for n in range(1, 1 + workers)
    )


async def histories(client: Client, workflow_ids: Iterable[str]) -> dict[str, list[HistoryEvent]]:
    async def events(workflow_id: str) -> list[HistoryEvent]:
        return list((await client.get_workflow_handle(workflow_id).fetch_history()).events)

    ids = list(workflow_ids)
    return dict(zip(ids, await asyncio.gather(*(events(i) for i in ids)), strict=True))


def worker_of(event: HistoryEvent) -> str | None:
    """The worker process (its pid) that took a workflow or activity task, by the identity the
    history event records (the SDK's default identity is pid@host)."""
    kind = event.WhichOneof("attributes")
    if kind in (
        "workflow_task_started_event_attributes",
        "workflow_task_completed_event_attributes",
        "activity_task_started_event_attributes",
    ):
        return getattr(event, kind).identity.split("@", 1)[0]
    return None


def when(event: HistoryEvent) -> datetime:
    return event.event_time.ToDatetime(tzinfo=UTC)


async def calls_by_status(database: Database) -> Counter[str]:
    async with database.session() as session:
        return Counter((await session.exec(select(Call.status))).all())


async def rows_per_call(database: Database, table: Any, *where: Any) -> Counter[str]:
    async with database.session() as session:
        statement = select(table.call_id, func.count()).where(*where).group_by(table.call_id)
        return Counter(dict((await session.exec(statement)).all()))


async def test_two_apis_and_two_workers_survive_a_worker_killed_mid_call(
    settings: Settings,
    database: Database,
    simulator: Simulator,
    receiver: WebhookReceiver,
    local_temporal: WorkflowEnvironment,
    sockets: dict[str, socket],
    tmp_path: Path,
) -> None:
    began = time.monotonic()
    client = local_temporal.client
    # the production watchdog: the test's 5 s would race the survivor's takeover of a quiet call
    settings = settings.model_copy(update={"call_watchdog_seconds": 30})
    async with deployment(settings, sockets["api"], tmp_path) as deployed:
        await eventually(lambda: asyncio.to_thread(polling, tmp_path, 2), 60)
        ready = time.monotonic()
        first = await new_tenant(database, RunningApi(deployed.api_urls[0]), "Acme")
        second_api = RunningApi(deployed.api_urls[1])
        tenants = [
            first,
            Tenant(
                first.organization_id,
                first.api_key,
                second_api.client(first.api_key),
                AsyncSpeko(api_key=first.api_key, base_url=second_api.base_url),
            ),
        ]
        webhooks = {
            "status": {"url": f"{receiver.url}/status"},
            "postCall": {"url": f"{receiver.url}/report"},
        }
        line = await set_up_line(first, receiver, agent={"webhooks": webhooks})

        callees = [f"+1201555{2000 + n}" for n in range(OUTBOUND)]
        for n, callee in enumerate(callees):  # answers spread out: some still ring at the kill
            script(
                simulator,
                callee,
                answer_after_seconds=0.5 + 0.4 * n,
                hangup_after_seconds=TALK_SECONDS,
            )
        placed = await asyncio.gather(
            *(
                place_call(Line(tenants[n % 2], line.agent_id, line.number_id), to=callee)
                for n, callee in enumerate(callees)
            )
        )
        for n in range(INBOUND):
            simulator.world.place_inbound(
                f"+1201555{3000 + n}", OUR_NUMBER, Caller(hangup_after_seconds=TALK_SECONDS), [], {}
            )

        async def live_enough() -> Counter[str] | None:
            statuses = await calls_by_status(database)
            return statuses if statuses["in-progress"] >= LIVE_AT_KILL else None

        at_kill = await eventually(live_enough, 60)
        victim, survivor, orphans, killed_at = await kill_the_busier_worker(
            client, database, deployed.workers
        )

        async def all_ended() -> bool:
            statuses = await calls_by_status(database)
            return sum(statuses.values()) == OUTBOUND + INBOUND and set(statuses) <= set(
                TERMINAL_STATUSES
            )

        await eventually(all_ended, 90)
        all_ended_at = datetime.now(UTC)
        async with database.session() as session:
            calls = list((await session.exec(select(Call))).all())
        call_ids = [call.id for call in calls]
        for kind in ("call", "report"):  # a call's workflow starts its report as it closes
            results = [client.get_workflow_handle(f"{kind}-{i}").result() for i in call_ids]
            await asyncio.wait_for(asyncio.gather(*results), 60)

        async def webhooks_settled() -> bool:
            async with database.session() as session:
                pending = select(func.count()).where(WebhookDelivery.status == "pending")
                return (await session.exec(pending)).one() == 0

        # a delivery the killed worker was sending stays claimed for its HTTP timeout and a
        # margin (sender.CLAIM_MARGIN), then the survivor's sweep sends it
        await eventually(webhooks_settled, 120)
        settled_at = datetime.now(UTC)
        forwarded = list(deployed.balancer.forwarded)
        history = await histories(
            client, [f"{kind}-{call_id}" for call_id in call_ids for kind in ("call", "report")]
        )
        for tenant in tenants:
            await tenant.aclose()

    # every call ended, once, and its workflow completed
    assert {call.status for call in calls} == {"ended"}, [(c.id, c.status) for c in calls]
    assert Counter(call.direction for call in calls) == {"outbound": OUTBOUND, "inbound": INBOUND}
    for call_id in call_ids:
        described = await client.get_workflow_handle(f"call-{call_id}").describe()
        assert described.status == WorkflowExecutionStatus.COMPLETED
    terminal_events = await rows_per_call(
        database, CallEvent, col(CallEvent.type).in_(TERMINAL_EVENTS)
    )
    assert terminal_events == dict.fromkeys(call_ids, 1)
    assert await rows_per_call(database, CallReport) == dict.fromkeys(call_ids, 1)
    # one terminal call.status and one call.report per call (a redelivery keeps its webhook-id)
    assert terminal_webhooks(receiver, "/status") == dict.fromkeys(call_ids, 1)
    assert terminal_webhooks(receiver, "/report") == dict.fromkeys(call_ids, 1)
    # nobody dialled twice: one SIP leg per outbound room, one bridge per inbound caller
    dials = Counter(
        r["request"]["roomName"]
        for r in simulator.requests["livekit"]
        if r["method"] == "CreateSIPParticipant"
    )
    assert dials == {call.room_name: 1 for call in calls if call.direction == "outbound"}
    bridged = Counter(
        w.body["data"]["payload"]["call_control_id"]
        for w in simulator.webhooks.sent
        if w.event_type == "call.bridged" and w.status is not None
    )
    assert bridged == {call.call_control_id: 1 for call in calls if call.direction == "inbound"}
    assert {p["sessionId"] for p in placed} <= set(call_ids)

    takeovers = takeover_seconds(history, orphans, survivor, killed_at)
    assert takeovers, "the killed worker held no call that was still going"
    figures = {
        "statuses at the kill": dict(at_kill),
        "outbound calls placed per API": dict(Counter(n % 2 + 1 for n in range(OUTBOUND))),
        "inbound calls per API": inbound_per_api(forwarded),
        "provider webhooks per API": dict(Counter(f.upstream + 1 for f in forwarded)),
        "tasks per worker (workflow tasks, activity tasks)": work_split(
            history, {victim: "killed", survivor: "survivor"}, killed_at
        ),
        "ended reasons": dict(Counter(call.ended_reason for call in calls)),
        "call.status webhooks after the end": status_webhooks_after_the_end(receiver),
        "calls the killed worker left mid-way": len(orphans),
        "takeover after the kill, s (median, max)": (
            round(statistics.median(takeovers), 1),
            round(max(takeovers), 1),
        ),
        "all calls ended, s after the kill": round((all_ended_at - killed_at).total_seconds(), 1),
        "all webhooks delivered, s after the kill": round(
            (settled_at - killed_at).total_seconds(), 1
        ),
        "processes ready, s": round(ready - began, 1),
        "run time, s": round(time.monotonic() - began, 1),
    }
    print("\nscale-out figures:\n" + json.dumps(figures, indent=1))


async def kill_the_busier_worker(
    client: Client, database: Database, workers: list[subprocess.Popen[bytes]]
) -> tuple[str, str, set[str], datetime]:
    """SIGKILL the worker that last ran more of the calls still going; returns its pid, the
    survivor's, the workflows it last ran, and when it died."""
    async with database.session() as session:
        going = select(Call.id).where(col(Call.status).not_in(TERMINAL_STATUSES))
        live = [f"call-{call_id}" for call_id in (await session.exec(going)).all()]
    last = {
        workflow_id: next((w for e in reversed(events) if (w := worker_of(e))), None)
        for workflow_id, events in (await histories(client, live)).items()
    }
    held = Counter(last.values())
    victim = max(workers, key=lambda worker: held[str(worker.pid)])
    survivor = next(worker for worker in workers if worker is not victim)
    victim.send_signal(signal.SIGKILL)
    killed_at = datetime.now(UTC)
    await asyncio.to_thread(victim.wait, 10)
    orphans = {workflow_id for workflow_id, who in last.items() if who == str(victim.pid)}
    return str(victim.pid), str(survivor.pid), orphans, killed_at


def takeover_seconds(
    history: dict[str, list[HistoryEvent]], orphans: set[str], survivor: str, killed_at: datetime
) -> list[float]:
    """For each call the dead worker left, how long until the survivor completed a task of it."""
    delays = []
    for workflow_id in orphans:
        taken = [
            when(event)
            for event in history[workflow_id]
            if worker_of(event) == survivor and when(event) > killed_at
        ]
        if taken:
            delays.append((min(taken) - killed_at).total_seconds())
    return delays


def work_split(
    history: dict[str, list[HistoryEvent]], names: dict[str, str], killed_at: datetime
) -> dict[str, dict[str, tuple[int, int]]]:
    """Workflow and activity tasks each worker completed or started, before and after the kill,
    over every call and report workflow."""
    tasks: Counter[tuple[str, str, str]] = Counter()
    kinds = {
        "workflow_task_completed_event_attributes": "workflow",
        "activity_task_started_event_attributes": "activity",
    }
    for events in history.values():
        for event in events:
            kind = kinds.get(event.WhichOneof("attributes") or "")
            if kind:
                period = "before the kill" if when(event) < killed_at else "after"
                tasks[names.get(worker_of(event) or "", "other"), period, kind] += 1
    return {
        name: {
            period: (tasks[name, period, "workflow"], tasks[name, period, "activity"])
            for period in ("before the kill", "after")
        }
        for name in names.values()
    }


def inbound_per_api(forwarded: list[Any]) -> dict[int, int]:
    """Which API took each inbound call's first webhook (Telnyx `call.initiated`, incoming)."""
    per_api: Counter[int] = Counter()
    for request in forwarded:
        if request.path != "/webhooks/telnyx":
            continue
        data = json.loads(request.body)["data"]
        if data["event_type"] == "call.initiated" and data["payload"]["direction"] == "incoming":
            per_api[request.upstream + 1] += 1
    return dict(per_api)


def terminal_webhooks(receiver: WebhookReceiver, path: str) -> Counter[str]:
    """Distinct webhook messages per call at `path`: reports, or the `call.status` ones of the
    event that ended the call. A redelivery of one message (same `webhook-id`) counts once."""
    messages = {}
    for received in receiver.received:
        body = json.loads(received.body)
        if received.path == path and (path != "/status" or body["event_type"] in TERMINAL_EVENTS):
            messages[received.headers["webhook-id"]] = body["call_id"]
    return Counter(messages.values())


def status_webhooks_after_the_end(receiver: WebhookReceiver) -> dict[str, int]:
    """The `call.status` webhooks of events recorded once a call had ended, by event type."""
    messages = {}
    for received in receiver.received:
        body = json.loads(received.body)
        ended = (
            body.get("status") in TERMINAL_STATUSES and body["event_type"] not in TERMINAL_EVENTS
        )
        if received.path == "/status" and ended:
            messages[received.headers["webhook-id"]] = body["event_type"]
    return dict(Counter(messages.values()))
