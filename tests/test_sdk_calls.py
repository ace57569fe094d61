"""The official Speko SDK against Trunkline: `voice.dial` and every `calls` read and control,
with the guide's own values, each answer validated by the SDK's own models."""

import asyncio
import json

import httpx
import pytest
from livekit import api as livekit
from spekoai import AsyncSpeko, SpekoApiError, SpekoAuthError
from spekoai.models import (
    CallDetail,
    CallEvent,
    CallRecording,
    CallReport,
    EndCallResult,
    FinalizeCallReportResult,
    VoiceDialResult,
    WebJoinResult,
)

from simulator.agent import agent_joiner
from simulator.app import Simulator
from simulator.scripts import SpokenLine
from tests.calls_support import (
    CALLEE,
    OUR_NUMBER,
    Line,
    hang_up_once_heard,
    script,
    set_up_line,
)
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually
from trunkline.settings import Settings

pytestmark = pytest.mark.usefixtures("worker")

SAID = [
    SpokenLine(text="Hi, yes, now is a good time.", after_seconds=0.1),
    SpokenLine(text="Please renew my plan.", after_seconds=0.2),
]


async def dial(tenant: Tenant, line: Line) -> VoiceDialResult:
    """The guide's `speko.voice.dial` example."""
    return await tenant.speko.voice.dial(
        {
            "to": CALLEE,
            "from": OUR_NUMBER,
            "agent_id": line.agent_id,
            "first_message": "Hi, this is Ava from Acme. Is now still a good time?",
            "telephony": {"region": "us-east", "amd": {"mode": "agent", "timeout_seconds": 8}},
            "metadata": {"campaignId": "renewal-q2", "leadId": "lead_456"},
        }
    )


async def status_of(tenant: Tenant, call_id: str, *statuses: str) -> CallDetail:
    async def reached() -> CallDetail | None:
        call = await tenant.speko.calls.get(call_id)
        return call if call.status in statuses else None

    return await eventually(reached, 20)


async def report_of(tenant: Tenant, call_id: str) -> CallReport:
    """The report, once `calls.report` stops answering `report_not_ready`."""

    async def ready() -> CallReport | None:
        try:
            return await tenant.speko.calls.report(call_id)
        except SpekoApiError as error:
            assert (error.status, error.code) == (404, "report_not_ready")
            return None

    return await eventually(ready, 30)


async def test_a_call_read_back_through_the_sdk(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None, transcript=SAID)
    dialed = await dial(tenant, line)
    assert isinstance(dialed, VoiceDialResult)
    assert (dialed.status, dialed.to, dialed.from_) == ("dialing", CALLEE, OUR_NUMBER)
    assert dialed.call_control_id and dialed.room_name
    call_id = dialed.session_id
    await hang_up_once_heard(tenant, simulator, call_id, SAID)

    report = await report_of(tenant, call_id)
    assert (report.session_id, report.organization_id) == (call_id, tenant.organization_id)
    assert report.analysis_status == "heuristic" and report.outcome == "completed"
    assert [e.text for e in report.transcript.entries if e.source == "user"] == [
        s.text for s in SAID
    ]
    assert int(report.cost_micro_usd) == sum(int(c.cost_micro_usd) for c in report.cost_breakdown)
    assert {c.provider for c in report.cost_breakdown} >= {"telephony", "stt", "llm", "tts"}
    assert report.voicemail is not None and report.voicemail.detected is False
    assert report.metadata == {"campaignId": "renewal-q2", "leadId": "lead_456"}

    call = await tenant.speko.calls.get(call_id)
    assert isinstance(call, CallDetail)
    assert (call.id, call.call_id, call.status, call.kind) == (call_id, call_id, "ended", "phone")
    assert call.resource_uri == f"/v1/calls/{call_id}" and call.room_name == dialed.room_name
    assert call.report is not None and call.report.summary == report.summary
    assert [e.text for e in call.transcript.entries] == [e.text for e in report.transcript.entries]
    assert call.recording_status == "EGRESS_COMPLETE" and call.recording_duration_ms
    assert call.transfers == [] and call.duration_seconds

    events = await tenant.speko.calls.events(call_id)
    assert events and all(isinstance(e, CallEvent) for e in events)
    assert {e.organization_id for e in events} == {tenant.organization_id}
    assert {e.session_id for e in events} == {call_id}
    assert "call.hangup" in [e.event_type for e in events]
    assert events[-1].status == "ended"

    recording = await tenant.speko.calls.recording(call_id)
    assert isinstance(recording, CallRecording)
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(recording.url)).status_code == 200

    async def rerun() -> FinalizeCallReportResult | None:
        """Ask for a new analysis, again while the first report run is still finishing."""
        try:
            return await tenant.speko.calls.finalize_report(call_id, {"force_analysis": True})
        except SpekoApiError as error:
            assert (error.status, error.code) == (409, "report_in_progress")
            return None

    finalized = await eventually(rerun, 30)
    assert isinstance(finalized, FinalizeCallReportResult)
    assert (finalized.session_id, finalized.summary) == (call_id, report.summary)
    assert finalized.cost_micro_usd == report.cost_micro_usd

    ended = await tenant.speko.calls.end(call_id)
    assert isinstance(ended, EndCallResult)
    assert (ended.ok, ended.status) == (True, "already_ended") and ended.ended_at
    with pytest.raises(SpekoApiError) as refused:
        await tenant.speko.calls.web_join(call_id)
    assert (refused.value.status, refused.value.code) == (409, "call_not_in_progress")


async def test_a_browser_joins_a_live_call_and_the_kill_switch_ends_it(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, settings: Settings
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=600)
    call_id = (await dial(tenant, line)).session_id
    live = await status_of(tenant, call_id, "in-progress")
    with pytest.raises(SpekoApiError) as early:
        await tenant.speko.calls.report(call_id)
    assert (early.value.status, early.value.code) == (404, "report_not_ready")

    joined = await tenant.speko.calls.web_join(call_id, {"display_name": "Supervisor"})
    assert isinstance(joined, WebJoinResult)
    assert joined.room_name == live.room_name and joined.url.startswith("ws://")
    claims = livekit.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret).verify(
        joined.token
    )
    assert (claims.identity, claims.name) == (joined.identity, "Supervisor")
    assert claims.video is not None and claims.video.room == live.room_name
    again = await tenant.speko.calls.web_join(call_id)
    assert again.identity != joined.identity  # every join is a participant of its own

    ending = await tenant.speko.calls.end(call_id)
    assert (ending.ok, ending.status, ending.ended_at) == (True, "ending", None)
    ended = await status_of(tenant, call_id, "ended")
    assert ended.ended_at is not None


async def test_every_dial_field_the_sdk_sends_is_taken(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(
        tenant, receiver, agent={"systemPrompt": "You are {{ agent_name }} from {{company}}."}
    )
    script(simulator, behaviour="voicemail", answer_after_seconds=0.1, hangup_after_seconds=None)
    dialed = await tenant.speko.voice.dial(
        {
            "to": CALLEE,
            "agent_id": line.agent_id,
            "first_message": "Hi {{customer}}, this is {{ agent_name }}.",
            "variables": {"agent_name": "Ava", "company": "Acme", "customer": "Maya"},
            "tool_secrets": {"crm_token": "secret-crm-token"},
            "voice": "sophia",
            "intent": {"language": "en-GB", "region": "eu-west1", "optimize_for": "accuracy"},
            "constraints": {"allowed_providers": {"stt": ["deepgram"], "llm": ["openai"]}},
            "llm": {"temperature": 0.3, "max_tokens": 300},
            "tts_options": {"sample_rate": 24000, "speed": 1.1},
            "stt_options": {"keywords": ["Acme"], "language": "en"},
            "max_duration_seconds": 600,
            "turn_handling": {
                "profile": "ivr",
                "greet_first": False,
                "vad": {"provider": "silero"},
            },
            "telephony": {"amd": {"mode": "carrier", "timeout_seconds": 5}},
            "webhook_tags": {"tenant": "acme"},
            "metadata": {"leadId": "lead_456"},
        }
    )
    call = await status_of(tenant, dialed.session_id, "failed")  # the carrier heard a machine
    config = call.pipeline_config
    assert config["systemPrompt"] == "You are Ava from Acme."
    assert config["firstMessage"] == "Hi Maya, this is Ava."
    assert config["voice"] == {"voiceId": "sophia"}
    assert config["intent"] == {"language": "en-GB", "region": "eu-west1", "optimizeFor": "quality"}
    assert config["constraints"] == {
        "allowedProviders": ["deepgram", "openai"],
        "maxCallDurationSeconds": 600,
    }
    assert config["turnHandling"] == {
        "profile": "ivr",
        "greetFirst": False,
        "vad": {"provider": "silero"},
    }
    assert config["llm"] == {"temperature": 0.3, "maxTokens": 300}
    assert call.metadata == {"leadId": "lead_456", "webhookTags": {"tenant": "acme"}}
    [dispatch] = simulator.world.dispatches.values()
    metadata = json.loads(dispatch.metadata)
    assert metadata["toolSecrets"] == {"crm_token": "secret-crm-token"}
    assert "secret-crm-token" not in json.dumps(metadata["pipelineConfig"])
    raw = (await tenant.http.get(f"/v1/calls/{dialed.session_id}")).text
    assert "secret-crm-token" not in raw
    assert "amd.machine" in [e.event_type for e in await tenant.speko.calls.events(call.id)]

    script(simulator, behaviour="voicemail", answer_after_seconds=0.1, hangup_after_seconds=0.3)
    unscreened = await tenant.speko.voice.dial(
        {
            "to": CALLEE,
            "agent_id": line.agent_id,
            "telephony": {"amd": {"mode": "disabled"}},
            "variables": {"agent_name": "Ava", "company": "Acme"},
        }
    )
    assert (await status_of(tenant, unscreened.session_id, "ended", "failed")).status == "ended"

    with pytest.raises(SpekoApiError) as missing:
        await tenant.speko.voice.dial(
            {"to": CALLEE, "agent_id": line.agent_id, "variables": {"company": "Acme"}}
        )
    assert (missing.value.status, missing.value.code) == (400, "missing_template_variables")
    assert "agent_name" in missing.value.message


async def test_the_blocking_client_and_errors(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, stranger: AsyncSpeko
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    call_id = (await dial(tenant, line)).session_id
    await status_of(tenant, call_id, "ended")
    with tenant.sync_speko() as speko:
        call = await asyncio.to_thread(speko.calls.get, call_id)
        events = await asyncio.to_thread(speko.calls.events, call_id)
        with pytest.raises(SpekoApiError) as missing:
            await asyncio.to_thread(speko.calls.get, "session_01JZ0000000000000000000000")
    assert call.status == "ended" and "call.ended" in [e.event_type for e in events]
    assert (missing.value.status, missing.value.code) == (404, "not_found")
    assert "session_01JZ0000000000000000000000" in missing.value.message
    with pytest.raises(SpekoAuthError):
        await stranger.calls.get(call_id)
