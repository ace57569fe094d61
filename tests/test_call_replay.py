"""Replay: recorded workflow histories must replay on the current code without divergence.

Histories in tests/histories/ were recorded from real runs, each by the code of its day: a
recorded history is never rewritten. After a change made with `workflow.patched`, record the
fresh ones under the new patch's name (`LATEST`) with TRUNKLINE_RECORD_HISTORIES=1.
"""

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from simulator.app import Simulator
from simulator.provider_webhooks import Misbehaviour
from tests.calls_support import OUR_NUMBER, call_when, place_call, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually
from trunkline.histories import as_recorded, from_recorded
from trunkline.settings import Settings
from worker import WORKFLOWS
from workflows.call import FEWER_STEPS, RING_BEFORE_ANSWER

LATEST = FEWER_STEPS
"""The patch fresh call and report histories were recorded with; their files carry its name."""

HISTORIES = Path(__file__).parent / "histories"
REPLAYER = Replayer(
    workflows=WORKFLOWS,
    data_converter=pydantic_data_converter,
    workflow_runner=SandboxedWorkflowRunner(),  # the worker runs unsandboxed, for speed: here
    # the sandbox refuses what a workflow must not do (clocks, I/O, randomness)
)
RECORDED = {path.stem: path.read_text() for path in sorted(HISTORIES.glob("*.json"))}
"""Every history kept in tests/histories: each one replays (`trunkline export-history` adds one)."""


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_histories_replay(name: str) -> None:
    await REPLAYER.replay_workflow(from_recorded(RECORDED[name]))


def test_histories_are_recorded() -> None:
    assert {
        "call-outbound-answered",
        "call-outbound-busy",
        "call-outbound-recorded-reported",
        "call-transfers",
        "transfer-busy-then-accepted",
        "call-inbound",
        "callback-cancelled-by-inbound",
        "report-inbound",
        f"call-outbound-answered.{LATEST}",
        f"call-outbound-busy.{LATEST}",
        f"call-outbound-recorded-reported.{LATEST}",
        f"call-transfers.{LATEST}",
        f"call-inbound.{LATEST}",
        f"report-inbound.{LATEST}",
        f"call-outbound-ring-implied.{RING_BEFORE_ANSWER}",
    } <= set(RECORDED)


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("kept_as", "far_end", "dropped"),
    [
        (
            f"call-outbound-answered.{LATEST}",
            {"answer_after_seconds": 0.1, "hangup_after_seconds": 0.3},
            [],
        ),
        (
            f"call-outbound-busy.{LATEST}",
            {"behaviour": "busy", "answer_after_seconds": 0.1},
            [],
        ),
        # recorded since calls are recorded and reported (the record-calls,
        # hangup-reason-by-party and post-call-report patches); the two above predate them
        (
            f"call-outbound-recorded-reported.{LATEST}",
            {"answer_after_seconds": 0, "hangup_after_seconds": 1.5},
            [],
        ),
        # the one path the ring-before-answer patch changes: the carrier's ring never comes
        (
            f"call-outbound-ring-implied.{RING_BEFORE_ANSWER}",
            {"answer_after_seconds": 0.1, "hangup_after_seconds": 0.3},
            ["call.initiated", "call.answered"],
        ),
    ],
)
async def test_fresh_histories_replay(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    local_temporal: WorkflowEnvironment,
    database_url: str,
    kept_as: str,
    far_end: dict,
    dropped: list[str],
) -> None:
    simulator.webhooks.misbehaviour = Misbehaviour(drop=dropped)
    line = await set_up_line(tenant, receiver)
    script(simulator, **far_end)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended", "failed")
    await replay_and_record(local_temporal, f"call-{session['sessionId']}", kept_as, database_url)


async def replay_and_record(
    temporal: WorkflowEnvironment, workflow_id: str, name: str, database_url: str
) -> None:
    """Replay a finished workflow's history; keep it in tests/histories when asked to, unless
    one is kept under that name already."""
    handle = temporal.client.get_workflow_handle(workflow_id)
    await handle.result()
    history = await handle.fetch_history()
    await REPLAYER.replay_workflow(history)
    path = HISTORIES / f"{name}.json"
    asked = os.environ.get("TRUNKLINE_RECORD_HISTORIES") and database_url.startswith("sqlite")
    if asked and not path.exists():
        path.write_text(as_recorded(history))


@pytest.mark.usefixtures("worker")
async def test_fresh_transfer_histories_replay(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    local_temporal: WorkflowEnvironment,
    database_url: str,
) -> None:
    """A failed blind transfer, then a warm one: busy first, the second accepts."""
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    script(simulator, "+12015557001", behaviour="busy")
    script(simulator, "+12015557002", answer_after_seconds=0, hangup_after_seconds=None)
    call_id = (await place_call(line))["sessionId"]
    await call_when(tenant, call_id, "in-progress")
    path = f"/v1/calls/{call_id}/transfers"
    blind = await tenant.http.post(f"{path}/blind", json={"to": "+12015557001"})
    assert blind.json()["state"] == "failed"
    destinations = [{"to": "+12015557001"}, {"to": "+12015557002"}]
    warm = (await tenant.http.post(f"{path}/warm", json={"destinations": destinations})).json()

    async def screening_the_second() -> bool:
        body = (await tenant.http.get(f"{path}/{warm['id']}")).json()
        return body["state"] == "screening" and len(body["attempts"]) == 2

    await eventually(screening_the_second, 20)
    assert (await tenant.http.post(f"{path}/{warm['id']}/complete")).status_code == 200
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")
    await replay_and_record(
        local_temporal, f"call-{call_id}", f"call-transfers.{LATEST}", database_url
    )
    await replay_and_record(
        local_temporal, f"transfer-{warm['id']}", "transfer-busy-then-accepted", database_url
    )


@pytest.mark.usefixtures("worker")
async def test_fresh_inbound_callback_and_report_histories_replay(
    tenant: Tenant,
    receiver: WebhookReceiver,
    settings: Settings,
    local_temporal: WorkflowEnvironment,
    database_url: str,
) -> None:
    """A scheduled callback, cancelled when its number calls in; then that call's report."""
    line = await set_up_line(tenant, receiver)
    caller = "+12015559876"
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    created = await tenant.http.post(
        "/v1/callbacks", json={"to": caller, "agentId": line.agent_id, "at": at}
    )
    assert created.status_code == 201, created.text
    async with httpx.AsyncClient(base_url=settings.livekit_url) as control:
        await control.post(
            "/control/inbound-calls",
            json={"from": caller, "to": OUR_NUMBER, "caller": {"hangupAfterSeconds": 0.5}},
        )

    async def inbound_call() -> str | None:
        calls = (await tenant.http.get("/v1/calls")).json()["calls"]
        return calls[0]["id"] if calls else None

    call_id = await eventually(inbound_call, 20)
    await call_when(tenant, call_id, "ended", "failed", within=30)
    callback_id = created.json()["id"]
    await replay_and_record(
        local_temporal, f"call-{call_id}", f"call-inbound.{LATEST}", database_url
    )
    await replay_and_record(
        local_temporal, f"callback-{callback_id}", "callback-cancelled-by-inbound", database_url
    )
    await replay_and_record(
        local_temporal, f"report-{call_id}", f"report-inbound.{LATEST}", database_url
    )


@pytest.mark.usefixtures("worker")
async def test_an_exported_history_replays(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
    tmp_path: Path,
) -> None:
    """`trunkline export-history` writes what the replay suite replays, and never overwrites."""
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.3)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended", "failed")
    workflow_id, path = f"call-{session['sessionId']}", tmp_path / "call.json"

    def export(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trunkline.cli", "export-history", *args],
            env={**os.environ, **settings.as_environment()},
            capture_output=True,
            text=True,
            timeout=60,
        )

    exported = await asyncio.to_thread(export, workflow_id, str(path))
    assert exported.returncode == 0, exported.stderr
    history = from_recorded(path.read_text())
    assert history.workflow_id == workflow_id
    await REPLAYER.replay_workflow(history)
    again = await asyncio.to_thread(export, workflow_id, str(path))
    assert again.returncode == 1 and "never rewritten" in again.stderr
    unknown = await asyncio.to_thread(export, "call-nobody", str(tmp_path / "nobody.json"))
    assert unknown.returncode == 1 and "no history of call-nobody" in unknown.stderr
