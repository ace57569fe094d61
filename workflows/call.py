"""CallWorkflow: one phone call, inbound or outbound, from setup to exactly one terminal state.

Provider webhooks arrive as `provider_event` signals (deduplicated by event id, in any order);
the API and the agent act through updates. A watchdog asks LiveKit where the call stands when
no event has come for a while, and a max-duration timer ends calls that would run forever.
"""

import asyncio
import contextlib
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, FailureError

with workflow.unsafe.imports_passed_through():
    from activities.calls import CallActivities
    from activities.transfers import TransferActivities
    from trunkline.calls.signals import phone_left, recipient_left
    from trunkline.temporal import (
        AGENT_ID,
        DIRECTION,
        FROM_NUMBER,
        ORGANIZATION_ID,
        STATUS,
        TO_NUMBER,
    )
    from trunkline.transfers import RETURN_INSTRUCTIONS
    from trunkline.workflow_io import (
        STATUS_RANK,
        TERMINAL_STATUSES,
        TRANSFER_END_STATES,
        AgentFailure,
        AgentNotice,
        BlindTransferRequest,
        CallEnded,
        CallEventRecord,
        CallInput,
        CallPlan,
        CallResult,
        CallStatus,
        CallView,
        DialOutcome,
        HangupRequest,
        PreparedCall,
        ProbeResult,
        ProviderSignal,
        RecordOutcome,
        TransferOutcome,
        TransferProgress,
        TransferRecord,
        TransferStateChange,
        TransferView,
        WarmTransferRequest,
    )
    from workflows.activity_options import (
        DIAL_MARGIN,
        DIAL_RETRY,
        HEARTBEAT,
        QUICK,
        RETRY,
        dial_failure,
    )
    from workflows.warm_transfer import WarmTransferWorkflow

LEAN_CALLS = "lean-calls"
"""Since this patch (which implies the earlier ones without their markers): events and the quick
steps are local activities, the search attributes are set when the call starts, the status
attribute moves only to in-progress and to the end, and one alarm serves the watchdog (backing
off while the phone is still there), max duration and AMD."""
FEWER_STEPS = "fewer-steps"
"""Since this patch, preparing the call records its `call.queued` in the same local activity,
opening the room records `call.dialing` (bridging the caller, `call.bridged`), and one local
activity hangs up and starts the report."""
RING_BEFORE_ANSWER = "ring-before-answer"
"""Since this patch, an outbound call answered before the carrier's ring reached the workflow
goes through `ringing` first (checked only on that path: other calls carry no marker)."""
INDEXED_STATUSES = ("in-progress", "ended", "failed")
WATCHDOG_MAX = timedelta(minutes=10)
"""The longest a quiet call goes unprobed: a call whose provider events stop ends by then."""


@workflow.defn
class CallWorkflow:
    @workflow.init
    def __init__(self, request: CallInput) -> None:
        self._lean = workflow.patched(LEAN_CALLS)
        self._fewer_steps = workflow.patched(FEWER_STEPS)
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
        self._transfer_id: str | None = None
        """The transfer running now; one at a time."""
        self._warm_transfer: workflow.ChildWorkflowHandle[Any, Any] | None = None
        self._warm_transfer_id: str | None = None
        self._transfer_inbox: list[TransferProgress] = []
        self._blind_in_flight = False
        self._hangup_during_transfer: str | None = None
        self._phone_gone = False
        """The caller (inbound) or callee (outbound) has left: a warm transfer ends for it."""
        self._transferred_away = False
        self._recipient: str | None = None
        """The warm transfer's recipient, once bridged into the caller's room."""
        self._recording: workflow.ActivityHandle[Any] | None = None
        self._quiet_probes = 0
        """Watchdog probes since the last event: each doubles the wait before the next."""
        self._quiet_since = workflow.now()
        """When the call last heard news or probed: the watchdog counts from there."""
        self._alarm: asyncio.Task[None] | None = None
        """The one pending timer of a conversation: it wakes the call when something is due."""
        self._updated = False
        """Whether an update was answered: the call must not close in the same workflow task."""
        self._recording_events = asyncio.Lock()
        self._status_being_recorded: CallStatus | None = None
        """The status a record in flight moves the call to: its row may say so already."""

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
        self._updated = True
        self._end_request = self._end_request or request.reason
        await workflow.wait_condition(lambda: self._terminal)
        return self._view()

    @hang_up.validator
    def _hang_up_allowed(self, request: HangupRequest) -> None:
        self._require_not_over()

    @workflow.update
    async def agent_failed(self, failure: AgentFailure) -> CallView:
        """The agent cannot run the call: record why, and end the call rather than leave the
        person on the line in silence."""
        self._updated = True
        await self._record(
            "trunkline", "agent.failed", detail=failure.detail, facts={"reason": failure.reason}
        )
        self._end_request = self._end_request or "agent_failed"
        return self._view()

    @agent_failed.validator
    def _agent_failure_allowed(self, failure: AgentFailure) -> None:
        self._require_not_over()

    @workflow.update
    def report_amd(self, verdict: str) -> CallView:
        """The agent's answering-machine verdict: `human` or `machine`."""
        self._updated = True
        self._agent_verdicts.append(verdict)
        return self._view()

    @report_amd.validator
    def _amd_allowed(self, verdict: str) -> None:
        if verdict not in ("human", "machine"):
            raise ApplicationError("verdict must be human or machine", type="InvalidVerdict")
        self._require_not_over()

    @workflow.signal
    def transfer_progress(self, progress: TransferProgress) -> None:
        """A step of the warm transfer, to record as a call event.

        Its end frees the call for another transfer at once, before the event is recorded.
        """
        self._transfer_inbox.append(progress)
        if progress.recipient_identity:
            self._recipient = progress.recipient_identity
        if progress.state in TRANSFER_END_STATES and progress.transfer_id == self._transfer_id:
            self._transfer_id = None

    @workflow.update
    async def blind_transfer(self, request: BlindTransferRequest) -> TransferView:
        """SIP REFER the caller to another number; returns the transfer's true outcome."""
        self._updated = True
        self._transfer_id, self._blind_in_flight = request.transfer_id, True
        await self._act_with(TransferActivities.create, self._transfer_record(request))
        facts = {
            "transferId": request.transfer_id,
            "type": "blind",
            "to": request.to,
            "metadata": request.request.get("metadata") or {},
        }
        await self._record("transfer", "transfer.blind.started", detail=request.to, facts=facts)
        outcome = await self._refer(request)
        self._transferred_away = outcome.succeeded  # before any await: departures now mean this
        self._transfer_id, self._blind_in_flight = None, False
        await self._record(
            "transfer",
            "transfer.blind.completed" if outcome.succeeded else "transfer.blind.failed",
            sip_status_code=outcome.sip_status_code,
            sip_status=outcome.sip_status,
            detail=outcome.detail or outcome.outcome,
            facts={**facts, "outcome": outcome.outcome},
        )
        if outcome.succeeded:
            self._end_request = self._end_request or "transferred"
        elif self._hangup_during_transfer:
            self._end_request = self._end_request or self._hangup_during_transfer
        else:
            await self._tell_agent("transfer.failed", request.transfer_id, outcome)
        return TransferView(
            transfer_id=request.transfer_id, state="completed" if outcome.succeeded else "failed"
        )

    @blind_transfer.validator
    def _blind_allowed(self, request: BlindTransferRequest) -> None:
        self._require_transferable()

    @workflow.update
    async def warm_transfer(self, request: WarmTransferRequest) -> TransferView:
        """Start screening destinations on consultation legs (WarmTransferWorkflow)."""
        self._updated = True
        plan = request.plan
        self._transfer_id = plan.transfer_id
        previous = self._warm_transfer
        if previous is not None:  # it reported its end; let it finish before the next starts
            await workflow.wait_condition(previous.done)
        await self._act_with(TransferActivities.create, self._transfer_record(request))
        await self._record(
            "transfer",
            "transfer.warm.started",
            detail=", ".join(d.to for d in plan.destinations),
            facts={
                "transferId": plan.transfer_id,
                "type": "warm",
                "destinations": [d.model_dump() for d in plan.destinations],
            },
        )
        self._warm_transfer_id = plan.transfer_id
        self._warm_transfer = await workflow.start_child_workflow(
            WarmTransferWorkflow.run,
            plan,
            id=f"transfer-{plan.transfer_id}",
            static_summary=f"warm transfer of {self._session_id}",
        )
        return TransferView(transfer_id=plan.transfer_id, state="dialing")

    @warm_transfer.validator
    def _warm_allowed(self, request: WarmTransferRequest) -> None:
        self._require_transferable()

    def _require_not_over(self, *, ending_counts: bool = False) -> None:
        """Refuse an update once the call has ended (or, when `ending_counts`, is ending)."""
        shown = self._shown_status
        if shown in TERMINAL_STATUSES:
            raise ApplicationError(f"the call has already {shown}", type="CallEnded")
        if ending_counts and self._end_request is not None:
            raise ApplicationError("the call is being hung up", type="CallEnded")

    def _require_transferable(self) -> None:
        self._require_not_over(ending_counts=True)
        if self._shown_status != "in-progress":
            raise ApplicationError(
                f"the call is {self._shown_status}, not in progress", type="CallNotInProgress"
            )
        if self._transfer_id is not None:
            raise ApplicationError(
                f"transfer {self._transfer_id} is still running", type="TransferInProgress"
            )
        if self._recipient is not None:
            raise ApplicationError(
                "the caller was already transferred to a person", type="CallTransferred"
            )

    @workflow.query
    def status(self) -> CallView:
        return self._view()

    def _view(self) -> CallView:
        return CallView(session_id=self._session_id, status=self._status)

    @property
    def _shown_status(self) -> CallStatus:
        """The status clients read: a record in flight may have moved the call row already."""
        return self._status_being_recorded or self._status

    @property
    def _terminal(self) -> bool:
        return self._status in TERMINAL_STATUSES

    # --- the call --------------------------------------------------------------------------

    @workflow.run
    async def run(self, request: CallInput) -> CallResult:
        plan = await self._prepare()
        self._plan = plan
        if not self._lean:  # since then, the start sets them
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
        if not self._fewer_steps:
            await self._record("trunkline", "call.queued", detail=plan.summary)
        if plan.has_pre_call_webhook:
            await self._pre_call()
        if plan.direction == "outbound":
            await self._connect_outbound(plan)
        else:
            await self._connect_inbound()
        if not self._terminal:
            await self._converse(plan)
        await self._settle_updates()
        await self._settle_transfer()
        await self._settle_recording()
        await self._close()
        code = self._failure[1] if self._failure else None
        return CallResult(
            session_id=self._session_id,
            status=self._status,
            failure_cause=self._failure[0] if self._failure else None,
            sip_status_code=code,
            ended_reason=self._ended_reason,
        )

    async def _prepare(self) -> CallPlan:
        """Resolve the call's config; since `FEWER_STEPS` the same step records `call.queued`."""
        if not self._fewer_steps:
            return await self._step(CallActivities.prepare)
        prepared: PreparedCall = await self._step(CallActivities.prepare_and_queue)
        self._sequence = 1 + prepared.queued.absorbed
        return prepared.plan

    async def _close(self) -> None:
        """Hang up, record what came meanwhile, start the report; since `FEWER_STEPS` what came
        is recorded first and hanging up and starting the report are one step."""
        if not self._fewer_steps:
            await self._step(CallActivities.hang_up)
            await self._drain_inbox()
            if self._lean or workflow.patched("post-call-report"):
                await self._step(CallActivities.start_report)
            return
        await self._drain_inbox()
        await self._step(CallActivities.close)
        await self._drain_inbox()

    async def _pre_call(self) -> None:
        outcome = await self._act(CallActivities.pre_call, attempts=1)
        detail = outcome.detail or (
            f"applied {outcome.applied or 'nothing'}; ignored {outcome.ignored or 'nothing'}"
            + (f"; invalid {outcome.invalid}" if outcome.invalid else "")
        )
        await self._record("trunkline", f"pre_call.{outcome.outcome}", detail=detail)

    async def _connect_outbound(self, plan: CallPlan) -> None:
        await self._step_then_record(
            CallActivities.open_room,
            CallActivities.open_room_then_record,
            "call.dialing",
            "dialing",
        )
        await self._move("trunkline", "call.dialing", "dialing")  # before `FEWER_STEPS`
        dial = workflow.start_activity_method(
            CallActivities.dial,
            CallInput(session_id=self._session_id),
            start_to_close_timeout=timedelta(seconds=plan.ringing_timeout_seconds) + DIAL_MARGIN,
            heartbeat_timeout=HEARTBEAT,
            retry_policy=DIAL_RETRY,
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
            await self._ring_before_answer()
            await self._move("trunkline", "call.answered", "in-progress")

    async def _dial_failed(self, error: ActivityError) -> None:
        failure = dial_failure(error)
        self._failure = (failure.cause, failure.sip_status_code, failure.sip_status)
        await self._finish("failed", failure.cause, detail=failure.detail)

    async def _connect_inbound(self) -> None:
        await self._step(CallActivities.open_room)
        try:
            await self._step_then_record(
                CallActivities.bridge,
                CallActivities.bridge_then_record,
                "call.bridged",
                "in-progress",
            )
        except (ActivityError, ApplicationError) as error:
            if _failure_type(error) == "CallerHungUp":
                await self._finish("ended", "caller_hung_up")
                return
            raise
        await self._move("trunkline", "call.bridged", "in-progress")  # before `FEWER_STEPS`

    async def _converse(self, plan: CallPlan) -> None:
        """In progress: follow events, AMD and requests until the call ends."""
        if (self._lean or workflow.patched("record-calls")) and plan.record:
            self._recording = self._start_recording()
        ends_at = workflow.now() + timedelta(seconds=plan.max_duration_seconds)
        amd_until = (
            workflow.now() + timedelta(seconds=plan.amd.timeout_seconds) if plan.amd else None
        )
        self._quiet_since = workflow.now()
        while not self._terminal:
            due = [ends_at, self._watchdog_due(plan)]
            if amd_until and not self._amd_decided:
                due.append(amd_until)
            if await self._wait_for_news(min(due)):
                await self._on_timer(plan, ends_at, amd_until)
                continue
            self._quiet_probes, self._quiet_since = 0, workflow.now()
            await self._drain_inbox()
            await self._drain_transfer_inbox()
            await self._reap_warm_transfer()
            while self._agent_verdicts and not self._terminal:
                await self._on_verdict(plan, self._agent_verdicts.pop(0), "agent")
            if self._end_request and not self._terminal:
                await self._finish("ended", self._end_request)
        if self._alarm is not None and not self._alarm.done():
            self._alarm.cancel()

    def _start_recording(self) -> Any:
        """Start recording alongside the conversation: a local activity since `LEAN_CALLS`."""
        start = (
            workflow.start_local_activity_method if self._lean else workflow.start_activity_method
        )
        return start(
            CallActivities.start_recording,
            CallInput(session_id=self._session_id),
            start_to_close_timeout=QUICK,
            retry_policy=RetryPolicy(maximum_attempts=3),
        )

    def _has_news(self) -> bool:
        return (
            bool(self._inbox or self._transfer_inbox or self._agent_verdicts)
            or self._end_request is not None
            or self._warm_transfer_vanished()
        )

    async def _wait_for_news(self, until: datetime) -> bool:
        """Wait for something to act on, or until `until`; True when the time came first.

        Since `LEAN_CALLS` one alarm stays set across news (deadlines only move later), so a
        busy call does not start and cancel a timer per event; it may wake early, and
        `_on_timer` then finds nothing due."""
        wait = max(until - workflow.now(), timedelta(milliseconds=1))
        if not self._lean:
            try:
                await workflow.wait_condition(self._has_news, timeout=wait)
            except TimeoutError:
                return True
            return False
        if self._alarm is None or self._alarm.done():
            self._alarm = asyncio.create_task(workflow.sleep(wait, summary="next check"))
        alarm = self._alarm
        await workflow.wait_condition(lambda: self._has_news() or alarm.done())
        return not self._has_news()

    async def _settle_recording(self) -> None:
        """Let the recording's start finish before the room closes (its retries bound the wait);
        a call LiveKit could not record went on unrecorded, and the events say so."""
        if self._recording is None:
            return
        try:
            await self._recording
        except (ActivityError, ApplicationError) as error:  # a local activity's comes bare
            await self._record("trunkline", "recording.failed", detail=str(_raised(error)))

    def _watchdog_due(self, plan: CallPlan) -> datetime:
        """When LiveKit is asked about a quiet call: the watchdog period after the last news or
        probe, doubled for every probe that found the phone still there, up to `WATCHDOG_MAX`.
        Before `LEAN_CALLS`, a full period from now, on every wait."""
        first = timedelta(seconds=plan.watchdog_seconds)
        if not self._lean:
            return workflow.now() + first
        return self._quiet_since + min(first * 2**self._quiet_probes, max(first, WATCHDOG_MAX))

    async def _on_timer(self, plan: CallPlan, ends_at: Any, amd_until: Any) -> None:
        now = workflow.now()
        if now >= ends_at:
            await self._finish("ended", "max_duration")
        elif amd_until and not self._amd_decided and now >= amd_until:
            self._amd_decided = True
            await self._record("trunkline", "amd.timeout", detail="no verdict; assuming a person")
        elif not self._lean or now >= self._watchdog_due(plan):  # else news moved it later
            probe: ProbeResult = await self._step(CallActivities.probe)
            self._quiet_probes, self._quiet_since = self._quiet_probes + 1, workflow.now()
            if not probe.phone_present:
                self._phone_gone = True
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
        if status == "in-progress" and self._status != "in-progress":
            await self._ring_before_answer()
        await self._record(
            signal.provider,
            signal.event_type,
            status=status,
            sip_status_code=signal.sip_status_code,
            sip_status=signal.sip_status,
            provider_event_id=signal.provider_event_id,
            detail=signal.detail,
        )
        if signal.machine_detection and self._plan and not self._terminal:
            await self._on_verdict(self._plan, signal.machine_detection, "carrier")
        if self._status != "in-progress":
            return
        if phone_left(signal):
            self._phone_gone = True
            reason = self._phone_hangup_reason(signal)
            if self._transferred_away:
                await self._finish("ended", "transferred")
            elif self._blind_in_flight:  # the REFER's outcome decides what this departure means
                self._hangup_during_transfer = reason
            else:
                await self._finish("ended", reason)
        elif recipient_left(signal):
            await self._finish("ended", "recipient_hung_up")

    async def _ring_before_answer(self) -> None:
        """An outbound call answered before the carrier's ring reached us (under load) rang all
        the same: its status goes through `ringing`, with the carrier's ring when it is waiting
        in the inbox, else with one of ours, so every answered call reports the same path."""
        if (
            self._status == "dialing"
            and self._plan is not None
            and self._plan.direction == "outbound"
            and workflow.patched(RING_BEFORE_ANSWER)
        ):
            ring = next((s for s in self._inbox if s.event_type == "call.initiated"), None)
            if ring:
                self._inbox.remove(ring)
                await self._on_provider_event(ring)
            else:
                detail = "answered before the carrier's ring arrived"
                await self._record("trunkline", "call.ringing", status="ringing", detail=detail)

    def _phone_hangup_reason(self, signal: ProviderSignal) -> str:
        """`caller_hung_up` (inbound) or `callee_hung_up` (outbound), whichever provider told
        us first; before this patch the reason depended on which one that was."""
        if (self._lean or workflow.patched("hangup-reason-by-party")) and self._plan:
            return "caller_hung_up" if self._plan.direction == "inbound" else "callee_hung_up"
        return f"{signal.hangup_source or 'remote'}_hung_up"

    def _status_after(self, signal: ProviderSignal) -> CallStatus:
        if self._terminal:
            return self._status
        if signal.event_type == "call.initiated" and self._status == "dialing":
            return "ringing"
        answered = signal.event_type in ("call.answered", "call.bridged")
        if (
            answered
            and STATUS_RANK[self._status] < STATUS_RANK["in-progress"]
            and self._status != "queued"
        ):
            return "in-progress"
        return self._status

    # --- transfers -------------------------------------------------------------------------

    async def _refer(self, request: BlindTransferRequest) -> TransferOutcome:
        """REFER once; when its answer is lost, what LiveKit shows decides what is reported."""
        try:
            return await workflow.execute_activity_method(
                TransferActivities.blind,
                request,
                start_to_close_timeout=timedelta(seconds=request.ringing_timeout_seconds)
                + DIAL_MARGIN,
                heartbeat_timeout=HEARTBEAT,
                retry_policy=RetryPolicy(maximum_attempts=1),
            )
        except ActivityError as error:
            probe: ProbeResult = await self._step(CallActivities.probe)
            if probe.phone_present:
                outcome = TransferOutcome(succeeded=False, outcome="error", detail=str(error))
            else:  # moved by the REFER, or hung up: either way the caller is not ours now
                self._hangup_during_transfer = self._hangup_during_transfer or "phone_leg_gone"
                outcome = TransferOutcome(
                    succeeded=False,
                    outcome="unknown",
                    detail=f"the REFER's answer was lost and the caller has left: {error}",
                )
            await self._act_with(
                TransferActivities.set_state,
                TransferStateChange(
                    transfer_id=request.transfer_id, state="failed", detail=outcome.detail
                ),
            )
            return outcome

    def _transfer_record(self, request: BlindTransferRequest | WarmTransferRequest) -> Any:
        if isinstance(request, BlindTransferRequest):
            transfer_id, kind, state = request.transfer_id, "blind", "transferring"
        else:
            transfer_id, kind, state = request.plan.transfer_id, "warm", "dialing"
        return TransferRecord(
            transfer_id=transfer_id,
            session_id=self._session_id,
            kind=kind,  # type: ignore[arg-type]
            requested_by=request.requested_by,
            state=state,  # type: ignore[arg-type]
            request=request.request,
        )

    async def _tell_agent(self, notice: str, transfer_id: str, outcome: TransferOutcome) -> None:
        await self._act_with(
            TransferActivities.notify_agent,
            AgentNotice(
                session_id=self._session_id,
                type=notice,
                transfer_id=transfer_id,
                instructions=RETURN_INSTRUCTIONS,
                facts={"outcome": outcome.outcome, "sipStatusCode": outcome.sip_status_code},
            ),
        )

    async def _drain_transfer_inbox(self) -> None:
        while self._transfer_inbox:
            progress = self._transfer_inbox.pop(0)
            await self._record(
                "transfer",
                progress.event_type,
                sip_status_code=progress.sip_status_code,
                sip_status=progress.sip_status,
                detail=progress.detail,
                facts={**progress.facts, "state": progress.state},
            )
            if progress.end_call and self._end_request is None:
                self._end_request = "transfer_fallback"

    async def _settle_updates(self) -> None:
        """The call is over: let requests in flight finish and their answers go out.

        An update answered in the workflow task that also runs the closing local activities and
        completes the call fails ("unexpected workflow task failure"): since `LEAN_CALLS`, a
        moment's timer ends that task first."""
        await workflow.wait_condition(workflow.all_handlers_finished)
        if self._lean and self._updated:
            await workflow.sleep(timedelta(milliseconds=1), summary="answer updates first")

    async def _settle_transfer(self) -> None:
        """Tell a running warm transfer the call is over and wait for it to wind up, so that
        closing the call never cuts a transfer short."""
        child = self._warm_transfer
        if child is None:
            return
        if self._warm_transfer_running() and not child.done():
            with contextlib.suppress(FailureError):  # it finished meanwhile
                await child.signal(
                    WarmTransferWorkflow.call_ended, CallEnded(caller_left=self._phone_gone)
                )
        while not child.done():
            await workflow.wait_condition(lambda: bool(self._transfer_inbox) or child.done())
            await self._drain_transfer_inbox()
        await self._drain_transfer_inbox()

    def _warm_transfer_running(self) -> bool:
        return self._transfer_id is not None and self._transfer_id == self._warm_transfer_id

    def _warm_transfer_vanished(self) -> bool:
        """The warm transfer child is done without having reported its end (it failed)."""
        child = self._warm_transfer
        return child is not None and child.done() and self._warm_transfer_running()

    async def _reap_warm_transfer(self) -> None:
        """A warm transfer that failed frees the call for another one, and says so."""
        if not self._warm_transfer_vanished():
            return
        self._transfer_id = None
        await self._record("transfer", "transfer.failed", detail="the transfer workflow failed")

    # --- recording -------------------------------------------------------------------------

    async def _step_then_record(
        self, step: Any, step_and_record: Any, event_type: str, status: CallStatus
    ) -> None:
        """A step, and the event that follows it (`call.dialing`, `call.bridged`): one local
        activity since `FEWER_STEPS`; before, the caller records it after the step."""
        if not self._fewer_steps:
            await self._step(step)
            return
        await self._record("trunkline", event_type, status=status, step=step_and_record)

    async def _move(self, source: str, event_type: str, status: CallStatus) -> None:
        if STATUS_RANK[status] > STATUS_RANK[self._status]:
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
        step: Any = CallActivities.record_event,
        **facts: Any,
    ) -> None:
        """Store one call event, moving the status; the activity sends its `call.status`.

        `step` is the local activity that stores it: since `FEWER_STEPS` the one that opens the
        room (or bridges the caller) stores the event that follows, and nothing when it fails."""
        if not self._lean:
            await self._record_as_activity(source, event_type, status, facts)
            return
        async with self._recording_events:  # one at a time: each may take sequence numbers
            new_status = status or self._status
            changed = new_status != self._status
            self._sequence += 1
            record = self._event_record(source, event_type, new_status, facts)
            record.absorb = True
            self._status_being_recorded = new_status
            try:
                outcome: RecordOutcome = await workflow.execute_local_activity_method(
                    step, record, start_to_close_timeout=QUICK, retry_policy=RETRY
                )
            except (ActivityError, ApplicationError):
                self._sequence, self._status_being_recorded = self._sequence - 1, None
                raise
            self._sequence += outcome.absorbed
            stored = outcome.status  # ahead of ours after a lost result of a failed task
            if stored and STATUS_RANK[stored] > STATUS_RANK[new_status]:
                new_status, changed = stored, True
            self._status, self._status_being_recorded = new_status, None
            if changed and new_status in INDEXED_STATUSES:
                workflow.upsert_search_attributes([STATUS.value_set(new_status)])

    async def _record_as_activity(
        self, source: str, event_type: str, status: CallStatus | None, facts: dict[str, Any]
    ) -> None:
        """How calls started before `LEAN_CALLS` record their events."""
        new_status = status or self._status
        changed = new_status != self._status
        self._sequence += 1
        record = self._event_record(source, event_type, new_status, facts)
        await self._act_with(CallActivities.record_event, record)
        self._status = new_status
        if changed:
            workflow.upsert_search_attributes([STATUS.value_set(new_status)])

    def _event_record(
        self, source: str, event_type: str, status: CallStatus, facts: dict[str, Any]
    ) -> CallEventRecord:
        return CallEventRecord(
            session_id=self._session_id,
            sequence=self._sequence,
            source=source,  # type: ignore[arg-type]
            type=event_type,
            status=status,
            **facts,
        )

    async def _step(self, activity: Any) -> Any:
        """A quick step on the call's own database rows or a provider's API: a local activity
        since `LEAN_CALLS` (no activity-task round trip through Temporal), an activity before."""
        if not self._lean:
            return await self._act(activity)
        return await workflow.execute_local_activity_method(
            activity,
            CallInput(session_id=self._session_id),
            start_to_close_timeout=QUICK,
            retry_policy=RETRY,
        )

    async def _act(self, activity: Any, *, attempts: int | None = None) -> Any:
        """Run one of the call's activities with the call's id."""
        return await self._act_with(
            activity, CallInput(session_id=self._session_id), attempts=attempts
        )

    async def _act_with(self, activity: Any, argument: Any, *, attempts: int | None = None) -> Any:
        retry = RETRY if attempts is None else RetryPolicy(maximum_attempts=attempts)
        return await workflow.execute_activity_method(
            activity, argument, start_to_close_timeout=QUICK, retry_policy=retry
        )


def _raised(error: ActivityError | ApplicationError) -> BaseException:
    """What the activity raised: an activity error's cause; a local activity's arrives bare."""
    return (error.cause or error) if isinstance(error, ActivityError) else error


def _failure_type(error: ActivityError | ApplicationError) -> str | None:
    raised = _raised(error)
    return raised.type if isinstance(raised, ApplicationError) else None
