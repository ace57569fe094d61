"""Activities of a scheduled callback: when it is due, and placing its call."""

from typing import Any

from sqlalchemy import update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from trunkline.callbacks import set_status
from trunkline.calls.store import CallRequestError, create_outbound_call
from trunkline.db import Database
from trunkline.models import ScheduledCallback, utcnow
from trunkline.workflow_io import CallbackInput, CallbackPlan, CallbackResult
from trunkline.workflow_starts import start_call


class CallbackActivities:
    """Bound to the process's database and Temporal client when the worker starts."""

    def __init__(self, database: Database, temporal: Client) -> None:
        self._database = database
        self._temporal = temporal

    async def _callback(self, callback_id: str) -> ScheduledCallback:
        async with self._database.session() as session:
            callback = await session.get(ScheduledCallback, callback_id)
        if callback is None:
            raise ApplicationError(f"no callback {callback_id}", non_retryable=True)
        return callback

    @activity.defn(name="plan_callback")
    async def plan(self, request: CallbackInput) -> CallbackPlan:
        """When to ring; nothing to wait for once it is no longer scheduled."""
        callback = await self._callback(request.callback_id)
        return CallbackPlan(fire_at=callback.fire_at if callback.status == "scheduled" else None)

    @activity.defn(name="place_callback_call")
    async def place(self, request: CallbackInput) -> CallbackResult:
        """Claim the callback and place its call, as `POST /v1/sessions/phone` would; once."""
        async with self._database.session() as session:
            await set_status(session, request.callback_id, "placed")  # a cancel may have won
        callback = await self._callback(request.callback_id)
        if callback.status != "placed":
            return CallbackResult(callback_id=callback.id, status=callback.status)
        async with self._database.session() as session:
            try:
                call, _ = await create_outbound_call(
                    session,
                    callback.organization_id,
                    _call_request(callback),
                    idempotency_key=f"callback-{callback.id}",
                )
            except CallRequestError as error:
                await _record(session, callback.id, status="failed", status_reason=error.message)
                return CallbackResult(callback_id=callback.id, status="failed")
            await _record(session, callback.id, placed_call_id=call.id)
        await start_call(self._temporal, activity.info().task_queue, call)
        return CallbackResult(callback_id=callback.id, status="placed", call_id=call.id)


def _call_request(callback: ScheduledCallback) -> dict:
    """The `POST /v1/sessions/phone` body the callback stands for."""
    metadata = {
        **callback.call_metadata,
        "callbackId": callback.id,
        "callbackForCallId": callback.source_call_id,
    }
    request = {"to": callback.to_number, "agentId": callback.agent_id, "metadata": metadata}
    if callback.from_number:
        request["from"] = callback.from_number
    return request


async def _record(session: AsyncSession, callback_id: str, **values: Any) -> None:
    """Record what became of a callback this activity claimed (its call, or why it failed)."""
    await session.exec(
        update(ScheduledCallback)
        .where(col(ScheduledCallback.id) == callback_id)
        .values(updated_at=utcnow(), **values)
    )
    await session.commit()
