"""Customer webhook deliveries and their lanes.

A lane is (call, endpoint): its deliveries go out one at a time, in the order they were made,
so a receiver sees a call's events in order. The worker sends a lane's deliveries at once
(`WebhookDispatcher`); when one fails, the lane turns durable: a `WebhookLaneWorkflow` owns it,
retries its head for days and sends the rest behind it, then hands the lane back.
"""

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, delete, exists, or_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from trunkline.db import run_core
from trunkline.models import WebhookAttempt, WebhookDelivery, WebhookLane
from trunkline.workflow_io import LaneInput
from trunkline.workflow_starts import start_webhook_lane


def lane_of(call_id: str | None, target: str, delivery_id: str) -> str:
    """A call's deliveries to one target (an agent webhook's URL, or an endpoint's id) share a
    lane; any other delivery is a lane of its own."""
    if call_id is None:
        return delivery_id
    return f"{call_id}-{hashlib.sha256(target.encode()).hexdigest()[:12]}"


def new_delivery(
    organization_id: str,
    target: dict[str, Any],
    event_type: str,
    payload: dict[str, Any],
    *,
    call_id: str | None = None,
    event_sequence: int | None = None,
    agent_id: str | None = None,
    endpoint_id: str | None = None,
) -> WebhookDelivery:
    """A pending delivery of `payload` to a target (`{url, secret?}`): an agent's webhook, or
    the organization's endpoint `endpoint_id` (a lane of its own per call)."""
    delivery = WebhookDelivery(
        organization_id=organization_id,
        call_id=call_id,
        agent_id=agent_id,
        endpoint_id=endpoint_id,
        event_sequence=event_sequence,
        event_type=event_type,
        url=target["url"],
        legacy_secret=target.get("secret"),
        payload=payload,
        lane="",
    )
    delivery.lane = lane_of(call_id, endpoint_id or delivery.url, delivery.id)
    return delivery


_DELIVERY = WebhookDelivery.__table__
_DURABLE = WebhookLane.__table__


def _pending_in_lane(*columns: Any) -> Select:
    """`columns` of the lane's (`for_lane`) oldest pending delivery."""
    return (
        select(*columns)
        .where(_DELIVERY.c.lane == bindparam("for_lane"), _DELIVERY.c.status == "pending")
        .order_by(_DELIVERY.c.created_at, _DELIVERY.c.id)
        .limit(1)
    )


# The lane statements run for every webhook sent, so they are built once (with bound
# parameters) and run as Core: SQLAlchemy neither rebuilds them nor loads ORM entities.
_HEAD_ID = _pending_in_lane(_DELIVERY.c.id)
_HEAD = _pending_in_lane(_DELIVERY)
_CLAIM = (
    update(_DELIVERY)
    .where(
        _DELIVERY.c.id == _HEAD_ID.scalar_subquery(),
        or_(_DELIVERY.c.claimed_until.is_(None), _DELIVERY.c.claimed_until < bindparam("at")),
    )
    .values(claimed_until=bindparam("claim_until"))
    .returning(*_DELIVERY.c)
)
_CLAIM_UNLESS_DURABLE = _CLAIM.where(~exists().where(_DURABLE.c.id == bindparam("for_lane")))


async def lane_head(session: AsyncSession, lane: str) -> WebhookDelivery | None:
    """The lane's oldest pending delivery: the only one that may be sent now."""
    row = (await run_core(session, _HEAD, {"for_lane": lane})).first()
    return WebhookDelivery(**row._mapping) if row else None


async def lane_has_pending(session: AsyncSession, lane: str) -> bool:
    """Whether anything in the lane is still to be sent."""
    return (await run_core(session, _HEAD_ID, {"for_lane": lane})).first() is not None


async def claim_head(
    session: AsyncSession,
    lane: str,
    now: datetime,
    until: datetime,
    *,
    unless_durable: bool = False,
) -> WebhookDelivery | None:
    """Take the lane's head for one attempt, unless someone else's attempt at it is in flight
    (or, with `unless_durable`, its workflow owns the lane); None when the lane is empty or its
    head is taken (one statement, so two senders never both take it). The delivery returned
    is a detached copy of the row."""
    statement = _CLAIM_UNLESS_DURABLE if unless_durable else _CLAIM
    parameters = {"for_lane": lane, "at": now, "claim_until": until}
    row = (await run_core(session, statement, parameters)).first()
    await session.commit()
    return WebhookDelivery(**row._mapping) if row else None


async def extend_claim(session: AsyncSession, delivery_id: str, until: datetime) -> None:
    """Keep others off a delivery its claimer is about to send for longer than it claimed."""
    statement = update(WebhookDelivery).where(col(WebhookDelivery.id) == delivery_id)
    await session.exec(statement.values(claimed_until=until))  # type: ignore[call-overload]
    await session.commit()


async def make_durable(session: AsyncSession, lane: str) -> None:
    """From now on the lane's workflow sends its deliveries (the caller starts it)."""
    if await session.get(WebhookLane, lane) is None:
        session.add(WebhookLane(id=lane))
        await session.commit()


async def release(session: AsyncSession, lane: str) -> bool:
    """Hand an empty durable lane back to the worker; False if a delivery arrived meanwhile."""
    if await lane_has_pending(session, lane):
        return False
    await session.exec(delete(WebhookLane).where(col(WebhookLane.id) == lane))  # type: ignore[call-overload]
    await session.commit()
    return True


async def stranded_lanes(session: AsyncSession, now: datetime, cutoff: datetime) -> list[str]:
    """Worker-sent lanes with a delivery pending since before `cutoff` and not in flight: the
    worker that was sending them stopped."""
    durable = select(WebhookLane.id)
    statement = (
        select(WebhookDelivery.lane)
        .where(
            WebhookDelivery.status == "pending",
            col(WebhookDelivery.created_at) < cutoff,
            or_(
                col(WebhookDelivery.claimed_until).is_(None),
                col(WebhookDelivery.claimed_until) < now,
            ),
            col(WebhookDelivery.lane).not_in(durable),
        )
        .distinct()
    )
    return list((await session.exec(statement)).all())


async def deliveries_for_call(session: AsyncSession, call_id: str) -> list[WebhookDelivery]:
    statement = (
        select(WebhookDelivery)
        .where(WebhookDelivery.call_id == call_id)
        .order_by(col(WebhookDelivery.created_at), col(WebhookDelivery.id))
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


async def hand_over(
    session: AsyncSession, client: Client, task_queue: str, lane: LaneInput, *, wake: bool = False
) -> None:
    """Make the lane durable and make sure its workflow runs; `wake` retries its head now."""
    await make_durable(session, lane.lane)
    await start_webhook_lane(client, task_queue, lane, wake=wake)
