"""Customer webhook deliveries: the rows `WebhookDeliveryWorkflow` sends and records."""

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import WebhookAttempt, WebhookDelivery


def new_delivery(
    organization_id: str,
    target: dict[str, Any],
    event_type: str,
    payload: dict[str, Any],
    *,
    call_id: str | None = None,
    event_sequence: int | None = None,
) -> WebhookDelivery:
    """A pending delivery of `payload` to an agent webhook target (`{url, secret?}`)."""
    return WebhookDelivery(
        organization_id=organization_id,
        call_id=call_id,
        event_sequence=event_sequence,
        event_type=event_type,
        url=target["url"],
        legacy_secret=target.get("secret"),
        payload=payload,
    )


async def deliveries_for_call(session: AsyncSession, call_id: str) -> list[WebhookDelivery]:
    statement = (
        select(WebhookDelivery)
        .where(WebhookDelivery.call_id == call_id)
        .order_by(col(WebhookDelivery.id))
    )
    return list((await session.exec(statement)).all())


async def get_delivery(
    session: AsyncSession, organization_id: str, delivery_id: str
) -> WebhookDelivery | None:
    statement = select(WebhookDelivery).where(
        WebhookDelivery.id == delivery_id, WebhookDelivery.organization_id == organization_id
    )
    return (await session.exec(statement)).first()


async def attempts_for(session: AsyncSession, delivery_ids: list[str]) -> list[WebhookAttempt]:
    statement = (
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_(delivery_ids))
        .order_by(col(WebhookAttempt.delivery_id), col(WebhookAttempt.number))
    )
    return list((await session.exec(statement)).all())
