"""A call's session configuration, worked out from its dispatch without touching any provider.

Which STT, LLM and TTS run, with which model, voice and language; the words to say and the rules
to say them by; the tools; background audio. Pure, so a dispatch can be checked against it.
"""

import re
from dataclasses import dataclass, field
from typing import Any, get_args

from pydantic.alias_generators import to_snake

from trunkline.agent.dispatch import CallDispatch
from trunkline.pipeline import (
    DEFAULT_LANGUAGE,
    AmbientClip,
    Constraints,
    EndCallTool,
    FunctionTool,
    IdleReprompts,
    PipelineConfig,
    PronunciationRule,
    TextReplacementRule,
    TransferCallTool,
)

DEFAULT_STT = "deepgram"
DEFAULT_LLM = "openai"
DEFAULT_TTS = "cartesia"
DEFAULT_LLM_MODELS = {"quality": "gpt-4.1"}
"""OpenAI's model by `intent.optimizeFor`; anything else gets `FALLBACK_LLM_MODEL`."""
FALLBACK_LLM_MODEL = "gpt-4.1-mini"
PROVIDER_ALIASES = {
    "11labs": "elevenlabs",
    "eleven_labs": "elevenlabs",
    "eleven-labs": "elevenlabs",
}
DEFAULT_INSTRUCTIONS = "You are a helpful voice assistant on a phone call. Keep answers short."
PHONE_STYLE = (
    "You are speaking on a phone call: answer in short, plain sentences without lists, "
    "markdown or emoji."
)
SOUND_CLIPS = {
    "office": "office-ambience",
    "call-center": "crowded-room",
    "cafe": "crowded-room",
    "nature": "forest-ambience",
}
"""Our `backgroundAudio.sound` names as LiveKit's built-in clips."""
CLIPS = frozenset(get_args(AmbientClip))


class ConfigError(ValueError):
    """A pipeline the agent cannot run as configured (a provider not allowed, a model missing)."""


@dataclass(frozen=True)
class ModelChoice:
    """One stage of the pipeline: a provider, its model, and options for its plugin."""

    provider: str
    model: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the plugin, snake_case (voice, speed, temperature...)."""


@dataclass(frozen=True)
class Sound:
    clip: str
    volume: float


@dataclass(frozen=True)
class SessionConfig:
    instructions: str
    first_message: str | None
    language: str
    stt: ModelChoice
    llm: ModelChoice
    tts: ModelChoice
    pronunciation: list[PronunciationRule]
    replacements: list[TextReplacementRule]
    idle: IdleReprompts | None
    ambient: Sound | None
    thinking: Sound | None
    transfer: TransferCallTool | None
    end_call: EndCallTool | None
    functions: list[FunctionTool]
    detect_answering_machine: bool


def session_config(dispatch: CallDispatch) -> SessionConfig:
    """The session a call's dispatch asks for; a `ConfigError` when it cannot run."""
    pipeline = dispatch.pipeline()
    language = pipeline.intent.language if pipeline.intent else DEFAULT_LANGUAGE
    choices = {
        "stt": stt_choice(pipeline, language),
        "llm": llm_choice(pipeline),
        "tts": tts_choice(pipeline, language),
    }
    for stage, choice in choices.items():
        check_allowed(pipeline.constraints, stage, choice.provider)
    tools = pipeline.tools or []
    ambient, thinking = background_sounds(dispatch.pipeline_config.get("backgroundAudio"))
    amd = dispatch.telephony.amd
    return SessionConfig(
        instructions=instructions(pipeline, dispatch),
        first_message=pipeline.first_message,
        language=language,
        pronunciation=pipeline.pronunciation_rules or [],
        replacements=pipeline.text_replacement_rules or [],
        idle=pipeline.idle_reprompts,
        ambient=ambient,
        thinking=thinking,
        transfer=next((t for t in tools if isinstance(t, TransferCallTool)), None),
        end_call=next((t for t in tools if isinstance(t, EndCallTool)), None),
        functions=[t for t in tools if isinstance(t, FunctionTool)],
        detect_answering_machine=amd is not None and amd.mode == "agent",
        **choices,
    )


def instructions(pipeline: PipelineConfig, dispatch: CallDispatch) -> str:
    """The system prompt, with the phone style and what the agent knows about the call."""
    if dispatch.direction == "outbound":
        facts = f"You placed this call to {dispatch.party}."
    else:
        facts = f"{dispatch.party} called {dispatch.to_number}."
    return "\n\n".join([pipeline.system_prompt or DEFAULT_INSTRUCTIONS, PHONE_STYLE, facts])


def provider_name(name: str | None, default: str) -> str:
    """A provider's canonical name, lower case, aliases resolved."""
    name = (name or default).strip().lower()
    return PROVIDER_ALIASES.get(name, name)


def plugin_options(options: dict[str, Any] | None, *taken: str) -> dict[str, Any]:
    """Free-form provider options as plugin keyword arguments, without the ones read apart."""
    return {to_snake(k): v for k, v in (options or {}).items() if k not in taken}


def stt_choice(pipeline: PipelineConfig, language: str) -> ModelChoice:
    options = pipeline.stt_options or {}
    return ModelChoice(
        provider=provider_name(options.get("provider"), DEFAULT_STT),
        model=options.get("model"),
        options={
            "language": options.get("language") or language,
            **plugin_options(options, "provider", "model", "language"),
        },
    )


def llm_choice(pipeline: PipelineConfig) -> ModelChoice:
    llm = pipeline.llm
    provider = provider_name(llm.provider if llm else None, DEFAULT_LLM)
    model = llm.model if llm else None
    if model is None and provider != DEFAULT_LLM:
        raise ConfigError(f"llm.model is required for the LLM provider {provider}")
    optimize_for = pipeline.intent.optimize_for if pipeline.intent else "balanced"
    options: dict[str, Any] = {}
    if llm and llm.temperature is not None:
        options["temperature"] = llm.temperature
    if llm and llm.max_tokens is not None:
        options["max_completion_tokens"] = llm.max_tokens
    return ModelChoice(
        provider=provider,
        model=model or DEFAULT_LLM_MODELS.get(optimize_for, FALLBACK_LLM_MODEL),
        options=options,
    )


def tts_choice(pipeline: PipelineConfig, language: str) -> ModelChoice:
    """The voice: `voice` wins over `ttsOptions`, which pass their other keys to the plugin."""
    options = pipeline.tts_options or {}
    voice = pipeline.voice
    provider = (voice.provider if voice else None) or options.get("provider")
    chosen: dict[str, Any] = {
        "voice": (voice.voice_id if voice else None) or options.get("voiceId"),
        "speed": voice.speed if voice else None,
        "language": (voice.language if voice else None) or options.get("language") or language,
    }
    return ModelChoice(
        provider=provider_name(provider, DEFAULT_TTS),
        model=(voice.model if voice else None) or options.get("model"),
        options={
            **{k: v for k, v in chosen.items() if v is not None},
            **plugin_options(options, "provider", "model", "voiceId", "language"),
        },
    )


def check_allowed(constraints: Constraints | None, stage: str, provider: str) -> None:
    """Refuse a provider the call's constraints block or leave out."""
    if constraints is None:
        return
    allowed = {provider_name(p, p) for p in constraints.allowed_providers or []}
    blocked = {provider_name(p, p) for p in constraints.blocked_providers or []}
    if provider in blocked or (allowed and provider not in allowed):
        raise ConfigError(f"the {stage.upper()} provider {provider} is not allowed for this call")


def background_sounds(raw: Any) -> tuple[Sound | None, Sound | None]:
    """(ambient bed, sound while thinking): ours (`sound`) or the SDK's (`ambient`, `toolSound`)."""
    if not isinstance(raw, dict):
        return None, None
    if raw.get("sound") in SOUND_CLIPS:
        return Sound(SOUND_CLIPS[raw["sound"]], float(raw.get("volume") or 0.3)), None
    return sdk_sound(raw.get("ambient")), sdk_sound(raw.get("toolSound"))


def sdk_sound(source: Any) -> Sound | None:
    """An SDK sound source that names a built-in clip (uploaded sounds are not available).

    Its volume is a linear gain (1 is the clip as recorded), capped at the player's 1."""
    if not isinstance(source, dict) or source.get("clip") not in CLIPS:
        return None
    volume = source.get("volume")
    return Sound(source["clip"], 0.3 if volume is None else min(float(volume), 1.0))


def base_language(language: str) -> str:
    """`en-US` → `en`: what providers that take ISO 639-1 codes expect."""
    return re.split(r"[-_]", language, maxsplit=1)[0].lower()
