"""The voice agent's parts that need no call: provider selection for each supported provider,
the speech rules on streamed text, and the compose service that runs it."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from livekit.plugins import cartesia, deepgram, elevenlabs, openai

from trunkline.agent.config import ConfigError, ModelChoice, session_config
from trunkline.agent.dispatch import CallDispatch
from trunkline.agent.providers import (
    MissingProviderKey,
    ProviderUnavailable,
    build_llm,
    build_stt,
    build_tts,
)
from trunkline.agent.speech import rewriter, rewritten
from trunkline.pipeline import PronunciationRule, TextReplacementRule

KEYS = {
    "OPENAI_API_KEY": "sk",
    "DEEPGRAM_API_KEY": "dg",
    "CARTESIA_API_KEY": "ca",
    "ELEVEN_API_KEY": "el",
}


def dispatch(**pipeline: object) -> CallDispatch:
    return CallDispatch.model_validate(
        {
            "sessionId": "session_1",
            "direction": "inbound",
            "from": "+12015559876",
            "to": "+14155550100",
            "pipelineConfig": pipeline,
            "agentToken": "ct_x",
            "apiBaseUrl": "http://127.0.0.1:1",
        }
    )


@pytest.mark.parametrize(
    ("provider", "plugin"),
    [("deepgram", deepgram.STT), ("openai", openai.STT), ("elevenlabs", elevenlabs.STT)],
)
def test_each_stt_provider_builds_its_plugin(provider: str, plugin: type) -> None:
    stt = build_stt(ModelChoice(provider, options={"language": "fr-FR"}), KEYS)
    assert isinstance(stt, plugin)


@pytest.mark.parametrize(
    ("provider", "plugin"),
    [
        ("cartesia", cartesia.TTS),
        ("elevenlabs", elevenlabs.TTS),
        ("openai", openai.TTS),
        ("deepgram", deepgram.TTS),
    ],
)
def test_each_tts_provider_builds_its_plugin_with_the_voice(provider: str, plugin: type) -> None:
    options = {"voice": "voice-1", "speed": 1.0, "language": "en-US"}
    assert isinstance(build_tts(ModelChoice(provider, options=options), KEYS), plugin)


def test_any_openai_compatible_llm_is_reached_by_its_base_url() -> None:
    env = {"VLLM_BASE_URL": "http://127.0.0.1:9/v1", "VLLM_API_KEY": "local"}
    llm = build_llm(ModelChoice("vllm", "llama-3.1-8b"), env)
    assert isinstance(llm, openai.LLM) and llm.model == "llama-3.1-8b"
    with pytest.raises(ProviderUnavailable, match="set ACME_AI_BASE_URL"):
        build_llm(ModelChoice("acme-ai", "m"), env)
    with pytest.raises(MissingProviderKey, match="GROQ_API_KEY"):
        build_llm(ModelChoice("groq", "llama-3.3-70b-versatile"), env)


def test_unknown_or_disallowed_providers_are_refused_by_name() -> None:
    with pytest.raises(ProviderUnavailable, match="TTS provider acme is not supported"):
        build_tts(ModelChoice("acme", options={"language": "en"}), KEYS)
    blocked = dispatch(constraints={"blockedProviders": ["deepgram"]})
    with pytest.raises(ConfigError, match="STT provider deepgram is not allowed"):
        session_config(blocked)
    with pytest.raises(ConfigError, match=r"llm\.model is required"):
        session_config(dispatch(llm={"provider": "groq"}))


def test_a_field_the_agent_cannot_read_is_dropped_not_fatal() -> None:
    config = session_config(dispatch(voice={"provider": "cartesia", "pitch": 3}, firstMessage="Hi"))
    assert config.first_message == "Hi" and config.tts.provider == "cartesia"


async def chunks(*parts: str) -> AsyncIterator[str]:
    for part in parts:
        yield part


async def test_speech_rules_rewrite_streamed_text_a_sentence_at_a_time() -> None:
    rewrite = rewriter(
        [
            PronunciationRule(word="Acme", pronunciation="Ak-mee"),
            PronunciationRule(word="Nguyen", pronunciation="nwin", alphabet="ipa"),
        ],
        [TextReplacementRule(find="Dr.", replace="Doctor")],
        ssml=True,
    )
    assert rewrite is not None
    said = [
        s async for s in rewritten(chunks("Welcome to Ac", "me. Dr. Nguyen", " is in."), rewrite)
    ]
    assert "".join(said) == (
        'Welcome to Ak-mee. Doctor <phoneme alphabet="ipa" ph="nwin">Nguyen</phoneme> is in.'
    )
    plain = rewriter(
        [PronunciationRule(word="Nguyen", pronunciation="nwin", alphabet="ipa")], [], ssml=False
    )
    assert plain is None


def test_compose_runs_the_agent_from_the_image_with_the_agent_extra() -> None:
    compose = yaml.safe_load((Path(__file__).parent.parent / "docker-compose.yml").read_text())
    agent = compose["services"]["agent"]
    assert agent["command"] == ["trunkline", "agent"]
    assert agent["build"]["args"]["EXTRAS"] == "[agent]"
    env = agent["environment"]
    assert {"LIVEKIT_AGENT_NAME", "LIVEKIT_URL", "OPENAI_API_KEY", "DEEPGRAM_API_KEY"} <= set(env)
