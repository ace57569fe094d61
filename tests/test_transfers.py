"""Blind and warm transfers through the REST API, against the simulated far ends."""

import json
from typing import Any

import httpx
import pytest

from simulator.agent import agent_joiner
from simulator.app import Simulator
from tests.calls_support import (
    OUR_NUMBER,
    call_when,
    events,
    live_call,
    script,
    set_up_line,
)
from tests.conftest import RunningApi, Tenant
from tests.receiver import WebhookReceiver
from tests.waiting import eventually
from trunkline.settings import Settings

pytestmark = pytest.mark.usefixtures("worker")

FRONT_DESK = "+12015557001"
OVERFLOW = "+12015557002"
MANAGER = "+12015557003"
CALLER = "+12015559876"


def answers(simulator: Simulator, number: str) -> None:
    """The person at `number` picks up at once and stays until we end the leg."""
    script(simulator, number, answer_after_seconds=0, hangup_after_seconds=None)


async def transfer_state(
    tenant: Tenant, call_id: str, transfer_id: str, *states: str, at: str | None = None
) -> dict:
    """The transfer once it is in one of `states` (at destination `at`, when given)."""

    async def reached() -> dict | None:
        response = await tenant.http.get(f"/v1/calls/{call_id}/transfers/{transfer_id}")
        body = response.json()
        return body if body["state"] in states and at in (None, body["transfer_to"]) else None

    return await eventually(reached, 30)


async def start_warm(tenant: Tenant, call_id: str, **body: Any) -> dict:
    response = await tenant.http.post(
        f"/v1/calls/{call_id}/transfers/warm",
        json={
            "destinations": [{"to": FRONT_DESK, "label": "Front desk"}],
            "screeningPrompt": "Confirm the recipient can help before bridging.",
            **body,
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


async def transfer_events(tenant: Tenant, call_id: str) -> list[dict]:
    return [e for e in await events(tenant, call_id) if e["provider"] == "transfer"]


def notices(simulator: Simulator, call_id: str) -> list[str]:
    """What Trunkline told the agent in the call's room, in order."""
    room = f"call-{call_id}"
    return [m["data"]["type"] for m in simulator.world.data_messages if m["room"] == room]


def room_members(simulator: Simulator, call_id: str) -> dict[str, str]:
    room = simulator.world.rooms.get(f"call-{call_id}")
    return {
        i: p.attributes.get("sip.phoneNumber", "agent")
        for i, p in (room.participants.items() if room else [])
    }


# --- blind ----------------------------------------------------------------------------------


async def test_blind_transfer_hands_the_caller_over_and_ends_our_call(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, answer_after_seconds=0.2)
    response = await tenant.http.post(
        f"/v1/calls/{call_id}/transfers/blind",
        json={"to": FRONT_DESK, "ringingTimeout": 25, "metadata": {"reason": "billing"}},
    )
    assert response.status_code == 200, response.text
    transfer = response.json()
    assert (transfer["kind"], transfer["state"], transfer["sip_status_code"]) == (
        "blind",
        "completed",
        200,
    )
    assert transfer["attempts"][0]["to"] == FRONT_DESK
    refer = simulator.world.transfers[-1]
    assert refer["to"] == f"tel:{FRONT_DESK}" and refer["ringingTimeoutSeconds"] == 25
    call = await call_when(tenant, call_id, "ended")
    assert call["ended_reason"] == "transferred"
    recorded = await transfer_events(tenant, call_id)
    assert [e["event_type"] for e in recorded] == [
        "transfer.blind.started",
        "transfer.blind.completed",
    ]
    assert recorded[1]["payload"]["metadata"] == {"reason": "billing"}
    statuses = [json.loads(r.body) for r in await receiver.wait_for(6, within=20)]
    completed = next(s for s in statuses if s["event_type"] == "transfer.blind.completed")
    assert completed["transfer"]["transfer_id"] == transfer["id"]
    assert completed["transfer"]["metadata"] == {"reason": "billing"}
    assert (completed["sip_status_code"], completed["provider"]) == (200, "trunkline")


@pytest.mark.parametrize(
    ("far_end", "cause", "code"),
    [({"behaviour": "busy"}, "busy", 486), ({"answer_after_seconds": 5}, "no-answer", None)],
)
async def test_a_failed_blind_transfer_leaves_the_caller_with_the_agent(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    far_end: dict,
    cause: str,
    code: int | None,
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, **far_end)
    response = await tenant.http.post(
        f"/v1/calls/{call_id}/transfers/blind", json={"to": FRONT_DESK, "ringingTimeout": 1}
    )
    assert response.status_code == 200, response.text
    transfer = response.json()
    assert (transfer["state"], transfer["sip_status_code"]) == ("failed", code)
    assert transfer["attempts"][0]["outcome"] == cause
    assert simulator.world.transfers[-1]["ringingTimeoutSeconds"] == 1
    assert (await tenant.http.get(f"/v1/calls/{call_id}")).json()["status"] == "in-progress"
    await eventually(lambda: _async(notices(simulator, call_id) == ["transfer.failed"]))
    failed = (await transfer_events(tenant, call_id))[-1]
    assert (failed["event_type"], failed["sip_status_code"]) == ("transfer.blind.failed", code)
    hung_up = await tenant.http.post(f"/v1/calls/{call_id}/hangup")
    assert hung_up.json()["ended_reason"] == "api"


async def _async(value: Any) -> Any:
    return value


async def test_transfers_are_refused_when_they_cannot_run(
    tenant: Tenant, other_tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    path = f"/v1/calls/{call_id}/transfers"
    bad = await tenant.http.post(f"{path}/blind", json={"to": "12345"})
    assert bad.status_code == 422
    empty = await tenant.http.post(f"{path}/warm", json={"destinations": []})
    assert empty.status_code == 422
    unknown = await tenant.http.post(
        f"{path}/warm",
        json={"destinations": [{"to": FRONT_DESK}], "fallback": {"strategy": "shrug"}},
    )
    assert unknown.status_code == 422
    foreign = await other_tenant.http.post(f"{path}/blind", json={"to": FRONT_DESK})
    assert foreign.status_code == 404
    answers(simulator, FRONT_DESK)
    first = await start_warm(tenant, call_id)
    second = await tenant.http.post(f"{path}/blind", json={"to": OVERFLOW})
    assert (second.status_code, second.json()["code"]) == (409, "transfer_in_progress")
    await transfer_state(tenant, call_id, first["id"], "screening")
    cancelled = await tenant.http.post(f"{path}/{first['id']}/cancel", json={})
    assert cancelled.status_code == 200
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")
    ended = await tenant.http.post(f"{path}/blind", json={"to": FRONT_DESK})
    assert (ended.status_code, ended.json()["code"]) == (409, "call_ended")
    missing = await tenant.http.get(f"{path}/trf_01JD3ZZZZZZZZZZZZZZZZZZZZZ")
    assert missing.status_code == 404
    listed = (await tenant.http.get(path)).json()["transfers"]
    assert [t["id"] for t in listed] == [first["id"]]


# --- warm -----------------------------------------------------------------------------------


async def test_warm_transfer_completed_on_the_first_destination(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, answer_after_seconds=0.2, hangup_after_seconds=None)
    transfer = await start_warm(tenant, call_id, **{"from": "+14155550100"})
    assert transfer["state"] == "dialing"
    screening = await transfer_state(tenant, call_id, transfer["id"], "screening")
    assert screening["transfer_to"] == FRONT_DESK
    dispatch = next(d for d in simulator.world.dispatches.values() if d.room.startswith("consult-"))
    metadata = json.loads(dispatch.metadata)
    assert metadata["role"] == "screening"
    assert metadata["screeningPrompt"].startswith("Confirm the recipient")
    assert metadata["callSummary"].startswith("Caller: +12015551234")
    completed = await tenant.http.post(f"/v1/calls/{call_id}/transfers/{transfer['id']}/complete")
    assert completed.status_code == 200, completed.text
    assert completed.json()["state"] == "completed"
    assert completed.json()["attempts"][0]["outcome"] == "accepted"
    members = room_members(simulator, call_id)
    assert sorted(members.values()) == sorted(["+12015551234", FRONT_DESK])  # the agent left
    assert notices(simulator, call_id) == ["transfer.hold"]
    simulator.world.hangup(
        next(
            leg for leg in simulator.world.legs.values() if leg.to_number == FRONT_DESK
        ).call_control_id
    )
    call = await call_when(tenant, call_id, "ended")
    assert call["ended_reason"] == "recipient_hung_up"
    types = [e["event_type"] for e in await transfer_events(tenant, call_id)]
    assert types == [
        "transfer.warm.started",
        "transfer.attempt.dialing",
        "transfer.attempt.answered",
        "transfer.completed",
    ]


async def test_busy_then_voicemail_then_the_third_accepts(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, behaviour="busy")
    script(simulator, OVERFLOW, behaviour="voicemail", answer_after_seconds=0.1)
    script(simulator, MANAGER, answer_after_seconds=0.1, hangup_after_seconds=None)
    destinations = [{"to": FRONT_DESK}, {"to": OVERFLOW, "label": "Overflow"}, {"to": MANAGER}]
    transfer = await start_warm(
        tenant,
        call_id,
        destinations=destinations,
        voicemailDetection={"mode": "provider", "timeoutSeconds": 5},
    )
    screening = await transfer_state(tenant, call_id, transfer["id"], "screening", at=MANAGER)
    outcomes = [(a["to"], a["outcome"], a["sip_status_code"]) for a in screening["attempts"]]
    assert outcomes == [
        (FRONT_DESK, "busy", 486),
        (OVERFLOW, "voicemail", None),
        (MANAGER, None, None),
    ]
    done = await tenant.http.post(f"/v1/calls/{call_id}/transfers/{transfer['id']}/complete")
    assert done.json()["state"] == "completed"
    types = [e["event_type"] for e in await transfer_events(tenant, call_id)]
    assert "transfer.attempt.busy" in types and "transfer.attempt.voicemail" in types
    statuses = [json.loads(r.body) for r in receiver.received]
    busy = next(s for s in statuses if s["event_type"] == "transfer.attempt.busy")
    assert (busy["sip_status_code"], busy["transfer"]["to"]) == (486, FRONT_DESK)
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_cancel_with_try_next_and_without(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    answers(simulator, FRONT_DESK)
    answers(simulator, OVERFLOW)
    transfer = await start_warm(
        tenant, call_id, destinations=[{"to": FRONT_DESK}, {"to": OVERFLOW}]
    )
    path = f"/v1/calls/{call_id}/transfers/{transfer['id']}"
    await transfer_state(tenant, call_id, transfer["id"], "screening")
    skipped = await tenant.http.post(f"{path}/cancel", json={"tryNext": True})
    assert skipped.status_code == 200, skipped.text
    # the answer already shows the next destination, not the one just hung up
    assert skipped.json()["transfer_to"] == OVERFLOW
    assert skipped.json()["attempts"][0]["outcome"] == "cancelled"
    body = await transfer_state(tenant, call_id, transfer["id"], "screening", at=OVERFLOW)
    assert [(a["to"], a["outcome"]) for a in body["attempts"]] == [
        (FRONT_DESK, "cancelled"),
        (OVERFLOW, None),
    ]
    front_desk = next(leg for leg in simulator.world.legs.values() if leg.to_number == FRONT_DESK)
    assert front_desk.state == "ended"
    stopped = await tenant.http.post(f"{path}/cancel", json={})
    assert stopped.json()["state"] == "cancelled"
    assert (await tenant.http.get(f"/v1/calls/{call_id}")).json()["status"] == "in-progress"
    await eventually(
        lambda: _async(notices(simulator, call_id) == ["transfer.hold", "transfer.returned"])
    )
    assert not any(r.startswith("consult-") for r in simulator.world.rooms)
    again = await tenant.http.post(f"{path}/complete")
    assert again.status_code == 409
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_the_api_completes_what_a_waiting_screening_agent_leaves_open(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    """As in the dev stack: the stand-in agent screens, reports a person, and decides nothing."""
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, answer_after_seconds=0, transfer_decision="wait")
    transfer = await start_warm(tenant, call_id)
    await transfer_state(tenant, call_id, transfer["id"], "screening")
    completed = await tenant.http.post(f"/v1/calls/{call_id}/transfers/{transfer['id']}/complete")
    assert completed.status_code == 200, completed.text
    assert [(a["to"], a["outcome"]) for a in completed.json()["attempts"]] == [
        (FRONT_DESK, "accepted")
    ]
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_all_exhausted_takes_a_message_and_never_redials_a_decline(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, answer_after_seconds=0, transfer_decision="decline")
    script(simulator, OVERFLOW, behaviour="declined")
    destinations = [{"to": FRONT_DESK}, {"to": OVERFLOW}, {"to": FRONT_DESK, "label": "again"}]
    transfer = await start_warm(tenant, call_id, destinations=destinations)
    done = await transfer_state(tenant, call_id, transfer["id"], "exhausted")
    assert done["fallback"]["action"] == "take_message"
    assert [(a["to"], a["outcome"]) for a in done["attempts"]] == [
        (FRONT_DESK, "declined"),
        (OVERFLOW, "declined"),
    ]
    dialled = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert [d["request"]["sipCallTo"] for d in dialled[1:]] == [FRONT_DESK, OVERFLOW]

    async def fallback_recorded() -> list[str] | None:
        types = [e["event_type"] for e in await transfer_events(tenant, call_id)]
        return types if types[-1] == "transfer.fallback" else None

    assert "transfer.attempt.skipped" in await eventually(fallback_recorded)

    async def message() -> list:
        return (await tenant.http.get(f"/v1/calls/{call_id}/messages")).json()["messages"]

    taken = (await eventually(message))[0]
    assert taken["transfer_id"] == transfer["id"] and taken["callback_number"] == "+12015551234"
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_the_caller_hanging_up_mid_consultation_ends_the_transfer(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    answers(simulator, FRONT_DESK)
    transfer = await start_warm(tenant, call_id)
    await transfer_state(tenant, call_id, transfer["id"], "screening")
    caller = next(leg for leg in simulator.world.legs.values() if leg.room == f"call-{call_id}")
    simulator.world.hangup(caller.call_control_id)
    ended = await transfer_state(tenant, call_id, transfer["id"], "caller_hung_up")
    assert ended["attempts"][0]["outcome"] == "caller_hung_up"
    recipient = next(leg for leg in simulator.world.legs.values() if leg.to_number == FRONT_DESK)
    assert recipient.state == "ended"
    call = await call_when(tenant, call_id, "ended")
    assert call["ended_reason"] == "callee_hung_up"

    async def wound_up() -> list[str] | None:  # the call ends first, then its transfer does
        types = [e["event_type"] for e in await transfer_events(tenant, call_id)]
        return types if types[-1] == "transfer.caller_hung_up" else None

    assert (await eventually(wound_up))[-2] == "transfer.attempt.caller_hung_up"


# --- the agent's transfer_call tool -----------------------------------------------------------


def agent_token(simulator: Simulator, call_id: str) -> str:
    dispatch = next(d for d in simulator.world.dispatches.values() if d.room == f"call-{call_id}")
    return json.loads(dispatch.metadata)["agentToken"]


async def test_the_agent_warm_transfers_an_inbound_caller_with_its_tool(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    settings: Settings,
    api: RunningApi,
) -> None:
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    tool = {
        "type": "transfer_call",
        "mode": "warm",
        "destinations": [
            {"to": OVERFLOW, "label": "Overflow"},
            {"to": FRONT_DESK, "label": "Front desk"},
        ],
        "screeningPrompt": "Ask whether they can take a billing question.",
    }
    await set_up_line(tenant, receiver, agent={"tools": [tool]})
    script(simulator, OVERFLOW, answer_after_seconds=0.1, hangup_after_seconds=None)
    script(simulator, FRONT_DESK, answer_after_seconds=0.1, hangup_after_seconds=None)
    caller = {"hangupAfterSeconds": None, "transcript": [{"text": "I have a billing question."}]}
    async with httpx.AsyncClient(base_url=settings.livekit_url) as control:
        placed = await control.post(
            "/control/inbound-calls", json={"from": CALLER, "to": OUR_NUMBER, "caller": caller}
        )
    assert placed.status_code == 201, placed.text

    async def the_call() -> dict | None:
        calls = (await tenant.http.get("/v1/calls")).json()["calls"]
        return calls[0] if calls and calls[0]["status"] == "in-progress" else None

    call_id = (await eventually(the_call, 20))["id"]
    async with api.client(agent_token(simulator, call_id)) as agent:
        path = f"/v1/agent/calls/{call_id}/transfer"
        unknown = await agent.post(path, json={"to": MANAGER})
        assert (unknown.status_code, unknown.json()["code"]) == (
            422,
            "unknown_destination",
        )
        started = await agent.post(path, json={"label": "Front desk", "reason": "billing"})
        assert started.status_code == 200, started.text
    transfer = started.json()
    assert (transfer["kind"], transfer["requested_by"]) == ("warm", "agent")
    done = await transfer_state(tenant, call_id, transfer["id"], "completed")
    assert [a["to"] for a in done["attempts"]] == [FRONT_DESK]  # the one asked for, first
    assert sorted(room_members(simulator, call_id).values()) == sorted([CALLER, FRONT_DESK])
    screening = next(
        d for d in simulator.world.dispatches.values() if d.room.startswith("consult-")
    )
    summary = json.loads(screening.metadata)["callSummary"]
    assert "Caller: I have a billing question." in summary
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


async def test_the_agent_blind_transfers_with_its_tool(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, api: RunningApi
) -> None:
    tool = {"type": "transfer_call", "mode": "blind", "destinations": [{"to": FRONT_DESK}]}
    line = await set_up_line(tenant, receiver, agent={"tools": [tool]})
    call_id = await live_call(line, simulator)
    async with api.client(agent_token(simulator, call_id)) as agent:
        done = await agent.post(f"/v1/agent/calls/{call_id}/transfer", json={})
    assert done.status_code == 200, done.text
    assert (done.json()["kind"], done.json()["state"]) == ("blind", "completed")
    call = await call_when(tenant, call_id, "ended")
    assert call["ended_reason"] == "transferred"


async def test_an_agent_without_the_tool_cannot_transfer(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, api: RunningApi
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    async with api.client(agent_token(simulator, call_id)) as agent:
        refused = await agent.post(f"/v1/agent/calls/{call_id}/transfer", json={})
    assert (refused.status_code, refused.json()["code"]) == (
        409,
        "transfer_not_configured",
    )
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")


# --- edges ----------------------------------------------------------------------------------


def screening_token(simulator: Simulator, attempt_room: str) -> str:
    dispatch = next(d for d in simulator.world.dispatches.values() if d.room == attempt_room)
    return json.loads(dispatch.metadata)["agentToken"]


async def test_a_cancel_while_ringing_stops_before_anyone_answers(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    script(simulator, FRONT_DESK, answer_after_seconds=5)
    transfer = await start_warm(tenant, call_id)
    await eventually(
        lambda: _async(any(leg.to_number == FRONT_DESK for leg in simulator.world.legs.values()))
    )
    cancelled = await tenant.http.post(f"/v1/calls/{call_id}/transfers/{transfer['id']}/cancel")
    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["state"] == "cancelled"
    assert [(a["outcome"], a["answered_at"]) for a in cancelled.json()["attempts"]] == [
        ("cancelled", None)
    ]
    ringing = next(leg for leg in simulator.world.legs.values() if leg.to_number == FRONT_DESK)
    assert ringing.state == "ended"
    # the call is free for another transfer
    script(simulator, OVERFLOW, answer_after_seconds=0)
    blind = await tenant.http.post(f"/v1/calls/{call_id}/transfers/blind", json={"to": OVERFLOW})
    assert blind.json()["state"] == "completed"


async def test_screening_tokens_act_only_on_their_own_attempt(
    tenant: Tenant,
    other_tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    api: RunningApi,
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await live_call(line, simulator)
    answers(simulator, FRONT_DESK)
    answers(simulator, OVERFLOW)
    transfer = await start_warm(
        tenant,
        call_id,
        destinations=[{"to": FRONT_DESK}, {"to": OVERFLOW}],
        voicemailDetection={"mode": "off"},
    )
    path = f"/v1/calls/{call_id}/transfers/{transfer['id']}"
    for request in ("get", "complete", "cancel"):
        method = other_tenant.http.get if request == "get" else other_tenant.http.post
        url = path if request == "get" else f"{path}/{request}"
        assert (await method(url)).status_code == 404
    await transfer_state(tenant, call_id, transfer["id"], "screening", at=FRONT_DESK)
    first = screening_token(simulator, f"consult-{transfer['id']}-1")
    agent_path = f"/v1/agent/calls/{call_id}"
    async with api.client(first) as screener:
        assert (await screener.post(f"{agent_path}/end", json={})).status_code == 403
        verdict = await screener.post(
            f"{agent_path}/transfers/{transfer['id']}/voicemail", json={"verdict": "machine"}
        )
        assert verdict.status_code == 200  # detection is off: recorded, not counted
        await tenant.http.post(f"{path}/cancel", json={"tryNext": True})
        await transfer_state(tenant, call_id, transfer["id"], "screening", at=OVERFLOW)
        stale = await screener.post(f"{agent_path}/transfers/{transfer['id']}/complete")
        assert (stale.status_code, stale.json()["code"]) == (409, "transfer_not_active")
    second = screening_token(simulator, f"consult-{transfer['id']}-2")
    async with api.client(second) as screener:
        done = await screener.post(f"{agent_path}/transfers/{transfer['id']}/complete")
    assert done.json()["state"] == "completed"
    await tenant.http.post(f"/v1/calls/{call_id}/hangup")
