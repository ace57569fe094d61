"""Starting and waking workflows from outside them (the API, activities), once per id.

Workflows are named by type here, not imported, so that any module can start one without
importing the workflow's own activities.
"""

import contextlib
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.common import (
    SearchAttributePair,
    TypedSearchAttributes,
    WorkflowIDConflictPolicy,
    WorkflowIDReusePolicy,
)
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from trunkline.temporal import (
    AGENT_ID,
    DIRECTION,
    FROM_NUMBER,
    ORGANIZATION_ID,
    STATUS,
    TO_NUMBER,
)
from trunkline.workflow_io import (
    CallbackInput,
    CallInput,
    LaneInput,
    ProviderSignal,
    ReportRequest,
)

TRANSCRIPT_GRACE = timedelta(seconds=3)
"""How long after a call ends its report starts: the agent's last lines may still come in."""


def call_search_attributes(call: Any) -> TypedSearchAttributes:
    """What makes a call findable in the Temporal UI, set when its workflow starts."""
    values = [
        (ORGANIZATION_ID, call.organization_id),
        (DIRECTION, call.direction),
        (STATUS, call.status),
        (FROM_NUMBER, call.from_number),
        (TO_NUMBER, call.to_number),
        (AGENT_ID, call.agent_id),
    ]
    pairs = [SearchAttributePair(key, value) for key, value in values if value]
    return TypedSearchAttributes(pairs)


async def start_call(
    client: Client, task_queue: str, call: Any, first_signal: ProviderSignal | None = None
) -> None:
    """Start the call's workflow unless it runs or ran already (one workflow per call, ever)."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            "CallWorkflow",
            CallInput(session_id=call.id),
            id=f"call-{call.id}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"{call.direction} call {call.from_number} → {call.to_number}",
            search_attributes=call_search_attributes(call),
            start_signal="provider_event" if first_signal else None,
            start_signal_args=[first_signal] if first_signal else [],
        )


async def start_report(
    client: Client, task_queue: str, request: ReportRequest, *, after_call: bool = False
) -> bool:
    """Start a run of the call's report workflow; False when one is running, which then
    stands (idempotent), with this request's flags unapplied.

    `after_call`: the report the call starts as it closes. It starts once the transcript grace
    has passed (a delay Temporal keeps: no timer in the workflow), and never twice: a retried
    close of the call does not report it again (False then too)."""
    try:
        await client.start_workflow(
            "PostCallReportWorkflow",
            request.model_copy(update={"grace_waited": after_call}),
            id=f"report-{request.session_id}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.FAIL,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE
            if after_call
            else WorkflowIDReusePolicy.ALLOW_DUPLICATE,
            static_summary=f"post-call report of {request.session_id}",
            start_delay=TRANSCRIPT_GRACE if after_call else None,
        )
    except WorkflowAlreadyStartedError:
        return False
    return True


async def start_callback(client: Client, task_queue: str, callback_id: str) -> None:
    """Start the callback's workflow unless it runs or ran already."""
    with contextlib.suppress(WorkflowAlreadyStartedError):
        await client.start_workflow(
            "CallbackWorkflow",
            CallbackInput(callback_id=callback_id),
            id=f"callback-{callback_id}",
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            static_summary=f"scheduled callback {callback_id}",
        )


async def wake_cancelled_callback(client: Client, callback_id: str) -> None:
    """Wake a cancelled callback's sleeping workflow. Its row says cancelled already, so if
    the signal is lost the workflow still finds out when it wakes."""
    with contextlib.suppress(RPCError):
        await client.get_workflow_handle(f"callback-{callback_id}").signal("cancel")


async def dispatch_callback_now(client: Client, callback_id: str) -> None:
    """Wake a scheduled callback's workflow to place its call now (its row is still
    `scheduled`, so the call is placed unless a cancel gets there first)."""
    await client.get_workflow_handle(f"callback-{callback_id}").signal("dispatch")


async def start_webhook_lane(
    client: Client, task_queue: str, lane: LaneInput, *, wake: bool = False
) -> None:
    """Make sure the durable lane's workflow runs; `wake` makes it attempt its head now."""
    await client.start_workflow(
        "WebhookLaneWorkflow",
        lane,
        id=f"webhooks-{lane.lane}",
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        static_summary=f"webhooks of lane {lane.lane}",
        start_signal="wake" if wake else None,
    )
