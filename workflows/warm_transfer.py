"""WarmTransferWorkflow: screen each destination on a consultation leg before bridging the caller.

A child of the call. For each destination in order it opens a consultation room with a
screening agent, dials the destination into it, watches for voicemail, and waits for a decision:
complete (bridge), cancel (with or without trying the next one) or decline. Each step goes to the
call workflow as a `transfer_progress` signal, which records it as a call event.
"""

import contextlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from activities.transfers import TransferActivities
    from trunkline.providers.errors import SIP_REASON_PHRASES
    from trunkline.transfers import (
        HOLD_INSTRUCTIONS,
        RETURN_INSTRUCTIONS,
        TAKE_MESSAGE_INSTRUCTIONS,
    )
    from trunkline.workflow_io import (
        TRANSFER_END_STATES,
        AgentNotice,
        AttemptEnd,
        CallEnded,
        CancelTransfer,
        ConsultationLeg,
        ProviderSignal,
        ScreeningReport,
        TransferProgress,
        TransferState,
        TransferStateChange,
        TransferView,
        WarmTransferPlan,
    )
    from workflows.activity_options import (
        DIAL_MARGIN,
        DIAL_RETRY,
        HEARTBEAT,
        QUICK,
        RETRY,
        dial_failure,
    )

_DECLINED_CODE = 603

Decision = tuple[str, str | None]
"""What ends a screening: (`complete` | `cancel` | `next` | `decline`, a reason)."""
Failure = tuple[str, int | None, str | None]
"""Why an attempt did not end in a bridge: (outcome, SIP code, detail)."""


def _dial_outcome(error: ActivityError) -> Failure:
    """The attempt's outcome for a dial that failed: busy, no-answer, declined (603)…"""
    failure = dial_failure(error)
    declined = failure.sip_status_code == _DECLINED_CODE
    return ("declined" if declined else failure.cause), failure.sip_status_code, failure.detail


@workflow.defn
class WarmTransferWorkflow:
    @workflow.init
    def __init__(self, plan: WarmTransferPlan) -> None:
        self._plan = plan
        self._state: TransferState = "dialing"
        self._attempt = 0
        self._recorded_attempt = 0
        """The attempt the database shows (readers of the transfer row see this one)."""
        self._screening_open = False
        """A recipient is on the line and a decision on them is still taken."""
        self._inbox: list[ProviderSignal] = []
        self._seen_events: set[str] = set()
        self._decision: Decision | None = None
        self._verdicts: list[tuple[str, str]] = []
        self._detecting = False
        """Whether the current recipient's voicemail detection is still open."""
        self._call_over: CallEnded | None = None
        self._end_reported = False
        """The call has been told how the transfer ended (updates answer only then)."""

    # --- signals, updates, queries ---------------------------------------------------------

    @workflow.signal
    def provider_event(self, signal: ProviderSignal) -> None:
        """A provider webhook about a consultation leg; repeats are ignored."""
        if signal.provider_event_id not in self._seen_events:
            self._seen_events.add(signal.provider_event_id)
            self._inbox.append(signal)

    @workflow.signal
    def call_ended(self, ended: CallEnded) -> None:
        """From the call workflow: the call is over, so the transfer ends."""
        self._call_over = ended

    @workflow.update
    async def complete(self, report: ScreeningReport) -> TransferView:
        """Bridge the screened recipient with the caller; returns once they are together."""
        attempt = self._attempt
        self._decision = ("complete", None)
        await workflow.wait_condition(
            lambda: (
                self._end_reported
                or self._attempt != attempt
                or self._state not in ("screening", "completed")
            )
        )
        if self._state != "completed":
            raise ApplicationError(
                f"the transfer is {self._state}: the recipient was lost before bridging",
                type="TransferNotCompleted",
            )
        return self.view()

    @complete.validator
    def _complete_allowed(self, report: ScreeningReport) -> None:
        self._require_screening("complete", report)

    @workflow.update
    async def cancel(self, request: CancelTransfer) -> TransferView:
        """Hang up the current destination, then try the next one or stop."""
        attempt = self._attempt
        self._decision = ("next" if request.try_next else "cancel", request.reason)
        await workflow.wait_condition(
            lambda: self._end_reported or self._recorded_attempt > attempt
        )
        return self.view()

    @cancel.validator
    def _cancel_allowed(self, request: CancelTransfer) -> None:
        if self._state in TRANSFER_END_STATES or self._decision is not None:
            raise ApplicationError(f"the transfer is {self._state}", type="TransferNotActive")

    @workflow.update
    def decline(self, report: ScreeningReport) -> TransferView:
        """The screening agent heard the recipient decline: try the next destination."""
        self._decision = ("decline", report.reason)
        return self.view()

    @decline.validator
    def _decline_allowed(self, report: ScreeningReport) -> None:
        self._require_screening("decline", report)

    @workflow.update
    def report_voicemail(self, report: ScreeningReport) -> TransferView:
        """The screening agent's verdict on who answered: `human` or `machine`."""
        if self._detecting and report.verdict:
            self._verdicts.append((report.verdict, "agent"))
        return self.view()

    @report_voicemail.validator
    def _verdict_allowed(self, report: ScreeningReport) -> None:
        if report.verdict is None:
            raise ApplicationError("verdict must be human or machine", type="InvalidVerdict")
        self._require_screening("report a verdict on", report)

    def _require_screening(self, action: str, report: ScreeningReport) -> None:
        """A recipient is on the line, undecided, and (for an agent) it is the agent's attempt."""
        if report.attempt is not None and report.attempt != self._attempt:
            raise ApplicationError(f"attempt {report.attempt} is over", type="TransferNotActive")
        if not self._screening_open or self._decision is not None:
            raise ApplicationError(
                f"cannot {action} the transfer while it is {self._state}", type="TransferNotActive"
            )

    @workflow.query
    def view(self) -> TransferView:
        return TransferView(transfer_id=self._plan.transfer_id, state=self._state)

    # --- the transfer ----------------------------------------------------------------------

    @workflow.run
    async def run(self, plan: WarmTransferPlan) -> TransferView:
        await self._notify("transfer.hold", HOLD_INSTRUCTIONS)
        declined: set[str] = set()
        for number, destination in enumerate(plan.destinations, 1):
            if self._call_over or self._state in TRANSFER_END_STATES:
                break
            leg = ConsultationLeg(
                transfer_id=plan.transfer_id,
                session_id=plan.session_id,
                attempt=number,
                to=destination.to,
                label=destination.label,
                from_number=plan.from_number,
                ringing_timeout_seconds=plan.ringing_timeout_seconds,
            )
            if self._decision is not None:  # a cancel that came between two destinations
                if await self._cancelled_between(leg, self._decision[0]):
                    break
            elif destination.to in declined:
                await self._progress("transfer.attempt.skipped", leg, detail="declined earlier")
            elif await self._try(leg) == "declined":
                declined.add(destination.to)
        if self._state not in TRANSFER_END_STATES:
            await self._wind_up()
        return self.view()

    async def _cancelled_between(self, leg: ConsultationLeg, kind: str) -> bool:
        """Apply a cancel that no attempt took: stop (True), or skip this destination."""
        self._decision = None
        if kind == "cancel":
            await self._end("cancelled", RETURN_INSTRUCTIONS)
            return True
        self._attempt = leg.attempt
        await self._progress("transfer.attempt.skipped", leg, detail="skipped by a cancel")
        return False

    async def _try(self, leg: ConsultationLeg) -> str:
        """One destination, from dialing to its outcome (accepted, busy, voicemail, declined…)."""
        self._attempt, self._state, self._verdicts = leg.attempt, "dialing", []
        await self._act(TransferActivities.open_consultation, leg)
        await self._set_state("dialing")
        await self._progress("transfer.attempt.dialing", leg)
        failure = await self._dial(leg)
        if failure is None:
            self._begin_screening()
            await self._set_state("screening")
            await self._progress("transfer.attempt.answered", leg)
            failure = await self._screen(leg)
            self._screening_open = False
            if failure is None:
                return "accepted"
        outcome, code, detail = failure
        await self._act(
            TransferActivities.end_consultation,
            AttemptEnd(
                leg=leg,
                outcome=outcome,
                sip_status_code=code,
                sip_status=SIP_REASON_PHRASES.get(code or 0),
                detail=detail,
            ),
        )
        await self._progress(f"transfer.attempt.{outcome}", leg, code=code, detail=detail)
        stop = self._decision is not None and self._decision[0] == "cancel"
        self._decision = None
        if stop:
            await self._end("cancelled", RETURN_INSTRUCTIONS)
        return outcome

    async def _dial(self, leg: ConsultationLeg) -> Failure | None:
        """Ring the destination; None once answered, else why not (outcome, SIP code, detail)."""
        dial = workflow.start_activity_method(
            TransferActivities.dial_consultation,
            leg,
            start_to_close_timeout=timedelta(seconds=leg.ringing_timeout_seconds) + DIAL_MARGIN,
            heartbeat_timeout=HEARTBEAT,
            cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
            retry_policy=DIAL_RETRY,
        )
        await workflow.wait_condition(
            lambda: dial.done() or self._call_over is not None or self._decision is not None
        )
        if not dial.done():
            dial.cancel()  # and wait until it stopped, so the leg it may have placed is known
            with contextlib.suppress(ActivityError):
                await dial
            return self._interrupted()
        try:
            await dial
        except ActivityError as error:
            return _dial_outcome(error)
        return None

    def _interrupted(self) -> Failure:
        """The outcome of an attempt cut short by the end of the call or a decision."""
        if self._call_over:
            if self._call_over.caller_left:
                return "caller_hung_up", None, "the caller hung up"
            return "call_ended", None, "the call was ended"
        kind, reason = self._decision or ("cancel", None)
        if kind == "decline":
            return "declined", None, reason or "declined when screened"
        tried_next = "tried the next destination" if kind == "next" else None
        return "cancelled", None, reason or tried_next

    def _begin_screening(self) -> None:
        """Take decisions and verdicts from the moment the recipient answers, before the state
        reaches the database: whoever reads `screening` there may act on it at once."""
        self._state, self._screening_open = "screening", True
        self._detecting = self._plan.voicemail_mode != "off"

    async def _screen(self, leg: ConsultationLeg) -> Failure | None:
        """The recipient is on the line: watch for voicemail, and wait for a decision."""
        plan = self._plan
        detect_until = workflow.now() + timedelta(seconds=plan.voicemail_timeout_seconds)
        decide_until = workflow.now() + timedelta(seconds=plan.decision_timeout_seconds)
        while True:
            deadline = min(decide_until, detect_until) if self._detecting else decide_until
            try:
                await workflow.wait_condition(
                    lambda: (
                        bool(self._inbox or self._verdicts)
                        or self._call_over is not None
                        or self._decision is not None
                    ),
                    timeout=max(deadline - workflow.now(), timedelta(milliseconds=1)),
                )
            except TimeoutError:
                if workflow.now() >= decide_until:
                    return "no_decision", None, "nobody decided in time"
                self._detecting = False  # no verdict in time: a person, presumably
                continue
            if self._recipient_left(leg):
                return "hung_up", None, "the recipient hung up while screened"
            if self._machine_heard():
                return "voicemail", None, "voicemail answered"
            if self._call_over or (self._decision and self._decision[0] != "complete"):
                return self._interrupted()
            if self._decision:
                return await self._bridge(leg)

    def _recipient_left(self, leg: ConsultationLeg) -> bool:
        """Take the consultation leg's events; True when the recipient hung up."""
        left = False
        while self._inbox:
            signal = self._inbox.pop(0)
            if signal.consultation_room != leg.room_name:
                continue  # a late event of an earlier attempt's leg
            if signal.machine_detection and self._detecting:
                self._verdicts.append((signal.machine_detection, "carrier"))
            left = left or signal.event_type == "call.hangup"
            left = left or (
                signal.event_type == "participant_left"
                and signal.participant_identity == leg.identity
            )
        return left

    def _machine_heard(self) -> bool:
        """Take the verdicts; the first that counts decides (the carrier's always counts)."""
        verdicts, self._verdicts = self._verdicts, []
        counted = [
            verdict
            for verdict, reporter in verdicts
            if reporter == "carrier" or self._plan.voicemail_mode == "agent"
        ]
        if not self._detecting or not counted:
            return False
        self._detecting = False
        return counted[0] == "machine"

    async def _bridge(self, leg: ConsultationLeg) -> Failure | None:
        """Move the recipient in with the caller; a failure is this attempt's outcome."""
        try:
            await workflow.execute_activity_method(
                TransferActivities.bridge,
                leg,
                start_to_close_timeout=QUICK,
                retry_policy=RetryPolicy(
                    initial_interval=timedelta(seconds=1),
                    maximum_attempts=5,
                    non_retryable_error_types=["BridgeFailed"],
                ),
            )
        except ActivityError as error:
            return "bridge_failed", None, str(error.cause or error)
        await self._set_state("completed")
        await self._progress(
            "transfer.completed", leg, state="completed", recipient_identity=leg.identity
        )
        return None

    async def _wind_up(self) -> None:
        """No destination took the call: the call ended, or the fallback applies."""
        if self._call_over:
            state: TransferState = "caller_hung_up" if self._call_over.caller_left else "call_ended"
            await self._set_state(state)
            await self._progress(f"transfer.{state}", None, state=state)
            return
        fallback = self._plan.fallback
        await self._set_state("exhausted", fallback=fallback)
        if fallback == "take_message":
            await self._notify(
                "transfer.take_message",
                TAKE_MESSAGE_INSTRUCTIONS,
                {"transferId": self._plan.transfer_id},
            )
        elif fallback == "return_to_agent":
            await self._notify("transfer.returned", RETURN_INSTRUCTIONS)
        await self._progress(
            "transfer.fallback",
            None,
            state="exhausted",
            detail=fallback,
            end_call=fallback == "hangup",
        )

    async def _end(self, state: TransferState, instructions: str) -> None:
        await self._set_state(state)
        await self._notify("transfer.returned", instructions)
        await self._progress(f"transfer.{state}", None, state=state)

    # --- records ---------------------------------------------------------------------------

    async def _set_state(self, state: TransferState, *, fallback: Any = None) -> None:
        await self._act(
            TransferActivities.set_state,
            TransferStateChange(
                transfer_id=self._plan.transfer_id,
                state=state,
                current_attempt=self._attempt or None,
                fallback_applied=fallback,
            ),
        )
        self._recorded_attempt = self._attempt
        self._state = state

    async def _progress(
        self,
        event_type: str,
        leg: ConsultationLeg | None,
        *,
        state: TransferState | None = None,
        code: int | None = None,
        detail: str | None = None,
        recipient_identity: str | None = None,
        end_call: bool = False,
    ) -> None:
        """Tell the call workflow, which records the step as a call event and status webhook."""
        facts: dict[str, Any] = {"transferId": self._plan.transfer_id, "type": "warm"}
        if leg:
            facts.update(attempt=leg.attempt, to=leg.to, label=leg.label)
        handle = workflow.get_external_workflow_handle(f"call-{self._plan.session_id}")
        await handle.signal(
            "transfer_progress",
            TransferProgress(
                transfer_id=self._plan.transfer_id,
                event_type=event_type,
                state=state or self._state,
                detail=detail,
                sip_status_code=code,
                sip_status=SIP_REASON_PHRASES.get(code or 0),
                facts=facts,
                recipient_identity=recipient_identity,
                end_call=end_call,
            ),
        )
        self._end_reported = self._end_reported or (state or self._state) in TRANSFER_END_STATES

    async def _notify(
        self, notice_type: str, instructions: str, facts: dict[str, Any] | None = None
    ) -> None:
        await self._act(
            TransferActivities.notify_agent,
            AgentNotice(
                session_id=self._plan.session_id,
                type=notice_type,
                transfer_id=self._plan.transfer_id,
                instructions=instructions,
                facts=facts or {},
            ),
        )

    async def _act(self, activity: Any, argument: Any) -> Any:
        return await workflow.execute_activity_method(
            activity, argument, start_to_close_timeout=QUICK, retry_policy=RETRY
        )
