"""The official Speko SDK's transfer methods against Trunkline: blind, warm, complete, cancel."""

import asyncio
import json

import pytest
from spekoai import SpekoApiError
from spekoai.models import CallTransfer, CallTransferResponse

from simulator.app import Simulator
from tests.calls_support import live_call, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("worker")

FRONT_DESK = "+12015557001"
OVERFLOW = "+12015557002"


def answers(simulator: Simulator, *numbers: str) -> None:
    for number in numbers:
        script(simulator, number, answer_after_seconds=0, hangup_after_seconds=None)


async def screening(tenant: Tenant, call_id: str, to: str) -> CallTransfer:
    """The call's transfer once it screens `to`, as `calls.get` shows it."""

    async def reached() -> CallTransfer | None:
        transfers = (await tenant.speko.calls.get(call_id)).transfers
        found = [t for t in transfers if t.status == "screening" and t.transfer_to == to]
        return found[0] if found else None

    return await eventually(reached, 30)


async def test_blind_transfer_with_the_sdks_options(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, answer_after_seconds=0.1)
    options = {"to": FRONT_DESK, "play_dialtone": True, "headers": {"X-Reason": "billing"}}
    with tenant.sync_speko() as speko:
        transfer = await asyncio.to_thread(speko.calls.blind_transfer, call_id, options)
    assert isinstance(transfer, CallTransfer)
    assert (transfer.kind, transfer.status, transfer.transfer_to) == (
        "blind",
        "completed",
        FRONT_DESK,
    )
    assert (transfer.session_id, transfer.organization_id) == (call_id, tenant.organization_id)
    assert transfer.completed_at is not None and transfer.failure_cause is None
    refer = simulator.world.transfers[-1]
    assert (refer["headers"], refer["playDialtone"]) == ({"X-Reason": "billing"}, True)
    with pytest.raises(SpekoApiError) as not_warm:
        await tenant.speko.calls.complete_warm_transfer(call_id, transfer.id)
    assert (not_warm.value.status, not_warm.value.code) == (409, "not_a_warm_transfer")


async def test_warm_transfer_screened_then_completed(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    answers(simulator, FRONT_DESK)
    started = await tenant.speko.calls.warm_transfer(
        call_id,
        {
            "to": FRONT_DESK,
            "summary": "Maya wants to renew her plan.",
            "screening_prompt": "Confirm the recipient can help before bridging.",
            "fallback": {"strategy": "return_to_assistant", "message": "Back to Ava."},
            "voicemail_detection": {"mode": "amd", "timeout_seconds": 5},
            "wait_until_answered": False,
        },
    )
    assert isinstance(started, CallTransferResponse)
    assert (started.kind, started.status, started.transfer_to) == ("warm", "requested", FRONT_DESK)
    screened = await screening(tenant, call_id, FRONT_DESK)
    assert screened.consultation_room_name and screened.recipient_participant_identity
    dispatch = next(d for d in simulator.world.dispatches.values() if d.room.startswith("consult-"))
    metadata = json.loads(dispatch.metadata)
    assert metadata["callSummary"] == "Maya wants to renew her plan."
    assert metadata["voicemailDetection"]["mode"] == "provider"  # the SDK's `amd`

    done = await tenant.speko.calls.complete_warm_transfer(
        call_id, started.id, {"summary": "Bridging now."}
    )
    assert isinstance(done, CallTransfer)
    assert (done.status, done.completed_at is not None) == ("completed", True)


async def test_cancel_tries_the_next_destination(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    answers(simulator, FRONT_DESK, OVERFLOW)
    started = await tenant.speko.calls.warm_transfer(
        call_id, {"destinations": [{"to": FRONT_DESK}, {"to": OVERFLOW, "label": "Overflow"}]}
    )
    await screening(tenant, call_id, FRONT_DESK)
    moved_on = await tenant.speko.calls.cancel_warm_transfer(
        call_id, started.id, {"try_next": True, "reason": "wrong team"}
    )
    assert isinstance(moved_on, CallTransferResponse)
    await screening(tenant, call_id, OVERFLOW)
    row = (await tenant.http.get(f"/v1/calls/{call_id}/transfers/{started.id}")).json()
    first = row["attempts"][0]
    assert (first["to"], first["outcome"], first["detail"]) == (
        FRONT_DESK,
        "cancelled",
        "wrong team",
    )
    stopped = await tenant.speko.calls.cancel_warm_transfer(call_id, started.id)
    assert stopped.status == "cancelled" and stopped.transfer_to == OVERFLOW
