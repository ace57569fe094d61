"""Provider events that reach a call's events without a signal to its workflow.

Events that change nothing in a call (a room starting, the agent joining, a recording starting)
are stored with the call's id and not signalled. The call's next recorded event takes them in,
numbered before itself; the report takes in whatever arrived after the call's last event.
"""

from sqlalchemy import and_, bindparam, func, or_
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.calls.signals import signal_for
from trunkline.db import run_core
from trunkline.models import Call, CallEvent, ProviderEvent

_EVENTS = CallEvent.__table__
_PROVIDER_EVENTS = ProviderEvent.__table__
_RECORDED = select(_EVENTS.c.provider_event_id).where(
    _EVENTS.c.call_id == bindparam("of_call"), _EVENTS.c.provider_event_id.is_not(None)
)
_IN_ORDER = (_PROVIDER_EVENTS.c.received_at, _PROVIDER_EVENTS.c.id)
_UNRECORDED = (
    select(_PROVIDER_EVENTS)
    .where(
        _PROVIDER_EVENTS.c.call_id == bindparam("of_call"),
        _PROVIDER_EVENTS.c.id.not_in(_RECORDED),
    )
    .order_by(*_IN_ORDER)
)
_UNRECORDED_UNSIGNALLED = (
    select(_PROVIDER_EVENTS)
    .where(
        _PROVIDER_EVENTS.c.id.not_in(_RECORDED),
        or_(
            and_(
                _PROVIDER_EVENTS.c.call_id == bindparam("of_call"),
                _PROVIDER_EVENTS.c.signalled.is_(False),
            ),
            # by id alone: the carrier's ring that starts an inbound call names no call
            _PROVIDER_EVENTS.c.id == bindparam("including"),
        ),
    )
    .order_by(*_IN_ORDER)
)
"""Built once: a call's every recorded event asks one of these."""


async def unrecorded(
    session: AsyncSession, call_id: str, *, signalled_too: bool, including: str | None = None
) -> list[ProviderEvent]:
    """The call's provider events not among its events yet, in the order they arrived;
    signalled ones only with `signalled_too` (else its workflow is still to record them) or
    when it is the one `including` names."""
    if signalled_too:
        result = await run_core(session, _UNRECORDED, {"of_call": call_id})
    else:
        parameters = {"of_call": call_id, "including": including}
        result = await run_core(session, _UNRECORDED_UNSIGNALLED, parameters)
    return [ProviderEvent(**row._mapping) for row in result]


def taken_in(
    call: Call, events: list[ProviderEvent], first_sequence: int, recorded_with: int
) -> list[CallEvent]:
    """`events` as the call's events, numbered from `first_sequence` on."""
    made = []
    for offset, event in enumerate(events):
        signal = signal_for(event)
        made.append(
            CallEvent(
                call_id=call.id,
                sequence=first_sequence + offset,
                recorded_with=recorded_with,
                source=event.provider,
                type=event.event_type,
                status=call.status,
                sip_status_code=signal.sip_status_code,
                sip_status=signal.sip_status,
                detail=signal.detail,
                provider_event_id=event.id,
                payload=event.payload,
            )
        )
    return made


async def last_sequence(session: AsyncSession, call_id: str) -> int:
    """The highest sequence number the call's events took (0 before any)."""
    statement = select(func.max(CallEvent.sequence)).where(CallEvent.call_id == call_id)
    return (await session.exec(statement)).one() or 0


async def take_in_late_events(session: AsyncSession, call: Call) -> int:
    """After the call's workflow ended (it writes no more events): append the provider events
    that came too late for it. Returns how many."""
    late = await unrecorded(session, call.id, signalled_too=True)
    if not late:
        return 0
    first = await last_sequence(session, call.id) + 1
    session.add_all(taken_in(call, late, first, first))
    await session.commit()
    return len(late)


async def add_finding(session: AsyncSession, call: Call, event_type: str, detail: str) -> None:
    """After the call's workflow ended: an event of ours saying what its report found (why
    there is no recording, say), once per call."""
    found = select(CallEvent.id).where(CallEvent.call_id == call.id, CallEvent.type == event_type)
    if (await session.exec(found.limit(1))).first():
        return
    sequence = await last_sequence(session, call.id) + 1
    session.add(
        CallEvent(
            call_id=call.id,
            sequence=sequence,
            recorded_with=sequence,
            source="trunkline",
            type=event_type,
            status=call.status,
            detail=detail,
        )
    )
    await session.commit()
