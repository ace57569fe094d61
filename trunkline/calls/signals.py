"""From a stored provider event to the call it concerns and the signal its workflow receives."""

from typing import Any, NamedTuple

from sqlalchemy import Select, bindparam, exists, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.db import run_core
from trunkline.models import Call, ProviderEvent
from trunkline.providers.errors import SIP_REASON_PHRASES
from trunkline.providers.livekit import Participant
from trunkline.workflow_io import (
    CONSULTATION_ROOM_PREFIX,
    RECIPIENT_PREFIX,
    TERMINAL_STATUSES,
    ProviderSignal,
)

SESSION_HEADER = "X-Trunkline-Session-Id"
"""Carried on every SIP leg we place or bridge, so carrier events find their call."""
CONSULTATION_HEADER = "X-Trunkline-Consultation"
"""Carried instead on a warm transfer's consultation legs, naming their room: their events go
to the transfer."""


def _header(payload: dict[str, Any], name: str) -> str | None:
    for header in payload.get("custom_headers") or []:
        if isinstance(header, dict) and str(header.get("name", "")).lower() == name.lower():
            return header.get("value")
    return None


def phone_participant(sip_participants: list[Participant]) -> Participant | None:
    """The call's phone leg among a room's SIP participants: any but a transfer's recipient."""
    return next((p for p in sip_participants if not p.identity.startswith(RECIPIENT_PREFIX)), None)


def consultation_room(event: ProviderEvent) -> str | None:
    """The warm-transfer consultation room an event concerns: by room, or by the leg's header."""
    if event.provider == "livekit":
        room = event.room_name or ""
    else:
        room = _header(telnyx_payload(event), CONSULTATION_HEADER) or ""
    return room if room.startswith(CONSULTATION_ROOM_PREFIX) else None


def transfer_of_room(room: str) -> str:
    """`consult-{transferId}-{attempt}` → the transfer id."""
    return room.removeprefix(CONSULTATION_ROOM_PREFIX).rsplit("-", 1)[0]


class CallRef(NamedTuple):
    """What routing an event needs of its call."""

    id: str
    status: str
    direction: str
    asked_for_amd: bool
    """Whether the call was placed with `telephony.amd`: only then does a verdict count."""
    phone_left_heard: bool = False
    """Whether its workflow was already told that the phone left (by either provider)."""


PHONE_LEFT = "phone left"
"""The disposition of the provider event that told a call's workflow the phone left."""

_CALLS = Call.__table__
_EVENTS = ProviderEvent.__table__
_PHONE_LEFT_HEARD = (
    exists()
    .where(_EVENTS.c.call_id == _CALLS.c.id, _EVENTS.c.disposition == PHONE_LEFT)
    .label("phone_left_heard")
)
_CALL_REF = select(
    _CALLS.c.id,
    _CALLS.c.status,
    _CALLS.c.direction,
    _CALLS.c.request[("telephony", "amd")].as_string().is_not(None).label("asked_for_amd"),
    _PHONE_LEFT_HEARD,
)
# Every provider webhook looks its call up: the lookups are built once.
_BY_ROOM = _CALL_REF.where(_CALLS.c.room_name == bindparam("room"))
_BY_LEG = _CALL_REF.where(_CALLS.c.call_control_id == bindparam("control_id"))
_BY_ID = _CALL_REF.where(_CALLS.c.id == bindparam("of_call"))


async def call_for_event(session: AsyncSession, event: ProviderEvent) -> CallRef | None:
    """The call an event belongs to: by room (LiveKit), by leg or by our SIP header (Telnyx)."""
    if event.provider == "livekit":
        return await _call_ref(session, _BY_ROOM, room=event.room_name) if event.room_name else None
    if event.call_control_id:
        call = await _call_ref(session, _BY_LEG, control_id=event.call_control_id)
        if call:
            return call
    session_id = _header(telnyx_payload(event), SESSION_HEADER)
    return await _call_ref(session, _BY_ID, of_call=session_id) if session_id else None


async def _call_ref(session: AsyncSession, lookup: Select, **parameters: str) -> CallRef | None:
    row = (await run_core(session, lookup, parameters)).first()
    return CallRef(*row) if row else None


def telnyx_payload(event: ProviderEvent) -> dict[str, Any]:
    return (event.payload.get("data") or {}).get("payload") or {}


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def signal_for(event: ProviderEvent) -> ProviderSignal:
    """The facts of an event that a call workflow acts on; the raw payload stays in the database."""
    signal = ProviderSignal(
        provider_event_id=event.id,
        provider=event.provider,  # type: ignore[arg-type]
        event_type=event.event_type,
        occurred_at=event.occurred_at,
    )
    if event.provider == "livekit":
        participant = event.payload.get("participant") or {}
        identity = participant.get("identity") or ""
        signal.participant_identity = identity or None
        signal.participant_is_phone = participant.get("kind") == "SIP" and not identity.startswith(
            RECIPIENT_PREFIX
        )
        signal.disconnect_reason = participant.get("disconnectReason")
        return signal
    payload = telnyx_payload(event)
    signal.sip_status_code = _int(payload.get("sip_hangup_cause"))
    signal.sip_status = SIP_REASON_PHRASES.get(signal.sip_status_code or 0)
    signal.hangup_source = payload.get("hangup_source")
    result = payload.get("result")
    if event.event_type == "call.machine.detection.ended" and result in ("human", "machine"):
        signal.machine_detection = result
    return signal


CALL_MOVING_EVENTS = {
    "telnyx": {
        "call.initiated",
        "call.answered",
        "call.bridged",
        "call.hangup",
        "call.machine.detection.ended",
    },
    "livekit": {"participant_left", "room_finished"},
}
"""Provider events a call workflow may act on; the rest reach its events without a signal."""
CARRIER_PROGRESS = frozenset({"call.initiated", "call.answered", "call.bridged"})
NOT_YET_IN_PROGRESS = frozenset({"queued", "dialing", "ringing"})


def moves_call(signal: ProviderSignal, call: CallRef) -> bool:
    """Whether the call's workflow must hear of this event: it may change the call's status or
    end it. The carrier's progress moves an outbound call not yet in progress (its answer too,
    though the dial reports it: a dial whose worker died reports it late, and a hangup before
    it would be missed); an inbound call's answer and bridge are the workflow's own steps. The
    carrier's AMD verdict counts only for a call placed with AMD; the phone or a transfer's
    recipient leaving ends a call, the agent leaving changes nothing. A call that ended hears
    of nothing more."""
    kind = signal.event_type
    if call.status in TERMINAL_STATUSES or kind not in CALL_MOVING_EVENTS.get(signal.provider, ()):
        return False
    if phone_left(signal):  # both providers tell it: the first ends an answered call
        return not (call.phone_left_heard and call.status == "in-progress")
    if kind in CARRIER_PROGRESS:
        return call.direction == "outbound" and call.status in NOT_YET_IN_PROGRESS
    if kind == "call.machine.detection.ended":
        return call.asked_for_amd
    if kind == "participant_left":  # the phone's is above
        return recipient_left(signal)
    return True


def phone_left(signal: ProviderSignal) -> bool:
    """Whether the event says the call's phone leg is gone (the carrier's hangup, the SIP
    participant leaving, the room closing)."""
    if signal.provider == "telnyx":
        return signal.event_type == "call.hangup"
    return signal.event_type == "room_finished" or (
        signal.event_type == "participant_left" and signal.participant_is_phone
    )


def recipient_left(signal: ProviderSignal) -> bool:
    """A warm transfer's recipient, bridged into the caller's room, hung up. Only a bridged
    recipient is ever in the caller's room; the call may learn that before the transfer's own
    `transfer.completed` reaches it."""
    return signal.event_type == "participant_left" and (
        signal.participant_identity or ""
    ).startswith(RECIPIENT_PREFIX)
