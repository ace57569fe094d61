"""Transfer request and response bodies, as in the guide's `blindTransfer` / `warmTransfer`."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool

from api.schemas.common import ResponseModel
from trunkline.phone import E164
from trunkline.pipeline import ApiModel, LongText, Metadata, ShortText, TransferDestination

RingingTimeout = Annotated[float, Field(ge=1, le=120)]


class BlindTransferBody(ApiModel):
    """`POST /v1/calls/{id}/transfers/blind`: REFER the caller to `to`."""

    to: E164
    ringing_timeout: RingingTimeout = Field(30, description="Seconds the target may ring.")
    metadata: Metadata = Field(default_factory=dict)


class Fallback(ApiModel):
    strategy: Literal["take_message", "return_to_agent", "hangup"] = "take_message"


class VoicemailDetection(ApiModel):
    mode: Literal["agent", "provider", "off"] = "agent"
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10


class WarmTransferBody(ApiModel):
    """`POST /v1/calls/{id}/transfers/warm`: screen each destination before bridging."""

    from_number: E164 | None = Field(
        None, alias="from", description="Caller ID of the consultation legs (default: the call's)."
    )
    destinations: Annotated[list[TransferDestination], Field(min_length=1, max_length=10)]
    screening_prompt: LongText | None = None
    fallback: Fallback = Field(default_factory=Fallback)
    voicemail_detection: VoicemailDetection = Field(default_factory=VoicemailDetection)
    ringing_timeout: RingingTimeout = Field(30, description="Seconds each destination may ring.")
    metadata: Metadata = Field(default_factory=dict)


class CancelBody(ApiModel):
    try_next: StrictBool = Field(
        False, description="Hang up this destination and try the next one."
    )


class AgentTransferBody(ApiModel):
    """The `transfer_call` tool: a destination from the agent's configured list (default first)."""

    to: E164 | None = None
    label: ShortText | None = None
    reason: ShortText | None = None


class DeclineBody(ApiModel):
    reason: ShortText = "declined"


class VoicemailVerdict(ApiModel):
    verdict: Literal["human", "machine"]


class MessageBody(ApiModel):
    """A message the agent took for someone who could not take the call."""

    message: Annotated[str, Field(min_length=1, max_length=4000)]
    caller_name: ShortText | None = None
    callback_number: E164 | None = None
    recipient: ShortText | None = None
    transfer_id: Annotated[str, Field(max_length=64)] | None = None


class AttemptOut(ResponseModel):
    number: int
    to: str
    label: str | None
    outcome: str | None
    sip_status_code: int | None
    sip_status: str | None
    detail: str | None
    started_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None


class TransferOut(ResponseModel):
    id: str
    transfer_id: str
    call_id: str
    type: str
    state: str
    requested_by: str
    current_destination: AttemptOut | None
    attempts: list[AttemptOut]
    fallback_applied: str | None
    sip_status_code: int | None
    sip_status: str | None
    detail: str | None
    request: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None


class TransferList(ResponseModel):
    data: list[TransferOut]


class MessageOut(ResponseModel):
    id: str
    call_id: str
    transfer_id: str | None
    caller_name: str | None
    callback_number: str | None
    recipient: str | None
    message: str
    created_at: datetime


class MessageList(ResponseModel):
    data: list[MessageOut]
