"""Reading calls: filters, pagination, events, webhook deliveries and replays, Temporal search."""

from datetime import UTC, datetime, timedelta

import pytest
from temporalio.testing import WorkflowEnvironment

from simulator.app import Simulator
from tests.calls_support import (
    CALLEE,
    OUR_NUMBER,
    call_when,
    events,
    place_call,
    script,
    set_up_line,
)
from tests.conftest import Tenant
from tests.receiver import Reply, WebhookReceiver
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("worker")


async def test_filters_and_pagination(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    ended = await place_call(line)
    failed = await place_call(line, to="+12015550486")  # busy, by the simulator's default
    for session in (ended, failed):
        await call_when(tenant, session["sessionId"], "ended", "failed")

    async def ids(**params: str) -> list[str]:
        page = (await tenant.http.get("/v1/calls", params=params)).json()
        return [call["id"] for call in page["calls"]]

    both = [failed["sessionId"], ended["sessionId"]]
    assert await ids() == both
    assert await ids(status="failed") == [failed["sessionId"]]
    assert await ids(direction="outbound", agentId=line.agent_id) == both
    assert await ids(direction="inbound") == []
    assert await ids(phoneNumber="+12015550486") == [failed["sessionId"]]
    assert await ids(phoneNumber=OUR_NUMBER) == both
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert await ids(createdAfter=later) == [] and await ids(createdBefore=later) == both
    first = (await tenant.http.get("/v1/calls", params={"limit": 1})).json()
    second = (
        await tenant.http.get("/v1/calls", params={"limit": 1, "cursor": first["next_cursor"]})
    ).json()
    assert [c["id"] for c in first["calls"] + second["calls"]] == both
    assert second["has_more"] is False
    for bad_filter in ({"phoneNumber": "555"}, {"status": "bogus"}, {"direction": "sideways"}):
        bad = await tenant.http.get("/v1/calls", params=bad_filter)
        assert bad.status_code == 422, bad_filter
        assert bad.json()["code"] == "validation_error"


async def test_events_page_in_order(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    local_temporal: WorkflowEnvironment,
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    session = await place_call(line)
    await local_temporal.client.get_workflow_handle(f"call-{session['sessionId']}").result()
    everything = await events(tenant, session["sessionId"])
    walked: list[dict] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (
            await tenant.http.get(f"/v1/calls/{session['sessionId']}/events", params=params)
        ).json()
        walked += page["events"]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert [e["id"] for e in walked] == [e["id"] for e in everything]


async def test_deliveries_are_listed_and_replayable(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    receiver.default = Reply(503)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended")
    path = f"/v1/calls/{session['sessionId']}/webhook-deliveries"

    async def head_tried() -> list[dict] | None:
        rows = (await tenant.http.get(path)).json()["data"]
        return rows if len(rows) > 1 and rows[0]["attemptCount"] >= 1 else None

    deliveries = await eventually(head_tried)
    first = deliveries[0]
    assert {d["attemptCount"] for d in deliveries[1:]} == {0}  # in order, behind the first
    assert (first["status"], first["eventType"], first["lastStatusCode"]) == (
        "pending",
        "call.status",
        503,
    )
    assert first["attempts"][0]["latencyMs"] > 0 and first["nextAttemptAt"]

    receiver.default = Reply(200)
    retried = await tenant.http.post(f"/v1/webhook-deliveries/{first['id']}/retry")
    assert retried.status_code == 202

    async def delivered() -> dict | None:
        rows = (await tenant.http.get(path)).json()["data"]
        row = next(d for d in rows if d["id"] == first["id"])
        return row if row["status"] == "succeeded" else None

    done = await eventually(delivered, within=5)  # well before the 5 s retry would come
    assert [a["statusCode"] for a in done["attempts"]][-1] == 200

    replayed = await tenant.http.post(f"/v1/webhook-deliveries/{first['id']}/retry")
    assert replayed.status_code == 202

    async def replay_done() -> dict | None:
        row = await delivered()
        return row if row and row["attemptCount"] == done["attemptCount"] + 1 else None

    again = await eventually(replay_done)
    assert [a["number"] for a in again["attempts"]] == list(range(1, again["attemptCount"] + 1))
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids.count(first["id"]) == again["attemptCount"]
    missing = await tenant.http.post("/v1/webhook-deliveries/msg_01M875DBVQ1EG3CGAWY2WV1GDP/retry")
    assert missing.status_code == 404


async def test_calls_are_findable_in_temporal(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    local_temporal: WorkflowEnvironment,
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended")
    query = (
        f"TrunklineOrganizationId = '{tenant.organization_id}' AND TrunklineStatus = 'ended' "
        f"AND TrunklineDirection = 'outbound' AND TrunklineToNumber = '{CALLEE}' "
        f"AND TrunklineAgentId = '{line.agent_id}'"
    )

    async def found() -> list[str]:
        return [w.id async for w in local_temporal.client.list_workflows(query)]

    assert await eventually(found) == [f"call-{session['sessionId']}"]
    description = await local_temporal.client.get_workflow_handle(
        f"call-{session['sessionId']}"
    ).describe()
    assert OUR_NUMBER in (await description.static_summary() or "")
