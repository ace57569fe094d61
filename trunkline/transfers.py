"""Transfers of a caller: their rows, their attempts, and what the agents are told."""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import CallMessage, TranscriptEntry, Transfer, TransferAttempt, utcnow
from trunkline.workflow_io import (
    TRANSFER_END_STATES,
    ConsultationLeg,
    TransferRecord,
    TransferStateChange,
)

SUMMARY_LINES = 8
"""How many of the latest transcript lines the screening agent's summary quotes."""


async def create_transfer(
    session: AsyncSession, organization_id: str, record: TransferRecord
) -> None:
    """Store the transfer row once; a retry finds it there."""
    if await session.get(Transfer, record.transfer_id):
        return
    session.add(
        Transfer(
            id=record.transfer_id,
            organization_id=organization_id,
            call_id=record.session_id,
            kind=record.kind,
            requested_by=record.requested_by,
            state=record.state,
            request=record.request,
        )
    )
    try:
        await session.commit()
    except IntegrityError:  # a concurrent retry stored it first
        await session.rollback()


def apply_state(transfer: Transfer, change: TransferStateChange) -> None:
    transfer.state = change.state
    transfer.updated_at = utcnow()
    if change.current_attempt is not None:
        transfer.current_attempt = change.current_attempt
    if change.fallback_applied:
        transfer.fallback_applied = change.fallback_applied
    if change.detail:
        transfer.detail = change.detail
    if change.state in TRANSFER_END_STATES and transfer.ended_at is None:
        transfer.ended_at = transfer.updated_at


async def get_transfer(
    session: AsyncSession, organization_id: str, call_id: str, transfer_id: str
) -> Transfer | None:
    transfer = await session.get(Transfer, transfer_id)
    if transfer is None or (transfer.organization_id, transfer.call_id) != (
        organization_id,
        call_id,
    ):
        return None
    return transfer


async def transfers_of_call(session: AsyncSession, call_id: str) -> list[Transfer]:
    statement = select(Transfer).where(Transfer.call_id == call_id).order_by(col(Transfer.id))
    return list((await session.exec(statement)).all())


async def attempts_of(session: AsyncSession, transfer_ids: list[str]) -> list[TransferAttempt]:
    statement = (
        select(TransferAttempt)
        .where(col(TransferAttempt.transfer_id).in_(transfer_ids))
        .order_by(col(TransferAttempt.transfer_id), col(TransferAttempt.number))
    )
    return list((await session.exec(statement)).all())


async def add_attempt(session: AsyncSession, leg: ConsultationLeg) -> None:
    """Store a consultation attempt once; a retry finds it there."""
    if await _attempt(session, leg):
        return
    session.add(
        TransferAttempt(
            transfer_id=leg.transfer_id,
            number=leg.attempt,
            to=leg.to,
            label=leg.label,
            room_name=leg.room_name,
            participant_identity=leg.identity,
        )
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()


async def find_attempt(session: AsyncSession, leg: ConsultationLeg) -> TransferAttempt:
    """The attempt row of a consultation leg, which `add_attempt` stored."""
    attempt = await _attempt(session, leg)
    if attempt is None:
        raise LookupError(f"no attempt {leg.attempt} of {leg.transfer_id}")
    return attempt


async def _attempt(session: AsyncSession, leg: ConsultationLeg) -> TransferAttempt | None:
    statement = select(TransferAttempt).where(
        TransferAttempt.transfer_id == leg.transfer_id, TransferAttempt.number == leg.attempt
    )
    return (await session.exec(statement)).first()


async def messages_of(session: AsyncSession, call_id: str) -> list[CallMessage]:
    statement = (
        select(CallMessage).where(CallMessage.call_id == call_id).order_by(col(CallMessage.id))
    )
    return list((await session.exec(statement)).all())


def call_summary(caller: str, metadata: dict[str, Any], entries: list[TranscriptEntry]) -> str:
    """What the screening agent tells the recipient about the call so far, in a few lines."""
    lines = [f"Caller: {caller}."]
    if metadata:
        facts = ", ".join(f"{key}: {value}" for key, value in sorted(metadata.items()) if value)
        if facts:
            lines.append(f"Call details: {facts}.")
    said = [f"{'Caller' if e.role == 'user' else 'Agent'}: {e.text}" for e in entries]
    if said:
        lines.append("Latest conversation:")
        lines.extend(said[-SUMMARY_LINES:])
    else:
        lines.append("Nothing has been said yet.")
    return "\n".join(lines)


TAKE_MESSAGE_INSTRUCTIONS = (
    "Nobody could take the call. Tell the caller, then take a message: their name, a number "
    "to call back and what it is about. Send it with POST {agentApi}/messages."
)
RETURN_INSTRUCTIONS = "The transfer did not go through; the caller is back with you."
HOLD_INSTRUCTIONS = "Tell the caller you are connecting them and ask them to hold."
