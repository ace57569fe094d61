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
from api.schemas.transfers import AttemptOut, TransferOut, WarmTransferBody
from api.updates import run_update
from trunkline import transfers
from trunkline.calls import CallRequestError, our_number, resolve_caller_id
from trunkline.ids import new_id
from trunkline.models import Call, Transfer
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
    client: Client, call: Call, to: str, ringing_timeout: float, request: dict[str, Any], by: str
) -> str:
    """REFER the caller; returns the transfer id once the outcome is known."""
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


async def transfer_out(session: AsyncSession, transfer: Transfer) -> TransferOut:
    """The transfer as the API shows it, with every attempt so far."""
    await session.refresh(transfer)
    attempts = [
        AttemptOut.model_validate(a, from_attributes=True)
        for a in await transfers.attempts_of(session, [transfer.id])
    ]
    current = next((a for a in attempts if a.number == transfer.current_attempt), None)
    return TransferOut(
        id=transfer.id,
        transfer_id=transfer.id,
        call_id=transfer.call_id,
        type=transfer.kind,
        state=transfer.state,
        requested_by=transfer.requested_by,
        current_destination=current,
        attempts=attempts,
        fallback_applied=transfer.fallback_applied,
        sip_status_code=transfer.sip_status_code,
        sip_status=transfer.sip_status,
        detail=transfer.detail,
        request=transfer.request,
        created_at=transfer.created_at,
        updated_at=transfer.updated_at,
        ended_at=transfer.ended_at,
    )
