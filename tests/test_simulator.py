"""The simulator's control API: scripted speech, forwarded inbound calls, misbehaving webhooks."""

import time
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from simulator.app import Simulator
from tests.conftest import RunningApi
from tests.waiting import eventually
from trunkline.calls.forwarding import forwarded_from
from trunkline.db import Database
from trunkline.models import ProviderEvent
from trunkline.providers.events import recent
from trunkline.providers.livekit import DialRequest, LiveKitAdapter
from trunkline.settings import Settings

CALLEE = "+12015551234"


@pytest.fixture
async def control(
    settings: Settings, simulator: Simulator, api: RunningApi
) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=f"{settings.livekit_url}/control") as client:
        yield client


async def dial(settings: Settings) -> None:
    adapter = LiveKitAdapter(
        settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret, "ST_1"
    )
    request = DialRequest(
        room_name="call-1",
        participant_identity="phone",
        to=CALLEE,
        from_number="+14155550100",
        wait_until_answered=True,
    )
    await adapter.dial(request)
    await adapter.aclose()


async def stored_events(database: Database) -> list[ProviderEvent]:
    async with database.session() as session:
        return await recent(session, None, 100)


async def test_a_scripted_far_end_speaks_its_lines(
    control: httpx.AsyncClient, settings: Settings
) -> None:
    script = {
        "answerAfterSeconds": 0,
        "hangupAfterSeconds": None,
        "transcript": [{"text": "Hello?"}, {"text": "Who is this?", "afterSeconds": 1.5}],
    }
    assert (await control.put(f"/far-ends/{CALLEE}", json=script)).status_code == 204
    before = time.time()
    await dial(settings)
    [leg] = (await control.get("/state")).json()["legs"]
    assert [line["text"] for line in leg["spoken"]] == ["Hello?", "Who is this?"]
    assert leg["spoken"][1]["at"] - leg["spoken"][0]["at"] == pytest.approx(1.5)
    assert leg["spoken"][0]["at"] >= before
    assert (await control.put(f"/far-ends/{CALLEE}", json={"behaviour": "sing"})).status_code == 422


async def test_a_forwarded_inbound_call_carries_its_headers_to_trunkline(
    control: httpx.AsyncClient, database: Database
) -> None:
    call = {
        "from": "+12015551234",
        "to": "+14155550100",
        "diversion": ["<sip:+15557654321@carrier.example>;reason=unconditional;counter=1"],
        "historyInfo": [
            "<sip:+15557654321@a.example>;index=1, <sip:+14155550100@b.example;cause=302>;index=1.1"
        ],
        "originalTo": "+15557654321",
    }
    response = await control.post("/inbound-calls", json=call)
    assert response.status_code == 201
    await control.post("/drain")
    [initiated] = await stored_events(database)
    payload = initiated.payload["data"]["payload"]
    assert (payload["direction"], payload["state"]) == ("incoming", "parked")
    assert payload["call_control_id"] == response.json()["callControlId"]
    assert {h["name"] for h in payload["sip_headers"]} == {"Diversion", "History-Info"}
    found = forwarded_from(dialed_number=payload["to"], telnyx_payload=payload)
    assert found is not None
    assert (found.number, found.reason) == ("+15557654321", "unconditional")


async def test_dropped_and_delayed_webhooks(
    control: httpx.AsyncClient, database: Database, simulator: Simulator
) -> None:
    await control.put("/misbehaviour", json={"drop": ["call.initiated"]})
    await control.post("/inbound-calls", json={"from": "+12015551234", "to": "+14155550100"})
    await control.post("/drain")
    assert await stored_events(database) == []
    assert [
        (w["event"], w["status"]) for w in (await control.get("/state")).json()["webhooks"]
    ] == [("call.initiated", None)]

    await control.put("/misbehaviour", json={"delaySeconds": 0.5})
    started = time.monotonic()
    await control.post("/inbound-calls", json={"from": "+12015551234", "to": "+14155550101"})
    await eventually(lambda: stored_events(database))
    assert time.monotonic() - started >= 0.5


async def test_finished_recordings_download(
    control: httpx.AsyncClient, settings: Settings, simulator: Simulator
) -> None:
    adapter = LiveKitAdapter(
        settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret, "ST_1"
    )
    await adapter.create_room("call-1", {}, timedelta(seconds=1))
    recording = await adapter.start_recording("call-1", "call-1.ogg")
    async with httpx.AsyncClient() as http:
        location = f"{settings.livekit_url}/recordings/{recording.egress_id}.ogg"
        assert (await http.get(location)).status_code == 404  # still recording
        stopped = await adapter.stop_recording(recording.egress_id)
        assert stopped.location == location
        download = await http.get(location)
        assert download.headers["content-type"] == "audio/ogg"
        assert download.content.startswith(b"OggS")
        missing = await http.get(f"{settings.livekit_url}/recordings/EG_nope.ogg")
        assert missing.status_code == 404
    await adapter.aclose()
