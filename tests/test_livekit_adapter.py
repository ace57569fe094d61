"""Our LiveKit adapter (the real `livekit-api` client) against the simulator, per far end."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest

from simulator.app import Simulator
from simulator.scripts import FarEnd
from tests.conftest import RunningApi
from tests.waiting import eventually
from trunkline.providers.errors import CallFailed, ProviderRejected, ProviderUnavailable
from trunkline.providers.livekit import DialRequest, LiveKitAdapter
from trunkline.settings import Settings

CALLER_ID = "+14155550100"
CALLEE = "+12015551234"


@pytest.fixture
async def livekit(
    settings: Settings, simulator: Simulator, api: RunningApi
) -> AsyncIterator[LiveKitAdapter]:
    adapter = LiveKitAdapter(
        settings.livekit_url,
        settings.livekit_api_key,
        settings.livekit_api_secret,
        settings.livekit_sip_outbound_trunk_id,
    )
    yield adapter
    await adapter.aclose()


def dial_request(to: str = CALLEE, **overrides: object) -> DialRequest:
    fields = {
        "room_name": "call-1",
        "participant_identity": "phone",
        "to": to,
        "from_number": CALLER_ID,
        "wait_until_answered": True,
        "ringing_timeout": timedelta(seconds=2),
        **overrides,
    }
    return DialRequest.model_validate(fields)


def sent(simulator: Simulator, event: str) -> list[dict]:
    return [w.body for w in simulator.webhooks.sent if w.event_type == event]


async def test_room_dispatch_and_participants(
    livekit: LiveKitAdapter, simulator: Simulator
) -> None:
    sid = await livekit.create_room("call-1", {"sessionId": "s1"}, timedelta(seconds=5))
    assert sid.startswith("RM_")
    assert await livekit.create_room("call-1", {}, timedelta(seconds=5)) == sid  # idempotent
    dispatch_id = await livekit.dispatch_agent("call-1", "trunkline-agent", {"token": "t"})
    [agent] = await livekit.list_participants("call-1")
    assert agent.kind == "AGENT" and agent.identity == f"agent-{dispatch_id}"
    assert simulator.world.dispatches[dispatch_id].metadata == '{"token": "t"}'
    again = await livekit.dispatch_agent("call-1", "trunkline-agent", {"token": "t"})
    assert again == dispatch_id and len(simulator.world.dispatches) == 1  # a retry is a no-op
    await simulator.webhooks.drain()
    assert [w.event_type for w in simulator.webhooks.sent] == ["room_started", "participant_joined"]


async def test_answered_call_then_far_end_hangs_up(
    livekit: LiveKitAdapter, simulator: Simulator
) -> None:
    simulator.directory.script(CALLEE, FarEnd(answer_after_seconds=0.1, hangup_after_seconds=0.3))
    leg = await livekit.dial(
        dial_request(attributes={"session": "s1"}, headers={"X-Trunkline-Session-Id": "s1"})
    )
    assert (leg.room_name, leg.participant_identity) == ("call-1", "phone")
    [phone] = await livekit.list_participants("call-1")
    assert phone.sip_call_status == "active"
    assert phone.attributes["session"] == "s1" and phone.attributes["sip.phoneNumber"] == CALLEE
    [dial] = [r for r in simulator.requests["livekit"] if r["method"] == "CreateSIPParticipant"]
    assert dial["request"]["ringingTimeout"] == "2s"

    await eventually(lambda: _room_gone(simulator, "call-1"))
    await simulator.webhooks.drain()
    [left] = sent(simulator, "participant_left")
    assert left["participant"]["disconnectReason"] == "CLIENT_INITIATED"
    [hangup] = sent(simulator, "call.hangup")
    assert hangup["data"]["payload"]["sip_hangup_cause"] == "200"
    assert hangup["data"]["payload"]["custom_headers"] == [
        {"name": "X-Trunkline-Session-Id", "value": "s1"}
    ]
    assert sent(simulator, "room_finished")


async def _room_gone(simulator: Simulator, room: str) -> bool:
    return room not in simulator.world.rooms


@pytest.mark.parametrize(
    ("behaviour", "cause", "code", "status"),
    [
        ("busy", "busy", 486, "Busy Here"),
        ("unavailable", "unavailable", 480, "Temporarily Unavailable"),
        ("not-found", "not-found", 404, "Not Found"),
        ("declined", "rejected", 603, "Decline"),
    ],
)
async def test_refused_calls_raise_with_the_sip_code(
    livekit: LiveKitAdapter,
    simulator: Simulator,
    behaviour: str,
    cause: str,
    code: int,
    status: str,
) -> None:
    simulator.directory.script(CALLEE, FarEnd(behaviour=behaviour, answer_after_seconds=0.05))
    with pytest.raises(CallFailed) as failure:
        await livekit.dial(dial_request())
    assert (failure.value.cause, failure.value.sip_status_code) == (cause, code)
    assert failure.value.sip_status == status
    await simulator.webhooks.drain()
    [hangup] = sent(simulator, "call.hangup")
    assert hangup["data"]["payload"]["sip_hangup_cause"] == str(code)


async def test_unanswered_call_is_no_answer_without_a_sip_code(
    livekit: LiveKitAdapter, simulator: Simulator
) -> None:
    simulator.directory.script(CALLEE, FarEnd(behaviour="no-answer"))
    with pytest.raises(CallFailed) as failure:
        await livekit.dial(dial_request(ringing_timeout=timedelta(seconds=1)))
    assert failure.value.cause == "no-answer" and failure.value.sip_status_code is None


async def test_voicemail_answers_and_the_carrier_reports_a_machine(
    livekit: LiveKitAdapter, simulator: Simulator
) -> None:
    simulator.directory.script(CALLEE, FarEnd(behaviour="voicemail", answer_after_seconds=0.05))
    await livekit.dial(dial_request())
    await simulator.webhooks.drain()
    [detection] = sent(simulator, "call.machine.detection.ended")
    assert detection["data"]["payload"]["result"] == "machine"


async def test_dial_without_waiting_reports_the_outcome_by_webhook(
    livekit: LiveKitAdapter, simulator: Simulator
) -> None:
    simulator.directory.script(CALLEE, FarEnd(behaviour="busy", answer_after_seconds=0.1))
    leg = await livekit.dial(dial_request(wait_until_answered=False))
    [phone] = await livekit.list_participants("call-1")
    assert phone.identity == leg.participant_identity
    assert phone.sip_call_status in ("dialing", "ringing")
    await eventually(lambda: _room_gone(simulator, "call-1"))
    await simulator.webhooks.drain()
    [left] = sent(simulator, "participant_left")
    assert left["participant"]["disconnectReason"] == "USER_UNAVAILABLE"


@pytest.mark.parametrize(
    ("far_end", "cause", "code"),
    [
        (FarEnd(behaviour="busy", answer_after_seconds=0), "busy", 486),
        (FarEnd(behaviour="declined", answer_after_seconds=0), "rejected", 603),
        (FarEnd(behaviour="no-answer"), "no-answer", None),
    ],
)
async def test_failed_transfers_leave_the_caller_in_place(
    livekit: LiveKitAdapter, simulator: Simulator, far_end: FarEnd, cause: str, code: int | None
) -> None:
    simulator.directory.script(CALLEE, FarEnd(hangup_after_seconds=None, answer_after_seconds=0))
    simulator.directory.script("+12015554321", far_end)
    await livekit.dial(dial_request())
    with pytest.raises(CallFailed) as failure:
        await livekit.transfer("call-1", "phone", "tel:+12015554321", timedelta(seconds=1))
    assert (failure.value.cause, failure.value.sip_status_code) == (cause, code)
    [phone] = await livekit.list_participants("call-1")
    assert phone.sip_call_status == "active"


async def test_accepted_transfer_takes_the_caller_away_with_the_ringing_timeout(
    livekit: LiveKitAdapter, simulator: Simulator
) -> None:
    simulator.directory.script(CALLEE, FarEnd(hangup_after_seconds=None, answer_after_seconds=0))
    simulator.directory.script("+12015554321", FarEnd(answer_after_seconds=0.05))
    await livekit.dial(dial_request())
    transfer_id = await livekit.transfer(
        "call-1", "phone", "sip:+12015554321@pbx.example.com", timedelta(seconds=25)
    )
    assert transfer_id.startswith("TR_")
    [transfer] = simulator.world.transfers
    assert transfer["ringingTimeoutSeconds"] == 25
    # The emptied room closes a second later, so ask the world rather than race that.
    room = simulator.world.rooms.get("call-1")
    assert room is None or "phone" not in room.participants


async def test_remove_move_and_delete(livekit: LiveKitAdapter, simulator: Simulator) -> None:
    simulator.directory.script(CALLEE, FarEnd(hangup_after_seconds=None, answer_after_seconds=0))
    await livekit.dial(dial_request())
    await livekit.create_room("consult-1", {}, timedelta(seconds=5))
    await livekit.dispatch_agent("consult-1", "screener", {})
    await livekit.move_participant("call-1", "phone", "consult-1")
    identities = {p.identity for p in await livekit.list_participants("consult-1")}
    assert "phone" in identities
    await livekit.remove_participant("consult-1", "phone")
    await simulator.webhooks.drain()
    assert sent(simulator, "call.hangup")[0]["data"]["payload"]["hangup_source"] == "caller"
    await livekit.create_room("call-2", {}, timedelta(seconds=5))
    await livekit.delete_room("call-2")
    with pytest.raises(ProviderRejected) as missing:
        await livekit.list_participants("call-2")
    assert missing.value.code == "not_found"


async def test_recording_yields_a_downloadable_file(
    livekit: LiveKitAdapter, simulator: Simulator, settings: Settings
) -> None:
    await livekit.create_room("call-1", {}, timedelta(seconds=5))
    started = await livekit.start_recording("call-1", "recordings/call-1.ogg")
    assert started.status == "EGRESS_ACTIVE" and started.location is None
    stopped = await livekit.stop_recording(started.egress_id)
    assert stopped.status == "EGRESS_COMPLETE"
    assert stopped.location == f"{settings.livekit_url}/recordings/{started.egress_id}.ogg"
    assert stopped.duration_seconds is not None and stopped.size_bytes
    await simulator.webhooks.drain()
    [ended] = sent(simulator, "egress_ended")
    assert ended["egressInfo"]["fileResults"][0]["filename"] == "recordings/call-1.ogg"


async def test_wrong_credentials_and_unreachable_server(
    settings: Settings, simulator: Simulator
) -> None:
    forged = LiveKitAdapter(settings.livekit_url, "devkey", "x" * 40, "ST_x")
    with pytest.raises(ProviderRejected) as refused:
        await forged.create_room("r", {}, timedelta(seconds=1))
    assert refused.value.status == 401 and not refused.value.retryable
    await forged.aclose()
    down = LiveKitAdapter("http://127.0.0.1:9", "devkey", "x" * 40, "ST_x")
    with pytest.raises(ProviderUnavailable) as unreachable:
        await down.create_room("r", {}, timedelta(seconds=1))
    assert unreachable.value.retryable
    await down.aclose()


@asynccontextmanager
async def silent_livekit() -> AsyncIterator[str]:
    """A LiveKit URL whose server takes every request and never answers it."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # until the client gives up and hangs up
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    async with server:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def test_a_dial_our_client_gives_up_on_is_no_answer_not_a_retry() -> None:
    """The call may still be ringing, so retrying (and dialling twice) would be wrong."""
    async with silent_livekit() as url:
        adapter = LiveKitAdapter(url, "devkey", "x" * 40, "ST_x")
        with pytest.raises(CallFailed) as failure:
            await adapter.dial(dial_request(ringing_timeout=timedelta(seconds=0.5)))
        await adapter.aclose()
    assert failure.value.cause == "no-answer" and not failure.value.retryable
