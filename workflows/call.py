"""CallWorkflow: one phone call, inbound or outbound, from setup to exactly one terminal state.

Provider webhooks arrive as `provider_event` signals (deduplicated by event id, in any order);
the API and the agent act through updates. A watchdog asks LiveKit where the call stands when
no event has come for a while, and a max-duration timer ends calls that would run forever.
"""

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from activities.calls import CallActivities
    from trunkline.providers.errors import SIP_REASON_PHRASES
    from trunkline.temporal import (
        AGENT_ID,
        DIRECTION,
        FROM_NUMBER,
        ORGANIZATION_ID,
        STATUS,
        TO_NUMBER,
    )
    from trunkline.workflow_io import (
        TERMINAL_STATUSES,
        CallEventRecord,
        CallInput,
        CallPlan,
        CallResult,
        CallStatus,
        CallView,
        DialOutcome,
        HangupRequest,
        ProbeResult,
        ProviderSignal,
    )

_RANK = {"queued": 0, "dialing": 1, "ringing": 2, "in-progress": 3, "ended": 4, "failed": 4}
_QUICK = timedelta(seconds=30)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
_DIAL_MARGIN = timedelta(seconds=20)


@workflow.defn
class CallWorkflow:
    @workflow.init
    def __init__(self, request: CallInput) -> None:
        self._session_id = request.session_id
        self._status: CallStatus = "queued"
        self._failure: tuple[str, int | None, str | None] | None = None
        self._ended_reason: str | None = None
        self._sequence = 0
        self._seen_events: set[str] = set()
        self._inbox: list[ProviderSignal] = []
        self._end_request: str | None = None
        self._agent_verdicts: list[str] = []
        self._amd_decided = False
        self._plan: CallPlan | None = None

    # --- signals, updates, queries ---------------------------------------------------------

    @workflow.signal
    def provider_event(self, signal: ProviderSignal) -> None:
        """A stored provider webhook about this call; repeats of the same event are ignored."""
        if signal.provider_event_id not in self._seen_events:
            self._seen_events.add(signal.provider_event_id)
            self._inbox.append(signal)

    @workflow.update
    async def hang_up(self, request: HangupRequest) -> CallView:
        """End the call now (API or agent); returns once it has ended."""
        self._end_request = self._end_request or request.reason
        await workflow.wait_condition(lambda: self._terminal)
        return self._view()

    @hang_up.validator
    def _hang_up_allowed(self, request: HangupRequest) -> None:
        if self._terminal:
            raise ApplicationError(f"the call has already {self._status}", type="CallEnded")

    @workflow.update
    def report_amd(self, verdict: str) -> CallView:
        """The agent's answering-machine verdict: `human` or `machine`."""
        self._agent_verdicts.append(verdict)
        return self._view()

    @report_amd.validator
    def _amd_allowed(self, verdict: str) -> None:
        if verdict not in ("human", "machine"):
            raise ApplicationError("verdict must be human or machine", type="InvalidVerdict")
        if self._terminal:
            raise ApplicationError(f"the call has already {self._status}", type="CallEnded")

    @workflow.query
    def status(self) -> CallView:
        return self._view()

    def _view(self) -> CallView:
        return CallView(session_id=self._session_id, status=self._status)

    @property
    def _terminal(self) -> bool:
        return self._status in TERMINAL_STATUSES

    # --- the call --------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: CallInput) -> CallResult:
        plan: CallPlan = await self._act(CallActivities.prepare)
        self._plan = plan
        workflow.upsert_search_attributes(
            [
                ORGANIZATION_ID.value_set(plan.organization_id),
                DIRECTION.value_set(plan.direction),
                STATUS.value_set(self._status),
                FROM_NUMBER.value_set(plan.from_number),
                TO_NUMBER.value_set(plan.to_number),
                *([AGENT_ID.value_set(plan.agent_id)] if plan.agent_id else []),
            ]
        )
        workflow.set_current_details(plan.summary)
        await self._record("trunkline", "call.queued", detail=plan.summary)
        if plan.has_pre_call_webhook:
            await self._pre_call()
        await self._act(CallActivities.open_room)
        if plan.direction == "outbound":
            await self._connect_outbound(plan)
        else:
            await self._connect_inbound()
        if not self._terminal:
            await self._converse(plan)
        await self._act(CallActivities.hang_up)
        await self._drain_inbox()
        code = self._failure[1] if self._failure else None
        return CallResult(
            session_id=self._session_id,
            status=self._status,
            failure_cause=self._failure[0] if self._failure else None,
            sip_status_code=code,
            ended_reason=self._ended_reason,
        )

    async def _pre_call(self) -> None:
        outcome = await self._act(CallActivities.pre_call, attempts=1)
        detail = outcome.detail or (
            f"applied {outcome.applied or 'nothing'}; ignored {outcome.ignored or 'nothing'}"
            + (f"; invalid {outcome.invalid}" if outcome.invalid else "")
        )
        await self._record("trunkline", f"pre_call.{outcome.outcome}", detail=detail)

    async def _connect_outbound(self, plan: CallPlan) -> None:
        await self._move("trunkline", "call.dialing", "dialing")
        dial = workflow.start_activity_method(
            CallActivities.dial,
            CallInput(session_id=self._session_id),
            start_to_close_timeout=timedelta(seconds=plan.ringing_timeout_seconds) + _DIAL_MARGIN,
            retry_policy=RetryPolicy(
                initial_interval=timedelta(seconds=1),
                maximum_attempts=3,
                non_retryable_error_types=["CallFailed"],
            ),
        )
        while not dial.done():
            await workflow.wait_condition(
                lambda: dial.done() or bool(self._inbox) or self._end_request is not None
            )
            await self._drain_inbox()
            if self._end_request and not dial.done():
                await self._finish("ended", self._end_request)
            if self._terminal:
                dial.cancel()
                return
        try:
            outcome: DialOutcome = await dial
        except ActivityError as error:
            await self._dial_failed(error)
            return
        if outcome.answered:
            await self._move("trunkline", "call.answered", "in-progress")

    async def _dial_failed(self, error: ActivityError) -> None:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type == "CallFailed":
            failure_cause, code, phrase = cause.details
            self._failure = (failure_cause, code, phrase or SIP_REASON_PHRASES.get(code or 0))
            await self._finish("failed", failure_cause, detail=str(cause.message))
        else:
            self._failure = ("error", None, None)
            await self._finish("failed", "error", detail=str(cause or error))

    async def _connect_inbound(self) -> None:
        try:
            await self._act(CallActivities.bridge)
        except ActivityError as error:
            if isinstance(error.cause, ApplicationError) and error.cause.type == "CallerHungUp":
                await self._finish("ended", "caller_hung_up")
                return
            raise
        await self._move("trunkline", "call.bridged", "in-progress")

    async def _converse(self, plan: CallPlan) -> None:
        """In progress: follow events, AMD and requests until the call ends."""
        ends_at = workflow.now() + timedelta(seconds=plan.max_duration_seconds)
        amd_until = (
            workflow.now() + timedelta(seconds=plan.amd.timeout_seconds) if plan.amd else None
        )
        watchdog = timedelta(seconds=plan.watchdog_seconds)
        while not self._terminal:
            waits = [watchdog, ends_at - workflow.now()]
            if amd_until and not self._amd_decided:
                waits.append(amd_until - workflow.now())
            try:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._inbox)
                        or self._end_request is not None
                        or bool(self._agent_verdicts)
                    ),
                    timeout=max(min(waits), timedelta(milliseconds=1)),
                )
            except TimeoutError:
                await self._on_timer(plan, ends_at, amd_until)
                continue
            await self._drain_inbox()
            while self._agent_verdicts and not self._terminal:
                await self._on_verdict(plan, self._agent_verdicts.pop(0), "agent")
            if self._end_request and not self._terminal:
                await self._finish("ended", self._end_request)

    async def _on_timer(self, plan: CallPlan, ends_at: Any, amd_until: Any) -> None:
        now = workflow.now()
        if now >= ends_at:
            await self._finish("ended", "max_duration")
        elif amd_until and not self._amd_decided and now >= amd_until:
            self._amd_decided = True
            await self._record("trunkline", "amd.timeout", detail="no verdict; assuming a person")
        else:
            probe: ProbeResult = await self._act(CallActivities.probe)
            if not probe.phone_present:
                await self._finish("ended", "phone_leg_gone", event="watchdog.phone_gone")

    async def _on_verdict(self, plan: CallPlan, verdict: str, reporter: str) -> None:
        """Record an AMD verdict; with AMD on, the first that counts decides, and a machine fails.

        The carrier's verdict always counts; the agent's counts in `agent` mode.
        """
        counts = plan.amd is not None and (reporter == "carrier" or plan.amd.mode == "agent")
        if not counts or self._amd_decided:
            await self._record("trunkline", f"amd.{verdict}.ignored", detail=f"from the {reporter}")
            return
        self._amd_decided = True
        await self._record("trunkline", f"amd.{verdict}", detail=f"reported by the {reporter}")
        if verdict == "machine":
            self._failure = ("machine", None, None)
            await self._finish("failed", "machine")

    # --- provider events -------------------------------------------------------------------

    async def _drain_inbox(self) -> None:
        while self._inbox:
            await self._on_provider_event(self._inbox.pop(0))

    async def _on_provider_event(self, signal: ProviderSignal) -> None:
        """Record the event, then let it move the call forward (never backward)."""
        status = self._status_after(signal)
        await self._record(
            signal.provider,
            signal.event_type,
            status=status,
            sip_status_code=signal.sip_status_code,
            sip_status=signal.sip_status,
            provider_event_id=signal.provider_event_id,
            detail=signal.disconnect_reason or signal.hangup_source or signal.machine_detection,
        )
        if signal.machine_detection and self._plan and not self._terminal:
            await self._on_verdict(self._plan, signal.machine_detection, "carrier")
        if self._phone_left(signal) and self._status == "in-progress":
            await self._finish("ended", f"{signal.hangup_source or 'remote'}_hung_up")

    def _status_after(self, signal: ProviderSignal) -> CallStatus:
        if self._terminal:
            return self._status
        if signal.event_type == "call.initiated" and self._status == "dialing":
            return "ringing"
        answered = signal.event_type in ("call.answered", "call.bridged")
        if answered and _RANK[self._status] < _RANK["in-progress"] and self._status != "queued":
            return "in-progress"
        return self._status

    @staticmethod
    def _phone_left(signal: ProviderSignal) -> bool:
        if signal.provider == "telnyx":
            return signal.event_type == "call.hangup"
        return signal.event_type == "room_finished" or (
            signal.event_type == "participant_left" and signal.participant_is_phone
        )

    # --- recording -------------------------------------------------------------------------

    async def _move(self, source: str, event_type: str, status: CallStatus) -> None:
        if _RANK[status] > _RANK[self._status]:
            await self._record(source, event_type, status=status)

    async def _finish(
        self,
        status: CallStatus,
        reason: str,
        *,
        detail: str | None = None,
        event: str | None = None,
    ) -> None:
        """Reach the one terminal state, with the failure facts when it failed."""
        if self._terminal:
            return
        self._ended_reason = reason
        failure_cause, code, phrase = self._failure or (None, None, None)
        await self._record(
            "trunkline",
            event or f"call.{status}",
            status=status,
            failure_cause=failure_cause,
            sip_status_code=code,
            sip_status=phrase,
            detail=detail or reason,
            ended_reason=reason,
        )

    async def _record(
        self,
        source: str,
        event_type: str,
        *,
        status: CallStatus | None = None,
        **facts: Any,
    ) -> None:
        """Store one call event, moving the status; the activity sends its `call.status`."""
        new_status = status or self._status
        changed = new_status != self._status
        self._sequence += 1
        await workflow.execute_activity_method(
            CallActivities.record_event,
            CallEventRecord(
                session_id=self._session_id,
                sequence=self._sequence,
                source=source,  # type: ignore[arg-type]
                type=event_type,
                status=new_status,
                **facts,
            ),
            start_to_close_timeout=_QUICK,
            retry_policy=_RETRY,
        )
        self._status = new_status  # only once stored, so readers of the call row agree
        if changed:
            workflow.upsert_search_attributes([STATUS.value_set(new_status)])

    async def _act(self, activity: Any, *, attempts: int | None = None) -> Any:
        """Run one of the call's activities with the call's id."""
        retry = _RETRY if attempts is None else RetryPolicy(maximum_attempts=attempts)
        return await workflow.execute_activity_method(
            activity,
            CallInput(session_id=self._session_id),
            start_to_close_timeout=_QUICK,
            retry_policy=retry,
        )
