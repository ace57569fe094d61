"""The Telnyx REST routes Trunkline calls: number search and orders, call-control actions."""

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator.world import TelnyxError, World
from trunkline.ids import new_id


class NumberInventory:
    """Numbers for sale per area code, orders placed, and a switch that makes orders fail."""

    def __init__(self) -> None:
        self.owned: dict[str, str] = {}  # phone number id → e164
        self.fail_orders = False

    def search(self, area_code: str, limit: int) -> list[dict[str, Any]]:
        candidates = (f"+1{area_code}555{n:04d}" for n in range(100, 10_000))
        available = (e164 for e164 in candidates if e164 not in self.owned.values())
        return [_available(e164) for _, e164 in zip(range(limit), available, strict=False)]

    def order(self, e164: str) -> dict[str, Any]:
        if self.fail_orders:
            raise TelnyxError(422, "85001", "Number order failed: carrier rejected the order")
        if e164 in self.owned.values() or not e164.startswith("+1") or len(e164) != 12:
            raise TelnyxError(422, "85002", f"{e164} is not available")
        phone_number_id = new_id("tpn")
        self.owned[phone_number_id] = e164
        return {
            "id": new_id("order"),
            "status": "success",
            "phone_numbers": [{"id": phone_number_id, "phone_number": e164, "status": "success"}],
        }

    def release(self, phone_number_id: str) -> None:
        if self.owned.pop(phone_number_id, None) is None:
            raise TelnyxError(404, "10005", "Resource not found")


def _available(e164: str) -> dict[str, Any]:
    return {
        "record_type": "available_phone_number",
        "phone_number": e164,
        "region_information": [
            {"region_type": "rate_center", "region_name": "SAN FRANCISCO"},
            {"region_type": "state", "region_name": "CA"},
        ],
        "cost_information": {"upfront_cost": "1.00", "monthly_cost": "1.00", "currency": "USD"},
        "features": [{"name": "voice"}, {"name": "sms"}],
    }


def _error(error: TelnyxError) -> JSONResponse:
    body = {"errors": [{"code": error.code, "title": error.title, "detail": error.title}]}
    return JSONResponse(body, status_code=error.status)


def telnyx_router(
    world: World, inventory: NumberInventory, api_key: str, requests: list[dict[str, Any]]
) -> APIRouter:
    router = APIRouter(prefix="/telnyx/v2")
    seen_commands: set[str] = set()

    async def authorized(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {api_key}":
            return _error(TelnyxError(401, "10009", "Authentication failed"))
        body = await request.json() if await request.body() else {}
        requests.append({"method": request.method, "path": request.url.path, "body": body})
        return None

    @router.get("/available_phone_numbers")
    async def search(request: Request) -> JSONResponse:
        if refused := await authorized(request):
            return refused
        area_code = request.query_params.get("filter[national_destination_code]", "")
        limit = int(request.query_params.get("filter[limit]", "10"))
        return JSONResponse({"data": inventory.search(area_code, limit)})

    @router.post("/number_orders")
    async def order(request: Request) -> JSONResponse:
        if refused := await authorized(request):
            return refused
        numbers = (await request.json()).get("phone_numbers") or [{}]
        try:
            return JSONResponse({"data": inventory.order(numbers[0].get("phone_number", ""))})
        except TelnyxError as error:
            return _error(error)

    @router.delete("/phone_numbers/{phone_number_id}")
    async def release(phone_number_id: str, request: Request) -> JSONResponse:
        if refused := await authorized(request):
            return refused
        try:
            inventory.release(phone_number_id)
        except TelnyxError as error:
            return _error(error)
        return JSONResponse({"data": {"id": phone_number_id}})

    @router.post("/calls/{call_control_id}/actions/{action}")
    async def call_action(call_control_id: str, action: str, request: Request) -> JSONResponse:
        if refused := await authorized(request):
            return refused
        body = await request.json() if await request.body() else {}
        command_id = body.get("command_id")
        if command_id in seen_commands:
            return JSONResponse({"data": {"result": "ok"}})  # Telnyx ignores a repeated command
        try:
            if action == "answer":
                world.answer(call_control_id)
            elif action == "transfer":
                headers = {h["name"]: h["value"] for h in body.get("custom_headers") or []}
                world.transfer(call_control_id, body.get("to", ""), headers)
            elif action == "reject":
                world.reject(call_control_id, body.get("cause", "CALL_REJECTED"))
            elif action == "hangup":
                world.hangup(call_control_id)
            else:
                raise TelnyxError(404, "10005", f"unknown action {action}")
        except TelnyxError as error:
            return _error(error)
        if command_id:
            seen_commands.add(command_id)
        return JSONResponse({"data": {"result": "ok"}})

    return router
