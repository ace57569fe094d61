"""`/v1/calls/{id}/transfers`: blind and warm transfers of a live caller, and their outcomes."""

from fastapi import APIRouter

from api.deps import AppSettings, CurrentOrganization, DbSession, Temporal
from api.errors import error_responses
from api.routes.calls import owned_call
from api.schemas.transfers import (
    BlindTransferBody,
    CallTransferOut,
    CancelBody,
    CompleteBody,
    MessageList,
    MessageOut,
    TransferList,
    WarmTransferBody,
)
from api.transfer_control import (
    blind_transfer,
    owned_transfer,
    transfer_out,
    warm_transfer,
)
from api.updates import run_update
from trunkline import transfers
from trunkline.models import CallMessage
from trunkline.workflow_io import CancelTransfer, ScreeningReport
from workflows.warm_transfer import WarmTransferWorkflow

router = APIRouter(
    prefix="/v1/calls/{call_id}", tags=["transfers"], responses=error_responses(401, 404, 422)
)


@router.post("/transfers/blind", responses=error_responses(409, 503))
async def transfer_blind(
    call_id: str,
    body: BlindTransferBody,
    organization: CurrentOrganization,
    session: DbSession,
    temporal: Temporal,
) -> CallTransferOut:
    """SIP REFER the caller to `to`; answers with the true outcome once the target answers,
    refuses or rings out. On failure the caller stays with the agent."""
    call = await owned_call(session, organization.id, call_id)
    request = body.model_dump(mode="json", by_alias=True)
    transfer_id = await blind_transfer(
        temporal, call, body.to, body.ringing_timeout, request, "api", body
    )
    return await transfer_out(session, await owned_transfer(session, call, transfer_id))


@router.post("/transfers/warm", status_code=201, responses=error_responses(409, 503))
async def transfer_warm(
    call_id: str,
    body: WarmTransferBody,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
) -> CallTransferOut:
    """Screen each destination on a consultation leg, in order, before bridging the caller."""
    call = await owned_call(session, organization.id, call_id)
    transfer_id = await warm_transfer(session, temporal, settings, call, body, "api")
    return await transfer_out(session, await owned_transfer(session, call, transfer_id))


@router.get("/transfers")
async def list_transfers(
    call_id: str, organization: CurrentOrganization, session: DbSession
) -> TransferList:
    call = await owned_call(session, organization.id, call_id)
    rows = await transfers.transfers_of_call(session, call.id)
    return TransferList(transfers=[await transfer_out(session, row) for row in rows])


@router.get("/transfers/{transfer_id}")
async def get_transfer(
    call_id: str, transfer_id: str, organization: CurrentOrganization, session: DbSession
) -> CallTransferOut:
    """State, current destination, and every attempt with its outcome and SIP code."""
    call = await owned_call(session, organization.id, call_id)
    return await transfer_out(session, await owned_transfer(session, call, transfer_id))


@router.post("/transfers/{transfer_id}/complete", responses=error_responses(409, 503))
async def complete_transfer(
    call_id: str,
    transfer_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    temporal: Temporal,
    body: CompleteBody | None = None,
) -> CallTransferOut:
    """Bridge the screened recipient with the caller; answers once they are together."""
    call = await owned_call(session, organization.id, call_id)
    transfer = await owned_transfer(session, call, transfer_id, warm=True)
    await run_update(
        temporal, f"transfer-{transfer.id}", WarmTransferWorkflow.complete, ScreeningReport()
    )
    return await transfer_out(session, transfer)


@router.post("/transfers/{transfer_id}/cancel", responses=error_responses(409, 503))
async def cancel_transfer(
    call_id: str,
    transfer_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    temporal: Temporal,
    body: CancelBody | None = None,
) -> CallTransferOut:
    """Hang up the current destination; `tryNext` goes on down the list, else the caller
    returns to the agent."""
    call = await owned_call(session, organization.id, call_id)
    transfer = await owned_transfer(session, call, transfer_id, warm=True)
    await run_update(
        temporal,
        f"transfer-{transfer.id}",
        WarmTransferWorkflow.cancel,
        _cancel_order(body or CancelBody()),
    )
    return await transfer_out(session, transfer)


def _cancel_order(body: CancelBody) -> CancelTransfer:
    """What the warm transfer is told; voicemail heard by the caller's side is its reason."""
    reason = body.reason or ("voicemail detected" if body.voicemail_detected else None)
    return CancelTransfer(try_next=body.try_next, reason=reason)


@router.get("/messages")
async def list_messages(
    call_id: str, organization: CurrentOrganization, session: DbSession
) -> MessageList:
    """Messages the agent took during the call (e.g. when no transfer destination answered)."""
    call = await owned_call(session, organization.id, call_id)
    rows = await transfers.messages_of(session, call.id)
    return MessageList(messages=[message_out(row) for row in rows])


def message_out(row: CallMessage) -> MessageOut:
    return MessageOut(
        id=row.id,
        call_id=row.call_id,
        transfer_id=row.transfer_id,
        caller_name=row.caller_name,
        callback_number=row.callback_number,
        recipient=row.recipient,
        message=row.text,
        created_at=row.created_at,
    )
