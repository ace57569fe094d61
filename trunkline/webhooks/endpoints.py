"""An organization's webhook endpoints, and the fan-out of a call's webhooks to them.

A call webhook (`call.status`, `call.report`) goes to the agent's own URL, as it always did, and
also to every live endpoint of the organization subscribed to its event whose agent filter takes
the call's agent and whose `filterTags` are all among the call's webhook tags. Each endpoint is
a lane of its own per call.
"""

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, and_, bindparam, cast, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.db import run_core
from trunkline.models import Agent, Call, WebhookDelivery, WebhookEndpoint, utcnow
from trunkline.webhooks.deliveries import new_delivery

AGENT_WEBHOOK_KINDS = {"call.status": "status", "call.report": "postCall"}
"""The agent webhook (its `webhooks` key) each call event goes to."""

METADATA_ONLY_KEYS = ("type", "event_type", "status")


@dataclass
class CallTargets:
    """Where a call's webhook of one event goes: the agent's URL and the matching endpoints."""

    agent_webhooks: dict[str, Any] = field(default_factory=dict)
    """The call's agent's `webhooks` config (none without an agent)."""
    endpoints: list[WebhookEndpoint] = field(default_factory=list)

    def agent_webhook(self, event_type: str) -> dict[str, Any] | None:
        """The agent's own webhook for the event (`{url, secret?, …}`), if it has one."""
        return self.agent_webhooks.get(AGENT_WEBHOOK_KINDS[event_type])

    def reach_anyone(self, event_type: str) -> bool:
        return bool(self.endpoints) or self.agent_webhook(event_type) is not None


def webhook_tags(metadata: dict[str, Any]) -> dict[str, Any]:
    """The call's webhook tags: its metadata's `webhookTags` object, or none."""
    tags = metadata.get("webhookTags")
    return tags if isinstance(tags, dict) else {}


def takes_call(endpoint: WebhookEndpoint, agent_id: str | None, tags: dict[str, Any]) -> bool:
    """Whether the endpoint wants this call: its agent filter and all its tags match."""
    if not endpoint.all_agents and agent_id not in endpoint.agent_ids:
        return False
    return all(tags.get(name) == value for name, value in endpoint.filter_tags.items())


_CALLS = Call.__table__
_AGENTS = Agent.__table__
_ENDPOINTS = WebhookEndpoint.__table__
_TARGETS = (
    select(_AGENTS.c.config.label("agent_config"), _ENDPOINTS)
    .select_from(_CALLS)
    .outerjoin(_AGENTS, _AGENTS.c.id == _CALLS.c.agent_id)
    .outerjoin(
        _ENDPOINTS,
        and_(
            _ENDPOINTS.c.organization_id == _CALLS.c.organization_id,
            _ENDPOINTS.c.deleted_at.is_(None),
            cast(_ENDPOINTS.c.events, String).contains(bindparam("quoted_event")),
        ),
    )
    .where(_CALLS.c.id == bindparam("of_call"))
    .order_by(_ENDPOINTS.c.id)
)
"""The call's agent joined to the organization's live endpoints subscribed to an event: built
once, as every call event a customer hears of asks it."""


async def call_targets(session: AsyncSession, call: Call, event_type: str) -> CallTargets:
    """The call's agent's webhooks and the endpoints that take this event of the call, in one
    statement."""
    parameters = {"of_call": call.id, "quoted_event": f'"{event_type}"'}
    rows = (await run_core(session, _TARGETS, parameters)).all()
    tags = webhook_tags(call.call_metadata)
    endpoints = [
        WebhookEndpoint(**{column.name: row._mapping[column] for column in _ENDPOINTS.c})
        for row in rows
        if row._mapping[_ENDPOINTS.c.id] is not None
    ]
    config = (rows[0].agent_config if rows else None) or {}
    return CallTargets(
        agent_webhooks=config.get("webhooks") or {},
        endpoints=[e for e in endpoints if takes_call(e, call.agent_id, tags)],
    )


def endpoint_payload(endpoint: WebhookEndpoint, call: Call, payload: dict[str, Any]) -> dict:
    """What the endpoint receives: the full payload, or (`metadata_only`) the call's
    identifiers, the event and the call's metadata."""
    if endpoint.content_mode != "metadata_only":
        return payload
    return {
        **{key: payload[key] for key in METADATA_ONLY_KEYS if key in payload},
        "call_id": call.id,
        "session_id": call.id,
        "organization_id": call.organization_id,
        "metadata": call.call_metadata,
    }


def call_deliveries(
    call: Call,
    targets: CallTargets,
    event_type: str,
    payload: dict[str, Any],
    *,
    event_sequence: int | None = None,
    dedupe_key: str | None = None,
) -> list[WebhookDelivery]:
    """A pending delivery of a call's webhook to its agent's URL (when it has one) and to each
    matching endpoint; `dedupe_key` is suffixed with the endpoint's id on theirs."""
    agent_target = targets.agent_webhook(event_type)
    common = {"call_id": call.id, "event_sequence": event_sequence, "agent_id": call.agent_id}
    made = []
    if agent_target:
        made.append(new_delivery(call.organization_id, agent_target, event_type, payload, **common))
        made[-1].dedupe_key = dedupe_key
    for endpoint in targets.endpoints:
        delivery = new_delivery(
            call.organization_id,
            {"url": endpoint.url},
            event_type,
            endpoint_payload(endpoint, call, payload),
            endpoint_id=endpoint.id,
            **common,
        )
        delivery.dedupe_key = f"{dedupe_key}/{endpoint.id}" if dedupe_key else None
        made.append(delivery)
    return made


# --- the endpoints themselves --------------------------------------------------------------


async def get_endpoint(
    session: AsyncSession, organization_id: str, endpoint_id: str
) -> WebhookEndpoint | None:
    """A live endpoint of the organization."""
    statement = select(WebhookEndpoint).where(
        WebhookEndpoint.id == endpoint_id,
        WebhookEndpoint.organization_id == organization_id,
        col(WebhookEndpoint.deleted_at).is_(None),
    )
    return (await session.exec(statement)).first()


async def list_endpoints(session: AsyncSession, organization_id: str) -> list[WebhookEndpoint]:
    """The organization's live endpoints, oldest first."""
    statement = (
        select(WebhookEndpoint)
        .where(
            WebhookEndpoint.organization_id == organization_id,
            col(WebhookEndpoint.deleted_at).is_(None),
        )
        .order_by(col(WebhookEndpoint.id))
    )
    return list((await session.exec(statement)).all())


async def foreign_agent_ids(
    session: AsyncSession, organization_id: str, agent_ids: list[str]
) -> list[str]:
    """Those of `agent_ids` that are not agents of the organization."""
    statement = select(Agent.id).where(
        col(Agent.id).in_(agent_ids), Agent.organization_id == organization_id
    )
    own = set((await session.exec(statement)).all())
    return [agent_id for agent_id in agent_ids if agent_id not in own]


async def delete_endpoint(session: AsyncSession, endpoint: WebhookEndpoint) -> int:
    """Retire the endpoint and cancel its pending deliveries (in one transaction); returns how
    many were cancelled. Its delivered history stays, naming it."""
    now = utcnow()
    endpoint.deleted_at = now
    endpoint.updated_at = now
    session.add(endpoint)
    cancelled = await session.exec(  # type: ignore[call-overload]
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.endpoint_id) == endpoint.id,
            col(WebhookDelivery.status) == "pending",
        )
        .values(status="cancelled", next_attempt_at=None, updated_at=now)
    )
    await session.commit()
    return cancelled.rowcount
