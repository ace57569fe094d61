"""The voice agent (`trunkline agent`) in LiveKit Agents' text-mode harness: an `AgentSession`
without a room, one user turn at a time, its LLM the OpenAI plugin pointed at a scripted
OpenAI-compatible server on loopback, against the real API, worker and simulator."""

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from livekit.agents import AgentSession
from livekit.agents.voice.run_result import RunResult
from livekit.plugins import deepgram, elevenlabs, openai

from simulator.app import Simulator
from tests.calls_support import call_when, events, place_call, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.scripted_llm import ScriptedLLM, call, say, scripted_llm
from tests.waiting import eventually
from trunkline.agent.api_client import TrunklineClient
from trunkline.agent.call_agent import CallAgent
from trunkline.agent.config import ModelChoice, Sound, session_config
from trunkline.agent.dispatch import CallDispatch, ScreeningDispatch, parse_dispatch
from trunkline.agent.providers import components
from trunkline.agent.screening import ScreeningAgent
from trunkline.agent.session import prepare_call
from trunkline.agent.tools import CallTools
from trunkline.agent.transcript import TranscriptRecorder
from trunkline.webhooks.client import WebhookClient

pytestmark = pytest.mark.usefixtures("worker")

FRONT_DESK = "+12015557001"
FIRST_MESSAGE = "Hi, this is Ava from Acme. How can I help?"
TRANSFER_TOOL = {
    "type": "transfer_call",
    "mode": "warm",
    "destinations": [{"to": FRONT_DESK, "label": "Front desk"}],
    "screeningPrompt": "Ask whether they can take a billing question.",
}


def provider_env(llm: ScriptedLLM | None = None, **overrides: str) -> dict[str, str]:
    """Keys for every default provider; OpenAI's base URL is the scripted LLM's."""
    env = {"OPENAI_API_KEY": "sk-test", "DEEPGRAM_API_KEY": "dg-test", "CARTESIA_API_KEY": "ca"}
    if llm is not None:
        env["OPENAI_BASE_URL"] = llm.base_url
    return {**env, **overrides}


async def dispatch_metadata(simulator: Simulator, room: str, **fields: Any) -> dict[str, Any]:
    """The metadata of the first agent dispatch into a room named `room…` with `fields`."""

    async def made() -> dict[str, Any] | None:
        for dispatch in simulator.world.dispatches.values():
            metadata = json.loads(dispatch.metadata)
            if dispatch.room.startswith(room) and fields.items() <= metadata.items():
                return metadata
        return None

    return await eventually(made, 20)


async def live_call(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, **agent: Any
) -> tuple[str, CallDispatch]:
    """An answered outbound call of an agent with `agent`'s fields, and its agent's dispatch."""
    line = await set_up_line(tenant, receiver, agent={"firstMessage": FIRST_MESSAGE, **agent})
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    call_id = (await place_call(line))["sessionId"]
    await call_when(tenant, call_id, "in-progress")
    metadata = await dispatch_metadata(simulator, f"call-{call_id}")
    dispatch = parse_dispatch(json.dumps(metadata))
    assert isinstance(dispatch, CallDispatch)
    return call_id, dispatch


@asynccontextmanager
async def call_agent(
    dispatch: CallDispatch, llm: ScriptedLLM
) -> AsyncIterator[tuple[AgentSession, RunResult, TranscriptRecorder]]:
    """The call's agent in a text-mode session once it has greeted (that run is yielded), its
    transcript posted to Trunkline."""
    client = TrunklineClient(dispatch.api_base_url, dispatch.session_id, dispatch.agent_token)
    prepared = await prepare_call(dispatch, client, provider_env(llm))
    assert prepared is not None
    config, parts = prepared
    webhooks = WebhookClient(timeout_seconds=5, allow_private_targets=True)
    recorder = TranscriptRecorder(client)
    async with parts.llm, AgentSession(llm=parts.llm) as session:
        recorder.attach(session)
        agent = CallAgent(config, CallTools(dispatch, config, client, webhooks))
        greeting = await session.start(agent, capture_run=True)
        yield session, greeting, recorder
        await recorder.aclose()
    await webhooks.aclose()
    await client.aclose()


@asynccontextmanager
async def screening_agent(
    simulator: Simulator, call_id: str, llm: ScriptedLLM
) -> AsyncIterator[tuple[AgentSession, ScreeningAgent]]:
    """The screener of the call's warm transfer in a text-mode session, once it is dispatched."""
    metadata = await dispatch_metadata(simulator, "consult-", role="screening", sessionId=call_id)
    dispatch = parse_dispatch(json.dumps(metadata))
    assert isinstance(dispatch, ScreeningDispatch)
    client = TrunklineClient(dispatch.api_base_url, dispatch.session_id, dispatch.agent_token)
    model = openai.LLM(model="gpt-4.1-mini", api_key="sk-test", base_url=llm.base_url)
    async with model, AgentSession(llm=model) as session:
        agent = ScreeningAgent(dispatch, client)
        yield session, agent
    await client.aclose()


async def transfer_of(tenant: Tenant, call_id: str, *states: str) -> dict[str, Any]:
    """The call's (one) transfer once it is in one of `states`."""

    async def reached() -> dict[str, Any] | None:
        transfers = (await tenant.http.get(f"/v1/calls/{call_id}/transfers")).json()["transfers"]
        return transfers[0] if transfers and transfers[0]["state"] in states else None

    return await eventually(reached, 30)


async def warm_transfer(tenant: Tenant, simulator: Simulator, call_id: str) -> dict[str, Any]:
    """A warm transfer to the front desk, who answers and waits to be asked."""
    script(simulator, FRONT_DESK, answer_after_seconds=0, hangup_after_seconds=None)
    response = await tenant.http.post(
        f"/v1/calls/{call_id}/transfers/warm",
        json={
            "destinations": [{"to": FRONT_DESK, "label": "Front desk"}],
            "screeningPrompt": "Ask whether they can take a billing question.",
            "summary": "Maya Chen has a question about her March invoice.",
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def transcript(tenant: Tenant, call_id: str) -> list[tuple[str, str]]:
    """The call's transcript as (source, text), in the order it was stored."""
    entries = (await tenant.http.get(f"/v1/calls/{call_id}/transcript")).json()["entries"]
    return [(e["source"], e["text"]) for e in entries]


# --- the call's agent -----------------------------------------------------------------------


async def test_a_real_dispatch_builds_the_session_configuration(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    webhook_tool = {
        "type": "function",
        "name": "lookup_order",
        "description": "Look up an order.",
        "url": "https://example.com/tools/order",
    }
    call_id, dispatch = await live_call(
        tenant,
        simulator,
        receiver,
        systemPrompt="You are the front desk of Acme.",
        intent={"language": "es-ES", "optimizeFor": "quality"},
        voice={"provider": "ElevenLabs", "voiceId": "voice-123", "speed": 1.1},
        sttOptions={"provider": "deepgram", "model": "nova-3", "smartFormat": True},
        llm={"temperature": 0.2, "maxTokens": 300},
        tools=[TRANSFER_TOOL, webhook_tool, {"type": "end_call"}],
        idleReprompts={"timeoutSeconds": 6, "messages": ["¿Sigue ahí?"]},
        pronunciationRules=[{"word": "Acme", "pronunciation": "Ak-mee"}],
        textReplacementRules=[{"find": "Dr.", "replace": "Doctor"}],
        backgroundAudio={"sound": "office", "volume": 0.2},
    )
    assert (dispatch.session_id, dispatch.direction, dispatch.party) == (
        call_id,
        "outbound",
        "+12015551234",
    )
    config = session_config(dispatch)
    assert config.instructions.startswith("You are the front desk of Acme.")
    assert "+12015551234" in config.instructions
    assert (config.first_message, config.language) == (FIRST_MESSAGE, "es-ES")
    assert config.stt == ModelChoice(
        "deepgram", "nova-3", {"language": "es-ES", "smart_format": True}
    )
    assert config.llm == ModelChoice(
        "openai", "gpt-4.1", {"temperature": 0.2, "max_completion_tokens": 300}
    )
    assert config.tts == ModelChoice(
        "elevenlabs", None, {"voice": "voice-123", "speed": 1.1, "language": "es-ES"}
    )
    assert config.transfer is not None and config.transfer.destinations[0].to == FRONT_DESK
    assert [t.name for t in config.functions] == ["lookup_order"]
    assert config.end_call is not None and not config.detect_answering_machine
    assert config.idle is not None and config.idle.timeout_seconds == 6
    assert [r.word for r in config.pronunciation] == ["Acme"]
    assert config.ambient == Sound("office-ambience", 0.2)

    parts = components(config, provider_env(ELEVEN_API_KEY="el-test"))
    assert isinstance(parts.stt, deepgram.STT) and parts.stt.model == "nova-3"
    assert isinstance(parts.llm, openai.LLM) and parts.llm.model == "gpt-4.1"
    assert isinstance(parts.tts, elevenlabs.TTS)
    assert (parts.tts._opts.voice_id, parts.tts._opts.language) == ("voice-123", "es")
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_amd_in_agent_mode_reaches_the_agent(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    amd = {"mode": "agent", "timeoutSeconds": 8}
    call_id = (await place_call(line, telephony={"amd": amd}))["sessionId"]
    metadata = await dispatch_metadata(simulator, f"call-{call_id}")
    dispatch = parse_dispatch(json.dumps(metadata))
    assert isinstance(dispatch, CallDispatch)
    assert session_config(dispatch).detect_answering_machine
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_the_agent_greets_and_its_transcript_reaches_the_api(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    call_id, dispatch = await live_call(tenant, simulator, receiver)
    async with scripted_llm() as llm, call_agent(dispatch, llm) as (session, greeting, recorder):
        greeting.expect.skip_next_event_if(type="agent_handoff")
        greeted = greeting.expect.next_event().is_message(role="assistant").event().item
        assert greeted.text_content == FIRST_MESSAGE
        await eventually(lambda: transcript(tenant, call_id))
        llm.script(say("Sure, I can help with your invoice."))
        result = await session.run(user_input="I have a question about my invoice.")
        result.expect.next_event().is_message(role="assistant")
        result.expect.no_more_events()
        await recorder.flush()
    assert llm.requests[0]["messages"][0]["role"] in ("system", "developer")
    assert await transcript(tenant, call_id) == [
        ("agent", FIRST_MESSAGE),
        ("user", "I have a question about my invoice."),
        ("agent", "Sure, I can help with your invoice."),
    ]
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_a_caller_asking_for_a_human_is_transferred(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    call_id, dispatch = await live_call(tenant, simulator, receiver, tools=[TRANSFER_TOOL])
    script(simulator, FRONT_DESK, answer_after_seconds=0, hangup_after_seconds=None)
    async with scripted_llm() as llm, call_agent(dispatch, llm) as (session, _, _):
        llm.script(call("transfer_call", destination="Front desk", reason="wants a person"))
        result = await session.run(user_input="Can I talk to a real person, please?")
        result.expect.next_event().is_function_call(name="transfer_call")
        result.expect.next_event().is_function_call_output()
        assert "transfer_call" in llm.tools_offered()
    transfer = await transfer_of(tenant, call_id, "dialing", "screening")
    assert (transfer["kind"], transfer["requested_by"]) == ("warm", "agent")
    assert transfer["transfer_to"] == FRONT_DESK
    screener = await dispatch_metadata(simulator, "consult-", role="screening")
    assert screener["screeningPrompt"] == TRANSFER_TOOL["screeningPrompt"]
    assert screener["destination"] == {"to": FRONT_DESK, "label": "Front desk"}
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_a_missing_provider_key_fails_the_call_clearly(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    caplog: pytest.LogCaptureFixture,
) -> None:
    call_id, dispatch = await live_call(tenant, simulator, receiver)
    client = TrunklineClient(dispatch.api_base_url, dispatch.session_id, dispatch.agent_token)
    env = provider_env()
    del env["DEEPGRAM_API_KEY"]
    with caplog.at_level(logging.ERROR, logger="trunkline.agent"):
        assert await prepare_call(dispatch, client, env) is None
    await client.aclose()
    assert "needs DEEPGRAM_API_KEY, which is not set" in caplog.text
    call = await call_when(tenant, call_id, "ended")
    assert call["ended_reason"] == "agent_failed"
    failed = next(e for e in await events(tenant, call_id) if e["event_type"] == "agent.failed")
    assert "DEEPGRAM_API_KEY" in failed["detail"]
    assert failed["payload"] == {"reason": "missing_provider_key"}


# --- the screening agent --------------------------------------------------------------------


async def test_the_screening_agent_briefs_the_recipient_and_completes(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    call_id, _ = await live_call(tenant, simulator, receiver)
    transfer = await warm_transfer(tenant, simulator, call_id)
    async with (
        scripted_llm() as llm,
        screening_agent(simulator, call_id, llm) as (session, agent),
    ):
        greeting = await session.start(agent, capture_run=True)
        briefing = greeting.expect.next_event(type="message").event().item.text_content
        assert "Maya Chen has a question about her March invoice." in briefing
        llm.script(call("accept_transfer"))
        result = await session.run(user_input="Sure, put them through.")
        result.expect.next_event().is_function_call(name="accept_transfer")
        assert agent.decided == "accepted"
    done = await transfer_of(tenant, call_id, "completed")
    assert done["id"] == transfer["id"]
    assert [(a["to"], a["outcome"]) for a in done["attempts"]] == [(FRONT_DESK, "accepted")]
    assert (
        "Ask whether they can take a billing question." in llm.requests[0]["messages"][0]["content"]
    )
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_the_screening_agent_declines_for_the_recipient(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    call_id, _ = await live_call(tenant, simulator, receiver)
    await warm_transfer(tenant, simulator, call_id)
    async with (
        scripted_llm() as llm,
        screening_agent(simulator, call_id, llm) as (session, agent),
    ):
        await session.start(agent)
        llm.script(call("decline_transfer", reason="in a meeting"), say("No problem, bye."))
        result = await session.run(user_input="Sorry, I'm in a meeting.")
        result.expect.next_event().is_function_call(name="decline_transfer")
        assert agent.decided == "declined"
    done = await transfer_of(tenant, call_id, "exhausted", "cancelled")
    attempt = done["attempts"][0]
    assert (attempt["to"], attempt["outcome"]) == (FRONT_DESK, "declined")
    assert "in a meeting" in (attempt["detail"] or "")
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")
