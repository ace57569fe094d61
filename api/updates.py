"""Workflow updates from the API: the workflow validates, refusals become 409s with a code."""

import asyncio
from typing import Any

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from api.errors import ApiError

CLOSING_GRACE_SECONDS = 2.0

_CONFLICT_CODES = {
    "CallEnded": "call_ended",
    "CallNotInProgress": "call_not_in_progress",
    "TransferInProgress": "transfer_in_progress",
    "CallTransferred": "call_transferred",
    "TransferNotActive": "transfer_not_active",
    "TransferNotCompleted": "transfer_not_completed",
    "InvalidVerdict": "invalid_verdict",
}


async def run_update(client: Client, workflow_id: str, update: Any, argument: Any = None) -> Any:
    """Execute an update; a refusal or a finished workflow is a 409, Temporal down a 503."""
    kind, _, resource_id = workflow_id.partition("-")
    finished, ended = (
        ("call_ended", f"call {resource_id} has already ended")
        if kind == "call"
        else ("transfer_not_active", f"transfer {resource_id} has already finished")
    )
    handle = client.get_workflow_handle(workflow_id)
    try:
        if argument is None:
            return await handle.execute_update(update)
        return await handle.execute_update(update, argument)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        kind = cause.type if isinstance(cause, ApplicationError) else None
        message = cause.message if isinstance(cause, ApplicationError) else str(exc)
        raise ApiError(409, _CONFLICT_CODES.get(kind or "", "conflict"), message) from exc
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND or await _closed(handle):
            raise ApiError(409, finished, ended) from exc
        raise ApiError(503, "temporarily_unavailable", str(exc)) from exc


async def _closed(handle: WorkflowHandle[Any, Any]) -> bool:
    """Whether the workflow has finished, or finishes within a moment: an update that reaches
    a workflow while it closes fails with something other than NOT_FOUND, and means the same."""
    try:
        await asyncio.wait_for(handle.result(), CLOSING_GRACE_SECONDS)
    except WorkflowFailureError:
        return True  # it ended, though not successfully: closed all the same
    except (TimeoutError, RPCError):
        return False
    return True
