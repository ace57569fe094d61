"""The official Speko SDK's `callbacks` resource against Trunkline: list, get, cancel, dispatch."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from spekoai import SpekoApiError
from spekoai.models import ScheduledCallback

from simulator.app import Simulator
from tests.calls_support import OUR_NUMBER, Line, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("worker")

CALLEE = "+12015559876"


async def schedule(line: Line, **metadata: str) -> str:
    """A callback an hour from now, through the REST API (the SDK has no create)."""
    at = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = {"to": CALLEE, "agentId": line.agent_id, "at": at, "metadata": metadata}
    created = await line.tenant.http.post("/v1/callbacks", json=body)
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_dispatch_places_the_call_now(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, CALLEE, answer_after_seconds=0, hangup_after_seconds=0.2)
    callback_id = await schedule(line, lead="lead_456")
    fetched = await tenant.speko.callbacks.get(callback_id)
    assert isinstance(fetched, ScheduledCallback)
    assert (fetched.status, fetched.to_number, fetched.from_number) == (
        "scheduled",
        CALLEE,
        OUR_NUMBER,
    )
    assert fetched.organization_id == tenant.organization_id and fetched.agent_id == line.agent_id

    dispatched = await tenant.speko.callbacks.dispatch(callback_id)
    assert dispatched.status in ("dispatching", "dispatched")

    async def placed() -> ScheduledCallback | None:
        callback = await tenant.speko.callbacks.get(callback_id)
        return callback if callback.status == "dispatched" else None

    done = await eventually(placed, 20)
    assert done.created_session_id and done.dispatched_at is not None
    call = await tenant.speko.calls.get(done.created_session_id)
    assert call.metadata["callbackId"] == callback_id and call.agent_id == line.agent_id
    assert [c.id for c in await tenant.speko.callbacks.list(status="dispatched")] == [callback_id]
    with pytest.raises(SpekoApiError) as again:
        await tenant.speko.callbacks.dispatch(callback_id)
    assert (again.value.status, again.value.code) == (409, "callback_not_scheduled")


async def test_cancel_list_and_errors(
    tenant: Tenant, other_tenant: Tenant, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    kept, cancelled_id = await schedule(line), await schedule(line)
    cancelled = await tenant.speko.callbacks.cancel(cancelled_id, {"reason": "customer asked"})
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    row = (await tenant.http.get(f"/v1/callbacks/{cancelled_id}")).json()
    assert row["status_reason"] == "customer asked"

    listed = await tenant.speko.callbacks.list()
    assert [c.id for c in listed] == [cancelled_id, kept]  # newest first
    assert [c.id for c in await tenant.speko.callbacks.list(status="scheduled")] == [kept]
    assert [c.id for c in await tenant.speko.callbacks.list(limit=1)] == [cancelled_id]
    assert await tenant.speko.callbacks.list(source_session_id="session_none") == []
    with tenant.sync_speko() as speko:
        blocking = await asyncio.to_thread(speko.callbacks.list, status="cancelled")
    assert [c.id for c in blocking] == [cancelled_id]

    with pytest.raises(SpekoApiError) as twice:
        await tenant.speko.callbacks.cancel(cancelled_id)
    assert (twice.value.status, twice.value.code) == (409, "callback_not_scheduled")
    with pytest.raises(SpekoApiError) as foreign:
        await other_tenant.speko.callbacks.cancel(kept)
    assert (foreign.value.status, foreign.value.code) == (404, "not_found")
    assert (await tenant.speko.callbacks.get(kept)).status == "scheduled"


async def test_deleting_an_agent_cancels_its_callbacks(
    tenant: Tenant, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    spare = await tenant.speko.agents.create(
        {
            "name": "Night desk",
            "system_prompt": "You take calls at night.",
            "intent": {"language": "en"},
        }
    )
    callback_id = await schedule(Line(tenant, spare.id, line.number_id))
    assert await tenant.speko.agents.delete(spare.id) is True
    cancelled = await tenant.speko.callbacks.get(callback_id)
    assert cancelled.status == "cancelled" and cancelled.cancelled_at is not None
    row = (await tenant.http.get(f"/v1/callbacks/{callback_id}")).json()
    assert row["status_reason"] == "agent_deleted"
