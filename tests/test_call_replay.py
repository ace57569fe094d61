"""Replay: recorded CallWorkflow histories must replay on the current code without divergence.

Histories in tests/histories/ were recorded from real runs; re-record them (after a change made
with `workflow.patched`) with TRUNKLINE_RECORD_HISTORIES=1.
"""

import json
import os
from pathlib import Path

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from simulator.app import Simulator
from tests.calls_support import call_when, place_call, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from worker import WORKFLOWS

HISTORIES = Path(__file__).parent / "histories"
REPLAYER = Replayer(workflows=WORKFLOWS, data_converter=pydantic_data_converter)
RECORDED = {path.stem: json.loads(path.read_text()) for path in sorted(HISTORIES.glob("*.json"))}


@pytest.mark.parametrize("name", sorted(RECORDED))
async def test_recorded_histories_replay(name: str) -> None:
    recorded = RECORDED[name]
    history = WorkflowHistory.from_json(recorded["workflowId"], recorded["history"])
    await REPLAYER.replay_workflow(history)


def test_histories_are_recorded() -> None:
    assert {"call-outbound-answered", "call-outbound-busy"} <= set(RECORDED)


@pytest.mark.usefixtures("worker")
@pytest.mark.parametrize(
    ("name", "far_end"),
    [
        ("outbound-answered", {"answer_after_seconds": 0.1, "hangup_after_seconds": 0.3}),
        ("outbound-busy", {"behaviour": "busy", "answer_after_seconds": 0.1}),
    ],
)
async def test_fresh_histories_replay(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    local_temporal: WorkflowEnvironment,
    database_url: str,
    name: str,
    far_end: dict,
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, **far_end)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended", "failed")
    handle = local_temporal.client.get_workflow_handle(f"call-{session['sessionId']}")
    await handle.result()
    history = await handle.fetch_history()
    await REPLAYER.replay_workflow(history)
    if os.environ.get("TRUNKLINE_RECORD_HISTORIES") and database_url.startswith("sqlite"):
        HISTORIES.mkdir(exist_ok=True)
        recorded = {"workflowId": history.workflow_id, "history": json.loads(history.to_json())}
        (HISTORIES / f"call-{name}.json").write_text(json.dumps(recorded, indent=1))
