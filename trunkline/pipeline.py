"""The pipeline config a call runs with: the fields an agent defines and a call may override.

Field names are snake_case in Python and camelCase on the wire, as the API documents them.
"""

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    model_validator,
)
from pydantic.alias_generators import to_camel

from trunkline.numbers.e164 import E164


def _refuse_nul(value: Any) -> None:
    """PostgreSQL cannot store NUL in text; refuse it on every backend alike."""
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    if isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(key)
            _refuse_nul(item)
    elif isinstance(value, list):
        for item in value:
            _refuse_nul(item)


class ApiModel(BaseModel):
    """camelCase on the wire, unknown fields, NaN, infinities and NUL characters refused."""

    model_config = ConfigDict(
        alias_generator=to_camel, extra="forbid", serialize_by_alias=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        _refuse_nul(data)
        return data


def check_http_url(value: str) -> str:
    """An absolute http(s) URL with a host, kept exactly as given."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an absolute http(s) URL")
    return value


HttpUrlText = Annotated[str, Field(max_length=2048), AfterValidator(check_http_url)]
ShortText = Annotated[str, Field(min_length=1, max_length=200)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
LongText = Annotated[str, Field(max_length=20_000)]
Options = Annotated[dict[str, Any], Field(max_length=100)]


DEFAULT_LANGUAGE = "en-US"
"""A call's language when neither its agent nor the request names one."""


class Intent(ApiModel):
    language: Annotated[str, Field(pattern=r"^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")] = (
        DEFAULT_LANGUAGE
    )
    optimize_for: Literal["latency", "quality", "cost", "balanced"] = "balanced"


class Voice(ApiModel):
    provider: ShortText | None = None
    voice_id: ShortText | None = None
    model: ShortText | None = None
    language: ShortText | None = None
    speed: Annotated[float, Field(ge=0.5, le=2.0)] | None = None


def _voice_from_id(value: Any) -> Any:
    """The Speko SDK names a voice by its id: `"sophia"` is `{"voiceId": "sophia"}`."""
    return {"voiceId": value} if isinstance(value, str) else value


VoiceOrId = Annotated[
    Voice,
    BeforeValidator(_voice_from_id),
    Field(description="A voice id (the SDK's), or a voice object."),
]

AmbientClip = Literal[
    "office-ambience",
    "city-ambience",
    "forest-ambience",
    "crowded-room",
    "keyboard-typing",
    "keyboard-typing2",
]
"""The SDK's built-in background sounds."""


class Llm(ApiModel):
    provider: ShortText | None = None
    model: ShortText | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_tokens: Annotated[int, Field(ge=1, le=32_000)] | None = None


ProviderList = Annotated[list[ShortText], Field(max_length=50)]


class ProvidersByModality(ApiModel):
    stt: ProviderList | None = None
    llm: ProviderList | None = None
    tts: ProviderList | None = None
    s2s: ProviderList | None = None


class Constraints(ApiModel):
    max_call_duration_seconds: Annotated[int, Field(ge=30, le=14_400)] | None = None
    max_cost_per_minute: Annotated[float, Field(gt=0)] | None = None
    allowed_providers: list[ShortText] | None = None
    blocked_providers: list[ShortText] | None = None
    region: ShortText | None = None


class TransferDestination(ApiModel):
    to: E164
    label: ShortText | None = None


class FunctionTool(ApiModel):
    """A tool the agent calls; Trunkline posts its arguments to `url`."""

    type: Literal["function"]
    name: Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_-]{0,63}$")]
    description: LongText | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    url: HttpUrlText | None = None


class TransferCallTool(ApiModel):
    """The built-in `transfer_call` tool, with the destinations the agent may transfer to."""

    type: Literal["transfer_call"]
    mode: Literal["blind", "warm"] = "warm"
    description: LongText | None = None
    destinations: Annotated[list[TransferDestination], Field(min_length=1, max_length=10)]
    screening_prompt: LongText | None = None


class EndCallTool(ApiModel):
    type: Literal["end_call"]
    description: LongText | None = None


Tool = Annotated[FunctionTool | TransferCallTool | EndCallTool, Field(discriminator="type")]


class BackgroundAudio(ApiModel):
    sound: Literal["office", "call-center", "cafe", "nature"]
    volume: Annotated[float, Field(ge=0, le=1)] = 0.3


class PronunciationRule(ApiModel):
    word: ShortText
    pronunciation: ShortText
    alphabet: Literal["alias", "ipa", "cmu"] = "alias"
    case_sensitive: StrictBool = False


class TextReplacementRule(ApiModel):
    find: ShortText
    replace: Annotated[str, Field(max_length=200)]
    regex: StrictBool = False
    case_sensitive: StrictBool = False

    @model_validator(mode="after")
    def _regex_compiles(self) -> "TextReplacementRule":
        if self.regex:
            try:
                re.compile(self.find)
            except re.error as exc:
                raise ValueError(f"find is not a valid regular expression: {exc}") from exc
        return self


class IdleReprompts(ApiModel):
    timeout_seconds: Annotated[float, Field(ge=2, le=120)] = 8
    max_reprompts: Annotated[int, Field(ge=0, le=10)] = 2
    messages: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=500)]], Field(min_length=1)
    ]
    end_call_after_max: StrictBool = True


class Endpointing(ApiModel):
    min_delay: Annotated[float, Field(ge=0, le=10)] | None = None
    max_delay: Annotated[float, Field(ge=0, le=30)] | None = None


class Interruption(ApiModel):
    mode: Literal["adaptive", "vad"] | None = None
    min_duration: Annotated[float, Field(ge=0, le=10)] | None = None
    min_words: Annotated[int, Field(ge=0, le=20)] | None = None


class Vad(ApiModel):
    provider: Literal["silero", "ai-coustics"]


class NoiseCancellation(ApiModel):
    enabled: StrictBool
    model: Literal["quail", "quail-voice-focus"] | None = None


class TurnHandling(ApiModel):
    """Turn-taking for the agent (the SDK's `turnHandling`): Trunkline passes it to the agent."""

    vad: Vad | None = None
    noise_cancellation: NoiseCancellation | None = None
    profile: Literal["conversational", "ivr", "ivr_patient"] | None = None
    endpointing: Endpointing | None = None
    interruption: Interruption | None = None
    turn_detection: StrictBool | Literal["stt"] | None = None
    context_threshold: StrictBool | None = None
    greet_first: StrictBool | None = None


class PipelineConfig(ApiModel):
    """The keys a call can set or override: agent defaults ← call request ← pre-call webhook."""

    system_prompt: LongText | None = None
    first_message: Annotated[str, Field(max_length=2000)] | None = None
    intent: Intent | None = None
    voice: Voice | None = None
    llm: Llm | None = None
    tts_options: Options | None = None
    stt_options: Options | None = None
    constraints: Constraints | None = None
    tools: Annotated[list[Tool], Field(max_length=50)] | None = None
    background_audio: BackgroundAudio | None = None
    pronunciation_rules: Annotated[list[PronunciationRule], Field(max_length=500)] | None = None
    text_replacement_rules: Annotated[list[TextReplacementRule], Field(max_length=500)] | None = (
        None
    )
    idle_reprompts: IdleReprompts | None = None
    turn_handling: TurnHandling | None = None


class ExtractionRule(ApiModel):
    """A value the post-call analysis pulls out of what the caller said.

    `pattern` is a regular expression whose first group (else the whole match) is the value;
    without it, the type's own pattern is used (email, phone, number). A `boolean` is true when
    one of `keywords` was said.
    """

    name: Annotated[str, Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")]
    type: Literal["string", "number", "boolean", "email", "phone"] = "string"
    pattern: ShortText | None = None
    keywords: Annotated[list[ShortText], Field(max_length=50)] = []
    description: ShortText | None = None

    @model_validator(mode="after")
    def _usable(self) -> "ExtractionRule":
        if self.pattern:
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ValueError(f"pattern is not a valid regular expression: {exc}") from exc
        elif self.type == "string":
            raise ValueError("a string rule needs a pattern")
        if self.type == "boolean" and not self.keywords and not self.pattern:
            raise ValueError("a boolean rule needs keywords or a pattern")
        return self


class AnalysisConfig(ApiModel):
    """How calls of this agent are analysed after hangup."""

    structured_data: Annotated[list[ExtractionRule], Field(max_length=50)] = []
    summary_prompt: LongText | None = Field(
        None, description="Instructions for the LLM analyzer, when one is configured."
    )


class WebhookTarget(ApiModel):
    url: HttpUrlText
    secret: Annotated[str, Field(min_length=16, max_length=256)] | None = Field(
        default=None, description="Legacy per-webhook secret; prefer the organization secret."
    )


class AgentWebhooks(ApiModel):
    pre_call: WebhookTarget | None = None
    status: WebhookTarget | None = None
    post_call: WebhookTarget | None = None


def check_metadata_size(value: dict[str, Any]) -> dict[str, Any]:
    """Metadata travels with every call and webhook, so keep it small."""
    try:
        encoded = json.dumps(value, allow_nan=False)
    except ValueError as exc:
        raise ValueError("metadata must be plain JSON (no NaN or Infinity)") from exc
    if len(encoded) > 16_384:
        raise ValueError("metadata must serialize to at most 16 KB of JSON")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(check_metadata_size)]
