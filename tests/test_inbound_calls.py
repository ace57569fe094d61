"""Inbound calls end to end: a signed carrier webhook → routing → CallWorkflow → bridged room."""

import json
from typing import Any

import httpx
import pytest
from sqlmodel import select

from simulator.app import Simulator
from tests.calls_support import OUR_NUMBER, TRUNK, call_when, events, set_up_line
from tests.conftest import Tenant
from tests.receiver import Reply, WebhookReceiver
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.models import ProviderEvent
from trunkline.settings import Settings

pytestmark = pytest.mark.usefixtures("worker")

CALLER = "+12015559876"
TEMPLATE = {
    "tenant": "acme",
    "caller": "{{callerNumber}}",
    "dialedNumber": "{{dialedNumber}}",
    "forwardedFromNumber": "{{forwardedFromNumber}}",
    "firstMessage": "Template greeting for {{callerNumber}}",
    "systemPrompt": "Template prompt",
}


async def dial_in(settings: Settings, to: str = OUR_NUMBER, **call: Any) -> str:
    """A caller rings `to` through the simulator's control API; returns the call_control_id."""
    body = {"from": CALLER, "to": to, "caller": {"hangupAfterSeconds": 0.5}, **call}
    async with httpx.AsyncClient(base_url=settings.livekit_url) as control:
        response = await control.post("/control/inbound-calls", json=body)
    assert response.status_code == 201, response.text
    return response.json()["callControlId"]


async def the_call(tenant: Tenant) -> dict:
    async def listed() -> dict | None:
        calls = (await tenant.http.get("/v1/calls")).json()["calls"]
        return calls[0] if calls else None

    return await eventually(listed)


async def test_an_inbound_call_reaches_the_agent(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, settings: Settings
) -> None:
    await set_up_line(tenant, receiver)
    control_id = await dial_in(settings)
    call = await call_when(tenant, (await the_call(tenant))["id"], "ended", "failed")
    assert (call["status"], call["direction"], call["ended_reason"]) == (
        "ended",
        "inbound",
        "caller_hung_up",
    )
    assert (call["from"], call["to"], call["call_control_id"]) == (CALLER, OUR_NUMBER, control_id)
    assert call["config_sources"]["systemPrompt"] == "agent"
    assert call["metadata"] == {"forwardedFromNumber": None}
    stored = await events(tenant, call["id"])
    statuses = [e["status"] for e in stored]
    assert statuses[0] == "queued" and "in-progress" in statuses and statuses[-1] == "ended"
    [ring] = [e for e in stored if (e["provider"], e["event_type"]) == ("telnyx", "call.initiated")]
    assert ring["payload"]["data"]["payload"]["call_control_id"] == control_id  # as it came
    [leg] = [leg for leg in simulator.world.legs.values() if leg.call_control_id == control_id]
    assert leg.custom_headers == {} and leg.room == call["room_name"]
    [dispatch] = simulator.world.dispatches.values()
    assert json.loads(dispatch.metadata)["direction"] == "inbound"
    commands = [r["path"].rsplit("/", 1)[1] for r in simulator.requests["telnyx"]]
    assert commands[:2] == ["answer", "transfer"]
    transfer = simulator.requests["telnyx"][1]["body"]
    assert transfer["to"] == f"sip:{call['room_name']}@{settings.livekit_sip_host}"
    assert transfer["custom_headers"] == [{"name": "X-Trunkline-Session-Id", "value": call["id"]}]


async def test_a_template_only_number(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, settings: Settings
) -> None:
    imported = await tenant.http.post(
        "/v1/phone-numbers/import-sip-trunk",
        json={
            "e164": OUR_NUMBER,
            "sipConnectionInstallationId": TRUNK,
            "direction": "inbound",
            "dispatchMetadataTemplate": TEMPLATE,
        },
    )
    assert imported.status_code == 201
    await dial_in(settings)
    call = await call_when(tenant, (await the_call(tenant))["id"], "ended", "failed")
    assert call["agent_id"] is None
    assert call["pipeline_config"] == {
        "firstMessage": f"Template greeting for {CALLER}",
        "systemPrompt": "Template prompt",
    }
    assert call["metadata"] == {
        "tenant": "acme",
        "caller": CALLER,
        "dialedNumber": OUR_NUMBER,
        "forwardedFromNumber": None,
    }
    assert call["config_sources"]["firstMessage"] == "template"


async def test_the_agent_wins_and_the_template_fills_gaps(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, settings: Settings
) -> None:
    await set_up_line(tenant, receiver, dispatchMetadataTemplate=TEMPLATE)
    await dial_in(settings)
    call = await call_when(tenant, (await the_call(tenant))["id"], "ended", "failed")
    assert call["pipeline_config"]["systemPrompt"] == "You are the front desk."
    assert call["pipeline_config"]["firstMessage"] == "Hi from the agent."
    assert call["config_sources"]["systemPrompt"] == "agent"
    assert call["metadata"]["tenant"] == "acme"
    assert call["config_sources"]["metadata.tenant"] == "template"


@pytest.mark.parametrize(
    ("forwarding", "reason"),
    [
        (
            {"diversion": ["<sip:+15557654321@carrier.example>;reason=user-busy;counter=1"]},
            "user-busy",
        ),
        (
            {
                "historyInfo": [
                    "<sip:+15557654321@a.example>;index=1, "
                    "<sip:+14155550100@b.example;cause=302>;index=1.1"
                ]
            },
            "unconditional",
        ),
        ({"forwardedFrom": "+15557654321"}, None),
    ],
)
async def test_forwarded_calls_name_where_they_came_from(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
    forwarding: dict,
    reason: str | None,
) -> None:
    line = await set_up_line(
        tenant,
        receiver,
        agent={
            "webhooks": {
                "preCall": {"url": f"{receiver.url}/pre-call"},
                "status": {"url": f"{receiver.url}/status"},
            }
        },
        dispatchMetadataTemplate={"via": "{{forwardedFromNumber}}"},
    )
    assert line.agent_id
    receiver.script(Reply(200, {"content-type": "application/json"}, "{}"), path="/pre-call")
    await dial_in(settings, **forwarding)
    call = await call_when(tenant, (await the_call(tenant))["id"], "ended", "failed")
    assert call["metadata"]["forwardedFromNumber"] == "+15557654321"
    assert call["metadata"]["via"] == "+15557654321"
    assert call["metadata"].get("forwardedFromReason") == reason
    [pre_call] = [r for r in receiver.received if r.path == "/pre-call"]
    payload = json.loads(pre_call.body)
    assert payload["forwarded_from_number"] == "+15557654321"
    assert payload["direction"] == "inbound" and payload["dialed_number"] == OUR_NUMBER
    assert payload["call_control_id"] == call["call_control_id"]


async def test_a_number_that_refuses_inbound_rejects_at_the_carrier(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, settings: Settings
) -> None:
    await tenant.http.post(
        "/v1/phone-numbers/import-sip-trunk",
        json={"e164": OUR_NUMBER, "sipConnectionInstallationId": TRUNK, "direction": "outbound"},
    )
    control_id = await dial_in(settings)
    call = await call_when(tenant, (await the_call(tenant))["id"], "failed")
    assert (call["failure_cause"], call["ended_reason"]) == (
        "rejected",
        "number does not take inbound calls",
    )
    await eventually(lambda: _leg_ended(simulator, control_id))
    reject = next(r for r in simulator.requests["telnyx"] if r["path"].endswith("/reject"))
    assert reject["body"]["cause"] == "CALL_REJECTED"
    assert simulator.world.dispatches == {}


async def test_an_unknown_number_is_rejected_and_recorded(
    tenant: Tenant, simulator: Simulator, database: Database, settings: Settings
) -> None:
    control_id = await dial_in(settings, to="+14155550177")
    await eventually(lambda: _leg_ended(simulator, control_id))
    async with database.session() as session:
        statement = select(ProviderEvent).where(
            ProviderEvent.call_control_id == control_id,
            ProviderEvent.event_type == "call.initiated",
        )
        [event] = (await session.exec(statement)).all()
    assert event.disposition == "rejected: unknown number"
    assert (await tenant.http.get("/v1/calls")).json()["calls"] == []


async def _leg_ended(simulator: Simulator, control_id: str) -> bool:
    return simulator.world.legs[control_id].state == "ended"
