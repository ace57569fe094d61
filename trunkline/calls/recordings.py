"""Why an answered call has no recording: what its report says when there is none to give."""

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import Call, CallEvent
from trunkline.providers.livekit import Recording

FAILED_EGRESS = ("EGRESS_FAILED", "EGRESS_ABORTED", "EGRESS_LIMIT_REACHED")


async def start_failure(session: AsyncSession, call_id: str) -> str | None:
    """Why the call's recording could not start, as its `recording.failed` event says."""
    statement = (
        select(CallEvent.detail)
        .where(CallEvent.call_id == call_id, CallEvent.type == "recording.failed")
        .order_by(col(CallEvent.sequence).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first()


def missing_reason(call: Call, failure: str | None, recording_enabled: bool) -> str | None:
    """Why a call that never started a recording has none (None: it was never answered)."""
    if call.answered_at is None:
        return None
    if failure:
        return f"the recording could not start: {failure}"
    if not recording_enabled:
        return "recording is off for this deployment (CALL_RECORDING_ENABLED=false)"
    return "the call ended before its recording started"


UNFINISHED_EGRESS = ("EGRESS_STARTING", "EGRESS_ACTIVE", "EGRESS_ENDING")


def unusable_reason(recording: Recording) -> str | None:
    """Why LiveKit's recording of the call has no usable file, if it has none: it failed, or
    LiveKit was still writing it when the report was made."""
    if recording.status in UNFINISHED_EGRESS:
        return (
            f"LiveKit was still writing the recording ({recording.status}) when the report was made"
        )
    if recording.status not in FAILED_EGRESS:
        return None
    return f"LiveKit's recording ended {recording.status}: {recording.error or 'no reason given'}"
