"""Our Telnyx adapter against the simulator: numbers, orders and call control on inbound calls."""

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from simulator.app import Simulator
from simulator.scripts import Caller
from tests.conftest import RunningApi
from tests.servers import serving
from tests.waiting import eventually
from trunkline.providers.errors import ProviderRejected, ProviderUnavailable
from trunkline.providers.telnyx import CallAlreadyEnded, TelnyxAdapter
from trunkline.settings import Settings

OUR_NUMBER = "+14155550100"
CALLER = "+12015551234"


@pytest.fixture
async def telnyx(
    settings: Settings, simulator: Simulator, api: RunningApi
) -> AsyncIterator[TelnyxAdapter]:
    async with httpx.AsyncClient(timeout=10) as http:
        yield TelnyxAdapter(settings.telnyx_api_base_url, settings.telnyx_api_key, http)


async def inbound_call(api: RunningApi, settings: Settings, caller: Caller | None = None) -> str:
    """Place an inbound call through the simulator's control API; returns its call_control_id."""
    body = {"from": CALLER, "to": OUR_NUMBER}
    if caller:
        body["caller"] = caller.model_dump()
    async with httpx.AsyncClient(base_url=settings.livekit_url) as control:
        response = await control.post("/control/inbound-calls", json=body)
    assert response.status_code == 201, response.text
    return response.json()["callControlId"]


def sent(simulator: Simulator, event: str) -> list[dict]:
    return [w.body for w in simulator.webhooks.sent if w.event_type == event]


async def test_search_order_find_and_release(telnyx: TelnyxAdapter, simulator: Simulator) -> None:
    available = await telnyx.search_available("415", limit=3)
    assert [n.e164 for n in available] == ["+14155550100", "+14155550101", "+14155550102"]
    assert (available[0].state, available[0].rate_center) == ("CA", "SAN FRANCISCO")
    assert available[0].monthly_cost == 1.0 and available[0].features == ["voice", "sms"]
    [chicago] = await telnyx.search_available(limit=1, locality="chicago")
    assert (chicago.e164, chicago.state) == ("+13125550100", "IL")
    order = await telnyx.order_number(available[0].e164, "conn-1")
    assert order.status == "success"
    assert [n.e164 for n in await telnyx.search_available("415", 1)] == ["+14155550101"]
    with pytest.raises(ProviderRejected) as taken:
        await telnyx.order_number(available[0].e164, "conn-1")
    assert taken.value.status == 422
    number_id = await telnyx.find_number(available[0].e164)
    assert number_id in simulator.inventory.owned and number_id != order.order_id
    assert await telnyx.find_number("+14155550101") is None
    with pytest.raises(ProviderRejected) as not_a_number:
        await telnyx.release_number(order.order_id)
    assert not_a_number.value.status == 404
    await telnyx.release_number(number_id)
    assert await telnyx.find_number(available[0].e164) is None
    orders = [r for r in simulator.requests["telnyx"] if r["path"].endswith("/number_orders")]
    assert orders[0]["body"]["connection_id"] == "conn-1"


async def test_a_failing_order_is_an_error(telnyx: TelnyxAdapter, simulator: Simulator) -> None:
    simulator.inventory.fail_orders = True
    with pytest.raises(ProviderRejected, match="carrier rejected"):
        await telnyx.order_number("+14155550100", "conn-1")


async def test_answer_and_bridge_an_inbound_call_into_livekit(
    telnyx: TelnyxAdapter, simulator: Simulator, api: RunningApi, settings: Settings
) -> None:
    call = await inbound_call(api, settings, Caller(hangup_after_seconds=0.2))
    await telnyx.answer(call, command_id="answer-1")
    await telnyx.answer(call, command_id="answer-1")  # a retried command is ignored
    with pytest.raises(ProviderRejected) as again:  # another answer is refused
        await telnyx.answer(call, command_id="answer-2")
    assert (again.value.status, again.value.code) == (422, "90034")
    await telnyx.transfer(
        call, "sip:call-s1@sip.trunkline.sim", {"X-Trunkline-Session-Id": "s1"}, "bridge-1"
    )
    participants = simulator.world.rooms["call-s1"].participants
    [phone] = participants.values()
    assert phone.attributes["sip.h.x-trunkline-session-id"] == "s1"
    assert phone.attributes["sip.phoneNumber"] == CALLER
    assert phone.attributes["sip.trunkPhoneNumber"] == OUR_NUMBER
    await eventually(lambda: _no_room(simulator, "call-s1"))
    await simulator.webhooks.drain()
    assert [w.event_type for w in simulator.webhooks.sent if w.provider == "telnyx"] == [
        "call.initiated",
        "call.answered",
        "call.bridged",
        "call.hangup",
    ]
    [hangup] = sent(simulator, "call.hangup")
    assert hangup["data"]["payload"]["hangup_source"] == "caller"
    with pytest.raises(CallAlreadyEnded):
        await telnyx.hangup(call)


async def _no_room(simulator: Simulator, room: str) -> bool:
    return room not in simulator.world.rooms


@pytest.mark.parametrize(("cause", "sip_code"), [("CALL_REJECTED", "603"), ("USER_BUSY", "486")])
async def test_reject_an_inbound_call(
    telnyx: TelnyxAdapter,
    simulator: Simulator,
    api: RunningApi,
    settings: Settings,
    cause: str,
    sip_code: str,
) -> None:
    call = await inbound_call(api, settings)
    await telnyx.reject(call, cause)
    await simulator.webhooks.drain()
    [hangup] = sent(simulator, "call.hangup")
    assert hangup["data"]["payload"]["sip_hangup_cause"] == sip_code


async def test_caller_gives_up_when_nobody_answers(
    telnyx: TelnyxAdapter, simulator: Simulator, api: RunningApi, settings: Settings
) -> None:
    call = await inbound_call(api, settings, Caller(give_up_after_seconds=0.1))
    await eventually(lambda: _ended(simulator, call))
    with pytest.raises(CallAlreadyEnded):
        await telnyx.answer(call)


async def _ended(simulator: Simulator, call: str) -> bool:
    return simulator.world.legs[call].state == "ended"


async def test_bad_key_and_unreachable_api(settings: Settings, simulator: Simulator) -> None:
    async with httpx.AsyncClient(timeout=5) as http:
        forged = TelnyxAdapter(settings.telnyx_api_base_url, "KEY_wrong", http)
        with pytest.raises(ProviderRejected) as refused:
            await forged.search_available("415")
        assert refused.value.status == 401
        down = TelnyxAdapter("http://127.0.0.1:9/v2", "KEY", http)
        with pytest.raises(ProviderUnavailable):
            await down.search_available("415")


def stand_in(status: int, body: str, content_type: str) -> Starlette:
    """A server in Telnyx's place that answers every request with `status` and `body`."""

    async def answer(request: Request) -> Response:
        return Response(body, status, media_type=content_type)

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


async def test_rate_limiting_is_retryable() -> None:
    errors = '{"errors": [{"code": "10011", "title": "Too many requests"}]}'
    async with (
        serving(stand_in(429, errors, "application/json")) as url,
        httpx.AsyncClient() as http,
    ):
        with pytest.raises(ProviderUnavailable) as limited:
            await TelnyxAdapter(url, "KEY", http).search_available("415")
    assert limited.value.retryable


async def test_an_error_page_that_is_not_json_is_still_a_rejection() -> None:
    async with (
        serving(stand_in(403, "<html>Forbidden</html>", "text/html")) as url,
        httpx.AsyncClient() as http,
    ):
        with pytest.raises(ProviderRejected) as refused:
            await TelnyxAdapter(url, "KEY", http).answer("v3:call")
    assert refused.value.status == 403 and "<html>Forbidden</html>" in str(refused.value)
