"""Outbound calls end to end: REST API → CallWorkflow → LiveKit/Telnyx simulator → webhooks."""

import json

import pytest
from standardwebhooks import Webhook

from simulator.app import Simulator
from simulator.provider_webhooks import Misbehaviour
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
from tests.receiver import WebhookReceiver
from tests.waiting import eventually

pytestmark = pytest.mark.usefixtures("worker")


async def room_closed(simulator: Simulator, room: str) -> bool:
    return room not in simulator.world.rooms


def status_path(recorded: list[dict]) -> list[str]:
    """The statuses a call went through, each once, in order."""
    path: list[str] = []
    for event in recorded:
        if not path or path[-1] != event["status"]:
            path.append(event["status"])
    return path


STATUS_KEYS = {
    "type",
    "call_id",
    "event_type",
    "provider",
    "status",
    "failure_cause",
    "sip_status_code",
    "sip_status",
    "metadata",
}


async def test_answered_call_runs_to_its_end(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0.1, hangup_after_seconds=0.5)
    session = await place_call(line, metadata={"leadId": "lead_456"}, firstMessage="Hi, it's Ava.")
    assert session["callerId"] == OUR_NUMBER and session["to"] == CALLEE
    assert session["sipParticipant"]["roomName"] == session["roomName"]
    call = await call_when(tenant, session["sessionId"], "ended", "failed")
    assert call["status"] == "ended", call
    assert call["failure_cause"] is None and call["answered_at"] and call["ended_at"]
    assert call["pipeline_config"]["firstMessage"] == "Hi, it's Ava."
    assert call["config_sources"]["firstMessage"] == "request"
    assert call["config_sources"]["systemPrompt"] == "agent"
    assert call["metadata"] == {"leadId": "lead_456"}

    async def with_hangup() -> list[dict] | None:
        """The events once the carrier's hangup is among them: it may come after the call's
        last event, and then joins them when the report runs."""
        recorded = await events(tenant, session["sessionId"])
        return recorded if any(e["event_type"] == "call.hangup" for e in recorded) else None

    recorded = await eventually(with_hangup)
    assert [e["sequence"] for e in recorded] == list(range(1, len(recorded) + 1))
    assert status_path(recorded) == ["queued", "dialing", "ringing", "in-progress", "ended"]
    kinds = {(e["provider"], e["event_type"]) for e in recorded}
    expected = {
        ("telnyx", "call.initiated"),
        ("telnyx", "call.answered"),
        ("telnyx", "call.hangup"),
    }
    assert expected <= kinds and ("trunkline", "call.ended") in kinds
    hangup = next(e for e in recorded if e["event_type"] == "call.hangup")
    assert hangup["payload"]["data"]["payload"]["sip_hangup_cause"] == "200"
    assert hangup["sip_status_code"] == 200 and hangup["sip_status"] == "OK"

    [dispatch] = simulator.world.dispatches.values()
    metadata = json.loads(dispatch.metadata)
    assert metadata["sessionId"] == session["sessionId"]
    assert metadata["pipelineConfig"]["systemPrompt"] == "You are the front desk."
    assert metadata["agentToken"].startswith("ct_")

    secret = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    path = ["queued", "dialing", "ringing", "in-progress", "ended"]
    statuses = await receiver.wait_for(len(path))  # one per status, in order
    for delivery in statuses:
        body = Webhook(secret).verify(delivery.body, delivery.headers)
        assert set(body) == STATUS_KEYS and body["call_id"] == session["sessionId"]
    assert [json.loads(d.body)["status"] for d in statuses] == path
    listed = (await tenant.http.get(f"/v1/calls/{session['sessionId']}/webhook-deliveries")).json()
    assert [d["id"] for d in listed["data"]] == [d.headers["webhook-id"] for d in statuses]


async def test_a_call_answered_before_its_ring_arrived_still_rang(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    """Under load the dial's answer can reach the call before the carrier's ring: the status
    still goes through `ringing` (the carrier's ring and answer never come here)."""
    simulator.webhooks.misbehaviour = Misbehaviour(drop=["call.initiated", "call.answered"])
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0.1, hangup_after_seconds=0.3)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended")
    recorded = await events(tenant, session["sessionId"])
    assert status_path(recorded) == ["queued", "dialing", "ringing", "in-progress", "ended"]
    rang = next(e for e in recorded if e["status"] == "ringing")
    assert (rang["provider"], rang["event_type"]) == ("trunkline", "call.ringing")
    statuses = await receiver.wait_for(5)
    assert [json.loads(d.body)["status"] for d in statuses][2:4] == ["ringing", "in-progress"]


@pytest.mark.parametrize(
    ("behaviour", "cause", "code", "phrase"),
    [
        ("busy", "busy", 486, "Busy Here"),
        ("declined", "rejected", 603, "Decline"),
        ("not-found", "not-found", 404, "Not Found"),
        ("unavailable", "unavailable", 480, "Temporarily Unavailable"),
    ],
)
async def test_refused_calls_fail_with_the_sip_cause(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    behaviour: str,
    cause: str,
    code: int,
    phrase: str,
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, behaviour=behaviour, answer_after_seconds=0.1)
    session = await place_call(line)
    call = await call_when(tenant, session["sessionId"], "ended", "failed")
    assert (call["status"], call["failure_cause"]) == ("failed", cause)
    assert (call["sip_status_code"], call["sip_status"]) == (code, phrase)
    assert call["answered_at"] is None

    async def failed_webhook() -> dict | None:
        bodies = [json.loads(d.body) for d in receiver.received]
        return next((b for b in bodies if b["event_type"] == "call.failed"), None)

    failed = await eventually(failed_webhook)
    statuses = [json.loads(d.body)["status"] for d in receiver.received]
    path = ["queued", "dialing", "ringing", "failed"]  # the carrier's ring may come too late
    assert statuses[:2] == path[:2] and statuses == sorted(statuses, key=path.index)  # in order
    assert statuses[-1] == "failed"
    assert (failed["failure_cause"], failed["sip_status_code"], failed["sip_status"]) == (
        cause,
        code,
        phrase,
    )


async def test_an_unanswered_call_fails_as_no_answer(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, behaviour="no-answer")
    session = await place_call(line, telephony={"ringingTimeoutSeconds": 1})
    call = await call_when(tenant, session["sessionId"], "ended", "failed")
    assert (call["status"], call["failure_cause"], call["sip_status_code"]) == (
        "failed",
        "no-answer",
        None,
    )
    recorded = await events(tenant, session["sessionId"])
    assert status_path(recorded) == ["queued", "dialing", "ringing", "failed"]


async def test_voicemail_detected_by_the_carrier_fails_as_machine(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, behaviour="voicemail", answer_after_seconds=0.1, hangup_after_seconds=None)
    session = await place_call(line, telephony={"amd": {"mode": "agent", "timeoutSeconds": 8}})
    call = await call_when(tenant, session["sessionId"], "ended", "failed")
    assert (call["status"], call["failure_cause"], call["answered_by_machine"]) == (
        "failed",
        "machine",
        True,
    )
    types = [e["event_type"] for e in await events(tenant, session["sessionId"])]
    assert "amd.machine" in types
    await eventually(lambda: room_closed(simulator, session["roomName"]))


async def test_without_amd_a_voicemail_is_just_answered(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    script(simulator, behaviour="voicemail", answer_after_seconds=0.1, hangup_after_seconds=0.3)
    session = await place_call(line)
    call = await call_when(tenant, session["sessionId"], "ended", "failed")
    assert (call["status"], call["failure_cause"]) == ("ended", None)
