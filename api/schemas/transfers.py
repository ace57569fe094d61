"""Transfer request and response bodies, as in the guide's `blindTransfer` / `warmTransfer`."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StrictBool, model_validator

from api.schemas.common import SnakeResponseModel
from trunkline.numbers.e164 import E164
from trunkline.pipeline import (
    ApiModel,
    HttpUrlText,
    LongText,
    Metadata,
    ShortText,
    TransferDestination,
)

RingingTimeout = Annotated[float, Field(ge=1, le=120)]


SipHeaders = Annotated[
    dict[
        Annotated[str, Field(pattern=r"^X-[A-Za-z0-9-]{1,64}$")],
        Annotated[str, Field(max_length=256, pattern=r"^[^\r\n]*$")],
    ],
    Field(max_length=20, description="Custom `X-` SIP headers for the REFER."),
]


class BlindTransferBody(ApiModel):
    """`POST /v1/calls/{id}/transfers/blind`: REFER the caller to `to`."""

    to: E164
    participant_identity: ShortText | None = Field(
        None, description="Who is transferred (default: the caller's phone leg)."
    )
    play_dialtone: StrictBool = Field(False, description="Let the caller hear the dial tone.")
    headers: SipHeaders = Field(default_factory=dict)
    ringing_timeout: RingingTimeout = Field(30, description="Seconds the target may ring.")
    metadata: Metadata = Field(default_factory=dict)


_STRATEGIES = {"return_to_assistant": "return_to_agent", "end_call": "hangup"}
_VOICEMAIL_MODES = {"amd": "provider", "disabled": "off"}
"""The Speko SDK's names for our fallback strategies and voicemail detection modes."""


class Fallback(ApiModel):
    strategy: Literal[
        "take_message", "return_to_agent", "hangup", "return_to_assistant", "end_call"
    ] = "take_message"
    message: LongText | None = None
    take_message_prompt: LongText | None = None
    hold_audio_url: HttpUrlText | None = None

    @model_validator(mode="after")
    def _our_names(self) -> "Fallback":
        self.strategy = _STRATEGIES.get(self.strategy, self.strategy)  # type: ignore[assignment]
        return self


class VoicemailDetection(ApiModel):
    mode: Literal["agent", "provider", "off", "amd", "disabled"] = "agent"
    enabled: StrictBool = True
    timeout_seconds: Annotated[float, Field(gt=0, le=60)] = 10

    @model_validator(mode="after")
    def _our_names(self) -> "VoicemailDetection":
        mode = _VOICEMAIL_MODES.get(self.mode, self.mode)
        self.mode = mode if self.enabled else "off"  # type: ignore[assignment]
        return self


class WarmDestination(TransferDestination):
    outbound_trunk_id: ShortText | None = None
    screening_prompt: LongText | None = None
    summary: LongText | None = None
    metadata: Metadata | None = None


class WarmTransferBody(ApiModel):
    """`POST /v1/calls/{id}/transfers/warm`: screen each destination before bridging.

    `to` is the SDK's shorthand for one destination; `summary` briefs the recipient instead of
    the summary Trunkline writes from the transcript.
    """

    to: E164 | None = None
    destinations: Annotated[list[WarmDestination], Field(max_length=10)] = []
    from_number: E164 | None = Field(
        None, alias="from", description="Caller ID of the consultation legs (default: the call's)."
    )
    participant_identity: ShortText | None = None
    outbound_trunk_id: ShortText | None = None
    screening_prompt: LongText | None = None
    summary: LongText | None = None
    fallback: Fallback = Field(default_factory=Fallback)
    voicemail_detection: VoicemailDetection = Field(default_factory=VoicemailDetection)
    ringing_timeout: RingingTimeout = Field(30, description="Seconds each destination may ring.")
    wait_until_answered: StrictBool = False
    metadata: Metadata = Field(default_factory=dict)

    @model_validator(mode="after")
    def _somewhere_to_go(self) -> "WarmTransferBody":
        if self.to and not self.destinations:
            self.destinations = [WarmDestination(to=self.to)]
        if not self.destinations:
            raise ValueError("give `to` or at least one of `destinations`")
        return self


class CancelBody(ApiModel):
    try_next: StrictBool = Field(
        False, description="Hang up this destination and try the next one."
    )
    reason: ShortText | None = Field(None, description="Kept as the attempt's detail.")
    summary: LongText | None = None
    voicemail_detected: StrictBool = False


class CompleteBody(ApiModel):
    """Accepted as the SDK sends it; the recipient is the screened leg, the summary the one
    given when the transfer started."""

    recipient_participant_identity: ShortText | None = None
    summary: LongText | None = None


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


class TransferAttemptOut(SnakeResponseModel):
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


SdkTransferStatus = Literal[
    "requested", "screening", "bridging", "completed", "failed", "cancelled"
]


class FallbackOut(SnakeResponseModel):
    action: Literal["return_to_assistant", "take_message", "end_call"]
    message: str
    voicemail_detected: bool = False


class CallTransferOut(SnakeResponseModel):
    """The SDK's `CallTransfer` (and `CallTransferResponse`), with every attempt so far and
    Trunkline's own `state`, which says more than `status` (e.g. `exhausted`)."""

    id: str
    session_id: str
    organization_id: str
    kind: Literal["blind", "warm"]
    status: SdkTransferStatus
    state: str
    transfer_to: str
    from_room_name: str
    consultation_room_name: str | None
    caller_participant_identity: str
    recipient_participant_identity: str | None
    screening_prompt: str | None
    summary: str | None
    failure_cause: str | None
    requested_by: str
    attempts: list[TransferAttemptOut]
    fallback: FallbackOut | None
    sip_status_code: int | None
    sip_status: str | None
    detail: str | None
    request: dict[str, Any]
    metadata: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    ended_at: datetime | None


class TransferList(SnakeResponseModel):
    transfers: list[CallTransferOut]


class MessageOut(SnakeResponseModel):
    id: str
    call_id: str
    transfer_id: str | None
    caller_name: str | None
    callback_number: str | None
    recipient: str | None
    message: str
    created_at: datetime


class MessageList(SnakeResponseModel):
    messages: list[MessageOut]
