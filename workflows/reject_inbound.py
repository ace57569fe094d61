"""RejectInboundCallWorkflow: refuse a carrier leg to a number that takes no inbound calls."""

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.calls import CallActivities
    from trunkline.workflow_io import RejectInput


@workflow.defn
class RejectInboundCallWorkflow:
    """Tells the carrier no, with the cause the caller hears; retried until the carrier hears it."""

    @workflow.run
    async def run(self, request: RejectInput) -> None:
        workflow.set_current_details(f"Rejecting a call to {request.to_number}: {request.reason}")
        await workflow.execute_activity_method(
            CallActivities.reject,
            request,
            start_to_close_timeout=timedelta(seconds=15),
            retry_policy=RetryPolicy(maximum_interval=timedelta(seconds=10), maximum_attempts=10),
        )
