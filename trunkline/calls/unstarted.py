"""Calls whose workflow never started: the API stopped between storing the call and starting
it, and no client retried. Such a call ends `failed` (`not_started`) instead of staying queued;
it is not dialled late, when nobody expects it any more."""

from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import col, select
from temporalio.client import Client

from trunkline.db import Database
from trunkline.models import Call, CallEvent, utcnow
from trunkline.temporal import workflow_exists

UNSTARTED_AFTER = timedelta(seconds=60)
"""A call still queued this long after it was stored, with no workflow, was never started."""


async def fail_unstarted_calls(database: Database, client: Client, now: datetime) -> int:
    """Fail every call that stayed queued with no workflow; returns how many."""
    async with database.session() as session:
        statement = (
            select(Call.id)
            .where(Call.status == "queued", col(Call.created_at) < now - UNSTARTED_AFTER)
            .limit(100)
        )
        queued = list((await session.exec(statement)).all())
    failed = 0
    for call_id in queued:
        if not await workflow_exists(client, f"call-{call_id}"):
            failed += await _fail(database, call_id)
    return failed


async def _fail(database: Database, call_id: str) -> int:
    """Fail the call if it is still queued (one statement), with the event that says why."""
    now = utcnow()
    async with database.session() as session:
        result = await session.exec(  # type: ignore[call-overload]
            update(Call)
            .where(col(Call.id) == call_id, col(Call.status) == "queued")
            .values(
                status="failed",
                failure_cause="not_started",
                ended_reason="not_started",
                ended_at=now,
                updated_at=now,
            )
        )
        if not result.rowcount:
            return 0
        session.add(
            CallEvent(
                call_id=call_id,
                sequence=1,
                recorded_with=1,
                source="trunkline",
                type="call.failed",
                status="failed",
                detail="the call's workflow never started (the API stopped while placing it)",
            )
        )
        await session.commit()
    return 1
