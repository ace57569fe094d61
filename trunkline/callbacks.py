"""Scheduled callbacks: when to ring (inside the callee's calling window), and their states.

The database row is the truth: a callback is placed only by moving it from `scheduled` to
`placed` in one UPDATE, so a cancel (API, or the same number calling in) always wins or loses
cleanly against the workflow waking up.
"""

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.calls.calling_window import next_in_window, parse_clock
from trunkline.calls.store import call_party, our_number
from trunkline.ids import new_id
from trunkline.models import Call, CallReport, Organization, ScheduledCallback, utcnow
from trunkline.numbers.e164 import is_e164
from trunkline.numbers.zones import zone_for_number
from trunkline.pagination import PageOf, paginate

MAX_AHEAD = timedelta(days=366)
"""How far ahead a callback may be asked for: a year (and a leap day)."""


def callee_zone(organization: Organization, number: str) -> ZoneInfo:
    """The callee's local zone when their number tells, else the organization's."""
    return ZoneInfo(zone_for_number(number) or organization.timezone)


def fire_time(organization: Organization, number: str, requested_at: datetime) -> datetime:
    """The first moment at or after `requested_at` inside the callee's calling window."""
    return next_in_window(
        requested_at,
        callee_zone(organization, number),
        parse_clock(organization.calling_window_start),
        parse_clock(organization.calling_window_end),
    )


async def create_callback(
    session: AsyncSession,
    organization: Organization,
    *,
    agent_id: str,
    to: str,
    from_number: str | None,
    requested_at: datetime,
    metadata: dict[str, Any],
    source: str,
    source_call_id: str | None = None,
    source_key: str | None = None,
) -> ScheduledCallback:
    """Store a callback (once per `source_key`); the caller starts its workflow."""
    key = source_key or new_id("cbkey")
    existing = await _by_source_key(session, organization.id, key)
    if existing:
        return existing
    callback = ScheduledCallback(
        organization_id=organization.id,
        agent_id=agent_id,
        to_number=to,
        from_number=from_number,
        requested_at=requested_at,
        fire_at=fire_time(organization, to, requested_at),
        call_metadata=metadata,
        source=source,
        source_call_id=source_call_id,
        source_key=key,
    )
    session.add(callback)
    try:
        await session.commit()
    except IntegrityError:  # a retry of the same request stored it first
        await session.rollback()
        winner = await _by_source_key(session, organization.id, key)
        if winner is None:
            raise
        return winner
    await session.refresh(callback)  # times as every later read shows them: in UTC
    return callback


async def _by_source_key(
    session: AsyncSession, organization_id: str, key: str
) -> ScheduledCallback | None:
    statement = select(ScheduledCallback).where(
        ScheduledCallback.organization_id == organization_id,
        ScheduledCallback.source_key == key,
    )
    return (await session.exec(statement)).first()


async def schedule_requested_callback(
    session: AsyncSession, call: Call, report: CallReport
) -> ScheduledCallback | None:
    """The callback a caller asked for in this call (one per call, whatever the re-analyses)."""
    requested = (report.callback_request or {}).get("at")
    if not requested or not call.agent_id or not is_e164(call_party(call)):
        return None  # nobody to call back (an anonymous or unparseable caller)
    organization = await session.get_one(Organization, call.organization_id)
    callback = await create_callback(
        session,
        organization,
        agent_id=call.agent_id,
        to=call_party(call),
        from_number=our_number(call),
        requested_at=datetime.fromisoformat(requested),
        metadata={"callbackRequest": report.callback_request.get("text")},  # type: ignore[union-attr]
        source="analysis",
        source_call_id=call.id,
        source_key=f"call-{call.id}",
    )
    report.scheduled_callback_id = callback.id
    session.add(report)
    await session.commit()
    return callback


async def set_status(
    session: AsyncSession,
    callback_id: str,
    status: str,
    reason: str | None = None,
) -> bool:
    """Move a `scheduled` callback on, in one UPDATE; False when it had moved on already."""
    statement = (
        update(ScheduledCallback)
        .where(col(ScheduledCallback.id) == callback_id)
        .where(col(ScheduledCallback.status) == "scheduled")
        .values(
            status=status,
            status_reason=reason,
            updated_at=utcnow(),
        )
    )
    moved = (await session.exec(statement)).rowcount == 1  # type: ignore[call-overload]
    await session.commit()
    return moved


async def cancel_for_caller(session: AsyncSession, organization_id: str, number: str) -> list[str]:
    """Cancel the organization's scheduled callbacks to `number` (they called in); their ids."""
    to_caller = col(ScheduledCallback.to_number) == number
    return await _cancel_scheduled(session, organization_id, to_caller, "caller_called_in")


async def cancel_for_agent(session: AsyncSession, organization_id: str, agent_id: str) -> list[str]:
    """Cancel the scheduled callbacks of a deleted agent (nobody would take them); their ids."""
    by_agent = col(ScheduledCallback.agent_id) == agent_id
    return await _cancel_scheduled(session, organization_id, by_agent, "agent_deleted")


async def _cancel_scheduled(
    session: AsyncSession, organization_id: str, which: Any, reason: str
) -> list[str]:
    statement = select(ScheduledCallback.id).where(
        ScheduledCallback.organization_id == organization_id,
        ScheduledCallback.status == "scheduled",
        which,
    )
    ids = list((await session.exec(statement)).all())
    return [i for i in ids if await set_status(session, i, "cancelled", reason)]


async def get_callback(
    session: AsyncSession, organization_id: str, callback_id: str
) -> ScheduledCallback | None:
    callback = await session.get(ScheduledCallback, callback_id)
    return callback if callback and callback.organization_id == organization_id else None


async def list_callbacks(
    session: AsyncSession,
    organization_id: str,
    limit: int,
    cursor: str | None,
    *,
    status: str | None = None,
    source_call_id: str | None = None,
) -> PageOf[ScheduledCallback]:
    statement = select(ScheduledCallback).where(
        ScheduledCallback.organization_id == organization_id
    )
    if status:
        statement = statement.where(ScheduledCallback.status == status)
    if source_call_id:
        statement = statement.where(ScheduledCallback.source_call_id == source_call_id)
    return await paginate(session, statement, ScheduledCallback.id, limit, cursor)
