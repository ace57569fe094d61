"""`/v1/calls/{id}/report`: the post-call report, re-running it, and the transcript."""

from typing import Annotated

from fastapi import APIRouter, Query
from temporalio.service import RPCError

from api.deps import AppSettings, CurrentOrganization, DbSession, Temporal
from api.errors import ApiError, error_responses, not_found
from api.routes.calls import owned_call
from api.schemas.reports import CallTranscriptOut, FinalizeBody, FinalizeOut, ReportOut
from trunkline.calls.transcripts import transcript, transcript_wire
from trunkline.models import Call
from trunkline.reports.store import cost_micro_usd, latest_report, report_body, report_version
from trunkline.workflow_io import TERMINAL_STATUSES, ReportRequest
from trunkline.workflow_starts import start_report

router = APIRouter(
    prefix="/v1/calls/{call_id}", tags=["reports"], responses=error_responses(401, 404, 422)
)


def _not_ready(call: Call) -> ApiError:
    why = "has not ended yet" if call.status not in TERMINAL_STATUSES else "is being analysed"
    return ApiError(404, "report_not_ready", f"call {call.id} {why}: its report is not ready")


@router.get("/report", responses=error_responses(404))
async def get_report(
    call_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    version: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="An earlier analysis version.")
    ] = None,
) -> ReportOut:
    """Transcript, summary, outcome, structured data, costs, artifacts, scheduled callback;
    a 404 `report_not_ready` until the ended call has been analysed."""
    call = await owned_call(session, organization.id, call_id)
    if version is None:
        report = await latest_report(session, call.id)
        if report is None:
            raise _not_ready(call)
    else:
        report = await report_version(session, call.id, version)
        if report is None:
            raise not_found("report version", str(version))
    return ReportOut.model_validate(await report_body(session, call, report))


@router.post("/report/finalize", status_code=202, responses=error_responses(409, 503))
async def finalize_report(
    call_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
    body: FinalizeBody | None = None,
) -> FinalizeOut:
    """Re-run analysis (a new version), re-send the webhook, or both; while a run for this
    call is going, that run stands."""
    body = body or FinalizeBody()
    call = await owned_call(session, organization.id, call_id)
    if call.status not in TERMINAL_STATUSES:
        raise ApiError(409, "call_in_progress", f"call {call.id} has not ended yet")
    request = ReportRequest(
        session_id=call.id, force_analysis=body.force_analysis, retry_webhook=body.retry_webhook
    )
    try:
        started = await start_report(temporal, settings.temporal_task_queue, request)
    except RPCError as exc:
        raise ApiError(503, "temporarily_unavailable", str(exc)) from exc
    if not started and (body.force_analysis or body.retry_webhook):
        raise ApiError(
            409,
            "report_in_progress",
            f"a report run for call {call.id} is going and stands: ask again once it has finished",
        )
    report = await latest_report(session, call.id)
    return FinalizeOut(
        session_id=call.id,
        summary=report.summary if report else "",
        outcome=report.outcome if report else "",
        cost_micro_usd=cost_micro_usd(report) if report else "0",
        workflow_id=f"report-{call.id}",
        already_running=not started,
        force_analysis=body.force_analysis,
        retry_webhook=body.retry_webhook,
    )


@router.get("/transcript")
async def get_transcript(
    call_id: str, organization: CurrentOrganization, session: DbSession
) -> CallTranscriptOut:
    """Every line the agent reported, in order."""
    call = await owned_call(session, organization.id, call_id)
    entries = await transcript(session, call.id)
    return CallTranscriptOut(call_id=call.id, **transcript_wire(entries))
