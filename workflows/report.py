"""PostCallReportWorkflow: turn an ended call into its report and deliver it.

Started when a call ends (`report-{sessionId}`), and again by `finalize`: `force_analysis`
writes a new version (the old ones stay), `retry_webhook` sends the latest `call.report` again;
the first analysis sends it by itself.
Analysis, charging and scheduling happen once per version; `call.report` goes out through the
call's webhook lane, retried for days.
"""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.reports import ReportActivities
    from trunkline.workflow_io import ReportRef, ReportRequest, ReportResult, ReportSettlement
    from trunkline.workflow_starts import TRANSCRIPT_GRACE

LOCAL_BOOKKEEPING = "local-bookkeeping"
"""Since this patch, charging, scheduling the callback and queueing the webhook are local
activities."""
ONE_SETTLEMENT = "one-settlement"
"""Since this patch, they are one local activity, and so is the analysis when it is by rules
alone (no LLM to wait for)."""
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class PostCallReportWorkflow:
    @workflow.run
    async def run(self, request: ReportRequest) -> ReportResult:
        first = not request.force_analysis and not request.retry_webhook
        if first and not request.grace_waited:  # the agent's last lines may still come in
            await workflow.sleep(TRANSCRIPT_GRACE)
        report: ReportRef = await self._analyze(request)
        first_analysis = report.created and report.version == 1
        send = first_analysis or request.retry_webhook
        sent = await self._settle(report, send)
        workflow.set_current_details(f"version {report.version}, webhook sent: {sent}")
        return ReportResult(
            session_id=request.session_id,
            report_id=report.report_id,
            version=report.version,
            webhook_sent=sent,
        )

    async def _analyze(self, request: ReportRequest) -> ReportRef:
        if request.rules_only and workflow.patched(ONE_SETTLEMENT):
            return await self._act_locally(ReportActivities.analyze, request, minutes=5)
        return await self._act(ReportActivities.analyze, request, minutes=5)

    async def _settle(self, report: ReportRef, send: bool) -> bool:
        """Charge and schedule (a report this run wrote) and send `call.report` (when `send`);
        whether it was sent."""
        if workflow.patched(ONE_SETTLEMENT):
            if not report.created and not send:
                return False
            settlement = ReportSettlement(report=report, send=send)
            return await self._act_locally(ReportActivities.settle, settlement)
        after = self._act_locally if workflow.patched(LOCAL_BOOKKEEPING) else self._act
        if report.created:
            await after(ReportActivities.charge, report)
            if report.wants_callback:
                await after(ReportActivities.schedule_callback, report)
        return await after(ReportActivities.send_webhook, report) if send else False

    @staticmethod
    async def _act_locally(activity: Any, argument: Any, *, minutes: float = 0.5) -> Any:
        """Quick work, in the workflow task: no activity task round trip each."""
        return await workflow.execute_local_activity_method(
            activity,
            argument,
            start_to_close_timeout=timedelta(minutes=minutes),
            retry_policy=_RETRY,
        )

    @staticmethod
    async def _act(activity: Any, argument: Any, *, minutes: float = 0.5) -> Any:
        return await workflow.execute_activity_method(
            activity,
            argument,
            start_to_close_timeout=timedelta(minutes=minutes),
            retry_policy=_RETRY,
        )
