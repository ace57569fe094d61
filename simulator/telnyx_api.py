"""The Telnyx REST routes Trunkline calls: number search and orders, call-control actions."""

import secrets
import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from simulator.world import TelnyxError, World

RATE_CENTERS = {
    "415": ("SAN FRANCISCO", "CA"),
    "628": ("SAN FRANCISCO", "CA"),
    "212": ("NEW YORK", "NY"),
    "312": ("CHICAGO", "IL"),
    "617": ("BOSTON", "MA"),
    "201": ("JERSEY CITY", "NJ"),
}
"""Where the numbers for sale are, by area code; a number elsewhere has no rate center or state."""


def _area_codes(area_code: str | None, locality: str | None) -> list[str]:
    """The area codes a search covers: the one asked for, or those whose rate center is in the
    city (`filter[locality]`, case-insensitive), or all we know, in that order."""
    codes = [area_code] if area_code else list(RATE_CENTERS)
    if locality:
        city = locality.upper()
        codes = [c for c in codes if c in RATE_CENTERS and RATE_CENTERS[c][0].startswith(city)]
    return codes


class NumberInventory:
    """Numbers for sale per area code, numbers on our account, and switches for failing orders."""

    def __init__(self) -> None:
        self.owned: dict[str, str] = {}  # phone number id → e164
        self.fail_orders = False
        self.lose_order_replies = False
        """Orders go through, but their answer is a 503, as when a reply is lost on the way."""

    def search(self, area_code: str | None, locality: str | None, limit: int) -> list[dict]:
        """Numbers for sale, as Telnyx's `GET /available_phone_numbers` filters them."""
        candidates = (
            f"+1{code}555{n:04d}"
            for code in _area_codes(area_code, locality)
            for n in range(100, 10_000)
        )
        available = (e164 for e164 in candidates if e164 not in self.owned.values())
        return [_available(e164) for _, e164 in zip(range(limit), available, strict=False)]

    def order(self, e164: str) -> dict[str, Any]:
        """Place a number order; its items have ids of their own, not the numbers' ids."""
        if self.fail_orders:
            raise TelnyxError(422, "85001", "Number order failed: carrier rejected the order")
        if e164 in self.owned.values() or not e164.startswith("+1") or len(e164) != 12:
            raise TelnyxError(422, "85002", f"{e164} is not available")
        self.owned[str(secrets.randbits(62))] = e164
        if self.lose_order_replies:
            raise TelnyxError(503, "10001", "Service unavailable")
        return {
            "id": str(uuid.uuid4()),
            "record_type": "number_order",
            "status": "success",
            "phone_numbers": [{"id": str(uuid.uuid4()), "phone_number": e164, "status": "success"}],
        }

    def find(self, phone_number: str) -> list[dict[str, Any]]:
        """Numbers on our account matching `filter[phone_number]`."""
        return [
            {
                "id": number_id,
                "record_type": "phone_number",
                "phone_number": e164,
                "status": "active",
            }
            for number_id, e164 in self.owned.items()
            if phone_number and phone_number in e164
        ]

    def release(self, phone_number_id: str) -> None:
        if self.owned.pop(phone_number_id, None) is None:
            raise TelnyxError(404, "10005", "Resource not found")


def _available(e164: str) -> dict[str, Any]:
    regions = [{"region_type": "country_code", "region_name": "US"}]
    if where := RATE_CENTERS.get(e164[2:5]):
        regions += [
            {"region_type": "state", "region_name": where[1]},
            {"region_type": "rate_center", "region_name": where[0]},
        ]
    return {
        "record_type": "available_phone_number",
        "phone_number": e164,
        "region_information": regions,
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
        query = request.query_params
        found = inventory.search(
            query.get("filter[national_destination_code]"),
            query.get("filter[locality]"),
            int(query.get("filter[limit]", "10")),
        )
        return JSONResponse({"data": found})

    @router.post("/number_orders")
    async def order(request: Request) -> JSONResponse:
        if refused := await authorized(request):
            return refused
        numbers = (await request.json()).get("phone_numbers") or [{}]
        try:
            return JSONResponse({"data": inventory.order(numbers[0].get("phone_number", ""))})
        except TelnyxError as error:
            return _error(error)

    @router.get("/phone_numbers")
    async def find(request: Request) -> JSONResponse:
        if refused := await authorized(request):
            return refused
        return JSONResponse(
            {"data": inventory.find(request.query_params.get("filter[phone_number]", ""))}
        )

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
