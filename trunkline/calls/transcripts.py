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


def transcript_wire(entries: list[TranscriptEntry]) -> dict[str, Any]:
    """The transcript as the SDK's `CallTranscript` reads it: `{"entries": [...]}`, in order.

    An entry the agent sent without a start time starts when it was stored.
    """
    return {
        "entries": [
            {
                "id": entry.entry_id,
                "index": index,
                "source": entry.role,
                "text": entry.text,
                "started_at": (entry.started_at or entry.created_at).isoformat(),
                "ended_at": entry.ended_at.isoformat() if entry.ended_at else None,
            }
            for index, entry in enumerate(entries)
        ]
    }
