"""Provider webhooks into the API: signed ones stored exactly once, forged or stale ones refused."""

import base64
import hashlib
import json
import time
from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from livekit import api as livekit_api
from sqlmodel import select

from simulator.app import Simulator
from simulator.provider_webhooks import Misbehaviour, livekit_headers, telnyx_headers
from simulator.scripts import FarEnd
from tests.conftest import RunningApi
from tests.servers import exchange_on_one_connection, raw_request
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.models import ProviderEvent
from trunkline.providers.livekit import DialRequest, LiveKitAdapter
from trunkline.settings import Settings

TELNYX_BODY = json.dumps(
    {"data": {"id": "ev-1", "event_type": "call.initiated", "payload": {"call_control_id": "v3:1"}}}
)
LIVEKIT_BODY = json.dumps({"event": "room_started", "id": "EV_1", "room": {"name": "call-1"}})


async def stored(database: Database) -> list[ProviderEvent]:
    async with database.session() as session:
        return list((await session.exec(select(ProviderEvent))).all())


async def play_a_call(settings: Settings, simulator: Simulator) -> None:
    """An answered outbound call that the far end hangs up, with every webhook delivered."""
    simulator.directory.script(
        "+12015551234", FarEnd(answer_after_seconds=0.05, hangup_after_seconds=0.05)
    )
    adapter = LiveKitAdapter(
        settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret, "ST_1"
    )
    await adapter.dial(
        DialRequest(
            room_name="call-1",
            participant_identity="phone",
            to="+12015551234",
            from_number="+14155550100",
            wait_until_answered=True,
        )
    )
    await adapter.aclose()
    await eventually(lambda: room_closed(simulator))
    await simulator.webhooks.drain()


async def room_closed(simulator: Simulator) -> bool:
    return "call-1" not in simulator.world.rooms


async def test_a_calls_webhooks_are_verified_and_stored(
    settings: Settings, simulator: Simulator, api: RunningApi, database: Database
) -> None:
    await play_a_call(settings, simulator)
    assert {w.status for w in simulator.webhooks.sent} == {200}
    events = await stored(database)
    assert sorted((e.provider, e.event_type) for e in events) == sorted(
        (w.provider, w.event_type) for w in simulator.webhooks.sent
    )
    hangup = next(e for e in events if e.event_type == "call.hangup")
    assert hangup.call_control_id and hangup.payload["data"]["payload"]["sip_hangup_cause"] == "200"
    left = next(e for e in events if e.event_type == "participant_left")
    assert left.room_name == "call-1" and left.occurred_at is not None


@pytest.mark.parametrize(
    "misbehaviour", [Misbehaviour(duplicate=2), Misbehaviour(reorder_window=4, duplicate=1)]
)
async def test_duplicates_and_reordering_are_stored_once(
    settings: Settings,
    simulator: Simulator,
    api: RunningApi,
    database: Database,
    misbehaviour: Misbehaviour,
) -> None:
    simulator.webhooks.misbehaviour = misbehaviour
    await play_a_call(settings, simulator)
    distinct = {(w.provider, w.event_id) for w in simulator.webhooks.sent}
    assert len(simulator.webhooks.sent) == (1 + misbehaviour.duplicate) * len(distinct)
    assert {(e.provider, e.event_id) for e in await stored(database)} == distinct
    assert len(await stored(database)) == len(distinct)


async def test_a_repeated_webhook_is_acknowledged_as_duplicate(
    api: RunningApi, settings: Settings, telnyx_key_pair: tuple[str, str], database: Database
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(telnyx_key_pair[0]))
    async with api.client() as http:
        for expected in ("stored", "duplicate"):
            headers = telnyx_headers(TELNYX_BODY, key, int(time.time()))
            response = await http.post("/webhooks/telnyx", content=TELNYX_BODY, headers=headers)
            assert response.json() == {"status": expected, "event_id": "ev-1"}
    assert len(await stored(database)) == 1


async def test_forged_and_stale_telnyx_webhooks_are_refused(
    api: RunningApi, telnyx_key_pair: tuple[str, str], database: Database
) -> None:
    ours = Ed25519PrivateKey.from_private_bytes(base64.b64decode(telnyx_key_pair[0]))
    now = int(time.time())
    attempts = {
        "other key": telnyx_headers(TELNYX_BODY, Ed25519PrivateKey.generate(), now),
        "stale": telnyx_headers(TELNYX_BODY, ours, now - 400),
        "future": telnyx_headers(TELNYX_BODY, ours, now + 400),
        "tampered": telnyx_headers(TELNYX_BODY.replace("ev-1", "ev-2"), ours, now),
        "unsigned": {"Content-Type": "application/json"},
        "garbage": {"telnyx-signature-ed25519": "!!", "telnyx-timestamp": "soon"},
    }
    async with api.client() as http:
        for name, headers in attempts.items():
            response = await http.post("/webhooks/telnyx", content=TELNYX_BODY, headers=headers)
            assert response.status_code == 401, name
            assert response.json()["code"] == "invalid_signature"
        malformed = '{"data": {"payload": {}}}'
        response = await http.post(
            "/webhooks/telnyx", content=malformed, headers=telnyx_headers(malformed, ours, now)
        )
        assert response.status_code == 400
    assert await stored(database) == []


def telnyx_event(event_type: str = "call.hangup", **data: object) -> dict:
    payload = {"call_control_id": "v3:1"}
    return {"data": {"id": "ev-m", "event_type": event_type, "payload": payload, **data}}


MALFORMED_TELNYX = {
    "a list": [1, 2],
    "null": None,
    "a string": "call.hangup",
    "data a list": {"data": [1]},
    "id a number": telnyx_event(id=5),
    "id with NUL": telnyx_event(id="ev\x00"),
    "payload a list": telnyx_event(payload=[1, 2]),
    "occurred_at a number": telnyx_event(occurred_at=1_700_000_000),
    "occurred_at not a time": telnyx_event(occurred_at="yesterday"),
    "occurred_at beyond UTC": telnyx_event(occurred_at="9999-12-31T23:59:00-14:00"),
    "inbound without a leg": telnyx_event(
        "call.initiated", payload={"direction": "incoming", "to": "+14155550100"}
    ),
    "to a list": telnyx_event(
        "call.initiated",
        payload={"call_control_id": "v3:2", "direction": "incoming", "to": ["+14155550100"]},
    ),
    "header value a list": telnyx_event(
        "call.answered",
        payload={
            "call_control_id": "v3:3",
            "custom_headers": [{"name": "X-Trunkline-Consultation", "value": ["consult-x-1"]}],
        },
    ),
}


async def test_signed_but_malformed_telnyx_bodies_are_400s_on_a_kept_connection(
    api: RunningApi, telnyx_key_pair: tuple[str, str], database: Database
) -> None:
    key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(telnyx_key_pair[0]))
    bodies = [json.dumps(body) for body in MALFORMED_TELNYX.values()]
    requests = [
        raw_request(
            "POST", "/webhooks/telnyx", body.encode(), telnyx_headers(body, key, int(time.time()))
        )
        for body in bodies
    ]
    responses = await exchange_on_one_connection(api.base_url, requests)
    for name, response in zip(MALFORMED_TELNYX, responses, strict=True):
        assert response.status == 400, (name, response.body)
        assert response.json()["code"] == "invalid_event", name
    assert await stored(database) == []


async def test_forged_and_stale_livekit_webhooks_are_refused(
    api: RunningApi, settings: Settings, database: Database
) -> None:
    key, secret = settings.livekit_api_key, settings.livekit_api_secret
    digest = base64.b64encode(hashlib.sha256(LIVEKIT_BODY.encode()).digest()).decode()
    expired = livekit_api.AccessToken(key, secret).with_ttl(timedelta(minutes=-5))
    expired = expired.with_sha256(digest)
    attempts = {
        "other secret": livekit_headers(LIVEKIT_BODY, key, "s" * 40),
        "other key": livekit_headers(LIVEKIT_BODY, "otherkey", secret),
        "tampered": livekit_headers(LIVEKIT_BODY.replace("call-1", "call-2"), key, secret),
        "expired": {"Authorization": expired.to_jwt()},
        "unsigned": {},
    }
    async with api.client() as http:
        for name, headers in attempts.items():
            response = await http.post("/webhooks/livekit", content=LIVEKIT_BODY, headers=headers)
            assert response.status_code == 401, name
        good = livekit_headers(LIVEKIT_BODY, key, secret)
        response = await http.post("/webhooks/livekit", content=LIVEKIT_BODY, headers=good)
        assert response.json() == {"status": "stored", "event_id": "EV_1"}
    [event] = await stored(database)
    assert (event.event_type, event.room_name) == ("room_started", "call-1")
