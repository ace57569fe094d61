"""The pre-call webhook: its payload, overrides at the top level or nested, and its deadline."""

import json

import pytest
from standardwebhooks import Webhook

from simulator.app import Simulator
from tests.calls_support import (
    CALLEE,
    OUR_NUMBER,
    call_when,
    events,
    place_call,
    script,
    set_up_line,
)
from tests.conftest import Tenant
from tests.receiver import Reply, WebhookReceiver

pytestmark = pytest.mark.usefixtures("worker")

PRE_CALL_KEYS = {
    "type",
    "call_id",
    "session_id",
    "organization_id",
    "direction",
    "to",
    "from",
    "dialed_number",
    "forwarded_from_number",
    "phone_number_id",
    "call_control_id",
    "pipeline_config",
    "metadata",
}


def json_reply(body: object, status: int = 200, **extra: object) -> Reply:
    return Reply(status, {"content-type": "application/json"}, json.dumps(body), **extra)


async def run_call(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> tuple[dict, dict]:
    """An outbound call whose agent has a pre-call webhook; returns the call and its pre-call."""
    line = await set_up_line(
        tenant,
        receiver,
        agent={
            "webhooks": {
                "preCall": {"url": f"{receiver.url}/pre-call"},
                "status": {"url": f"{receiver.url}/status"},
            }
        },
    )
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    session = await place_call(line, metadata={"leadId": "lead_1"})
    call = await call_when(tenant, session["sessionId"], "ended", "failed")
    [pre_call] = [r for r in receiver.received if r.path == "/pre-call"]
    secret = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    return call, Webhook(secret).verify(pre_call.body, pre_call.headers)


async def test_payload_and_top_level_overrides(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    receiver.script(
        json_reply(
            {
                "firstMessage": "Hi Maya, thanks for calling Acme.",
                "systemPrompt": "The caller is Maya Chen, a priority customer.",
                "metadata": {"customerId": "cus_123", "plan": "enterprise"},
                "favouriteColour": "blue",
            }
        ),
        path="/pre-call",
    )
    call, payload = await run_call(tenant, simulator, receiver)
    assert set(payload) == PRE_CALL_KEYS
    assert payload["type"] == "call.pre_call" and payload["call_id"] == payload["session_id"]
    assert (payload["direction"], payload["from"], payload["to"]) == (
        "outbound",
        OUR_NUMBER,
        CALLEE,
    )
    assert payload["pipeline_config"]["firstMessage"] == "Hi from the agent."
    assert payload["metadata"] == {"leadId": "lead_1"}
    assert payload["call_control_id"].startswith("phone-")
    assert call["pipeline_config"]["firstMessage"] == "Hi Maya, thanks for calling Acme."
    assert call["config_sources"]["firstMessage"] == "pre_call"
    assert call["config_sources"]["metadata.customerId"] == "pre_call"
    assert call["metadata"] == {"leadId": "lead_1", "customerId": "cus_123", "plan": "enterprise"}
    [applied] = [
        e for e in await events(tenant, call["id"]) if e["event_type"].startswith("pre_call.")
    ]
    assert applied["event_type"] == "pre_call.applied" and "favouriteColour" in applied["detail"]
    [dispatch] = simulator.world.dispatches.values()
    dispatched = json.loads(dispatch.metadata)
    assert dispatched["pipelineConfig"]["systemPrompt"].startswith("The caller is Maya Chen")


@pytest.mark.parametrize("wrapper", ["pipelineConfig", "pipeline_config"])
async def test_nested_overrides(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, wrapper: str
) -> None:
    overrides = {wrapper: {"voice": {"voiceId": "v2"}, "llm": {"temperature": 9}}}
    receiver.script(json_reply(overrides), path="/pre-call")
    call, _ = await run_call(tenant, simulator, receiver)
    assert call["pipeline_config"]["voice"] == {"voiceId": "v2"}
    assert call["config_sources"]["voice"] == "pre_call" and "llm" not in call["pipeline_config"]
    [applied] = [
        e for e in await events(tenant, call["id"]) if e["event_type"].startswith("pre_call.")
    ]
    assert "llm" in applied["detail"]  # invalid values are ignored and named


@pytest.mark.parametrize(
    ("reply", "outcome"),
    [
        (json_reply({}, delay_seconds=7), "pre_call.timeout"),
        (json_reply({"error": "boom"}, status=500), "pre_call.error"),
        (Reply(200, {"content-type": "text/html"}, "<html>"), "pre_call.bad_response"),
        (json_reply(["not", "an", "object"]), "pre_call.bad_response"),
    ],
)
async def test_failures_fall_back_to_the_defaults(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, reply: Reply, outcome: str
) -> None:
    receiver.script(reply, path="/pre-call")
    call, _ = await run_call(tenant, simulator, receiver)
    assert call["status"] == "ended"
    assert call["pipeline_config"]["firstMessage"] == "Hi from the agent."
    assert call["config_sources"]["firstMessage"] == "agent"
    types = [e["event_type"] for e in await events(tenant, call["id"])]
    assert outcome in types
