"""Provider events that reach a call's events without a signal to its workflow.

Events that change nothing in a call (a room starting, the agent joining, a recording starting)
are stored with the call's id and not signalled. The call's next recorded event takes them in,
numbered before itself; the report takes in whatever arrived after the call's last event.
"""

from typing import Any

from sqlalchemy import func, or_
from sqlmodel import col, select

from trunkline.call_signals import signal_for
from trunkline.models import Call, CallEvent, ProviderEvent


async def unrecorded(
    session: Any, call_id: str, *, signalled_too: bool, including: str | None = None
) -> list[ProviderEvent]:
    """The call's provider events not among its events yet, in the order they arrived;
    signalled ones only with `signalled_too` (else its workflow is still to record them) or
    when it is the one `including` names."""
    recorded = select(CallEvent.provider_event_id).where(
        CallEvent.call_id == call_id, col(CallEvent.provider_event_id).is_not(None)
    )
    statement = select(ProviderEvent).where(
        ProviderEvent.call_id == call_id, col(ProviderEvent.id).not_in(recorded)
    )
    if not signalled_too:
        unsignalled = col(ProviderEvent.signalled).is_(False)
        statement = statement.where(or_(unsignalled, ProviderEvent.id == including))
    statement = statement.order_by(col(ProviderEvent.received_at), col(ProviderEvent.id))
    return list((await session.exec(statement)).all())


def take_in(
    session: Any, call: Call, events: list[ProviderEvent], first_sequence: int, recorded_with: int
) -> None:
    """Add `events` to the call's events, numbered from `first_sequence` on."""
    for offset, event in enumerate(events):
        signal = signal_for(event)
        session.add(
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


async def take_in_late_events(session: Any, call: Call) -> int:
    """After the call's workflow ended (it writes no more events): append the provider events
    that came too late for it. Returns how many."""
    late = await unrecorded(session, call.id, signalled_too=True)
    if not late:
        return 0
    last = await session.exec(
        select(func.max(CallEvent.sequence)).where(CallEvent.call_id == call.id)
    )
    first = (last.one() or 0) + 1
    take_in(session, call, late, first, first)
    await session.commit()
    return len(late)
