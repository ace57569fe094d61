"""Call (session) request and response bodies."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from api.schemas.common import Instant, ResponseModel, SnakeResponseModel
from api.schemas.reports import ReportOut, TranscriptOut
from api.schemas.transfers import CallTransferOut
from trunkline.numbers.e164 import E164
from trunkline.pipeline import (
    ApiModel,
    Constraints,
    Intent,
    Metadata,
    PipelineConfig,
    ProviderList,
    ProvidersByModality,
    ShortText,
    VoiceOrId,
)


class Amd(ApiModel):
    mode: Literal["agent", "provider", "carrier", "disabled"] = Field(
        "agent", description="`carrier` is the SDK's name for `provider`; `disabled`: no AMD."
    )
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 8


class Telephony(ApiModel):
    region: Annotated[str, Field(max_length=50)] | None = None
    amd: Amd | None = None
    ringing_timeout_seconds: Annotated[float, Field(ge=1, le=120)] | None = Field(
        None, description="How long the callee's phone rings before no-answer (default 30)."
    )


class DialIntent(Intent):
    """The SDK's routing intent: `accuracy` is our `quality`, `null` is `balanced`."""

    region: ShortText | None = None
    optimize_for: Literal["latency", "quality", "cost", "balanced", "accuracy"] | None = "balanced"


class DialConstraints(Constraints):
    allowed_providers: ProviderList | ProvidersByModality | None = Field(  # type: ignore[assignment]
        None, description="A list, or the SDK's lists per modality (their union is allowed)."
    )


Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]


class OutboundCallRequest(PipelineConfig):
    """`POST /v1/sessions/phone` (`speko.voice.dial`): per-call fields override or extend the
    agent's defaults.

    `agentId` is required unless an ad hoc `intent` is given. `variables` fill the
    `{{name}}` placeholders of the system prompt and first message; `toolSecrets` reach only
    the agent's tools, never a prompt nor an API answer.
    """

    to: E164
    from_number: E164 | None = Field(None, alias="from")
    agent_id: Annotated[str, Field(max_length=64)] | None = None
    metadata: Metadata = Field(default_factory=dict)
    telephony: Telephony | None = None
    intent: DialIntent | None = None
    voice: VoiceOrId | None = None
    constraints: DialConstraints | None = None
    max_duration_seconds: Annotated[int, Field(ge=30, le=14_400)] | None = Field(
        None, description="The SDK's `constraints.maxCallDurationSeconds`."
    )
    variables: (
        Annotated[dict[Identifier, Annotated[str, Field(max_length=4000)]], Field(max_length=100)]
        | None
    ) = None
    tool_secrets: (
        Annotated[
            dict[Identifier, Annotated[str, Field(min_length=1, max_length=4096)]],
            Field(max_length=32),
        ]
        | None
    ) = None
    webhook_tags: Annotated[dict[ShortText, ShortText], Field(max_length=20)] | None = Field(
        None, description="Matched by organization webhook endpoints' `filterTags`."
    )

    @model_validator(mode="after")
    def _agent_or_intent(self) -> "OutboundCallRequest":
        if not self.agent_id and self.intent is None:
            raise ValueError("agentId is required unless an ad hoc intent is given")
        if self.webhook_tags and not self.agent_id:
            raise ValueError("webhookTags needs agentId")
        return self

    def canonical(self) -> dict[str, Any]:
        """The request in Trunkline's own vocabulary, as the call stores and layers it."""
        request = self.model_dump(mode="json", exclude_none=True)
        intent = request.get("intent")
        if intent:
            optimize = intent.get("optimizeFor") or "balanced"
            intent["optimizeFor"] = "quality" if optimize == "accuracy" else optimize
        constraints = request.get("constraints") or {}
        if isinstance(constraints.get("allowedProviders"), dict):
            lists = constraints["allowedProviders"].values()
            constraints["allowedProviders"] = list(dict.fromkeys(p for ps in lists for p in ps))
        if "maxDurationSeconds" in request:
            constraints["maxCallDurationSeconds"] = request.pop("maxDurationSeconds")
        if constraints:
            request["constraints"] = constraints
        amd = (request.get("telephony") or {}).get("amd")
        if amd and amd["mode"] == "disabled":
            del request["telephony"]["amd"]
        elif amd and amd["mode"] == "carrier":
            amd["mode"] = "provider"
        if "webhookTags" in request:
            request["metadata"] = {**request["metadata"], "webhookTags": request.pop("webhookTags")}
        return request


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
