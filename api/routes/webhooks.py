"""`/v1/webhooks`: the organization's webhook endpoints; `/v1/webhook-deliveries`: the log of
every webhook sent (to endpoints and to agents' own URLs), its attempts, and redelivery.

The API never posts a webhook itself: a redelivery hands the delivery's lane to its workflow,
which attempts it at once, and waits a few seconds for that attempt's outcome.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client
from temporalio.service import RPCError

from api.deps import AppSettings, CurrentOrganization, DbSession, Temporal
from api.errors import ApiError, error_responses, find_owned, invalid_field
from api.routes.calls import owned_call
from api.schemas.common import Instant, PageCursor
from api.schemas.webhooks import (
    AttemptOut,
    AuthHeaderStatus,
    DeliveryAttemptOut,
    DeliveryList,
    DeliveryOut,
    DeliveryStatus,
    EndpointCreate,
    EndpointFields,
    EndpointOption,
    EndpointUpdate,
    RedeliverResult,
    WebhookDeliveryDetailOut,
    WebhookDeliveryOut,
    WebhookDeliveryPage,
    WebhookEndpointList,
    WebhookEndpointOut,
)
from trunkline.models import WebhookDelivery, WebhookEndpoint, utcnow
from trunkline.webhooks import deliveries, endpoints, history
from trunkline.webhooks.client import RESPONSE_EXCERPT_BYTES
from trunkline.webhooks.endpoints import webhook_tags
from trunkline.workflow_io import LaneInput

router = APIRouter(tags=["webhooks"], responses=error_responses(401, 422))

REDELIVERY_WAIT_SECONDS = 5.0
"""How long a redelivery waits for its attempt before answering `delivered: false`."""

DEFAULT_TIMEOUT_MS = 10_000


# --- endpoints -----------------------------------------------------------------------------


def _endpoint_out(endpoint: WebhookEndpoint) -> WebhookEndpointOut:
    """The endpoint as the SDK reads it: auth header values and the secret never shown."""
    return WebhookEndpointOut(
        id=endpoint.id,
        name=endpoint.name,
        url=endpoint.url,
        events=endpoint.events,
        all_agents=endpoint.all_agents,
        agent_ids=endpoint.agent_ids,
        filter_tags=endpoint.filter_tags,
        headers=endpoint.headers,
        auth_headers=[AuthHeaderStatus(name=h["name"]) for h in endpoint.auth_headers],
        timeout_ms=endpoint.timeout_ms,
        signing_secret_source=endpoint.signing_secret_source,  # type: ignore[arg-type]
        has_custom_signing_secret=endpoint.signing_secret is not None,
        extraction_fields=endpoint.extraction_fields,  # type: ignore[arg-type]
        content_mode=endpoint.content_mode,  # type: ignore[arg-type]
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _merged(endpoint: WebhookEndpoint, body: EndpointFields) -> dict[str, Any]:
    """The endpoint's fields with the body's laid over them (nulls keep what is stored); an
    auth header sent without a value keeps the value stored under its name."""
    changes = body.model_dump(mode="json", exclude_none=True, by_alias=False)
    if "auth_headers" in changes:
        known = {h["name"]: h["value"] for h in endpoint.auth_headers}
        changes["auth_headers"] = [
            {"name": h["name"], "value": h.get("value") or known.get(h["name"])}
            for h in changes["auth_headers"]
        ]
    if "signing_secret" in changes and "signing_secret_source" not in changes:
        changes["signing_secret_source"] = "custom"  # a secret given means it signs
    return changes


async def _checked(
    session: AsyncSession, organization_id: str, endpoint: WebhookEndpoint, changes: dict
) -> dict[str, Any]:
    """`changes`, once the endpoint they make is consistent (a 422 otherwise)."""
    merged = {**endpoint.model_dump(), **changes}
    missing = [h["name"] for h in merged["auth_headers"] if not h["value"]]
    if missing:
        raise invalid_field(
            "auth_header_value_required", f"give a value for {', '.join(missing)}", "authHeaders"
        )
    if not merged["all_agents"] and not merged["agent_ids"]:
        raise invalid_field(
            "agent_ids_required", "allAgents false needs at least one of agentIds", "agentIds"
        )
    given_agents = changes.get("agent_ids", [])  # stored ones may name agents since deleted
    foreign = await endpoints.foreign_agent_ids(session, organization_id, given_agents)
    if foreign:
        raise invalid_field(
            "unknown_agent", f"no such agent in your organization: {', '.join(foreign)}", "agentIds"
        )
    if merged["signing_secret_source"] == "workspace":
        if changes.get("signing_secret"):
            raise invalid_field(
                "signing_secret_not_used",
                "signingSecret goes with signingSecretSource custom",
                "signingSecret",
            )
        changes["signing_secret"] = None
    elif not merged["signing_secret"]:
        raise invalid_field(
            "signing_secret_required",
            "signingSecretSource custom needs a signingSecret",
            "signingSecret",
        )
    return changes


async def _owned_endpoint(
    session: AsyncSession, organization_id: str, endpoint_id: str
) -> WebhookEndpoint:
    return await find_owned(
        "webhook endpoint",
        endpoint_id,
        lambda: endpoints.get_endpoint(session, organization_id, endpoint_id),
    )


async def _save(session: AsyncSession, endpoint: WebhookEndpoint, changes: dict) -> None:
    endpoint.sqlmodel_update(changes)
    endpoint.updated_at = utcnow()
    session.add(endpoint)
    await session.commit()


@router.post("/v1/webhooks", status_code=201, responses=error_responses(400, 415))
async def create_webhook_endpoint(
    body: EndpointCreate, organization: CurrentOrganization, session: DbSession
) -> WebhookEndpointOut:
    """A new endpoint; the calls it takes are sent to it from their next webhook on."""
    endpoint = WebhookEndpoint(
        organization_id=organization.id,
        name=body.name,
        url=body.url,
        timeout_ms=DEFAULT_TIMEOUT_MS,
    )
    changes = await _checked(session, organization.id, endpoint, _merged(endpoint, body))
    await _save(session, endpoint, changes)
    return _endpoint_out(endpoint)


@router.get("/v1/webhooks")
async def list_webhook_endpoints(
    organization: CurrentOrganization, session: DbSession
) -> WebhookEndpointList:
    """Every endpoint of the organization (deleted ones are gone), oldest first."""
    rows = await endpoints.list_endpoints(session, organization.id)
    return WebhookEndpointList(data=[_endpoint_out(row) for row in rows])


@router.get("/v1/webhooks/{endpoint_id}", responses=error_responses(404))
async def get_webhook_endpoint(
    endpoint_id: str, organization: CurrentOrganization, session: DbSession
) -> WebhookEndpointOut:
    return _endpoint_out(await _owned_endpoint(session, organization.id, endpoint_id))


@router.patch("/v1/webhooks/{endpoint_id}", responses=error_responses(400, 404, 415))
async def update_webhook_endpoint(
    endpoint_id: str, body: EndpointUpdate, organization: CurrentOrganization, session: DbSession
) -> WebhookEndpointOut:
    """Change the fields given; deliveries already made keep their payload and URL."""
    endpoint = await _owned_endpoint(session, organization.id, endpoint_id)
    changes = await _checked(session, organization.id, endpoint, _merged(endpoint, body))
    await _save(session, endpoint, changes)
    return _endpoint_out(endpoint)


@router.delete("/v1/webhooks/{endpoint_id}", status_code=204, responses=error_responses(404))
async def delete_webhook_endpoint(
    endpoint_id: str, organization: CurrentOrganization, session: DbSession
) -> Response:
    """Stop sending to it and cancel its pending deliveries; its delivery log stays."""
    endpoint = await _owned_endpoint(session, organization.id, endpoint_id)
    await endpoints.delete_endpoint(session, endpoint)
    return Response(status_code=204)


# --- deliveries ----------------------------------------------------------------------------


def _facts(delivery: WebhookDelivery, target: history.Target) -> dict[str, Any]:
    """The fields the list and the detail share, derived from the stored delivery."""
    now = utcnow()
    tags = webhook_tags(delivery.payload.get("metadata") or {})
    return {
        "id": delivery.id,
        "event_id": delivery.id,
        "endpoint_id": target.id,
        "endpoint_name": target.name,
        "endpoint_deleted": target.deleted,
        "event": delivery.event_type,
        "session_id": delivery.call_id,
        "agent_id": delivery.agent_id,
        "webhook_tags": {k: v for k, v in tags.items() if isinstance(v, str)},
        "status": history.shown_status(delivery, now),
        "http_status": delivery.last_status_code,
        "error": delivery.last_error,
        "occurred_at": delivery.created_at,
        "expires_at": delivery.created_at + history.RETRY_SPAN,
        "delivered_at": delivery.delivered_at,
        "created_at": delivery.created_at,
        "can_redeliver": not (delivery.endpoint_id and target.deleted),
    }


def _attempt_out(delivery: WebhookDelivery, attempt: Any) -> DeliveryAttemptOut:
    excerpt = attempt.response_excerpt
    return DeliveryAttemptOut(
        id=attempt.id,
        attempt_number=attempt.number,
        trigger=attempt.trigger,
        request_url=delivery.url,
        response_status=attempt.status_code,
        response_body=excerpt if attempt.status_code is not None else None,
        response_truncated=len(excerpt.encode()) >= RESPONSE_EXCERPT_BYTES,
        duration_ms=attempt.latency_ms,
        error=attempt.error,
        created_at=attempt.started_at,
    )


async def _owned_delivery(
    session: AsyncSession, organization_id: str, delivery_id: str
) -> WebhookDelivery:
    return await find_owned(
        "webhook delivery",
        delivery_id,
        lambda: deliveries.get_delivery(session, organization_id, delivery_id),
    )


@router.get("/v1/webhook-deliveries")
async def list_webhook_deliveries(
    organization: CurrentOrganization,
    session: DbSession,
    endpoint_id: Annotated[str | None, Query(alias="endpointId", max_length=100)] = None,
    event: Annotated[str | None, Query(max_length=100)] = None,
    agent_id: Annotated[str | None, Query(alias="agentId", max_length=100)] = None,
    status: DeliveryStatus | None = None,
    session_id: Annotated[str | None, Query(alias="sessionId", max_length=100)] = None,
    event_id: Annotated[str | None, Query(alias="eventId", max_length=100)] = None,
    since: Annotated[Instant | None, Query(alias="from")] = None,
    until: Annotated[Instant | None, Query(alias="to")] = None,
    cursor: PageCursor = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> WebhookDeliveryPage:
    """Deliveries newest first, filtered; `endpointOptions` names every endpoint one may
    have gone to (agents' own webhooks as `<agent id>:status` / `<agent id>:postCall`)."""
    given = history.DeliveryFilter(
        endpoint_id, event, agent_id, status, session_id, event_id, since, until
    )
    page = await history.list_deliveries(session, organization.id, given, utcnow(), limit, cursor)
    known = await history.targets(session, organization.id)
    return WebhookDeliveryPage(
        data=[
            WebhookDeliveryOut(
                **_facts(row, history.target_of(row, known)), attempts=row.attempt_count
            )
            for row in page.rows
        ],
        has_more=page.next_cursor is not None,
        next_cursor=page.next_cursor,
        endpoint_options=[
            EndpointOption(id=t.id, name=t.name, deleted=t.deleted) for t in known.values()
        ],
    )


@router.get("/v1/webhook-deliveries/{delivery_id}", responses=error_responses(404))
async def get_webhook_delivery(
    delivery_id: str, organization: CurrentOrganization, session: DbSession
) -> WebhookDeliveryDetailOut:
    """The delivery, the payload it sends and each attempt with the response it got."""
    delivery = await _owned_delivery(session, organization.id, delivery_id)
    known = await history.targets(session, organization.id)
    attempts = await deliveries.attempts_for(session, [delivery.id])
    return WebhookDeliveryDetailOut(
        **_facts(delivery, history.target_of(delivery, known)),
        attempt_count=delivery.attempt_count,
        request_payload=delivery.payload,
        attempts=[_attempt_out(delivery, attempt) for attempt in attempts],
    )


async def _redeliver(
    session: AsyncSession, temporal: Client, task_queue: str, delivery: WebhookDelivery
) -> int:
    """Hand the delivery's lane over for a manual attempt now; returns the attempts before."""
    if delivery.endpoint_id and not await endpoints.get_endpoint(
        session, delivery.organization_id, delivery.endpoint_id
    ):
        raise ApiError(409, "endpoint_deleted", "its webhook endpoint was deleted")
    before = await history.ask_redelivery(session, delivery)
    try:
        await deliveries.hand_over(
            session, temporal, task_queue, LaneInput(lane=delivery.lane), wake=True
        )
    except RPCError as exc:
        raise ApiError(503, "temporarily_unavailable", str(exc)) from exc
    return before


@router.post(
    "/v1/webhook-deliveries/{delivery_id}/redeliver", responses=error_responses(404, 409, 503)
)
async def redeliver_webhook_delivery(
    delivery_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
) -> RedeliverResult:
    """Send it again now and answer with that attempt's outcome; when it has not finished
    within a few seconds (or waits behind the lane's earlier deliveries), `delivered: false`
    and `status: pending`: it is still made, and shows in the delivery's attempts."""
    delivery = await _owned_delivery(session, organization.id, delivery_id)
    before = await _redeliver(session, temporal, settings.temporal_task_queue, delivery)
    attempt = await history.manual_attempt(session, delivery.id, before, REDELIVERY_WAIT_SECONDS)
    await session.refresh(delivery)
    status = history.shown_status(delivery, utcnow())
    if attempt is None:
        return RedeliverResult(delivered=False, status=status)  # type: ignore[arg-type]
    return RedeliverResult(
        delivered=attempt.status_code is not None and 200 <= attempt.status_code < 300,
        http_status=attempt.status_code,
        error=attempt.error,
        status=status,  # type: ignore[arg-type]
    )


# --- per call, and `retry` (Trunkline's own shapes, from before the SDK's) -------------------


async def _deliveries_out(session: AsyncSession, rows: list[WebhookDelivery]) -> list[DeliveryOut]:
    attempts = await deliveries.attempts_for(session, [row.id for row in rows])
    return [
        DeliveryOut(
            id=row.id,
            event_type=row.event_type,
            url=row.url,
            endpoint_id=row.endpoint_id,
            status=row.status,
            attempt_count=row.attempt_count,
            last_status_code=row.last_status_code,
            last_error=row.last_error,
            next_attempt_at=row.next_attempt_at,
            created_at=row.created_at,
            attempts=[
                AttemptOut.model_validate(a, from_attributes=True)
                for a in attempts
                if a.delivery_id == row.id
            ],
        )
        for row in rows
    ]


@router.get("/v1/calls/{call_id}/webhook-deliveries", responses=error_responses(404))
async def list_call_webhook_deliveries(
    call_id: str, organization: CurrentOrganization, session: DbSession
) -> DeliveryList:
    """Every webhook this call sent, with each attempt's status code and latency."""
    call = await owned_call(session, organization.id, call_id)
    rows = await deliveries.deliveries_for_call(session, call.id)
    return DeliveryList(data=await _deliveries_out(session, rows))


@router.post(
    "/v1/webhook-deliveries/{delivery_id}/retry",
    status_code=202,
    responses=error_responses(404, 409, 503),
)
async def retry_webhook_delivery(
    delivery_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
) -> DeliveryOut:
    """Deliver again now, without waiting: a waiting delivery attempts at once, a finished one
    is replayed."""
    delivery = await _owned_delivery(session, organization.id, delivery_id)
    await _redeliver(session, temporal, settings.temporal_task_queue, delivery)
    return (await _deliveries_out(session, [delivery]))[0]
