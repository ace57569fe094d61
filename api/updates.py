"""Workflow updates from the API: the workflow validates, refusals become 409s with a code."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from temporalio.client import (
    Client,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateStage,
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
    handle = client.get_workflow_handle(workflow_id)
    arguments = () if argument is None else (argument,)
    async with _refusals_as_conflicts(handle, workflow_id):
        return await handle.execute_update(update, *arguments)


async def request_update(client: Client, workflow_id: str, update: Any, argument: Any) -> None:
    """Have the workflow accept an update, without waiting for its result; refusals as in
    `run_update`."""
    handle = client.get_workflow_handle(workflow_id)
    async with _refusals_as_conflicts(handle, workflow_id):
        await handle.start_update(update, argument, wait_for_stage=WorkflowUpdateStage.ACCEPTED)


@asynccontextmanager
async def _refusals_as_conflicts(
    handle: WorkflowHandle[Any, Any], workflow_id: str
) -> AsyncIterator[None]:
    kind, _, resource_id = workflow_id.partition("-")
    finished, ended = (
        ("call_ended", f"call {resource_id} has already ended")
        if kind == "call"
        else ("transfer_not_active", f"transfer {resource_id} has already finished")
    )
    try:
        yield
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
