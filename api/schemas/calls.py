"""Call (session) request and response bodies."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from api.schemas.common import Instant, ResponseModel, SnakeResponseModel
from api.schemas.reports import ReportOut, TranscriptOut
from api.schemas.transfers import CallTransferOut
from trunkline.phone import E164
from trunkline.pipeline import ApiModel, Metadata, PipelineConfig


class Amd(ApiModel):
    mode: Literal["agent", "provider"] = "agent"
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 8


class Telephony(ApiModel):
    region: Annotated[str, Field(max_length=50)] | None = None
    amd: Amd | None = None
    ringing_timeout_seconds: Annotated[float, Field(ge=1, le=120)] | None = Field(
        None, description="How long the callee's phone rings before no-answer (default 30)."
    )


class OutboundCallRequest(PipelineConfig):
    """`POST /v1/sessions/phone`: per-call fields override or extend the agent's defaults.

    `agentId` is required unless an ad hoc `intent` is given.
    """

    to: E164
    from_number: E164 | None = Field(None, alias="from")
    agent_id: Annotated[str, Field(max_length=64)] | None = None
    metadata: Metadata = Field(default_factory=dict)
    telephony: Telephony | None = None

    @model_validator(mode="after")
    def _agent_or_intent(self) -> "OutboundCallRequest":
        if not self.agent_id and self.intent is None:
            raise ValueError("agentId is required unless an ad hoc intent is given")
        return self


class SipParticipantOut(ResponseModel):
    identity: str
    room_name: str


class SessionOut(ResponseModel):
    """The SDK's `VoiceDialResult`, with the guide's caller ID and SIP participant handle."""

    session_id: str
    call_id: str
    call_control_id: str = Field(description="The SIP participant handle of the call's leg.")
    room_name: str
    status: Literal["dialing"] = Field(description="The dial is placed; follow it on the call.")
    to: str
    from_: str = Field(alias="from")
    caller_id: str
    agent_id: str | None
    sip_participant: SipParticipantOut
    created_at: datetime


class CallOut(SnakeResponseModel):
    """A call as the SDK reads it (snake_case), with Trunkline's telephony facts."""

    id: str
    call_id: str
    session_id: str
    resource_uri: str
    kind: Literal["phone"]
    agent_id: str | None
    direction: str
    status: str
    language: str
    from_: str = Field(alias="from")
    to: str
    phone_number_id: str | None
    room_name: str
    sip_participant_identity: str
    call_control_id: str | None
    failure_cause: str | None
    sip_status_code: int | None
    sip_status: str | None
    ended_reason: str | None
    answered_by_machine: bool | None
    metadata: dict[str, Any]
    pipeline_config: dict[str, Any]
    config_sources: dict[str, str]
    recording_status: str | None
    recording_duration_ms: float | None = None
    recording_resource_uri: str
    created_at: datetime
    updated_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None


class CallDetailOut(CallOut):
    """The SDK's `CallDetail`: the call with its transcript, transfers and latest report."""

    transcript: TranscriptOut
    transfers: list[CallTransferOut]
    report: ReportOut | None


class CallPage(SnakeResponseModel):
    """A page of calls, newest first; pass `next_cursor` as `cursor` to read on."""

    calls: list[CallOut]
    has_more: bool
    next_cursor: str | None


class CallEventOut(SnakeResponseModel):
    """The SDK's `CallEvent`, with its place in the call (`sequence`) and where it came from."""

    id: str
    session_id: str
    organization_id: str
    sequence: int
    provider: str = Field(description="livekit, telnyx, trunkline or transfer.")
    event_type: str
    status: str | None
    failure_cause: str | None
    sip_status_code: int | None
    sip_status: str | None
    detail: str | None
    provider_event_id: str | None
    payload: dict[str, Any]
    occurred_at: datetime
    created_at: datetime


class CallEventPage(SnakeResponseModel):
    """Events in order; `next_cursor` is the last sequence number seen."""

    events: list[CallEventOut]
    has_more: bool
    next_cursor: str | None


class EndCallOut(SnakeResponseModel):
    """The SDK's `EndCallResult`."""

    ok: Literal[True] = True
    status: Literal["ending", "already_ended"]
    ended_at: datetime | None = None


class RecordingLinkOut(ResponseModel):
    url: str


class WebJoinBody(ApiModel):
    display_name: Annotated[str, Field(min_length=1, max_length=100)] | None = None


class WebJoinOut(ResponseModel):
    """The SDK's `WebJoinResult`: connect a LiveKit client to `url` with `token`."""

    token: str
    url: str
    identity: str
    room_name: str
    expires_at: datetime = Field(description="New connections with the token stop then.")


class AttemptOut(ResponseModel):
    number: int
    started_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


class DeliveryOut(ResponseModel):
    id: str
    event_type: str
    url: str
    status: str
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    attempts: list[AttemptOut]


class DeliveryList(ResponseModel):
    data: list[DeliveryOut]


class TranscriptEntryIn(ApiModel):
    id: Annotated[str, Field(min_length=1, max_length=100)]
    role: Literal["agent", "user", "system"]
    text: Annotated[str, Field(max_length=10_000)]
    started_at: Instant | None = None
    ended_at: Instant | None = None


class TranscriptAppend(ApiModel):
    entries: Annotated[list[TranscriptEntryIn], Field(min_length=1, max_length=200)]


class AmdReport(ApiModel):
    verdict: Literal["human", "machine"]


class AgentHangup(ApiModel):
    reason: Annotated[str, Field(max_length=100)] = "agent"


class AgentFailureBody(ApiModel):
    """Why the agent cannot run the call: a short code and a sentence for whoever fixes it."""

    reason: Annotated[str, Field(min_length=1, max_length=100)]
    detail: Annotated[str, Field(min_length=1, max_length=1000)]
