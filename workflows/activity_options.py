"""What the call and warm-transfer workflows share: how their activities run, and how a
refused dial reads once it reaches the workflow."""

from datetime import timedelta
from typing import NamedTuple

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from trunkline.providers.errors import SIP_REASON_PHRASES

QUICK = timedelta(seconds=30)
"""Start-to-close for activities that only talk to our database or a provider's API."""
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(seconds=30))
DIAL_MARGIN = timedelta(seconds=20)
"""A dial may take its ringing timeout plus this."""
HEARTBEAT = timedelta(seconds=10)
DIAL_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_attempts=3,
    non_retryable_error_types=["CallFailed"],
)
"""A dial is retried only when it did not reach the far end (a refusal is an answer)."""


class DialFailure(NamedTuple):
    """Why a dial did not connect: the failure cause (busy, no-answer…), its SIP status, detail."""

    cause: str
    sip_status_code: int | None
    sip_status: str | None
    detail: str


def dial_failure(error: ActivityError) -> DialFailure:
    """Read the `CallFailed` a dial activity raised (see activities.common.dial_failed)."""
    cause = error.cause
    if isinstance(cause, ApplicationError) and cause.type == "CallFailed":
        failure_cause, code, phrase = cause.details
        phrase = phrase or SIP_REASON_PHRASES.get(code or 0)
        return DialFailure(failure_cause, code, phrase, str(cause.message))
    return DialFailure("error", None, None, str(cause or error))
