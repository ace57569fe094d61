"""Provider webhooks after verification: parsed into one shape and stored exactly once."""

from datetime import UTC, datetime
from typing import Any

from google.protobuf.json_format import MessageToDict
from livekit.protocol.webhook import WebhookEvent
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import ProviderEvent


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


def from_telnyx(body: dict[str, Any]) -> ProviderEvent:
    """A Telnyx event (signature already checked) as a row; raises ValueError when malformed."""
    data = body.get("data")
    if not isinstance(data, dict) or not data.get("id") or not data.get("event_type"):
        raise ValueError("a Telnyx webhook has data.id and data.event_type")
    payload = data.get("payload") or {}
    occurred_at = data.get("occurred_at")
    return ProviderEvent(
        provider="telnyx",
        event_id=str(data["id"]),
        event_type=str(data["event_type"]),
        occurred_at=datetime.fromisoformat(occurred_at) if occurred_at else None,
        call_control_id=payload.get("call_control_id"),
        payload=body,
    )


async def store_once(session: AsyncSession, event: ProviderEvent) -> tuple[ProviderEvent, bool]:
    """Store the event unless its provider id is already stored; returns the row and whether new."""
    session.add(event)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        statement = select(ProviderEvent).where(
            ProviderEvent.provider == event.provider, ProviderEvent.event_id == event.event_id
        )
        return (await session.exec(statement)).one(), False
    return event, True


async def recent(session: AsyncSession, provider: str | None, limit: int) -> list[ProviderEvent]:
    statement = select(ProviderEvent).order_by(col(ProviderEvent.id).desc()).limit(limit)
    if provider:
        statement = statement.where(ProviderEvent.provider == provider)
    return list((await session.exec(statement)).all())
