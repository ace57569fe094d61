"""`speko.agents` from the official SDK: create, get, list, update, delete, list_calls."""

import asyncio

import pytest
import spekoai
from spekoai import AsyncSpeko
from spekoai.models import AgentCallListPage, AgentRow

from simulator.app import Simulator
from tests.calls_support import place_call, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.test_reports import a_finished_call
from trunkline.db import Database
from trunkline.models import Agent

GUIDE_PROMPT = (
    "You are the front-desk receptionist. Greet callers, collect their name and reason for "
    "calling, answer common questions, and transfer urgent calls."
)
FRONT_DESK = {
    "name": "Front desk",
    "system_prompt": GUIDE_PROMPT,
    "intent": {"language": "en-US", "optimize_for": "latency"},
    "webhooks": {
        "pre_call": {"url": "https://example.com/speko/pre-call"},
        "status": {"url": "https://example.com/speko/status"},
        "post_call": {"url": "https://example.com/speko/post-call"},
    },
}
SDK_FIELDS = {
    "voice": "sophia",
    "llm_options": {"temperature": 0.4, "max_tokens": 300, "model": "gpt-4o-mini"},
    "stack_preferences": {"allowed_providers": {"stt": ["deepgram"], "tts": ["cartesia"]}},
    "stt_options": {"keywords": ["Acme"], "language": "en"},
    "background_audio": {
        "ambient": {"clip": "office-ambience", "volume": 6},
        "tool_sound": {"clip": "keyboard-typing", "min_duration_ms": 600},
    },
    "audio_output": {"gain_db": -6},
    "speech_normalization": {
        "pronunciation_dictionary": {"Acme": "ack-mee"},
        "text_replacements": {"Dr.": "Doctor"},
    },
    "extraction_fields": [
        {"name": "plan", "type": "enum", "description": "Plan asked for", "options": ["pro"]}
    ],
    "prompt_variables": [{"name": "customer", "default_value": "there"}],
}


async def test_create_and_get_as_in_the_guide(tenant: Tenant) -> None:
    agent = await tenant.speko.agents.create(FRONT_DESK)
    assert isinstance(agent, AgentRow)
    assert agent.id.startswith("agent_") and agent.organization_id == tenant.organization_id
    assert (agent.name, agent.system_prompt) == ("Front desk", GUIDE_PROMPT)
    assert (agent.intent.language, agent.intent.optimize_for) == ("en-US", "latency")
    assert agent.webhooks is not None and agent.webhooks.pre_call is not None
    assert agent.webhooks.pre_call.url == "https://example.com/speko/pre-call"
    assert agent.webhooks.pre_call.secret_ref == "organization"
    assert agent.webhooks.analysis is None and agent.extraction_fields == []
    assert agent.voice is None and agent.llm_options is None
    assert await tenant.speko.agents.get(agent.id) == agent


async def test_the_sdks_own_fields_are_stored_echoed_and_mapped(
    tenant: Tenant, database: Database
) -> None:
    agent = await tenant.speko.agents.create({**FRONT_DESK, **SDK_FIELDS})
    required = {"id": "", "organization_id": "", "created_at": "", "updated_at": ""}
    expected = AgentRow.model_validate({**FRONT_DESK, **SDK_FIELDS, **required, "webhooks": None})
    for field in SDK_FIELDS:
        assert getattr(agent, field) == getattr(expected, field), field
    ours = (await tenant.http.get(f"/v1/agents/{agent.id}")).json()
    assert ours["voiceOptions"]["voiceId"] == "sophia"
    assert ours["llm"] == {"provider": None, "model": "gpt-4o-mini", "temperature": 0.4} | {
        "maxTokens": 300
    }
    assert ours["constraints"]["allowedProviders"] == ["deepgram", "cartesia"]
    assert ours["pronunciationRules"][0] | {"alphabet": "alias"} == {
        "word": "Acme",
        "pronunciation": "ack-mee",
        "alphabet": "alias",
        "caseSensitive": False,
    }
    assert ours["textReplacementRules"][0]["find"] == "Dr."
    async with database.session() as session:
        stored = (await session.get(Agent, agent.id)).config  # type: ignore[union-attr]
    assert "llmOptions" not in stored and "speechNormalization" not in stored


async def test_update_replaces_given_fields_and_keeps_auth_header_values(
    tenant: Tenant, database: Database
) -> None:
    hooks = {
        "post_call": {
            "url": "https://example.com/speko/post-call",
            "auth_headers": [{"name": "X-Api-Key", "value": "k-123"}],
        }
    }
    agent = await tenant.speko.agents.create({**FRONT_DESK, "webhooks": hooks})
    header = agent.webhooks.post_call.auth_headers[0]  # type: ignore[union-attr,index]
    assert (header.name, header.secret_ref) == ("X-Api-Key", "agent:postCall:X-Api-Key")
    assert "k-123" not in (await tenant.http.get(f"/v1/agents/{agent.id}")).text
    kept = {"post_call": {**hooks["post_call"], "auth_headers": [{"name": "X-Api-Key"}]}}
    updated = await tenant.speko.agents.update(
        agent.id,
        {
            "intent": {"language": "es-MX", "optimize_for": None},
            "voice": "mateo",
            "extraction_fields": [],
            "webhooks": kept,
        },
    )
    assert (updated.intent.language, updated.intent.optimize_for) == ("es-MX", None)
    assert (updated.voice, updated.system_prompt) == ("mateo", GUIDE_PROMPT)
    assert updated.extraction_fields == [] and updated.updated_at > agent.updated_at
    async with database.session() as session:
        stored = (await session.get(Agent, agent.id)).config  # type: ignore[union-attr]
    assert stored["webhooks"]["postCall"]["authHeaders"] == [
        {"name": "X-Api-Key", "value": "k-123"}
    ]
    assert await tenant.speko.agents.get(agent.id) == updated


async def test_list_is_every_agent_newest_first_and_delete_answers(tenant: Tenant) -> None:
    first = await tenant.speko.agents.create({**FRONT_DESK, "name": "First"})
    second = await tenant.speko.agents.create({**FRONT_DESK, "name": "Second"})
    listed = await tenant.speko.agents.list()
    assert all(isinstance(agent, AgentRow) for agent in listed)
    assert [agent.id for agent in listed] == [second.id, first.id]
    assert await tenant.speko.agents.delete(first.id) is True
    assert [agent.id for agent in await tenant.speko.agents.list()] == [second.id]
    with pytest.raises(spekoai.SpekoApiError) as gone:
        await tenant.speko.agents.get(first.id)
    assert (gone.value.status, gone.value.code) == (404, "not_found")
    with pytest.raises(spekoai.SpekoApiError) as again:
        await tenant.speko.agents.delete(first.id)
    assert again.value.status == 404


async def test_the_blocking_client_does_the_same(tenant: Tenant) -> None:
    speko = tenant.sync_speko()
    try:
        agent = await asyncio.to_thread(speko.agents.create, FRONT_DESK)
        assert isinstance(agent, AgentRow) and agent.name == "Front desk"
        assert await asyncio.to_thread(speko.agents.get, agent.id) == agent
        renamed = await asyncio.to_thread(speko.agents.update, agent.id, {"name": "Desk"})
        assert renamed.name == "Desk"
        assert [a.id for a in await asyncio.to_thread(speko.agents.list)] == [agent.id]
        page = await asyncio.to_thread(speko.agents.list_calls, agent.id)
        assert isinstance(page, AgentCallListPage) and page.calls == []
        assert await asyncio.to_thread(speko.agents.delete, agent.id) is True
    finally:
        speko.close()


async def test_invalid_agents_and_bad_keys_raise(tenant: Tenant, stranger: AsyncSpeko) -> None:
    with pytest.raises(spekoai.SpekoApiError) as invalid:
        await tenant.speko.agents.create({**FRONT_DESK, "audio_output": {"gain_db": 40}})
    assert (invalid.value.status, invalid.value.code) == (422, "validation_error")
    assert "audioOutput.gainDb" in str(invalid.value)
    assert await tenant.speko.agents.list() == []
    with pytest.raises(spekoai.SpekoAuthError):
        await stranger.agents.list()


@pytest.mark.usefixtures("worker")
async def test_list_calls_pages_back_in_time(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    older = await a_finished_call(tenant, simulator, line)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    newer = (await place_call(line))["sessionId"]
    first = await tenant.speko.agents.list_calls(line.agent_id, limit=1)
    assert isinstance(first, AgentCallListPage) and first.entries == first.calls
    assert [c.call_id for c in first.calls] == [newer] and first.next_cursor == newer
    rest = await tenant.speko.agents.list_calls(line.agent_id, limit=1, cursor=first.next_cursor)
    (ended,) = rest.calls
    assert (ended.id, ended.agent_id, ended.status, ended.kind) == (
        older,
        line.agent_id,
        "ended",
        "phone",
    )
    assert (ended.language, ended.resource_uri) == ("en-US", f"/v1/calls/{older}")
    assert ended.ended_at and ended.duration_seconds and rest.next_cursor is None
    later = await tenant.speko.agents.list_calls(line.agent_id, since="2999-01-01T00:00:00Z")
    assert later.calls == []
    with pytest.raises(spekoai.SpekoApiError) as unknown:
        await tenant.speko.agents.list_calls("agent_01JD3XXXXXXXXXXXXXXXXXXXXX")
    assert (unknown.value.status, unknown.value.code) == (404, "not_found")
