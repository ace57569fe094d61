"""WebhookLaneWorkflow: a lane of customer webhooks whose head failed, retried for days.

The worker sends each lane's deliveries at once and in order; the first failure hands the lane
here (`webhooks-{lane}`). The head is retried on `RETRY_DELAYS` (longer when `Retry-After` asks)
until a 2xx, a 410 or the last attempt; the deliveries behind it follow in order, and the empty
lane goes back to the worker.
"""

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from trunkline.workflow_io import LaneAttemptInput, LaneInput, LaneResult, LaneStep

WAKE_AFTER_RELEASE = "wake-after-release"
"""Since this patch, a wake that came while the lane was released keeps the workflow going."""
# An attempt posts once per try; these retries cover only the worker or database failing around it,
# and are bounded so an attempt that keeps failing that way cannot re-POST forever.
_ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


@workflow.defn
class WebhookLaneWorkflow:
    @workflow.init
    def __init__(self, request: LaneInput) -> None:
        self._wake = False

    @workflow.signal
    def wake(self) -> None:
        """Attempt at once instead of waiting for the next scheduled attempt."""
        self._wake = True

    @workflow.run
    async def run(self, request: LaneInput) -> LaneResult:
        failures, wait, delivered = request.failures, request.wait_seconds, 0
        while True:
            await self._sleep(wait)
            step: LaneStep = await self._act(
                WebhookActivities.attempt_lane_head,
                LaneAttemptInput(lane=request.lane, failures=failures),
            )
            if step.empty:
                released = await self._act(WebhookActivities.release_lane, request.lane)
                if released and not self._woken_since_release():
                    return LaneResult(lane=request.lane, delivered=delivered)
                failures, wait = 0, 0.0
                continue
            wait = step.wait_seconds
            if step.succeeded:
                failures, delivered = 0, delivered + 1
            elif not step.busy and not step.gave_up:
                failures += 1
            if workflow.info().is_continue_as_new_suggested():
                workflow.continue_as_new(
                    LaneInput(lane=request.lane, failures=failures, wait_seconds=wait)
                )

    def _woken_since_release(self) -> bool:
        """A redelivery asked for while the lane was being released (it found the lane still
        ours, so it only woke us): go on and send it, rather than leave it to the sweep."""
        return self._wake and workflow.patched(WAKE_AFTER_RELEASE)

    async def _sleep(self, seconds: float) -> None:
        """Wait until the next attempt is due, or until asked to retry now."""
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await workflow.wait_condition(
                    lambda: self._wake, timeout=timedelta(seconds=seconds)
                )
        self._wake = False

    @staticmethod
    async def _act(activity: object, argument: object) -> object:
        return await workflow.execute_activity_method(
            activity,  # type: ignore[arg-type]
            argument,
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=_ACTIVITY_RETRY,
        )
