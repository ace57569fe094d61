"""Scheduled callback bodies: snake_case, as the SDK's `callbacks` resource reads them."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field

from api.schemas.common import InUtc, SnakeResponseModel
from trunkline.numbers.e164 import E164
from trunkline.pipeline import ApiModel, Metadata


class CallbackCreate(ApiModel):
    """`POST /v1/callbacks`: call `to` at `at` with the agent, like `POST /v1/sessions/phone`."""

    to: E164
    from_number: E164 | None = Field(None, alias="from")
    agent_id: Annotated[str, Field(max_length=64)]
    at: Annotated[AwareDatetime, InUtc] = Field(
        description="ISO 8601 with an offset, at most a year ahead; moved into the calling window."
    )
    metadata: Metadata = Field(default_factory=dict)


CallbackStatus = Literal["scheduled", "dispatching", "dispatched", "cancelled", "failed"]


class ScheduledCallbackOut(SnakeResponseModel):
    """The SDK's `ScheduledCallback`, with when it was asked for and by whom (`source`)."""

    id: str
    organization_id: str
    agent_id: str
    to_number: str
    from_number: str | None
    status: CallbackStatus
    status_reason: str | None = Field(description="Why it was cancelled or failed.")
    failure_cause: str | None
    source: Literal["api", "analysis"]
    source_session_id: str | None
    created_session_id: str | None = Field(description="The call it placed.")
    requested_at: datetime
    scheduled_at: datetime = Field(description="When it rings: the calling window respected.")
    attempted_at: datetime | None
    dispatched_at: datetime | None
    cancelled_at: datetime | None
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class CallbackCancel(ApiModel):
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "api"


class ScheduledCallbackList(SnakeResponseModel):
    """`callbacks`, newest first; pass `next_cursor` as `cursor` to read on."""

    callbacks: list[ScheduledCallbackOut]
    next_cursor: str | None
