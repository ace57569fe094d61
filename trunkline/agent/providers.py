"""The official LiveKit plugins for each stage of the pipeline, with keys from the environment.

A provider whose key is not set raises `MissingProviderKey`, naming the variable to set, before
anything is said: the job then fails loudly instead of leaving the caller in a silent room.
"""

import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from livekit.agents import llm, stt, tts
from livekit.plugins import cartesia, deepgram, elevenlabs, openai

from trunkline.agent.config import (
    DEFAULT_LLM,
    DEFAULT_STT,
    DEFAULT_TTS,
    FALLBACK_LLM_MODEL,
    ModelChoice,
    SessionConfig,
    base_language,
)
from trunkline.pipeline import DEFAULT_LANGUAGE

logger = logging.getLogger(__name__)

API_KEYS: dict[str, tuple[str, ...]] = {
    "openai": ("OPENAI_API_KEY",),
    "deepgram": ("DEEPGRAM_API_KEY",),
    "cartesia": ("CARTESIA_API_KEY",),
    "elevenlabs": ("ELEVEN_API_KEY", "ELEVENLABS_API_KEY"),
}
"""The variables each provider's key may be in, the plugin's own name first."""
OPENAI_COMPATIBLE: dict[str, str] = {
    "groq": "https://api.groq.com/openai/v1",
    "together": "https://api.together.xyz/v1",
    "deepseek": "https://api.deepseek.com/v1",
    "fireworks": "https://api.fireworks.ai/inference/v1",
    "openrouter": "https://openrouter.ai/api/v1",
    "cerebras": "https://api.cerebras.ai/v1",
    "xai": "https://api.x.ai/v1",
}
"""LLM providers spoken to through the OpenAI plugin at their base URL; `<NAME>_BASE_URL`
overrides one, and makes any other provider name an OpenAI-compatible one."""


class ProviderUnavailable(RuntimeError):
    """A configured provider the agent cannot use; the message says what to do."""


class MissingProviderKey(ProviderUnavailable):
    def __init__(self, stage: str, provider: str, variables: tuple[str, ...]) -> None:
        names = " or ".join(variables)
        super().__init__(f"the call's {stage} provider {provider} needs {names}, which is not set")
        self.stage, self.provider, self.variables = stage, provider, variables


@dataclass(frozen=True)
class Components:
    stt: stt.STT
    llm: llm.LLM
    tts: tts.TTS


def components(config: SessionConfig, env: Mapping[str, str]) -> Components:
    """Every plugin the session needs, each checked for its key before any is used."""
    return Components(
        stt=build_stt(config.stt, env),
        llm=build_llm(config.llm, env),
        tts=build_tts(config.tts, env),
    )


def default_components(env: Mapping[str, str], language: str = DEFAULT_LANGUAGE) -> Components:
    """The default providers, for a screener (a transfer has no pipeline of its own)."""
    return Components(
        stt=build_stt(ModelChoice(DEFAULT_STT, options={"language": language}), env),
        llm=build_llm(ModelChoice(DEFAULT_LLM, FALLBACK_LLM_MODEL), env),
        tts=build_tts(ModelChoice(DEFAULT_TTS, options={"language": language}), env),
    )


def api_key(stage: str, provider: str, env: Mapping[str, str]) -> str:
    """The provider's key from the environment, or `MissingProviderKey`."""
    variables = API_KEYS.get(provider) or (f"{env_prefix(provider)}_API_KEY",)
    for variable in variables:
        if env.get(variable):
            return env[variable]
    raise MissingProviderKey(stage, provider, variables)


def env_prefix(provider: str) -> str:
    """`my-llm` → `MY_LLM`: the prefix of a provider's variables."""
    return "".join(c if c.isalnum() else "_" for c in provider).upper()


def build_llm(choice: ModelChoice, env: Mapping[str, str]) -> llm.LLM:
    """OpenAI, or any OpenAI-compatible LLM at its base URL."""
    base_url = env.get(f"{env_prefix(choice.provider)}_BASE_URL") or OPENAI_COMPATIBLE.get(
        choice.provider
    )
    if choice.provider != "openai" and not base_url:
        variable = f"{env_prefix(choice.provider)}_BASE_URL"
        raise ProviderUnavailable(
            f"the call's LLM provider {choice.provider} is unknown: set {variable} to its "
            "OpenAI-compatible base URL"
        )
    key = api_key("LLM", choice.provider, env)
    extra = {"base_url": base_url} if base_url else {}
    return openai.LLM(model=choice.model or "", api_key=key, **extra, **choice.options)


Derive = Callable[[dict[str, Any]], dict[str, Any]]
"""From a choice's language, voice and speed, the keyword arguments one plugin names them by."""

STT_PLUGINS: dict[str, tuple[Callable[..., stt.STT], Derive]] = {
    "deepgram": (deepgram.STT, lambda o: {"language": o["language"]}),
    "openai": (openai.STT, lambda o: {"language": base_language(o["language"])}),
    "elevenlabs": (elevenlabs.STT, lambda o: {"language_code": base_language(o["language"])}),
}
TTS_PLUGINS: dict[str, tuple[Callable[..., tts.TTS], Derive]] = {
    "cartesia": (
        cartesia.TTS,
        lambda o: (
            _given(language=base_language(o["language"]), voice=o.get("voice"))
            | _given(speed=o.get("speed"))
        ),
    ),
    "elevenlabs": (
        elevenlabs.TTS,
        lambda o: (
            _given(language=base_language(o["language"]), voice_id=o.get("voice"))
            | _given(voice_settings=_eleven_speed(o.get("speed")))
        ),
    ),
    "openai": (openai.TTS, lambda o: _given(voice=o.get("voice"), speed=o.get("speed"))),
    "deepgram": (deepgram.TTS, lambda o: _given(model=o.get("voice"), speed=o.get("speed"))),
}
DERIVED = ("language", "voice", "speed")


def build_stt(choice: ModelChoice, env: Mapping[str, str]) -> stt.STT:
    return _build("STT", choice, env, STT_PLUGINS)


def build_tts(choice: ModelChoice, env: Mapping[str, str]) -> tts.TTS:
    return _build("TTS", choice, env, TTS_PLUGINS)


def _build(
    stage: str,
    choice: ModelChoice,
    env: Mapping[str, str],
    plugins: Mapping[str, tuple[Callable[..., Any], Derive]],
) -> Any:
    """The provider's plugin with its key, model, derived arguments and the options it takes."""
    if choice.provider not in plugins:
        known = ", ".join(sorted(plugins))
        raise ProviderUnavailable(
            f"the call's {stage} provider {choice.provider} is not supported (use {known})"
        )
    plugin, derive = plugins[choice.provider]
    key = api_key(stage, choice.provider, env)
    options = {k: v for k, v in choice.options.items() if k not in DERIVED}
    if choice.model:
        options["model"] = choice.model
    arguments = {**_accepted(plugin, stage, choice.provider, options), **derive(choice.options)}
    return plugin(api_key=key, **arguments)


def _accepted(
    plugin: Callable[..., Any], stage: str, provider: str, options: dict[str, Any]
) -> dict[str, Any]:
    """The options the plugin's constructor takes; the others are logged and left out."""
    accepted = set(inspect.signature(plugin).parameters) - {"api_key"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        logger.warning("%s %s ignores the options %s", provider, stage, ", ".join(unknown))
    return {k: v for k, v in options.items() if k in accepted}


def _given(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def _eleven_speed(speed: float | None) -> elevenlabs.VoiceSettings | None:
    """ElevenLabs takes speed in its voice settings (0.7 to 1.2), beside its default balance."""
    if speed is None:
        return None
    return elevenlabs.VoiceSettings(
        stability=0.5, similarity_boost=0.75, speed=max(0.7, min(speed, 1.2))
    )
