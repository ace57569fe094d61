"""WebhookDeliveryWorkflow: one signed customer webhook, retried for more than three days."""

import contextlib
from datetime import datetime, timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.common import RetryPolicy, WorkflowIDConflictPolicy, WorkflowIDReusePolicy

with workflow.unsafe.imports_passed_through():
    from activities.webhooks import WebhookActivities
    from trunkline.workflow_io import (
        DeliveryStatus,
        WebhookAttemptInput,
        WebhookAttemptOutcome,
        WebhookDeliveryInput,
        WebhookDeliveryResult,
        WebhookDeliveryUpdate,
    )

RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
]
"""Waits between attempts: the first is immediate, the last comes about 3 days and 3 hours later."""

MAX_RETRY_AFTER = timedelta(hours=24)
GONE = 410

# An attempt posts once per try; these retries cover only the worker or database failing around it,
# and are bounded so an attempt that keeps failing that way cannot re-POST forever.
_ACTIVITY_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(minutes=1),
    maximum_attempts=5,
)


@workflow.defn
class WebhookDeliveryWorkflow:
    """Attempts on `RETRY_DELAYS` (longer when `Retry-After` asks) until a 2xx or a 410."""

    def __init__(self) -> None:
        self._retry_now = False

    @workflow.signal
    def retry_now(self) -> None:
        """Attempt at once instead of waiting for the next scheduled attempt."""
        self._retry_now = True

    @workflow.run
    async def run(self, request: WebhookDeliveryInput) -> WebhookDeliveryResult:
        attempts = 0
        while True:
            attempts += 1
            number = request.first_attempt + attempts - 1
            outcome = await self._attempt(request.delivery_id, number)
            if outcome.succeeded or outcome.status_code == GONE or attempts > len(RETRY_DELAYS):
                break
            wait = max(RETRY_DELAYS[attempts - 1], _retry_after(outcome))
            await self._record(request.delivery_id, "pending", workflow.now() + wait)
            await self._wait(wait)
        status: DeliveryStatus = "succeeded" if outcome.succeeded else "failed"
        await self._record(request.delivery_id, status)
        return WebhookDeliveryResult(
            delivery_id=request.delivery_id, status=status, attempts=attempts
        )

    async def _wait(self, wait: timedelta) -> None:
        """Sleep until the next attempt is due, or until asked to retry now."""
        with contextlib.suppress(TimeoutError):
            await workflow.wait_condition(lambda: self._retry_now, timeout=wait)
        self._retry_now = False

    async def _attempt(self, delivery_id: str, number: int) -> WebhookAttemptOutcome:
        return await workflow.execute_activity_method(
            WebhookActivities.attempt,
            WebhookAttemptInput(delivery_id=delivery_id, number=number),
            start_to_close_timeout=timedelta(minutes=1),
            retry_policy=_ACTIVITY_RETRY,
        )

    async def _record(
        self, delivery_id: str, status: DeliveryStatus, next_attempt_at: datetime | None = None
    ) -> None:
        await workflow.execute_activity_method(
            WebhookActivities.update,
            WebhookDeliveryUpdate(
                delivery_id=delivery_id, status=status, next_attempt_at=next_attempt_at
            ),
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=_ACTIVITY_RETRY,
        )


def _retry_after(outcome: WebhookAttemptOutcome) -> timedelta:
    """The endpoint's `Retry-After`, capped so one answer cannot stall delivery for long."""
    return min(timedelta(seconds=outcome.retry_after_seconds or 0), MAX_RETRY_AFTER)


async def start_delivery(
    client: Client, task_queue: str, delivery_id: str, first_attempt: int = 1
) -> None:
    """Start (or, once finished, replay) the delivery's workflow; a running one is left as is."""
    await client.start_workflow(
        WebhookDeliveryWorkflow.run,
        WebhookDeliveryInput(delivery_id=delivery_id, first_attempt=first_attempt),
        id=f"webhook-{delivery_id}",
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
