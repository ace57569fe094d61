"""From stored provider events to workflows: new inbound calls start, the rest become signals."""

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError, RPCStatusCode

from trunkline.call_signals import call_for_event, signal_for, telnyx_payload
from trunkline.calls import create_inbound_call
from trunkline.models import Call, CallEvent, PhoneNumber, ProviderEvent, utcnow
from trunkline.phone_numbers import allows_inbound
from trunkline.workflow_io import CallInput, ProviderSignal, RejectInput
from workflows.call import CallWorkflow
from workflows.reject_inbound import RejectInboundCallWorkflow


async def start_call(
    client: Client, task_queue: str, call: Call, first_signal: ProviderSignal | None = None
) -> None:
    """Start the call's workflow unless it runs already (never two workflows for one call)."""
    await client.start_workflow(
        CallWorkflow.run,
        CallInput(session_id=call.id),
        id=f"call-{call.id}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        static_summary=f"{call.direction} call {call.from_number} → {call.to_number}",
        start_signal="provider_event" if first_signal else None,
        start_signal_args=[first_signal] if first_signal else [],
    )


class CallRouter:
    def __init__(self, client: Client, task_queue: str) -> None:
        self._client = client
        self._task_queue = task_queue

    async def dispatch(self, session: AsyncSession, event: ProviderEvent) -> None:
        """Hand the event to its call, once; raises if Temporal cannot take it (retry later)."""
        if event.dispatched_at is not None:
            return
        payload = telnyx_payload(event) if event.provider == "telnyx" else {}
        if event.event_type == "call.initiated" and payload.get("direction") == "incoming":
            await self._route_inbound(session, event, payload)
        else:
            call = await call_for_event(session, event)
            if call is None:
                event.disposition = "no call"
            else:
                await self._signal(call.id, signal_for(event))
        event.dispatched_at = utcnow()
        session.add(event)
        await session.commit()

    async def _signal(self, session_id: str, signal: ProviderSignal) -> None:
        handle = self._client.get_workflow_handle(f"call-{session_id}")
        try:
            await handle.signal(CallWorkflow.provider_event, signal)
        except RPCError as exc:
            if exc.status != RPCStatusCode.NOT_FOUND:  # a late event after the call finished
                raise

    async def _route_inbound(
        self, session: AsyncSession, event: ProviderEvent, payload: dict
    ) -> None:
        """A caller dialled us: start their call, or refuse it at the carrier and say why."""
        dialed = str(payload.get("to", ""))
        number = (await session.exec(select(PhoneNumber).where(PhoneNumber.e164 == dialed))).first()
        if number and allows_inbound(number.direction):
            call = await create_inbound_call(session, number, payload)
            await start_call(self._client, self._task_queue, call, signal_for(event))
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
