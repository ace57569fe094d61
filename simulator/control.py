"""The simulator's control API: script far ends, place inbound calls, make webhooks misbehave."""

from typing import Annotated, Any

from fastapi import APIRouter, Response
from pydantic import Field

from simulator.provider_webhooks import Misbehaviour, ProviderWebhooks
from simulator.scripts import Caller, Directory, FarEnd
from simulator.telnyx_api import NumberInventory
from simulator.world import World
from trunkline.numbers.e164 import E164
from trunkline.pipeline import ApiModel


class SipHeader(ApiModel):
    name: str
    value: str


class InboundCall(ApiModel):
    """A caller dialling one of Trunkline's numbers, optionally forwarded from another."""

    from_: Annotated[E164, Field(alias="from")]
    to: E164
    caller: Caller = Caller()
    sip_headers: list[SipHeader] = []
    diversion: list[str] = Field([], description="Diversion header values, as received.")
    history_info: list[str] = Field([], description="History-Info header values.")
    forwarded_from: str | None = None
    original_to: str | None = None
    redirecting_number: str | None = None

    def headers(self) -> list[dict[str, str]]:
        """All SIP headers as Telnyx lists them in `payload.sip_headers`."""
        headers = [{"name": h.name, "value": h.value} for h in self.sip_headers]
        headers += [{"name": "Diversion", "value": value} for value in self.diversion]
        headers += [{"name": "History-Info", "value": value} for value in self.history_info]
        return headers

    def forwarding(self) -> dict[str, str]:
        fields = {
            "forwarded_from": self.forwarded_from,
            "original_to": self.original_to,
            "redirecting_number": self.redirecting_number,
        }
        return {key: value for key, value in fields.items() if value is not None}


class OrderSwitch(ApiModel):
    fail: bool


def control_router(
    world: World,
    directory: Directory,
    webhooks: ProviderWebhooks,
    inventory: NumberInventory,
    requests: dict[str, list[dict[str, Any]]],
) -> APIRouter:
    router = APIRouter(prefix="/control", tags=["control"])

    @router.put("/far-ends/{number}", status_code=204)
    async def script_far_end(number: str, far_end: FarEnd) -> Response:
        """How the party at `number` behaves from now on when dialled or transferred to."""
        directory.script(number, far_end)
        return Response(status_code=204)

    @router.delete("/far-ends/{number}", status_code=204)
    async def forget_far_end(number: str) -> Response:
        directory.forget(number)
        return Response(status_code=204)

    @router.post("/inbound-calls", status_code=201)
    async def place_inbound_call(call: InboundCall) -> dict[str, str]:
        leg = world.place_inbound(
            call.from_, call.to, call.caller, call.headers(), call.forwarding()
        )
        return {"callControlId": leg.call_control_id, "callSessionId": leg.call_session_id}

    @router.put("/misbehaviour")
    async def misbehave(misbehaviour: Misbehaviour) -> Misbehaviour:
        webhooks.misbehaviour = misbehaviour
        return misbehaviour

    @router.put("/telnyx/orders")
    async def switch_orders(switch: OrderSwitch) -> OrderSwitch:
        inventory.fail_orders = switch.fail
        return switch

    @router.post("/drain", status_code=204)
    async def drain() -> Response:
        """Return once every webhook queued so far has been delivered."""
        await webhooks.drain()
        return Response(status_code=204)

    @router.get("/state")
    async def state() -> dict[str, Any]:
        sent = [
            {
                "provider": w.provider,
                "event": w.event_type,
                "id": w.event_id,
                "status": w.status,
                "sentAt": w.sent_at,
                "callControlId": ((w.body.get("data") or {}).get("payload") or {}).get(
                    "call_control_id"
                ),
            }
            for w in webhooks.sent
        ]
        return {**world.snapshot(), "webhooks": sent, "requests": requests}

    return router
