"""Call (session) request and response bodies."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from api.schemas.common import Instant, Page, ResponseModel
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
    session_id: str
    call_id: str
    room_name: str
    caller_id: str
    to: str
    agent_id: str | None
    sip_participant: SipParticipantOut
    status: str
    created_at: datetime


class CallOut(ResponseModel):
    id: str
    session_id: str
    agent_id: str | None
    direction: str
    status: str
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
    created_at: datetime
    answered_at: datetime | None
    ended_at: datetime | None
    duration_seconds: float | None


class CallPage(Page[CallOut]):
    """A page of calls."""


class CallEventOut(ResponseModel):
    id: str
    sequence: int
    source: str
    type: str
    status: str | None
    sip_status_code: int | None
    sip_status: str | None
    detail: str | None
    provider_event_id: str | None
    payload: dict[str, Any]
    occurred_at: datetime


class CallEventPage(Page[CallEventOut]):
    """Events in order; `nextCursor` is the last sequence number seen."""


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
