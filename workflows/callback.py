"""CallbackWorkflow: sleep until a scheduled callback is due, then place the call.

Cancelling (the API, or the same number calling in) marks the row and signals `cancel`; a
dispatch signals `dispatch` to place the call now. Either way the row decides, so a cancel that
races the wake-up either stops the call or finds it placed.
"""

import contextlib
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.callbacks import CallbackActivities
    from trunkline.workflow_io import CallbackInput, CallbackPlan, CallbackResult

_QUICK = timedelta(seconds=30)
_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))


@workflow.defn
class CallbackWorkflow:
    @workflow.init
    def __init__(self, request: CallbackInput) -> None:
        self._woken = False

    @workflow.signal
    def cancel(self) -> None:
        """The callback was cancelled (its row says so already): stop waiting."""
        self._woken = True

    @workflow.signal
    def dispatch(self) -> None:
        """Place the call now rather than at its time."""
        self._woken = True

    @workflow.run
    async def run(self, request: CallbackInput) -> CallbackResult:
        plan: CallbackPlan = await workflow.execute_activity_method(
            CallbackActivities.plan,
            request,
            start_to_close_timeout=_QUICK,
            retry_policy=_RETRY,
        )
        if plan.fire_at is not None:
            workflow.set_current_details(f"calls at {plan.fire_at.isoformat()}")
            delay = plan.fire_at - workflow.now()
            if delay > timedelta(0):
                with contextlib.suppress(TimeoutError):
                    await workflow.wait_condition(lambda: self._woken, timeout=delay)
        return await workflow.execute_activity_method(
            CallbackActivities.place,
            request,
            start_to_close_timeout=_QUICK,
            retry_policy=_RETRY,
        )
