"""Controlling calls: API hang-up, the agent endpoints, idempotent dialing, caller IDs."""

import asyncio
import json
from collections import Counter

import pytest

from simulator.app import Simulator
from tests.calls_support import (
    CALLEE,
    OUR_NUMBER,
    TRUNK,
    call_when,
    events,
    place_call,
    script,
    set_up_line,
)
from tests.conftest import RunningApi, Tenant, new_tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually
from trunkline.db import Database

pytestmark = pytest.mark.usefixtures("worker")


async def test_hang_up_through_the_api(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "in-progress")
    response = await tenant.http.post(f"/v1/calls/{session['sessionId']}/hangup")
    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["ended_reason"]) == ("ended", "api")
    again = await tenant.http.post(f"/v1/calls/{session['sessionId']}/hangup")
    assert again.status_code == 409 and again.json()["code"] == "call_ended", again.text
    assert f"call-{session['sessionId']}" not in again.json()["error"]  # no workflow ids


async def test_every_provider_event_reaches_the_call_events_once(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    """Hung up through the API, the call's row ends before LiveKit and the carrier report the
    legs gone: those late events are not signalled, and the call's report takes them in."""
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    call_id = (await place_call(line))["sessionId"]
    await call_when(tenant, call_id, "in-progress")
    assert (await tenant.http.post(f"/v1/calls/{call_id}/hangup")).status_code == 200

    async def legs_reported_gone() -> Counter | None:
        sent = Counter((w.provider, w.event_type) for w in simulator.webhooks.sent)
        gone = sent[("livekit", "room_finished")] and sent[("telnyx", "call.hangup")]
        return sent if gone else None

    await eventually(legs_reported_gone)
    await simulator.webhooks.drain()
    sent = Counter((w.provider, w.event_type) for w in simulator.webhooks.sent)
    sent_by = {provider for provider, _ in sent}

    async def all_recorded() -> list[dict] | None:
        recorded = await events(tenant, call_id)
        kinds = Counter(
            (e["provider"], e["event_type"]) for e in recorded if e["provider"] in sent_by
        )
        return recorded if kinds == sent else None

    recorded = await eventually(all_recorded, 30)
    assert [e["sequence"] for e in recorded] == list(range(1, len(recorded) + 1))


async def test_agent_endpoints_need_the_calls_own_token(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, api: RunningApi
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    first = await place_call(line)
    await call_when(tenant, first["sessionId"], "in-progress")
    dispatch = next(iter(simulator.world.dispatches.values()))
    token = json.loads(dispatch.metadata)["agentToken"]
    path = f"/v1/agent/calls/{first['sessionId']}"
    entries = [
        {"id": "e1", "role": "agent", "text": "Hi, this is Ava."},
        {"id": "e2", "role": "user", "text": "Hello?"},
    ]
    async with api.client(token) as agent, api.client(tenant.api_key) as customer:
        assert (
            await customer.post(f"{path}/transcript", json={"entries": entries})
        ).status_code == 401
        stored = await agent.post(f"{path}/transcript", json={"entries": entries})
        assert stored.json() == {"stored": 2, "skipped": 0}
        again = await agent.post(f"{path}/transcript", json={"entries": entries[1:]})
        assert again.json() == {"stored": 0, "skipped": 1}
        last = "1" if first["sessionId"].endswith("0") else "0"
        other = f"/v1/agent/calls/{first['sessionId'][:-1]}{last}/end"
        assert (await agent.post(other, json={})).status_code == 401
        verdict = await agent.post(f"{path}/amd", json={"verdict": "human"})
        assert verdict.status_code == 200
        ended = await agent.post(f"{path}/end", json={"reason": "goodbye"})
        assert (ended.json()["status"], ended.json()["ended_reason"]) == ("ended", "goodbye")
        assert (await agent.post(f"{path}/end", json={})).status_code == 409
    types = [e["event_type"] for e in await events(tenant, first["sessionId"])]
    assert "amd.human.ignored" in types  # recorded; AMD was not asked for


async def test_the_agents_machine_verdict_ends_the_call(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, api: RunningApi
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None, carrier_amd=False)
    session = await place_call(line, telephony={"amd": {"mode": "agent", "timeoutSeconds": 20}})
    await call_when(tenant, session["sessionId"], "in-progress")
    token = json.loads(next(iter(simulator.world.dispatches.values())).metadata)["agentToken"]
    async with api.client(token) as agent:
        await agent.post(f"/v1/agent/calls/{session['sessionId']}/amd", json={"verdict": "machine"})
    call = await call_when(tenant, session["sessionId"], "failed")
    assert call["failure_cause"] == "machine" and call["answered_by_machine"] is True


async def test_a_retried_request_with_the_same_key_dials_once(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0.2, hangup_after_seconds=0.3)
    body = {"to": CALLEE, "agentId": line.agent_id}
    headers = {"Idempotency-Key": "order-42"}
    responses = await asyncio.gather(
        *[tenant.http.post("/v1/sessions/phone", json=body, headers=headers) for _ in range(4)]
    )
    assert {r.status_code for r in responses} == {201}
    assert len({r.json()["sessionId"] for r in responses}) == 1
    await call_when(tenant, responses[0].json()["sessionId"], "ended")
    dials = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert len(dials) == 1
    calls = (await tenant.http.get("/v1/calls")).json()["calls"]
    assert len(calls) == 1
    changed = await tenant.http.post(
        "/v1/sessions/phone", json={**body, "firstMessage": "x"}, headers=headers
    )
    assert changed.status_code == 409
    assert changed.json()["code"] == "idempotency_key_reused"


async def test_caller_id_rules(
    tenant: Tenant, receiver: WebhookReceiver, database: Database, api: RunningApi
) -> None:
    line = await set_up_line(tenant, receiver)
    inbound_only = await tenant.http.post(
        "/v1/phone-numbers/import-sip-trunk",
        json={
            "e164": "+14155550111",
            "sipConnectionInstallationId": TRUNK,
            "direction": "inbound",
            "agentId": line.agent_id,
        },
    )
    assert inbound_only.status_code == 201
    refusals = {
        "+14155550111": "does not allow outbound calls",
        "+14155550199": "is not one of your numbers",
    }
    for number, reason in refusals.items():
        response = await tenant.http.post(
            "/v1/sessions/phone", json={"to": CALLEE, "from": number, "agentId": line.agent_id}
        )
        assert response.status_code == 422
        error = response.json()
        assert error["code"] == "invalid_caller_id" and reason in error["error"]
        assert [(d["field"], d["type"]) for d in error["details"]] == [
            ("from", "invalid_caller_id")
        ]
    default = await place_call(line)
    assert default["callerId"] == OUR_NUMBER

    other = await new_tenant(database, api, "Other")
    bare = await other.http.post("/v1/sessions/phone", json={"to": CALLEE, "intent": {}})
    assert bare.json()["code"] == "no_caller_id"
    stolen = await other.http.post(
        "/v1/sessions/phone", json={"to": CALLEE, "agentId": line.agent_id}
    )
    assert stolen.json()["code"] == "agent_not_found"
    nothing = await other.http.post("/v1/sessions/phone", json={"to": CALLEE})
    assert nothing.status_code == 422 and "agentId is required" in nothing.text
    [problem] = nothing.json()["details"]  # a rule across fields names no one field
    assert problem["field"] is None and problem["message"].startswith("agentId is required")
    assert (await other.http.get(f"/v1/calls/{default['sessionId']}")).status_code == 404
    await other.aclose()
