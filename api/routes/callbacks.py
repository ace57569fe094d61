"""`/v1/callbacks`: calls to place later (a `CallbackWorkflow` each), listed, cancellable, and
dispatched early."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from temporalio.service import RPCError

from api.deps import AppSettings, CurrentOrganization, DbSession, Temporal
from api.errors import ApiError, error_responses, find_owned, invalid_field
from api.pagination import ArrayLimit
from api.schemas.callbacks import (
    CallbackCancel,
    CallbackCreate,
    CallbackStatus,
    ScheduledCallbackList,
    ScheduledCallbackOut,
)
from api.schemas.common import PageCursor
from trunkline import callbacks
from trunkline.agents import get_agent
from trunkline.calls.store import CallRequestError, resolve_caller_id
from trunkline.models import ScheduledCallback, utcnow
from trunkline.workflow_starts import dispatch_callback_now, start_callback, wake_cancelled_callback

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"], responses=error_responses(401, 422))

PAST_TOLERANCE = timedelta(minutes=1)


_SDK_STATUS: dict[str, CallbackStatus] = {"placed": "dispatched"}
_OUR_STATUS = {"dispatched": "placed", "placed": "placed"}
"""Our `placed` is the SDK's `dispatched`; both names filter the list."""


def callback_out(row: ScheduledCallback, *, dispatching: bool = False) -> ScheduledCallbackOut:
    """The SDK's `ScheduledCallback`; `dispatching` while a dispatch order is on its way or its
    call is being made (`dispatched` comes with the call's session id)."""
    status = _SDK_STATUS.get(row.status, row.status)
    placing = row.status == "placed" and row.placed_call_id is None  # claimed, its call not made
    if placing or (dispatching and row.status == "scheduled"):
        status = "dispatching"
    moved_at = row.updated_at if row.status != "scheduled" else None
    return ScheduledCallbackOut(
        id=row.id,
        organization_id=row.organization_id,
        agent_id=row.agent_id,
        to_number=row.to_number,
        from_number=row.from_number,
        status=status,  # type: ignore[arg-type]
        status_reason=row.status_reason,
        failure_cause=row.status_reason if row.status == "failed" else None,
        source=row.source,  # type: ignore[arg-type]
        source_session_id=row.source_call_id,
        created_session_id=row.placed_call_id,
        requested_at=row.requested_at,
        scheduled_at=row.fire_at,
        attempted_at=moved_at if row.status in ("placed", "failed") else None,
        dispatched_at=moved_at if status == "dispatched" else None,
        cancelled_at=moved_at if row.status == "cancelled" else None,
        metadata=row.call_metadata,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@router.post("", status_code=201, responses=error_responses(503))
async def schedule_callback(
    body: CallbackCreate,
    organization: CurrentOrganization,
    session: DbSession,
    settings: AppSettings,
    temporal: Temporal,
) -> ScheduledCallbackOut:
    """Call `to` with the agent at `at` (or when the callee's calling window next opens)."""
    if body.at < utcnow() - PAST_TOLERANCE:
        raise invalid_field("time_in_past", "`at` is in the past", "at")
    if body.at > utcnow() + callbacks.MAX_AHEAD:
        raise invalid_field("time_too_far_ahead", "`at` is more than a year ahead", "at")
    if await get_agent(session, organization.id, body.agent_id) is None:
        raise invalid_field("agent_not_found", f"agent {body.agent_id} not found", "agentId")
    try:
        caller = await resolve_caller_id(session, organization.id, body.agent_id, body.from_number)
    except CallRequestError as error:
        raise invalid_field(error.code, error.message, error.field) from error
    callback = await callbacks.create_callback(
        session,
        organization,
        agent_id=body.agent_id,
        to=body.to,
        from_number=caller.e164,
        requested_at=body.at,
        metadata=body.metadata,
        source="api",
    )
    try:
        await start_callback(temporal, settings.temporal_task_queue, callback.id)
    except Exception as exc:  # nothing would ever place it: say so on the row
        await callbacks.set_status(session, callback.id, "failed", "could not be scheduled")
        raise ApiError(503, "temporarily_unavailable", f"could not schedule: {exc}") from exc
    return callback_out(callback)


@router.get("")
async def list_callbacks(
    organization: CurrentOrganization,
    session: DbSession,
    limit: ArrayLimit = 1000,
    cursor: PageCursor = None,
    status: Annotated[
        str | None, Query(pattern="^(scheduled|dispatching|dispatched|placed|cancelled|failed)$")
    ] = None,
    source_session_id: Annotated[str | None, Query(max_length=64)] = None,
) -> ScheduledCallbackList:
    """Newest first; `status` and `source_session_id` (the call that asked for it) filter."""
    page = await callbacks.list_callbacks(
        session,
        organization.id,
        limit,
        cursor,
        status=_OUR_STATUS.get(status or "", status),
        source_call_id=source_session_id,
    )
    return ScheduledCallbackList(
        callbacks=[callback_out(row) for row in page.rows], next_cursor=page.next_cursor
    )


async def _owned(session: DbSession, organization_id: str, callback_id: str) -> ScheduledCallback:
    return await find_owned(
        "callback",
        callback_id,
        lambda: callbacks.get_callback(session, organization_id, callback_id),
    )


@router.get("/{callback_id}", responses=error_responses(404))
async def get_callback(
    callback_id: str, organization: CurrentOrganization, session: DbSession
) -> ScheduledCallbackOut:
    return callback_out(await _owned(session, organization.id, callback_id))


@router.post("/{callback_id}/cancel", responses=error_responses(404, 409))
async def cancel_callback(
    callback_id: str,
    organization: CurrentOrganization,
    session: DbSession,
    temporal: Temporal,
    body: CallbackCancel | None = None,
) -> ScheduledCallbackOut:
    """Cancel a callback that has not rung yet; `reason` is kept as its `status_reason`."""
    row = await _owned(session, organization.id, callback_id)
    reason = body.reason if body else "api"
    await _move_on(session, row, "cancelled", reason)
    await wake_cancelled_callback(temporal, row.id)
    await session.refresh(row)
    return callback_out(row)


@router.delete("/{callback_id}", responses=error_responses(404, 409), include_in_schema=False)
async def delete_callback(
    callback_id: str, organization: CurrentOrganization, session: DbSession, temporal: Temporal
) -> ScheduledCallbackOut:
    """The first form of cancelling, kept for clients that use it."""
    return await cancel_callback(callback_id, organization, session, temporal)


@router.post("/{callback_id}/dispatch", responses=error_responses(404, 409, 503))
async def dispatch_callback(
    callback_id: str, organization: CurrentOrganization, session: DbSession, temporal: Temporal
) -> ScheduledCallbackOut:
    """Place the callback's call now instead of at its time (`dispatching` until it is)."""
    row = await _owned(session, organization.id, callback_id)
    if row.status != "scheduled":
        raise _not_scheduled(row)
    try:
        await dispatch_callback_now(temporal, row.id)
    except RPCError as exc:
        raise ApiError(503, "temporarily_unavailable", str(exc)) from exc
    await session.refresh(row)
    return callback_out(row, dispatching=True)


async def _move_on(session: DbSession, row: ScheduledCallback, status: str, reason: str) -> None:
    if not await callbacks.set_status(session, row.id, status, reason):
        await session.refresh(row)
        raise _not_scheduled(row)


def _not_scheduled(row: ScheduledCallback) -> ApiError:
    status = _SDK_STATUS.get(row.status, row.status)
    return ApiError(409, "callback_not_scheduled", f"callback {row.id} is {status}")
