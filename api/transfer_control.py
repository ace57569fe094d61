"""Starting and steering transfers, for the customer's API and the agent's alike.

Transfers are updates on the call workflow (blind, warm) and on the warm transfer's own
workflow (complete, cancel, decline); the workflows validate, this module maps their refusals
onto 409s with a machine-readable code.
"""

import contextlib
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.errors import ApiError, find_owned, invalid_field
from api.schemas.transfers import (
    BlindTransferBody,
    CallTransferOut,
    FallbackOut,
    TransferAttemptOut,
    WarmTransferBody,
)
from api.updates import run_update
from trunkline import transfers
from trunkline.calls.store import CallRequestError, our_number, resolve_caller_id
from trunkline.ids import new_id
from trunkline.models import Call, Transfer, TransferAttempt
from trunkline.pipeline import TransferCallTool, TransferDestination
from trunkline.settings import Settings
from trunkline.workflow_io import (
    BlindTransferRequest,
    TransferTarget,
    WarmTransferPlan,
    WarmTransferRequest,
)
from workflows.call import CallWorkflow


async def blind_transfer(
    client: Client,
    call: Call,
    to: str,
    ringing_timeout: float,
    request: dict[str, Any],
    by: str,
    body: BlindTransferBody | None = None,
) -> str:
    """REFER the caller (or `body`'s participant); returns the transfer id once the outcome
    is known."""
    transfer_id = new_id("trf")
    await run_update(
        client,
        f"call-{call.id}",
        CallWorkflow.blind_transfer,
        BlindTransferRequest(
            transfer_id=transfer_id,
            to=to,
            ringing_timeout_seconds=ringing_timeout,
            requested_by=by,  # type: ignore[arg-type]
            request=request,
            participant_identity=body.participant_identity if body else None,
            play_dialtone=body.play_dialtone if body else False,
            headers=body.headers if body else {},
        ),
    )
    return transfer_id


async def warm_transfer(
    session: AsyncSession,
    client: Client,
    settings: Settings,
    call: Call,
    body: WarmTransferBody,
    by: str,
) -> str:
    """Start screening the destinations; returns the transfer id once it has started."""
    from_number = await consultation_caller_id(session, call, body.from_number)
    transfer_id = new_id("trf")
    plan = WarmTransferPlan(
        transfer_id=transfer_id,
        session_id=call.id,
        from_number=from_number,
        destinations=[TransferTarget(to=d.to, label=d.label) for d in body.destinations],
        fallback=body.fallback.strategy,
        voicemail_mode=body.voicemail_detection.mode,
        voicemail_timeout_seconds=body.voicemail_detection.timeout_seconds,
        ringing_timeout_seconds=body.ringing_timeout,
        decision_timeout_seconds=settings.transfer_decision_timeout_seconds,
    )
    await run_update(
        client,
        f"call-{call.id}",
        CallWorkflow.warm_transfer,
        WarmTransferRequest(
            plan=plan,
            requested_by=by,  # type: ignore[arg-type]
            request=body.model_dump(mode="json", by_alias=True, exclude_none=True),
        ),
    )
    return transfer_id


async def consultation_caller_id(session: AsyncSession, call: Call, requested: str | None) -> str:
    """`from` when given (ours, dialling out); else the call's own number, else the default."""
    ours = our_number(call)
    organization_id, agent_id = call.organization_id, call.agent_id
    try:
        if requested is None:
            with contextlib.suppress(CallRequestError):
                return (await resolve_caller_id(session, organization_id, agent_id, ours)).e164
        return (await resolve_caller_id(session, organization_id, agent_id, requested)).e164
    except CallRequestError as error:
        raise invalid_field(error.code, error.message, error.field) from error


def tool_destinations(
    tool: TransferCallTool, to: str | None, label: str | None
) -> list[TransferDestination]:
    """The `transfer_call` tool's destinations, the one asked for (by number or label) first.

    The agent can only ask for a destination the tool lists.
    """
    if to is None and label is None:
        return list(tool.destinations)
    chosen = next(
        (d for d in tool.destinations if to in (None, d.to) and label in (None, d.label)), None
    )
    if chosen is None:
        raise ApiError(
            422, "unknown_destination", "not one of the transfer_call tool's destinations"
        )
    return [chosen, *(d for d in tool.destinations if d is not chosen)]


async def owned_transfer(
    session: AsyncSession, call: Call, transfer_id: str, *, warm: bool = False
) -> Transfer:
    """The call's transfer (404 otherwise); with `warm`, one that screens (409 otherwise)."""
    transfer = await find_owned(
        "transfer",
        transfer_id,
        lambda: transfers.get_transfer(session, call.organization_id, call.id, transfer_id),
    )
    if warm and transfer.kind != "warm":
        raise ApiError(409, "not_a_warm_transfer", f"transfer {transfer.id} is a blind transfer")
    return transfer


_SDK_STATUS = {
    "transferring": "requested",
    "dialing": "requested",
    "screening": "screening",
    "completed": "completed",
    "cancelled": "cancelled",
}
"""Our transfer states as the SDK names them; every other end state is `failed`."""

_FALLBACK_ACTIONS = {
    "return_to_agent": ("return_to_assistant", "No one took the call: back to the agent."),
    "take_message": ("take_message", "No one took the call: the agent takes a message."),
    "hangup": ("end_call", "No one took the call: the call ends."),
}


async def transfer_out(session: AsyncSession, transfer: Transfer) -> CallTransferOut:
    """The transfer as the SDK's `CallTransfer` reads it, with every attempt so far."""
    await session.refresh(transfer)
    call = await session.get_one(Call, transfer.call_id)
    rows = await transfers.attempts_of(session, [transfer.id])
    attempts = [TransferAttemptOut.model_validate(a, from_attributes=True) for a in rows]
    current = next((a for a in rows if a.number == transfer.current_attempt), None)
    status = _SDK_STATUS.get(transfer.state, "failed")
    request = transfer.request
    return CallTransferOut(
        id=transfer.id,
        session_id=transfer.call_id,
        organization_id=transfer.organization_id,
        kind=transfer.kind,  # type: ignore[arg-type]
        status=status,  # type: ignore[arg-type]
        state=transfer.state,
        transfer_to=_transfer_to(transfer, current),
        from_room_name=call.room_name,
        consultation_room_name=current.room_name if current else None,
        caller_participant_identity=call.sip_participant_identity,
        recipient_participant_identity=current.participant_identity if current else None,
        screening_prompt=request.get("screeningPrompt"),
        summary=request.get("summary"),
        failure_cause=(transfer.detail or transfer.state) if status == "failed" else None,
        requested_by=transfer.requested_by,
        attempts=attempts,
        fallback=_fallback(transfer, rows),
        sip_status_code=transfer.sip_status_code,
        sip_status=transfer.sip_status,
        detail=transfer.detail,
        request=request,
        metadata=request.get("metadata") or {},
        created_at=transfer.created_at,
        updated_at=transfer.updated_at,
        completed_at=transfer.ended_at if transfer.state == "completed" else None,
        ended_at=transfer.ended_at,
    )


def _transfer_to(transfer: Transfer, current: TransferAttempt | None) -> str:
    """Where the caller is being sent: the destination being tried, else the first asked for."""
    if current is not None:
        return current.to
    if transfer.kind == "blind":
        return str(transfer.request.get("to", ""))
    destinations = transfer.request.get("destinations") or [{}]
    return str(destinations[0].get("to", ""))


def _fallback(transfer: Transfer, attempts: list[TransferAttempt]) -> FallbackOut | None:
    """The fallback applied when no destination took the call; `voicemail_detected` when one
    of them was a voicemail."""
    if transfer.fallback_applied not in _FALLBACK_ACTIONS:
        return None
    action, message = _FALLBACK_ACTIONS[transfer.fallback_applied]
    asked = (transfer.request.get("fallback") or {}).get("message")
    voicemail = any(attempt.outcome == "voicemail" for attempt in attempts)
    return FallbackOut(action=action, message=asked or message, voicemail_detected=voicemail)  # type: ignore[arg-type]
