"""`/v1/sessions/phone` places calls; `/v1/calls` reads them, their events and webhooks."""

from typing import Annotated

from fastapi import APIRouter, Header, Query
from temporalio.service import RPCError

from api.deps import AppSettings, CurrentOrganization, DbSession, Temporal
from api.errors import ApiError, error_responses, find_owned, invalid_field
from api.schemas.calls import (
    AttemptOut,
    CallEventOut,
    CallEventPage,
    CallOut,
    CallPage,
    DeliveryList,
    DeliveryOut,
    OutboundCallRequest,
    SessionOut,
    SipParticipantOut,
)
from api.schemas.common import Instant, PageCursor, PageLimit
from api.updates import run_update
from trunkline import calls
from trunkline.models import Call, WebhookDelivery
from trunkline.phone import E164
from trunkline.webhooks import deliveries
from trunkline.workflow_io import CallStatus, HangupRequest, LaneInput
from trunkline.workflow_starts import start_call
from workflows.call import CallWorkflow

router = APIRouter(tags=["calls"], responses=error_responses(401, 422))


def _session_out(call: Call) -> SessionOut:
    return SessionOut(
        session_id=call.id,
        call_id=call.id,
        room_name=call.room_name,
        caller_id=call.from_number,
        to=call.to_number,
        agent_id=call.agent_id,
        sip_participant=SipParticipantOut(
            identity=call.sip_participant_identity, room_name=call.room_name
        ),
        status=call.status,
        created_at=call.created_at,
    )


def call_out(call: Call) -> CallOut:
    duration = None
    if call.answered_at and call.ended_at:
        duration = (call.ended_at - call.answered_at).total_seconds()
    return CallOut(
        id=call.id,
        session_id=call.id,
        agent_id=call.agent_id,
        direction=call.direction,
        status=call.status,
        from_=call.from_number,
        to=call.to_number,
        phone_number_id=call.phone_number_id,
        room_name=call.room_name,
        sip_participant_identity=call.sip_participant_identity,
        call_control_id=call.call_control_id,
        failure_cause=call.failure_cause,
        sip_status_code=call.sip_status_code,
        sip_status=call.sip_status,
        ended_reason=call.ended_reason,
        answered_by_machine=call.answered_machine,
        metadata=call.call_metadata,
        pipeline_config=call.pipeline_config,
        config_sources=call.config_sources,
        created_at=call.created_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        duration_seconds=duration,
    )


async def owned_call(session: DbSession, organization_id: str, call_id: str) -> Call:
    return await find_owned(
        "call", call_id, lambda: calls.get_call(session, organization_id, call_id)
    )


@router.post("/v1/sessions/phone", status_code=201, responses=error_responses(400, 409, 415, 503))
async def place_phone_call(
    body: OutboundCallRequest,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="Retries with the same key never dial twice."),
    ] = None,
) -> SessionOut:
    """Place an outbound call with an agent; the call runs as a Temporal workflow."""
    request = body.model_dump(mode="json", exclude_none=True)
    try:
        call, _ = await calls.create_outbound_call(
            session, organization.id, request, idempotency_key
        )
    except calls.CallRequestError as error:
        if error.code == "idempotency_key_reused":
            raise ApiError(409, error.code, error.message) from error
        raise invalid_field(error.code, error.message, error.field) from error
    try:
        await start_call(temporal, settings.temporal_task_queue, call)
    except RPCError as exc:
        raise ApiError(503, "temporarily_unavailable", f"could not start the call: {exc}") from exc
    return _session_out(call)


@router.get("/v1/calls")
async def list_calls(
    organization: CurrentOrganization,
    session: DbSession,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
    status: CallStatus | None = None,
    direction: Annotated[str | None, Query(pattern="^(inbound|outbound)$")] = None,
    agent_id: Annotated[str | None, Query(alias="agentId", max_length=64)] = None,
    phone_number: Annotated[E164 | None, Query(alias="phoneNumber")] = None,
    created_after: Annotated[Instant | None, Query(alias="createdAfter")] = None,
    created_before: Annotated[Instant | None, Query(alias="createdBefore")] = None,
) -> CallPage:
    page = await calls.list_calls(
        session,
        organization.id,
        limit,
        cursor,
        status=status,
        direction=direction,
        agent_id=agent_id,
        phone_number=phone_number,
        created_after=created_after,
        created_before=created_before,
    )
    return CallPage.of(page.rows, page.next_cursor, call_out)


@router.get("/v1/calls/{call_id}", responses=error_responses(404))
async def get_call(call_id: str, organization: CurrentOrganization, session: DbSession) -> CallOut:
    return call_out(await owned_call(session, organization.id, call_id))


@router.get("/v1/calls/{call_id}/events", responses=error_responses(404))
async def list_call_events(
    call_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$")] = None,
) -> CallEventPage:
    """The call's events in order; pass `nextCursor` as `cursor` for the ones after."""
    call = await owned_call(session, organization.id, call_id)
    events = await calls.list_events(session, call.id, limit + 1, int(cursor or 0))
    more = len(events) > limit
    events = events[:limit]
    return CallEventPage(
        data=[CallEventOut.model_validate(event, from_attributes=True) for event in events],
        has_more=more,
        next_cursor=str(events[-1].sequence) if more else None,
    )


@router.post("/v1/calls/{call_id}/hangup", responses=error_responses(404, 409, 503))
async def hang_up_call(
    call_id: str, organization: CurrentOrganization, session: DbSession, temporal: Temporal
) -> CallOut:
    """End the call now; answers once it has ended."""
    call = await owned_call(session, organization.id, call_id)
    await run_update(temporal, f"call-{call.id}", CallWorkflow.hang_up, HangupRequest(reason="api"))
    await session.refresh(call)
    return call_out(call)


async def _deliveries_out(session: DbSession, rows: list[WebhookDelivery]) -> list[DeliveryOut]:
    attempts = await deliveries.attempts_for(session, [row.id for row in rows])
    return [
        DeliveryOut(
            id=row.id,
            event_type=row.event_type,
            url=row.url,
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
    responses=error_responses(404, 503),
)
async def retry_webhook_delivery(
    delivery_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
) -> DeliveryOut:
    """Deliver again now: a waiting delivery attempts at once, a finished one is replayed."""
    delivery = await find_owned(
        "webhook delivery",
        delivery_id,
        lambda: deliveries.get_delivery(session, organization.id, delivery_id),
    )
    if delivery.status != "pending":
        delivery.status = "pending"
        session.add(delivery)
        await session.commit()
    try:
        await deliveries.hand_over(
            session,
            temporal,
            settings.temporal_task_queue,
            LaneInput(lane=delivery.lane),
            wake=True,
        )
    except RPCError as exc:
        raise ApiError(503, "temporarily_unavailable", str(exc)) from exc
    return (await _deliveries_out(session, [delivery]))[0]
