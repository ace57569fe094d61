"""What the activity classes share: loading the call, heartbeating, following a dial placed
before, and how a failed dial is reported."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from trunkline.db import Database
from trunkline.models import Call, utcnow
from trunkline.providers.errors import CallFailed
from trunkline.providers.livekit import DialRequest, LiveKitAdapter, dial_timeout

T = TypeVar("T")
HEARTBEAT_SECONDS = 2.0
ANSWER_POLL_SECONDS = 0.5


async def load_call(database: Database, session_id: str) -> Call:
    """The call row; its absence is a bug no retry fixes."""
    async with database.session() as session:
        call = await session.get(Call, session_id)
    if call is None:
        raise ApplicationError(f"no call {session_id}", non_retryable=True)
    return call


def dial_failed(failure: CallFailed) -> ApplicationError:
    """A dial the far end refused or never answered: final, with (cause, SIP code, phrase)."""
    return ApplicationError(
        str(failure),
        failure.cause,
        failure.sip_status_code,
        failure.sip_status,
        type="CallFailed",
        non_retryable=True,
    )


def never_redialled() -> ApplicationError:
    """An earlier attempt of this activity placed the dial, and the leg is gone by now: it rang
    and it is over. Nobody is rung twice for one dial, so that is the outcome."""
    return ApplicationError(
        "the dial was placed by an earlier attempt and its leg has ended; not dialled again",
        "no-answer",
        None,
        None,
        type="CallFailed",
        non_retryable=True,
    )


async def heartbeating(work: Awaitable[T]) -> T:
    """Await `work`, heartbeating meanwhile, so that a cancelled activity learns it promptly
    and a worker that died is noticed within the heartbeat timeout."""
    task = asyncio.ensure_future(work)
    try:
        while not task.done():
            await asyncio.wait({task}, timeout=HEARTBEAT_SECONDS)
            activity.heartbeat()
        return task.result()
    finally:
        task.cancel()


async def follow_answer(
    sip_call_status: Callable[[], Awaitable[str | None]], appears_by: datetime | None = None
) -> None:
    """Follow a leg placed earlier until it answers; raise if it goes away unanswered, or if it
    is not in the room by `appears_by` (until then the request that placed it may still land:
    an overloaded LiveKit puts a leg in its room late)."""
    seen = False
    while True:
        status = await sip_call_status()
        if status is None and not seen and appears_by and utcnow() < appears_by:
            await asyncio.sleep(ANSWER_POLL_SECONDS)
            continue
        if status is None or status == "hangup":
            raise never_redialled()
        if status not in ("dialing", "ringing"):
            return
        seen = True
        await asyncio.sleep(ANSWER_POLL_SECONDS)


async def dial_once(
    livekit: LiveKitAdapter,
    request: DialRequest,
    leg_status: Callable[[], Awaitable[str | None]],
    stamp_dialed: Callable[[], Awaitable[datetime | None]],
) -> None:
    """Place a dial and wait for the answer, once across the activity's attempts: a retry
    follows the leg an earlier try placed, or takes a leg that is gone as unanswered.
    `stamp_dialed` records that the dial is placed, or returns when an earlier try placed it:
    that try's request may put the leg in the room until its timeout has passed."""
    if await leg_status() is not None:
        await heartbeating(follow_answer(leg_status))
        return
    placed_at = await stamp_dialed()
    if placed_at is not None:
        landed_by = placed_at + dial_timeout(request.ringing_timeout)
        await heartbeating(follow_answer(leg_status, appears_by=landed_by))
        return
    try:
        await heartbeating(livekit.dial(request))
    except CallFailed as failure:
        raise dial_failed(failure) from failure
