"""From stored provider events to workflows: new inbound calls start, the rest become signals."""

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from trunkline.callbacks import cancel_for_caller
from trunkline.calls.signals import (
    PHONE_LEFT,
    call_for_event,
    consultation_room,
    moves_call,
    phone_left,
    signal_for,
    telnyx_payload,
    transfer_of_room,
)
from trunkline.calls.store import create_inbound_call
from trunkline.models import CallEvent, PhoneNumber, ProviderEvent, utcnow
from trunkline.numbers.store import allows_inbound
from trunkline.providers.events import mark_dispatched
from trunkline.workflow_io import ProviderSignal, RejectInput
from trunkline.workflow_starts import start_call, wake_cancelled_callback
from workflows.call import CallWorkflow
from workflows.reject_inbound import RejectInboundCallWorkflow


class CallRouter:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def classify(self, session: AsyncSession, event: ProviderEvent) -> None:
        """Before the event is stored: the call it concerns, and whether that call's workflow
        must hear of it. One it need not hear of is stored dispatched: one write, not two."""
        if _starts_inbound_call(event) or consultation_room(event):
            return
        call = await call_for_event(session, event)
        if call is None:
            event.disposition = "no call"
        else:  # not signalled: the call's next recorded event (or its report) takes it in
            event.call_id = call.id
            signal = signal_for(event)
            event.signalled = moves_call(signal, call)
            if event.signalled and phone_left(signal):
                event.disposition = PHONE_LEFT  # the other provider's word on it is not signalled
        if not event.signalled:
            event.dispatched_at = utcnow()

    async def dispatch(self, session: AsyncSession, event: ProviderEvent) -> None:
        """Hand the stored event to its call, once; raises if Temporal cannot take it (the
        provider retries, and the stored event is dispatched then)."""
        if event.dispatched_at is not None:
            return
        room = consultation_room(event)
        if _starts_inbound_call(event):
            await self._route_inbound(session, event, telnyx_payload(event))
        elif room:
            signal = signal_for(event)
            signal.consultation_room = room
            await self._signal(f"transfer-{transfer_of_room(room)}", signal)
        elif event.signalled and event.call_id:
            await self._signal(f"call-{event.call_id}", signal_for(event))
        await mark_dispatched(session, event)

    async def _signal(self, workflow_id: str, signal: ProviderSignal) -> None:
        """Signal the call (or warm transfer) workflow; both take `provider_event`."""
        handle = self._client.get_workflow_handle(workflow_id)
        try:
            await handle.signal(CallWorkflow.provider_event, signal)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # a late event after the call finished
                raise

    async def _cancel_callbacks_to(
        self, session: AsyncSession, organization_id: str, caller: str
    ) -> None:
        """The caller rang us: the callbacks we had scheduled to them are moot."""
        for callback_id in await cancel_for_caller(session, organization_id, caller):
            await wake_cancelled_callback(self._client, callback_id)

    async def _route_inbound(
        self, session: AsyncSession, event: ProviderEvent, payload: dict
    ) -> None:
        """A caller dialled us: start their call, or refuse it at the carrier and say why."""
        dialed = str(payload.get("to", ""))
        number = (await session.exec(select(PhoneNumber).where(PhoneNumber.e164 == dialed))).first()
        if number and allows_inbound(number.direction):
            call = await create_inbound_call(session, number, payload)
            event.call_id, event.signalled = call.id, True  # the start carries it as a signal
            await start_call(self._client, self._task_queue, call, signal_for(event))
            await self._cancel_callbacks_to(session, number.organization_id, call.from_number)
            return
        reason = "number does not take inbound calls" if number else "unknown number"
        if number:
            await _record_refused(session, number, payload, reason)
        event.disposition = f"rejected: {reason}"
        await self._client.start_workflow(
            RejectInboundCallWorkflow.run,
            RejectInput(
                call_control_id=payload["call_control_id"],
                cause="CALL_REJECTED",
                to_number=dialed,
                reason=reason,
            ),
            id=f"reject-{payload['call_control_id']}",
            task_queue=self._task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )


def _starts_inbound_call(event: ProviderEvent) -> bool:
    return (
        event.provider == "telnyx"
        and event.event_type == "call.initiated"
        and telnyx_payload(event).get("direction") == "incoming"
    )


async def _record_refused(
    session: AsyncSession, number: PhoneNumber, payload: dict, reason: str
) -> None:
    """The organization sees the refused call in its calls, failed as `rejected`."""
    call = await create_inbound_call(session, number, payload)
    if call.status == "failed":
        return
    call.status = "failed"
    call.failure_cause = "rejected"
    call.ended_reason = reason
    call.ended_at = utcnow()
    session.add(call)
    session.add(
        CallEvent(
            call_id=call.id,
            sequence=1,
            source="trunkline",
            type="call.rejected",
            status="failed",
            detail=reason,
        )
    )
    await session.commit()
