"""Scheduled callbacks: asked for in a call or through the API, placed on time, cancelled."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from temporalio.testing import WorkflowEnvironment

from simulator.agent import agent_joiner
from simulator.app import Simulator
from simulator.scripts import SpokenLine
from tests.calls_support import CALLEE, OUR_NUMBER, call_when, place_call, script, set_up_line
from tests.conftest import Tenant, time_skipping_environment
from tests.receiver import WebhookReceiver
from tests.waiting import eventually
from trunkline.settings import Settings

NEW_YORK = ZoneInfo("America/New_York")
CALLER = "+12015559876"


@pytest.fixture
async def time_skipping_temporal() -> AsyncIterator[WorkflowEnvironment]:
    """A time-skipping server of this module's tests alone: its clock starts at the real time."""
    async with time_skipping_environment() as env:
        yield env


def in_an_hour() -> str:
    return (datetime.now(UTC) + timedelta(hours=1)).isoformat()


def next_june() -> int:
    """The year of the next 3 June (summer time in New York), always less than a year ahead."""
    today = datetime.now(UTC).date()
    return today.year if (today.month, today.day) < (6, 2) else today.year + 1


async def callback_when(tenant: Tenant, callback_id: str, *statuses: str) -> dict:
    async def reached() -> dict | None:
        body = (await tenant.http.get(f"/v1/callbacks/{callback_id}")).json()
        return body if body["status"] in statuses else None

    return await eventually(reached, 30)


async def test_a_callback_asked_for_in_a_call_rings_at_that_time(
    skipping_tenant: Tenant,
    time_skipping_temporal: WorkflowEnvironment,
    simulator: Simulator,
    receiver: WebhookReceiver,
) -> None:
    tenant = skipping_tenant
    zone = await tenant.http.patch("/v1/organization", json={"timezone": "America/New_York"})
    assert zone.status_code == 200, zone.text
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    line = await set_up_line(tenant, receiver)
    asked = SpokenLine(text="I'm driving, please call me back tomorrow at 3 pm.", after_seconds=0.1)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=1.0, transcript=[asked])
    first = (await place_call(line))["sessionId"]
    ended = await call_when(tenant, first, "ended", within=30)

    async def scheduled() -> dict | None:
        report = (await tenant.http.get(f"/v1/calls/{first}/report")).json()
        return report.get("scheduled_callback")

    callback = await eventually(scheduled, 30)
    ended_local = datetime.fromisoformat(ended["ended_at"]).astimezone(NEW_YORK)
    expected = datetime.combine(
        ended_local.date() + timedelta(days=1), datetime.min.time().replace(hour=15), NEW_YORK
    )
    assert datetime.fromisoformat(callback["at"]) == expected
    report = (await tenant.http.get(f"/v1/calls/{first}/report")).json()
    assert report["outcome"] == "callback_requested"

    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.5)
    assert (await callback_when(tenant, callback["id"], "scheduled"))["created_session_id"] is None
    await time_skipping_temporal.sleep(expected - datetime.now(UTC) + timedelta(minutes=1))
    placed = await callback_when(tenant, callback["id"], "dispatched")
    second = placed["created_session_id"]
    started = (
        await time_skipping_temporal.client.get_workflow_handle(f"call-{second}").describe()
    ).start_time
    assert expected <= started < expected + timedelta(minutes=1)
    call = (await tenant.http.get(f"/v1/calls/{second}")).json()
    assert (call["to"], call["from"], call["agent_id"]) == (CALLEE, OUR_NUMBER, line.agent_id)
    assert call["metadata"]["callbackForCallId"] == first
    dials = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert [d["request"]["sipCallTo"] for d in dials] == [CALLEE, CALLEE]


@pytest.mark.usefixtures("worker")
async def test_a_callback_is_cancelled_when_the_number_calls_in(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, settings: Settings
) -> None:
    line = await set_up_line(tenant, receiver)
    created = await tenant.http.post(
        "/v1/callbacks",
        json={"to": CALLER, "agentId": line.agent_id, "at": in_an_hour(), "metadata": {"k": 1}},
    )
    assert created.status_code == 201, created.text
    callback = created.json()
    assert (callback["status"], callback["from_number"], callback["source"]) == (
        "scheduled",
        OUR_NUMBER,
        "api",
    )
    async with httpx.AsyncClient(base_url=settings.livekit_url) as control:
        await control.post(
            "/control/inbound-calls",
            json={"from": CALLER, "to": OUR_NUMBER, "caller": {"hangupAfterSeconds": 0.5}},
        )
    cancelled = await callback_when(tenant, callback["id"], "cancelled")
    assert cancelled["status_reason"] == "caller_called_in"
    listed = (await tenant.http.get("/v1/callbacks?status=cancelled")).json()["callbacks"]
    assert [c["id"] for c in listed] == [callback["id"]]


async def test_far_future_times_are_refused_before_anything_is_written(
    tenant: Tenant, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    body = {"to": CALLER, "agentId": line.agent_id}
    overflowing = "9999-12-31T23:59:00-14:00"  # no such time in UTC
    refused = await tenant.http.post("/v1/callbacks", json={**body, "at": overflowing})
    assert refused.status_code == 422
    assert refused.json()["details"][0]["field"] == "at"
    beyond = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    too_far = await tenant.http.post("/v1/callbacks", json={**body, "at": beyond})
    assert (too_far.status_code, too_far.json()["code"]) == (422, "time_too_far_ahead")
    assert too_far.json()["details"][0]["field"] == "at"
    listed = await tenant.http.get("/v1/calls", params={"createdAfter": overflowing})
    assert listed.status_code == 422
    assert listed.json()["details"][0]["field"] == "createdAfter"
    assert (await tenant.http.get("/v1/callbacks")).json()["callbacks"] == []


@pytest.mark.usefixtures("worker")
async def test_callbacks_through_the_api(
    tenant: Tenant, other_tenant: Tenant, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    body = {"to": CALLER, "agentId": line.agent_id, "at": in_an_hour()}
    past = await tenant.http.post("/v1/callbacks", json={**body, "at": "2020-01-01T10:00:00Z"})
    assert (past.status_code, past.json()["code"]) == (422, "time_in_past")
    assert past.json()["details"][0]["field"] == "at"
    naive = await tenant.http.post("/v1/callbacks", json={**body, "at": "2030-01-01T10:00:00"})
    assert naive.status_code == 422
    unknown = await tenant.http.post("/v1/callbacks", json={**body, "agentId": "agent_x"})
    assert unknown.json()["code"] == "agent_not_found"
    foreign = await tenant.http.post("/v1/callbacks", json={**body, "from": "+15550001111"})
    assert foreign.json()["code"] == "invalid_caller_id"
    # 23:30 UTC is 18:30 in New York, inside the window; 03:00 UTC is 22:00, so it waits
    june = next_june()
    late = await tenant.http.post("/v1/callbacks", json={**body, "at": f"{june}-06-03T03:00:00Z"})
    assert (
        late.json()["scheduled_at"] == f"{june}-06-03T13:00:00Z"
    )  # 09:00 EDT, when the window opens
    created = late.json()
    assert created["requested_at"] == f"{june}-06-03T03:00:00Z"
    assert (await tenant.http.get(f"/v1/callbacks/{created['id']}")).json() == created
    in_new_york = await tenant.http.post(
        "/v1/callbacks", json={**body, "at": f"{june}-06-02T19:30:00-04:00"}
    )
    assert (
        in_new_york.json()["requested_at"]
        == in_new_york.json()["scheduled_at"]
        == f"{june}-06-02T23:30:00Z"
    )
    assert (await other_tenant.http.get(f"/v1/callbacks/{created['id']}")).status_code == 404
    assert (await other_tenant.http.delete(f"/v1/callbacks/{created['id']}")).status_code == 404
    cancelled = await tenant.http.delete(f"/v1/callbacks/{created['id']}")
    assert (cancelled.status_code, cancelled.json()["status"]) == (200, "cancelled")
    again = await tenant.http.delete(f"/v1/callbacks/{created['id']}")
    assert (again.status_code, again.json()["code"]) == (409, "callback_not_scheduled")
    window = await tenant.http.patch(
        "/v1/organization", json={"callingWindow": {"start": "18:00", "end": "08:00"}}
    )
    assert window.status_code == 422
    zone = await tenant.http.patch("/v1/organization", json={"timezone": "Mars/Olympus"})
    assert zone.status_code == 422
