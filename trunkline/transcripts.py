"""Transcript entries as the agent reports them: appended once per entry id."""

from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import TranscriptEntry


async def append_entries(session: AsyncSession, call_id: str, entries: list[dict[str, Any]]) -> int:
    """Store the entries this call does not have yet; returns how many were new."""
    for _ in range(2):  # a concurrent append of the same entries makes the first try conflict
        ids = [entry["entry_id"] for entry in entries]
        known = set(
            (
                await session.exec(
                    select(TranscriptEntry.entry_id).where(
                        TranscriptEntry.call_id == call_id, col(TranscriptEntry.entry_id).in_(ids)
                    )
                )
            ).all()
        )
        new = [entry for entry in entries if entry["entry_id"] not in known]
        session.add_all(TranscriptEntry(call_id=call_id, **entry) for entry in new)
        try:
            await session.commit()
            return len(new)
        except IntegrityError:
            await session.rollback()
    raise RuntimeError("transcript entries kept conflicting")


async def transcript(session: AsyncSession, call_id: str) -> list[TranscriptEntry]:
    statement = (
        select(TranscriptEntry)
        .where(TranscriptEntry.call_id == call_id)
        .order_by(col(TranscriptEntry.started_at), col(TranscriptEntry.created_at))
    )
    return list((await session.exec(statement)).all())
