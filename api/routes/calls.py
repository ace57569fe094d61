"""`/v1/sessions/phone` places calls; `/v1/calls` reads them and their events,
ends them, and lets a browser join one."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Header, Query
from temporalio.service import RPCError

from api.deps import AppSettings, CurrentOrganization, DbSession, Temporal
from api.errors import ApiError, error_responses, find_owned, invalid_field
from api.schemas.calls import (
    CallDetailOut,
    CallEventOut,
    CallEventPage,
    CallOut,
    CallPage,
    EndCallOut,
    OutboundCallRequest,
    RecordingLinkOut,
    SessionOut,
    SipParticipantOut,
    WebJoinBody,
    WebJoinOut,
)
from api.schemas.common import Instant, PageCursor, PageLimit
from api.schemas.reports import ReportOut
from api.transfer_control import transfer_out
from api.updates import request_update, run_update
from trunkline import transfers
from trunkline.calls import store as call_store
from trunkline.calls.transcripts import transcript, transcript_wire
from trunkline.ids import new_id
from trunkline.models import Call, CallEvent, CallReport, utcnow
from trunkline.numbers.e164 import E164
from trunkline.pipeline import DEFAULT_LANGUAGE
from trunkline.providers.livekit import room_join_token, websocket_url
from trunkline.reports.store import latest_report, report_body
from trunkline.workflow_io import TERMINAL_STATUSES, CallStatus, HangupRequest
from trunkline.workflow_starts import start_call
from workflows.call import CallWorkflow

router = APIRouter(tags=["calls"], responses=error_responses(401, 422))

_STATUS_OF = {"idempotency_key_reused": 409, "missing_template_variables": 400}
"""Dial refusals that are not a 422 about one field."""

WEB_JOIN_TTL = timedelta(minutes=10)
"""How long a browser has to connect with a web-join token."""


def _session_out(call: Call) -> SessionOut:
    return SessionOut(
        session_id=call.id,
        call_id=call.id,
        call_control_id=call.call_control_id or call.sip_participant_identity,
        room_name=call.room_name,
        status="dialing",
        to=call.to_number,
        from_=call.from_number,
        caller_id=call.from_number,
        agent_id=call.agent_id,
        sip_participant=SipParticipantOut(
            identity=call.sip_participant_identity, room_name=call.room_name
        ),
        created_at=call.created_at,
    )


def call_out(call: Call) -> CallOut:
    """The call as the SDK reads it; `recording_status` says whether a recording was started
    (its outcome is in the report)."""
    duration = None
    if call.answered_at and call.ended_at:
        duration = (call.ended_at - call.answered_at).total_seconds()
    return CallOut(
        id=call.id,
        call_id=call.id,
        session_id=call.id,
        resource_uri=f"/v1/calls/{call.id}",
        kind="phone",
        agent_id=call.agent_id,
        direction=call.direction,
        status=call.status,
        language=(call.pipeline_config.get("intent") or {}).get("language") or DEFAULT_LANGUAGE,
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
        recording_status="started" if call.recording_egress_id else None,
        recording_resource_uri=f"/v1/calls/{call.id}/recording",
        created_at=call.created_at,
        updated_at=call.updated_at,
        answered_at=call.answered_at,
        ended_at=call.ended_at,
        duration_seconds=duration,
    )


async def call_detail(session: DbSession, call: Call) -> CallDetailOut:
    """The call with its transcript, transfers and latest report, as `calls.get` reads it."""
    report = await latest_report(session, call.id)
    recording = (report.artifacts.get("recording") or {}) if report else {}
    seconds = recording.get("duration_seconds")
    summary = call_out(call)
    if recording:
        summary.recording_status = recording.get("status")
        summary.recording_duration_ms = seconds * 1000 if seconds is not None else None
    return CallDetailOut(
        **dict(summary),
        transcript=transcript_wire(await transcript(session, call.id)),
        transfers=[
            await transfer_out(session, row)
            for row in await transfers.transfers_of_call(session, call.id)
        ],
        report=await _report_out(session, call, report) if report else None,
    )


async def _report_out(session: DbSession, call: Call, report: CallReport) -> ReportOut:
    return ReportOut.model_validate(await report_body(session, call, report))


async def owned_call(session: DbSession, organization_id: str, call_id: str) -> Call:
    return await find_owned(
        "call", call_id, lambda: call_store.get_call(session, organization_id, call_id)
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
    try:
        call, _ = await call_store.create_outbound_call(
            session, organization.id, body.canonical(), idempotency_key
        )
    except call_store.CallRequestError as error:
        if error.code in _STATUS_OF:
            raise ApiError(_STATUS_OF[error.code], error.code, error.message) from error
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
    page = await call_store.list_calls(
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
    return CallPage(
        calls=[call_out(row) for row in page.rows],
        has_more=page.next_cursor is not None,
        next_cursor=page.next_cursor,
    )


@router.get("/v1/calls/{call_id}", responses=error_responses(404))
async def get_call(
    call_id: str, organization: CurrentOrganization, session: DbSession
) -> CallDetailOut:
    """The call, its transcript and transfers so far, and its latest report once there is one."""
    return await call_detail(session, await owned_call(session, organization.id, call_id))


@router.get("/v1/calls/{call_id}/events", responses=error_responses(404))
async def list_call_events(
    call_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,9}$")] = None,
) -> CallEventPage:
    """The call's events in order; pass `next_cursor` as `cursor` for the ones after."""
    call = await owned_call(session, organization.id, call_id)
    events = await call_store.list_events(session, call.id, limit + 1, int(cursor or 0))
    more = len(events) > limit
    events = events[:limit]
    return CallEventPage(
        events=[_event_out(call, event) for event in events],
        has_more=more,
        next_cursor=str(events[-1].sequence) if more else None,
    )


def _event_out(call: Call, event: CallEvent) -> CallEventOut:
    """The SDK's `CallEvent`; the event that failed the call carries its failure cause."""
    return CallEventOut(
        id=event.id,
        session_id=call.id,
        organization_id=call.organization_id,
        sequence=event.sequence,
        provider=event.source,
        event_type=event.type,
        status=event.status,
        failure_cause=call.failure_cause if event.status == "failed" else None,
        sip_status_code=event.sip_status_code,
        sip_status=event.sip_status,
        detail=event.detail,
        provider_event_id=event.provider_event_id,
        payload=event.payload,
        occurred_at=event.occurred_at,
        created_at=event.occurred_at,
    )


@router.post("/v1/calls/{call_id}/hangup", responses=error_responses(404, 409, 503))
async def hang_up_call(
    call_id: str, organization: CurrentOrganization, session: DbSession, temporal: Temporal
) -> CallOut:
    """End the call now; answers once it has ended (`POST …/end` answers at once)."""
    call = await owned_call(session, organization.id, call_id)
    await run_update(temporal, f"call-{call.id}", CallWorkflow.hang_up, HangupRequest(reason="api"))
    await session.refresh(call)
    return call_out(call)


@router.post("/v1/calls/{call_id}/end", responses=error_responses(404, 503))
async def end_call(
    call_id: str, organization: CurrentOrganization, session: DbSession, temporal: Temporal
) -> EndCallOut:
    """The kill switch: tear the call down, answering as soon as the call has taken the order
    (`ending`), or at once when it was over (`already_ended`)."""
    call = await owned_call(session, organization.id, call_id)
    if call.status not in TERMINAL_STATUSES:
        try:
            await request_update(
                temporal, f"call-{call.id}", CallWorkflow.hang_up, HangupRequest(reason="api")
            )
            return EndCallOut(status="ending")
        except ApiError as refused:
            if refused.code != "call_ended":
                raise
        await session.refresh(call)
    return EndCallOut(status="already_ended", ended_at=call.ended_at)


@router.get("/v1/calls/{call_id}/recording", responses=error_responses(404))
async def get_call_recording(
    call_id: str, organization: CurrentOrganization, session: DbSession
) -> RecordingLinkOut:
    """Where the call's recording can be downloaded, once it is finished."""
    call = await owned_call(session, organization.id, call_id)
    report = await latest_report(session, call.id)
    url = ((report.artifacts.get("recording") or {}).get("url") if report else None) or None
    if url is None:
        why = "is still being recorded" if call.recording_egress_id else "has no recording"
        raise ApiError(404, "recording_not_found", f"call {call.id} {why}")
    return RecordingLinkOut(url=url)


@router.post("/v1/calls/{call_id}/web-join", responses=error_responses(404, 409))
async def join_call_from_web(
    call_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    body: WebJoinBody | None = None,
) -> WebJoinOut:
    """A short-lived LiveKit token for a browser to join the live call's room."""
    call = await owned_call(session, organization.id, call_id)
    if call.status != "in-progress":
        raise ApiError(409, "call_not_in_progress", f"call {call.id} is {call.status}, not live")
    identity = f"web-{new_id('join')}"
    expires_at = utcnow() + WEB_JOIN_TTL
    token = room_join_token(
        settings.livekit_api_key,
        settings.livekit_api_secret,
        call.room_name,
        identity,
        (body.display_name if body else None) or "Web participant",
        WEB_JOIN_TTL,
    )
    return WebJoinOut(
        token=token,
        url=settings.livekit_public_url or websocket_url(settings.livekit_url),
        identity=identity,
        room_name=call.room_name,
        expires_at=expires_at,
    )
