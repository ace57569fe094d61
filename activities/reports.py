"""Activities of the post-call report: analyse, charge, schedule a requested callback, deliver."""

import asyncio
from zoneinfo import ZoneInfo

import httpx
from sqlalchemy import or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client, WorkflowExecutionStatus

from activities.common import load_call
from trunkline.callbacks import callee_zone, schedule_requested_callback
from trunkline.calls.events import add_finding, take_in_late_events
from trunkline.calls.recordings import (
    UNFINISHED_EGRESS,
    missing_reason,
    start_failure,
    unusable_reason,
)
from trunkline.calls.store import call_party
from trunkline.db import Database
from trunkline.models import (
    Call,
    CallReport,
    Organization,
    WebhookDelivery,
)
from trunkline.pipeline import AnalysisConfig
from trunkline.providers.errors import ProviderError
from trunkline.providers.livekit import LiveKitAdapter, Recording
from trunkline.reports.analysis.llm import LlmAnalysisFailed, LlmAnalyzer
from trunkline.reports.analysis.rules import Analysis, CallFacts, analyze
from trunkline.reports.costs import cost_breakdown
from trunkline.reports.store import (
    charge_once,
    gather_facts,
    latest_report,
    new_report,
    report_body,
    report_by_key,
    store_report,
    transfer_leg_seconds,
)
from trunkline.settings import Settings
from trunkline.webhooks.dispatcher import WebhookDispatcher
from trunkline.webhooks.endpoints import call_deliveries, call_targets
from trunkline.workflow_io import ReportRef, ReportRequest, ReportSettlement
from trunkline.workflow_starts import start_callback

RECORDING_POLLS = 15
RECORDING_POLL_SECONDS = 2.0


class ReportActivities:
    """Bound to the database, settings, LiveKit, HTTP and Temporal clients of the worker."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        livekit: LiveKitAdapter,
        http: httpx.AsyncClient,
        temporal: Client,
        dispatcher: WebhookDispatcher,
    ) -> None:
        self._database = database
        self._settings = settings
        self._livekit = livekit
        self._http = http
        self._temporal = temporal
        self._dispatcher = dispatcher

    @activity.defn(name="analyze_call")
    async def analyze(self, request: ReportRequest) -> ReportRef:
        """The call's report: the latest one, or (forced, or none yet) a new version."""
        call = await load_call(self._database, request.session_id)
        info = activity.info()
        request_key = f"{info.workflow_id}/{info.workflow_run_id}"
        closed = await self._call_workflow_closed(call.id)  # it records no more events
        async with self._database.session() as session:
            if closed:
                await take_in_late_events(session, call)
            mine = await report_by_key(session, request_key)
            if mine:  # a retry: this run wrote it before its answer was lost
                return _ref(mine, created=True)
            latest = await latest_report(session, call.id)
            if latest and not request.force_analysis:
                return _ref(latest, created=False)
            zone = await self._zone(session, call)
            facts, config, attempts = await gather_facts(session, call, zone)
            failure = None if call.recording_egress_id else await start_failure(session, call.id)
        artifacts, recording_seconds = await self._artifacts(call, failure)
        analysis, analyzer, note = await self._analysis(facts, config)
        costs = cost_breakdown(
            self._settings.rate_card,
            direction=call.direction,
            talk_seconds=facts.talk_seconds,
            transfer_leg_seconds=transfer_leg_seconds(call, attempts),
            recording_seconds=recording_seconds,
        )
        report = new_report(
            call,
            analysis,
            analyzer=analyzer,
            note=note,
            costs=costs,
            artifacts=artifacts,
            request_key=request_key,
        )
        async with self._database.session() as session:
            if (
                closed
                and artifacts["recording_error"]
                and not call.recording_egress_id
                and not failure
            ):
                # never started, and no event says why (LiveKit's own egress events do otherwise)
                await add_finding(
                    session, call, "recording.unavailable", artifacts["recording_error"]
                )
            stored = await store_report(session, report)
        return _ref(stored, created=True)

    @staticmethod
    async def _zone(session: AsyncSession, call: Call) -> ZoneInfo:
        """Where "3 pm" is meant: the caller's zone when their number tells, else the org's."""
        organization = await session.get_one(Organization, call.organization_id)
        return callee_zone(organization, call_party(call))

    async def _analysis(
        self, facts: CallFacts, config: AnalysisConfig
    ) -> tuple[Analysis, str, str | None]:
        """The rules' analysis, or the LLM's when one is configured and answers usably."""
        rules = await asyncio.to_thread(analyze, facts)  # customers' patterns: off the loop
        if not self._settings.analysis_llm_base_url:
            return rules, "rules", None
        llm = LlmAnalyzer(
            self._http,
            self._settings.analysis_llm_base_url,
            self._settings.analysis_llm_api_key,
            self._settings.analysis_llm_model,
            self._settings.analysis_llm_timeout_seconds,
        )
        try:
            return await llm.analyze(facts, rules, config.summary_prompt), "llm", None
        except LlmAnalysisFailed as failure:
            return rules, "rules", f"LLM analyzer failed, rules used instead: {failure}"

    async def _artifacts(self, call: Call, failure: str | None) -> tuple[dict, float]:
        """The recording (when there is one, else why not) and the transcript link; seconds
        recorded."""
        artifacts: dict = {
            "transcript_url": f"{self._settings.public_base_url}/v1/calls/{call.id}/transcript",
            "recording": None,
        }
        if not call.recording_egress_id:
            enabled = self._settings.call_recording_enabled
            artifacts["recording_error"] = missing_reason(call, failure, enabled)
            return artifacts, 0.0
        try:
            recording = await self._finished_recording(call.recording_egress_id)
        except ProviderError as exc:
            artifacts["recording_error"] = str(exc)
            return artifacts, 0.0
        if recording is None:
            artifacts["recording_error"] = f"LiveKit has no recording {call.recording_egress_id}"
            return artifacts, 0.0
        artifacts["recording_error"] = unusable_reason(recording)
        artifacts["recording"] = {
            "egress_id": recording.egress_id,
            "status": recording.status,
            "url": recording.location,
            "duration_seconds": recording.duration_seconds,
            "size_bytes": recording.size_bytes,
        }
        return artifacts, recording.duration_seconds or 0.0

    async def _finished_recording(self, egress_id: str) -> Recording | None:
        """The recording once LiveKit has finished writing it (or as it stands after a while)."""
        recording = await self._livekit.recording(egress_id)
        for _ in range(RECORDING_POLLS):
            if recording is None or recording.status not in UNFINISHED_EGRESS:
                break
            await asyncio.sleep(RECORDING_POLL_SECONDS)
            if not activity.info().is_local:
                activity.heartbeat()
            recording = await self._livekit.recording(egress_id)
        return recording

    @activity.defn(name="charge_call")
    async def charge(self, ref: ReportRef) -> None:
        """Deduct the report's total from the organization's credits, once per call."""
        async with self._database.session() as session:
            await charge_once(session, await session.get_one(CallReport, ref.report_id))

    @activity.defn(name="schedule_requested_callback")
    async def schedule_callback(self, ref: ReportRef) -> None:
        """Schedule the callback the caller asked for (once per report)."""
        async with self._database.session() as session:
            report = await session.get_one(CallReport, ref.report_id)
            call = await session.get_one(Call, ref.session_id)
            callback = await schedule_requested_callback(session, call, report)
        if callback:
            await start_callback(self._temporal, activity.info().task_queue, callback.id)

    async def _call_workflow_closed(self, call_id: str) -> bool:
        description = await self._temporal.get_workflow_handle(f"call-{call_id}").describe()
        return description.status != WorkflowExecutionStatus.RUNNING

    @activity.defn(name="send_report_webhook")
    async def send_webhook(self, ref: ReportRef) -> bool:
        """Queue the `call.report` webhook to the agent's postCall URL and the matching
        endpoints; False when it goes nowhere."""
        key = f"{activity.info().workflow_id}/{activity.info().workflow_run_id}/report"
        async with self._database.session() as session:
            queued = await _queued_by_key(session, key)
            if not queued:  # not a retry of a run that queued them already
                call = await session.get_one(Call, ref.session_id)
                targets = await call_targets(session, call, "call.report")
                if targets.reach_anyone("call.report"):
                    report = await session.get_one(CallReport, ref.report_id)
                    payload = await report_body(session, call, report)
                    queued = call_deliveries(call, targets, "call.report", payload, dedupe_key=key)
                    session.add_all(queued)
                    await session.commit()
        self._dispatcher.submit(d.lane for d in queued if d.status == "pending")
        return bool(queued)

    @activity.defn(name="settle_report")
    async def settle(self, settlement: ReportSettlement) -> bool:
        """Charge, schedule the callback and queue `call.report` as the settlement says, in
        one step (each once); whether the webhook goes anywhere."""
        report = settlement.report
        if report.created:
            await self.charge(report)
            if report.wants_callback:
                await self.schedule_callback(report)
        return await self.send_webhook(report) if settlement.send else False


async def _queued_by_key(session: AsyncSession, key: str) -> list[WebhookDelivery]:
    """The deliveries a run of the report workflow queued: the agent's (keyed `key`) and the
    endpoints' (keyed `key/<endpoint id>`)."""
    statement = select(WebhookDelivery).where(
        or_(
            WebhookDelivery.dedupe_key == key,
            col(WebhookDelivery.dedupe_key).startswith(f"{key}/", autoescape=True),
        )
    )
    return list((await session.exec(statement)).all())


def _ref(report: CallReport, *, created: bool) -> ReportRef:
    return ReportRef(
        report_id=report.id,
        session_id=report.call_id,
        version=report.version,
        created=created,
        wants_callback=bool((report.callback_request or {}).get("at")),
    )
