"""`/v1/callbacks`: calls to place later (a `CallbackWorkflow` each), listed and cancellable."""

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import AppSettings, CurrentOrganization, DbSession, Temporal
from api.errors import ApiError, error_responses, find_owned, invalid_field
from api.schemas.common import PageCursor, PageLimit
from api.schemas.reports import (
    CallbackCreate,
    ScheduledCallbackOut,
    ScheduledCallbackPage,
)
from trunkline import callbacks
from trunkline.agents import get_agent
from trunkline.calls import CallRequestError, resolve_caller_id
from trunkline.models import ScheduledCallback, utcnow
from trunkline.workflow_starts import start_callback, wake_cancelled_callback

router = APIRouter(prefix="/v1/callbacks", tags=["callbacks"], responses=error_responses(401, 422))

PAST_TOLERANCE = timedelta(minutes=1)


def callback_out(row: ScheduledCallback) -> ScheduledCallbackOut:
    return ScheduledCallbackOut(
        id=row.id,
        to=row.to_number,
        from_=row.from_number,
        agent_id=row.agent_id,
        requested_at=row.requested_at,
        at=row.fire_at,
        status=row.status,
        status_reason=row.status_reason,
        source=row.source,
        source_call_id=row.source_call_id,
        placed_call_id=row.placed_call_id,
        metadata=row.call_metadata,
        created_at=row.created_at,
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
    limit: PageLimit = 20,
    cursor: PageCursor = None,
    status: Annotated[str | None, Query(pattern="^(scheduled|placed|cancelled|failed)$")] = None,
) -> ScheduledCallbackPage:
    page = await callbacks.list_callbacks(session, organization.id, limit, cursor, status)
    return ScheduledCallbackPage.of(page.rows, page.next_cursor, callback_out)


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


@router.delete("/{callback_id}", responses=error_responses(404, 409))
async def cancel_callback(
    callback_id: str, organization: CurrentOrganization, session: DbSession, temporal: Temporal
) -> ScheduledCallbackOut:
    """Cancel a callback that has not rung yet."""
    row = await _owned(session, organization.id, callback_id)
    if not await callbacks.set_status(session, row.id, "cancelled", "api"):
        await session.refresh(row)
        raise ApiError(409, "callback_not_scheduled", f"callback {row.id} is {row.status}")
    await wake_cancelled_callback(temporal, row.id)
    await session.refresh(row)
    return callback_out(row)
