"""`trunkline agent`: the LiveKit Agents worker, registered under `LIVEKIT_AGENT_NAME` for
explicit dispatch. Each job is a call's agent or a warm transfer's screener, by its metadata."""

import asyncio
import json
import logging
import os
import sys

from livekit import rtc
from livekit.agents import AgentServer, AgentSession, JobContext, JobProcess, cli
from livekit.agents.voice.background_audio import (
    AudioConfig,
    BackgroundAudioPlayer,
    BuiltinAudioClip,
    PlayHandle,
)
from livekit.plugins import silero

from trunkline.agent.api_client import TrunklineClient
from trunkline.agent.call_agent import TRANSFER_TOPIC, CallAgent, HoldMusic
from trunkline.agent.config import SessionConfig, Sound
from trunkline.agent.dispatch import CallDispatch, DispatchError, ScreeningDispatch, parse_dispatch
from trunkline.agent.providers import ProviderUnavailable, default_components
from trunkline.agent.screening import ScreeningAgent
from trunkline.agent.session import build_session, detect_answering_machine, prepare_call
from trunkline.agent.tools import CallTools
from trunkline.agent.transcript import TranscriptRecorder
from trunkline.settings import Settings
from trunkline.webhooks.client import WebhookClient

logger = logging.getLogger("trunkline.agent")

HOLD_VOLUME = 0.5


def prewarm(process: JobProcess) -> None:
    """Load the voice activity detector once per process, before jobs arrive."""
    process.userdata["vad"] = silero.VAD.load()


async def entrypoint(ctx: JobContext) -> None:
    """One job: read the dispatch, then run the call's agent or the screener."""
    try:
        dispatch = parse_dispatch(ctx.job.metadata)
    except DispatchError as exc:
        logger.error("job %s in room %s: %s", ctx.job.id, ctx.room.name, exc)
        ctx.shutdown(reason="not a Trunkline dispatch")
        return
    client = TrunklineClient(dispatch.api_base_url, dispatch.session_id, dispatch.agent_token)
    ctx.add_shutdown_callback(client.aclose)
    if isinstance(dispatch, ScreeningDispatch):
        await run_screening(ctx, dispatch, client)
    else:
        await run_call(ctx, dispatch, client)


async def run_call(ctx: JobContext, dispatch: CallDispatch, client: TrunklineClient) -> None:
    prepared = await prepare_call(dispatch, client, os.environ)
    if prepared is None:
        ctx.shutdown(reason="the agent cannot run this call")
        return
    config, parts = prepared
    await ctx.connect()
    session = build_session(config, parts, ctx.proc.userdata.get("vad"))
    recorder = TranscriptRecorder(client)
    recorder.attach(session)
    ctx.add_shutdown_callback(recorder.aclose)
    settings = Settings()
    webhooks = WebhookClient(
        timeout_seconds=settings.webhook_timeout_seconds,
        allow_private_targets=settings.webhook_allow_private_targets,
    )
    ctx.add_shutdown_callback(webhooks.aclose)
    player = background_player(config)
    tools = CallTools(dispatch, config, client, webhooks)
    agent = CallAgent(config, tools, hold_music(player))
    follow_notices(ctx.room, agent)
    await session.start(agent, room=ctx.room)
    await player.start(room=ctx.room, agent_session=session)
    if config.detect_answering_machine:
        phone = f"phone-{dispatch.session_id}"
        background(detect_answering_machine(session, client, phone))


async def run_screening(
    ctx: JobContext, dispatch: ScreeningDispatch, client: TrunklineClient
) -> None:
    """Screen the consultation leg with the default providers; without them, decline at once
    so the transfer moves on instead of waiting for a decision nobody will make."""
    try:
        parts = default_components(os.environ)
    except ProviderUnavailable as exc:
        logger.error("transfer %s: the screener cannot start: %s", dispatch.transfer_id, exc)
        await client.decline(dispatch.transfer_id, f"screening agent unavailable: {exc}")
        ctx.shutdown(reason="the screener cannot run")
        return
    await ctx.connect()
    session = AgentSession(
        stt=parts.stt, llm=parts.llm, tts=parts.tts, vad=ctx.proc.userdata.get("vad")
    )
    await session.start(ScreeningAgent(dispatch, client), room=ctx.room)


def background_player(config: SessionConfig) -> BackgroundAudioPlayer:
    """Ambient and thinking sounds as configured (either may be off); hold music on demand."""
    return BackgroundAudioPlayer(
        ambient_sound=audio(config.ambient), thinking_sound=audio(config.thinking)
    )


def audio(sound: Sound | None) -> AudioConfig | None:
    if sound is None:
        return None
    clip = BuiltinAudioClip(f"{sound.clip}.ogg")
    return AudioConfig(clip, volume=sound.volume)


def hold_music(player: BackgroundAudioPlayer) -> HoldMusic:
    """Hold music while a warm transfer screens, stopped when the caller is back."""
    playing: list[PlayHandle] = []

    async def hold(on: bool) -> None:
        while playing:
            playing.pop().stop()
        if on:
            clip = AudioConfig(BuiltinAudioClip.HOLD_MUSIC, volume=HOLD_VOLUME)
            playing.append(player.play(clip, loop=True))

    return hold


def follow_notices(room: rtc.Room, agent: CallAgent) -> None:
    """Hand the `trunkline.transfer` data messages in the room to the agent."""

    def received(packet: rtc.DataPacket) -> None:
        if packet.topic != TRANSFER_TOPIC:
            return
        try:
            notice = json.loads(packet.data)
        except ValueError:
            logger.warning("unreadable transfer notice: %r", packet.data[:200])
            return
        background(agent.on_notice(notice))

    room.on("data_received", received)


_tasks: set[asyncio.Task[None]] = set()


def background(coroutine: object) -> None:
    """Run a coroutine beside the session, keeping a reference until it is done."""
    task = asyncio.ensure_future(coroutine)  # type: ignore[arg-type]
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


def server(settings: Settings) -> AgentServer:
    """The worker, connected to the deployment's LiveKit, registered for explicit dispatch."""
    agents = AgentServer(
        ws_url=settings.livekit_url,
        api_key=settings.livekit_api_key,
        api_secret=settings.livekit_api_secret,
        setup_fnc=prewarm,
    )
    agents.rtc_session(entrypoint, agent_name=settings.livekit_agent_name)
    return agents


def main(arguments: list[str]) -> None:
    """Run the worker: `start` (production) unless another LiveKit CLI command is given."""
    sys.argv = ["trunkline agent", *(arguments or ["start"])]
    cli.run_app(server(Settings()))
