"""From a call's dispatch to a running session: check it can run (or report why not), build
the `AgentSession`, and the call's side jobs (answering-machine detection, background audio)."""

import logging
from collections.abc import Mapping

from livekit.agents import AgentSession, vad
from livekit.agents.voice.amd import AMD, AMDCategory

from trunkline.agent.api_client import AgentApiError, TrunklineClient
from trunkline.agent.config import ConfigError, SessionConfig, session_config
from trunkline.agent.dispatch import CallDispatch
from trunkline.agent.providers import (
    Components,
    MissingProviderKey,
    ProviderUnavailable,
    components,
)

logger = logging.getLogger(__name__)

MACHINE = frozenset(
    {AMDCategory.MACHINE_VM, AMDCategory.MACHINE_IVR, AMDCategory.MACHINE_UNAVAILABLE}
)


def failure_reason(error: Exception) -> str:
    """The `reason` Trunkline records for an agent that could not start."""
    if isinstance(error, MissingProviderKey):
        return "missing_provider_key"
    if isinstance(error, ProviderUnavailable):
        return "provider_unavailable"
    return "invalid_pipeline"


async def prepare_call(
    dispatch: CallDispatch, client: TrunklineClient, env: Mapping[str, str]
) -> tuple[SessionConfig, Components] | None:
    """The call's configuration and providers; None, logged and reported, when it cannot run."""
    try:
        config = session_config(dispatch)
        return config, components(config, env)
    except (ConfigError, ProviderUnavailable) as exc:
        logger.error("call %s: the agent cannot start: %s", dispatch.session_id, exc)
        try:
            await client.fail(failure_reason(exc), str(exc))
        except AgentApiError as refused:
            logger.error("call %s: Trunkline refused the failure: %s", dispatch.session_id, refused)
        return None


def build_session(
    config: SessionConfig, parts: Components, voice_activity: vad.VAD | None
) -> AgentSession:
    """The session of a call: its providers, and away detection for idle reprompts."""
    return AgentSession(
        stt=parts.stt,
        llm=parts.llm,
        tts=parts.tts,
        vad=voice_activity,
        user_away_timeout=config.idle.timeout_seconds if config.idle else None,
    )


def amd_verdict(category: AMDCategory) -> str | None:
    """LiveKit's AMD category as Trunkline's verdict; None when unsure (Trunkline's timeout
    then takes the callee for a person)."""
    if category == AMDCategory.HUMAN:
        return "human"
    return "machine" if category in MACHINE else None


async def detect_answering_machine(
    session: AgentSession, client: TrunklineClient, phone_identity: str
) -> None:
    """Listen to who answered with LiveKit's AMD (the session's own STT and LLM) and report."""
    async with AMD(
        session, llm=None, stt=None, participant_identity=phone_identity, ivr_detection=False
    ) as detector:
        result = await detector.execute()
    verdict = amd_verdict(result.category)
    logger.info("AMD: %s (%s) → %s", result.category, result.reason, verdict)
    if verdict is not None:
        try:
            await client.amd(verdict)
        except AgentApiError as exc:
            logger.warning("AMD verdict not taken: %s", exc)
