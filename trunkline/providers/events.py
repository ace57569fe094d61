"""Provider webhooks after verification: parsed into one shape and stored exactly once."""

from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from livekit.protocol.webhook import WebhookEvent
from sqlalchemy import bindparam, insert, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.db import row_of, run_core
from trunkline.models import ProviderEvent, utcnow


def from_livekit(event: WebhookEvent) -> ProviderEvent:
    """A LiveKit event (already verified by `WebhookReceiver`) as a row."""
    return ProviderEvent(
        provider="livekit",
        event_id=event.id,
        event_type=event.event,
        occurred_at=datetime.fromtimestamp(event.created_at, UTC) if event.created_at else None,
        room_name=event.room.name or event.egress_info.room_name or None,
        payload=MessageToDict(event),
    )


def from_telnyx(body: Any) -> ProviderEvent:
    """A Telnyx event (signature already checked) as a row; raises ValueError when malformed."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or not _name(data.get("id")) or not _name(data.get("event_type")):
        raise ValueError("a Telnyx webhook is an object with data.id and data.event_type strings")
    payload = data.get("payload") or {}
    _check_telnyx_payload(data["event_type"], payload)
    return ProviderEvent(
        provider="telnyx",
        event_id=data["id"],
        event_type=data["event_type"],
        occurred_at=_telnyx_time(data.get("occurred_at")),
        call_control_id=payload.get("call_control_id"),
        payload=body,
    )


_PAYLOAD_TEXTS = ("call_control_id", "direction", "from", "to", "hangup_source", "result")


def _check_telnyx_payload(event_type: str, payload: Any) -> None:
    """The payload fields calls are routed by have the types Telnyx documents; else ValueError."""
    if not isinstance(payload, dict):
        raise ValueError("data.payload of a Telnyx webhook is an object")
    if event_type.startswith("call.") and not _name(payload.get("call_control_id")):
        raise ValueError(f"a Telnyx {event_type} has data.payload.call_control_id")
    for name in _PAYLOAD_TEXTS:
        if payload.get(name) is not None and not _text(payload[name]):
            raise ValueError(f"data.payload.{name} of a Telnyx webhook is a string")
    headers = payload.get("custom_headers")  # our own headers, that calls are found by
    if headers is not None and not (isinstance(headers, list) and all(map(_header, headers))):
        raise ValueError("data.payload.custom_headers of a Telnyx webhook is a list of name/value")


def _header(header: Any) -> bool:
    return isinstance(header, dict) and _name(header.get("name")) and _text(header.get("value"))


def _text(value: Any) -> bool:
    """A string a text column can hold (PostgreSQL refuses NUL)."""
    return isinstance(value, str) and "\x00" not in value


def _name(value: Any) -> bool:
    """A non-empty `_text`: an id, a type, a header name."""
    return _text(value) and bool(value)


def _telnyx_time(value: Any) -> datetime | None:
    """`occurred_at`: an ISO 8601 time that exists in UTC, or absent."""
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except (TypeError, ValueError, OverflowError):
        raise ValueError("data.occurred_at of a Telnyx webhook is an ISO 8601 time") from None


_PROVIDER_EVENTS = ProviderEvent.__table__
# Every provider webhook is stored, then marked dispatched: both statements are built once.
_STORE = insert(_PROVIDER_EVENTS)
_DISPATCHED = (
    update(_PROVIDER_EVENTS)
    .where(_PROVIDER_EVENTS.c.id == bindparam("event"))
    .values(
        dispatched_at=bindparam("at", type_=_PROVIDER_EVENTS.c.dispatched_at.type),
        disposition=bindparam("outcome"),
        call_id=bindparam("call"),
        signalled=bindparam("signalled"),
    )
)


async def store_once(session: AsyncSession, event: ProviderEvent) -> tuple[ProviderEvent, bool]:
    """Store the event unless its provider id is already stored; returns the row and whether new."""
    try:
        await run_core(session, _STORE, row_of(event))
        await session.commit()
    except IntegrityError:
        await session.rollback()
        statement = select(ProviderEvent).where(
            ProviderEvent.provider == event.provider, ProviderEvent.event_id == event.event_id
        )
        return (await session.exec(statement)).one(), False
    return event, True


async def mark_dispatched(session: AsyncSession, event: ProviderEvent) -> None:
    """The event reached its workflow (or needs none, or was refused: its `disposition` says
    why): it is never handed over again. An inbound call's first event names its call now."""
    event.dispatched_at = utcnow()
    marked = {
        "event": event.id,
        "at": event.dispatched_at,
        "outcome": event.disposition,
        "call": event.call_id,
        "signalled": event.signalled,
    }
    await run_core(session, _DISPATCHED, marked)
    await session.commit()


async def recent(session: AsyncSession, provider: str | None, limit: int) -> list[ProviderEvent]:
    statement = select(ProviderEvent).order_by(col(ProviderEvent.id).desc()).limit(limit)
    if provider:
        statement = statement.where(ProviderEvent.provider == provider)
    return list((await session.exec(statement)).all())
