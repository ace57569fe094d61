"""Agent request and response bodies: Trunkline's pipeline fields plus the Speko SDK's.

The SDK's `AgentRow` is the response contract; its request fields are accepted beside ours and
mapped onto them where they mean the same thing (see `trunkline.agent_fields`).
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from api.schemas.calls import CallOut
from api.schemas.common import ResponseModel, SnakeResponseModel
from trunkline.pipeline import (
    AmbientClip,
    AnalysisConfig,
    ApiModel,
    Constraints,
    IdleReprompts,
    Intent,
    Llm,
    Metadata,
    Name,
    PipelineConfig,
    PronunciationRule,
    ProvidersByModality,
    ShortText,
    TextReplacementRule,
    Tool,
    Voice,
    VoiceOrId,
    WebhookTarget,
)


class AgentIntent(Intent):
    """The routing intent; `optimizeFor: null` (the SDK's "no preference") means `balanced`."""

    optimize_for: Literal["latency", "quality", "cost", "balanced"] | None = "balanced"


class LlmOptions(ApiModel):
    """The SDK's name for `llm`, without the provider."""

    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=32_000)] | None = None
    model: ShortText | None = None


class StackPreferences(ApiModel):
    """Allowed providers per modality; together they are `constraints.allowedProviders`."""

    allowed_providers: ProvidersByModality | None = None


class SoundSource(ApiModel):
    """A built-in clip or an uploaded sound, exactly one, at a linear gain of 0 to 16."""

    clip: AmbientClip | None = None
    sound_id: ShortText | None = None
    volume: Annotated[float, Field(ge=0, le=16)] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> "SoundSource":
        if (self.clip is None) == (self.sound_id is None):
            raise ValueError("give exactly one of clip or soundId")
        return self


class ToolSound(SoundSource):
    min_duration_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None
    start_delay_ms: Annotated[int, Field(ge=0, le=60_000)] | None = None


class AgentBackgroundAudio(ApiModel):
    """Our `sound` bed, or the SDK's `ambient` bed and `toolSound` (either or both)."""

    sound: Literal["office", "call-center", "cafe", "nature"] | None = None
    volume: Annotated[float, Field(ge=0, le=1)] | None = Field(
        None, description="With `sound`: 0 to 1, default 0.3."
    )
    ambient: SoundSource | None = None
    tool_sound: ToolSound | None = None

    @model_validator(mode="after")
    def _one_vocabulary(self) -> "AgentBackgroundAudio":
        if self.sound is None and self.volume is not None:
            raise ValueError("volume goes with sound (the SDK's sources carry their own)")
        if self.sound is not None and self.volume is None:
            self.volume = 0.3
        if self.sound is None and self.ambient is None and self.tool_sound is None:
            raise ValueError("give sound, ambient or toolSound")
        return self


class AudioOutput(ApiModel):
    gain_db: Annotated[float, Field(ge=-24, le=12)]


Dictionary = Annotated[
    dict[ShortText, Annotated[str, Field(max_length=200)]], Field(max_length=500)
]


class SpeechNormalization(ApiModel):
    """Word → pronunciation and find → replace maps: our pronunciation/text replacement rules."""

    pronunciation_dictionary: Dictionary | None = None
    text_replacements: Dictionary | None = None


class ExtractionField(ApiModel):
    """A value the post-call analysis fills from the transcript, as the SDK declares it."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")]
    type: Literal["string", "number", "boolean", "enum"]
    description: Annotated[str, Field(max_length=2000)]
    options: Annotated[list[ShortText], Field(min_length=1, max_length=100)] | None = None

    @model_validator(mode="after")
    def _enum_has_options(self) -> "ExtractionField":
        if self.type == "enum" and not self.options:
            raise ValueError("an enum field needs options")
        return self


ExtractionFields = Annotated[list[ExtractionField], Field(max_length=50)]


class PromptVariable(ApiModel):
    """A `{{variable}}` of the prompt; `system.` names are reserved."""

    name: Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_.]{0,63}$")]
    default_value: Annotated[str, Field(max_length=2000)] | None = None
    description: Annotated[str, Field(max_length=2000)] | None = None

    @model_validator(mode="after")
    def _not_reserved(self) -> "PromptVariable":
        if self.name.startswith("system."):
            raise ValueError("names starting with system. are reserved")
        return self


class AuthHeader(ApiModel):
    """A header sent with the webhook; `value` omitted on update keeps the stored one."""

    name: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")]
    value: Annotated[str, Field(max_length=4096)] | None = None


class LifecycleWebhook(WebhookTarget):
    headers: (
        Annotated[dict[ShortText, Annotated[str, Field(max_length=4096)]], Field(max_length=20)]
        | None
    ) = None
    auth_headers: Annotated[list[AuthHeader], Field(max_length=20)] | None = None
    timeout_ms: Annotated[int, Field(ge=100, le=60_000)] | None = None
    response_mode: Literal["sync", "async"] | None = None
    async_ack: Annotated[str, Field(max_length=2000)] | None = None
    extraction_fields: ExtractionFields | None = None


class AgentWebhooks(ApiModel):
    pre_call: LifecycleWebhook | None = None
    status: LifecycleWebhook | None = None
    post_call: LifecycleWebhook | None = None
    analysis: LifecycleWebhook | None = None
    recording: LifecycleWebhook | None = None


class AgentFields(PipelineConfig):
    """What an agent holds: our pipeline fields and the SDK's, in either vocabulary."""

    voice: VoiceOrId | None = None
    intent: AgentIntent | None = None
    background_audio: AgentBackgroundAudio | None = None  # type: ignore[assignment]
    llm_options: LlmOptions | None = Field(None, description="The SDK's `llm`, sets `llm`.")
    stack_preferences: StackPreferences | None = Field(
        None, description="Sets `constraints.allowedProviders` to the union of its lists."
    )
    audio_output: AudioOutput | None = None
    speech_normalization: SpeechNormalization | None = Field(
        None, description="Sets `pronunciationRules` and `textReplacementRules`."
    )
    extraction_fields: ExtractionFields | None = None
    prompt_variables: Annotated[list[PromptVariable], Field(max_length=100)] | None = None
    metadata: Metadata | None = None
    webhooks: AgentWebhooks | None = None
    analysis: AnalysisConfig | None = None


class AgentCreate(AgentFields):
    name: Name


class AgentUpdate(AgentFields):
    """Fields present replace the stored ones (objects whole); `null` clears an optional field."""

    name: Name = Field(None, description="Optional; never null.")  # type: ignore[assignment]


class AuthHeaderOut(ResponseModel):
    name: str
    secret_ref: str


class WebhookOut(ResponseModel):
    url: str
    secret_ref: Annotated[
        str,
        Field(
            description="Which secret signs it: `organization`, or `agent:<kind>` for a "
            "legacy per-webhook secret (never shown)."
        ),
    ]
    secret_set: Annotated[bool, Field(description="A legacy per-webhook secret is configured.")]
    headers: dict[str, str] | None = None
    auth_headers: list[AuthHeaderOut] | None = None
    timeout_ms: int | None = None
    response_mode: str | None = None
    async_ack: str | None = None
    extraction_fields: list[ExtractionField] | None = None


class AgentWebhooksOut(ResponseModel):
    pre_call: WebhookOut | None = None
    status: WebhookOut | None = None
    post_call: WebhookOut | None = None
    analysis: WebhookOut | None = None
    recording: WebhookOut | None = None


class AgentIntentOut(ResponseModel):
    language: str
    optimize_for: Annotated[
        Literal["latency", "quality", "cost"] | None, Field(description="`null`: balanced.")
    ]


class AgentOut(ResponseModel):
    """An agent as the Speko SDK's `AgentRow` reads it, with Trunkline's own fields beside."""

    id: str
    organization_id: str
    name: str
    system_prompt: Annotated[str, Field(description='`""` when none is set.')]
    first_message: str | None = None
    intent: Annotated[AgentIntentOut, Field(description="`en-US`, balanced, when none is set.")]
    voice: Annotated[str | None, Field(description="The voice id (`voiceOptions.voiceId`).")]
    voice_options: Voice | None = None
    llm: Llm | None = None
    llm_options: LlmOptions | None = None
    tts_options: dict[str, Any] | None = None
    stt_options: dict[str, Any] | None = None
    constraints: Constraints | None = None
    stack_preferences: StackPreferences | None = None
    tools: list[Tool] | None = None
    background_audio: AgentBackgroundAudio | None = None
    audio_output: AudioOutput | None = None
    pronunciation_rules: list[PronunciationRule] | None = None
    text_replacement_rules: list[TextReplacementRule] | None = None
    speech_normalization: SpeechNormalization | None = None
    idle_reprompts: IdleReprompts | None = None
    extraction_fields: list[ExtractionField]
    prompt_variables: list[PromptVariable] | None = None
    metadata: dict[str, Any]
    webhooks: AgentWebhooksOut
    analysis: AnalysisConfig | None = None
    created_at: datetime
    updated_at: datetime


class AgentDeleted(ResponseModel):
    deleted: Literal[True] = True
    id: str


class AgentCallPage(SnakeResponseModel):
    """The SDK's `AgentCallListPage`: `entries` mirrors `calls`; pass `next_cursor` as `cursor`."""

    calls: list[CallOut]
    entries: list[CallOut]
    next_cursor: str | None
