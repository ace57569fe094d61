"""An organization's webhook delivery log: filtered lists, what each delivery went to, and a
redelivery asked for through the API.

Deliveries to an agent's own webhook have no endpoint row: they are shown as the synthetic
endpoint `<agent id>:status` or `<agent id>:postCall`, named "<agent name> status webhook" or
"<agent name> post-call webhook".
"""

import asyncio
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from trunkline.models import Agent, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from trunkline.pagination import PageOf, paginate
from trunkline.webhooks.endpoints import AGENT_WEBHOOK_KINDS
from trunkline.webhooks.sender import RETRY_DELAYS

RETRY_SPAN = sum(RETRY_DELAYS, timedelta())
"""How long after its creation a delivery may still be attempted on schedule."""

_AGENT_ENDPOINT = re.compile(r"^(agent_[0-9A-Z]{26}):(status|postCall)$")
_AGENT_WEBHOOK_NAMES = {"status": "status webhook", "postCall": "post-call webhook"}
_EVENT_OF_KIND = {kind: event for event, kind in AGENT_WEBHOOK_KINDS.items()}


@dataclass(frozen=True)
class Target:
    """An endpoint as the delivery log names it."""

    id: str
    name: str
    deleted: bool = False


@dataclass(frozen=True)
class DeliveryFilter:
    endpoint_id: str | None = None
    event: str | None = None
    agent_id: str | None = None
    status: str | None = None
    session_id: str | None = None
    event_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def agent_target_id(delivery: WebhookDelivery) -> str:
    """The synthetic endpoint id of a delivery to an agent's own webhook."""
    return f"{delivery.agent_id}:{AGENT_WEBHOOK_KINDS.get(delivery.event_type, 'status')}"


def shown_status(delivery: WebhookDelivery, now: datetime) -> str:
    """Ours, with `delivering` for a pending delivery whose attempt is in flight."""
    claimed = delivery.claimed_until is not None and delivery.claimed_until > now
    return "delivering" if delivery.status == "pending" and claimed else delivery.status


def _status_clause(status: str, now: datetime) -> object:
    in_flight = and_(
        col(WebhookDelivery.claimed_until).is_not(None), col(WebhookDelivery.claimed_until) > now
    )
    pending = col(WebhookDelivery.status) == "pending"
    if status == "delivering":
        return and_(pending, in_flight)
    if status == "pending":
        return and_(pending, ~in_flight)
    return col(WebhookDelivery.status) == status  # `expired` is never stored: none match


def _endpoint_clause(endpoint_id: str) -> object:
    agent_webhook = _AGENT_ENDPOINT.match(endpoint_id)
    if agent_webhook is None:
        return col(WebhookDelivery.endpoint_id) == endpoint_id
    agent_id, kind = agent_webhook.groups()
    return and_(
        col(WebhookDelivery.endpoint_id).is_(None),
        col(WebhookDelivery.agent_id) == agent_id,
        col(WebhookDelivery.event_type) == _EVENT_OF_KIND[kind],
    )


def _filtered(
    organization_id: str, given: DeliveryFilter, now: datetime
) -> SelectOfScalar[WebhookDelivery]:
    statement = select(WebhookDelivery).where(WebhookDelivery.organization_id == organization_id)
    clauses = [
        (given.endpoint_id, lambda: _endpoint_clause(given.endpoint_id or "")),
        (given.event, lambda: col(WebhookDelivery.event_type) == given.event),
        (given.agent_id, lambda: col(WebhookDelivery.agent_id) == given.agent_id),
        (given.status, lambda: _status_clause(given.status or "", now)),
        (given.session_id, lambda: col(WebhookDelivery.call_id) == given.session_id),
        (given.event_id, lambda: col(WebhookDelivery.id) == given.event_id),
        (given.since, lambda: col(WebhookDelivery.created_at) >= given.since),
        (given.until, lambda: col(WebhookDelivery.created_at) <= given.until),
    ]
    for value, clause in clauses:
        if value is not None:
            statement = statement.where(clause())  # type: ignore[arg-type]
    return statement


async def list_deliveries(
    session: AsyncSession,
    organization_id: str,
    given: DeliveryFilter,
    now: datetime,
    limit: int,
    cursor: str | None,
) -> PageOf[WebhookDelivery]:
    """The organization's deliveries matching `given`, newest first."""
    statement = _filtered(organization_id, given, now)
    return await paginate(session, statement, WebhookDelivery.id, limit, cursor)


async def targets(session: AsyncSession, organization_id: str) -> dict[str, Target]:
    """Every endpoint a delivery of the organization may name, by id: its endpoints (deleted
    ones too) and its agents' own status and post-call webhooks."""
    endpoints = await session.exec(
        select(WebhookEndpoint.id, WebhookEndpoint.name, WebhookEndpoint.deleted_at)
        .where(WebhookEndpoint.organization_id == organization_id)
        .order_by(col(WebhookEndpoint.id))
    )
    found = {id_: Target(id_, name, deleted is not None) for id_, name, deleted in endpoints}
    agents = await session.exec(
        select(Agent.id, Agent.name, Agent.config)
        .where(Agent.organization_id == organization_id)
        .order_by(col(Agent.id))
    )
    for agent_id, name, config in agents:
        for kind, label in _AGENT_WEBHOOK_NAMES.items():
            if kind in (config.get("webhooks") or {}):
                target_id = f"{agent_id}:{kind}"
                found[target_id] = Target(target_id, f"{name} {label}")
    return found


def target_of(delivery: WebhookDelivery, known: dict[str, Target]) -> Target:
    """What the delivery went to; an agent webhook since removed (or its agent) reads deleted."""
    if delivery.endpoint_id is not None:
        return known.get(delivery.endpoint_id) or Target(delivery.endpoint_id, "", True)
    target_id = agent_target_id(delivery)
    label = _AGENT_WEBHOOK_NAMES[target_id.rsplit(":", 1)[1]]
    return known.get(target_id) or Target(target_id, f"agent {delivery.agent_id} {label}", True)


async def attempts_since(
    session: AsyncSession, delivery_id: str, after_number: int
) -> list[WebhookAttempt]:
    statement = (
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery_id, WebhookAttempt.number > after_number)
        .order_by(col(WebhookAttempt.number))
    )
    return list((await session.exec(statement)).all())


async def ask_redelivery(session: AsyncSession, delivery: WebhookDelivery) -> int:
    """Make the delivery pending again with its next attempt a manual one; returns how many
    attempts it had before."""
    await session.refresh(delivery)
    before = delivery.attempt_count
    await session.exec(  # type: ignore[call-overload]
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery.id)
        .values(status="pending", manual_attempt=True)
    )
    await session.commit()
    await session.refresh(delivery)
    return before


async def manual_attempt(
    session: AsyncSession, delivery_id: str, after_number: int, within: float
) -> WebhookAttempt | None:
    """The manual attempt made after attempt `after_number`, once recorded within `within`
    seconds; None when it is not made by then (it still will be)."""
    deadline = time.monotonic() + within
    while True:
        made = await attempts_since(session, delivery_id, after_number)
        await session.commit()  # end the read, so the next one sees newer commits
        manual = next((a for a in made if a.trigger == "manual"), None)
        if manual is not None or time.monotonic() >= deadline:
            return manual
        await asyncio.sleep(0.05)
