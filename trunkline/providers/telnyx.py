"""Telnyx over its REST API (httpx): numbers, call control, and webhook signature checks."""

import base64
from datetime import datetime
from typing import Any

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from pydantic import BaseModel

from trunkline.providers.errors import ProviderRejected, ProviderUnavailable

PROVIDER = "telnyx"
SIGNATURE_TOLERANCE_SECONDS = 300
CALL_ENDED_CODES = {"90018", "90015"}
"""Telnyx error codes for a call-control command on a call that has already ended."""
TOO_MANY_REQUESTS = 429


class AvailableNumber(BaseModel):
    e164: str
    rate_center: str | None
    state: str | None
    features: list[str]
    monthly_cost: float | None
    upfront_cost: float | None


class NumberOrder(BaseModel):
    order_id: str
    status: str


class CallAlreadyEnded(ProviderRejected):
    """A call-control command arrived after the call ended: nothing left to do."""


class InvalidTelnyxSignature(Exception):
    """A webhook whose Ed25519 signature or timestamp does not check out."""


def generate_key_pair() -> tuple[str, str]:
    """A new Ed25519 pair in base64: (private, for whoever signs; public, for `verify_webhook`)."""
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(private.private_bytes_raw()).decode(), base64.b64encode(public).decode()


def verify_webhook(
    body: bytes, signature: str | None, timestamp: str | None, public_key: str, now: datetime
) -> None:
    """Check a Telnyx webhook: Ed25519 over `"{timestamp}|{body}"`, timestamp within 300 s."""
    if not signature or not timestamp:
        raise InvalidTelnyxSignature("missing telnyx-signature-ed25519 or telnyx-timestamp")
    try:
        sent_at = int(timestamp)
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key))
        key.verify(base64.b64decode(signature), f"{timestamp}|".encode() + body)
    except (ValueError, InvalidSignature) as exc:
        raise InvalidTelnyxSignature("signature does not match") from exc
    if abs(now.timestamp() - sent_at) > SIGNATURE_TOLERANCE_SECONDS:
        raise InvalidTelnyxSignature("timestamp outside the 300 s tolerance")


def _json_object(response: httpx.Response) -> dict[str, Any]:
    """The response body as a JSON object; empty when it is not one (a proxy's HTML page, say)."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _region(number: dict[str, Any], region_type: str) -> str | None:
    for region in number.get("region_information") or []:
        if region.get("region_type") == region_type:
            return region.get("region_name")
    return None


def _cost(number: dict[str, Any], key: str) -> float | None:
    value = (number.get("cost_information") or {}).get(key)
    return float(value) if value is not None else None


class TelnyxAdapter:
    """The Telnyx calls Trunkline makes; `http` is shared by the process."""

    def __init__(self, base_url: str, api_key: str, http: httpx.AsyncClient) -> None:
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}"}
        self._http = http

    async def _request(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        try:
            response = await self._http.request(
                method, f"{self._base_url}{path}", headers=self._headers, **kwargs
            )
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"{what}: {exc!r}", provider=PROVIDER) from exc
        if response.status_code >= 500 or response.status_code == TOO_MANY_REQUESTS:
            raise ProviderUnavailable(f"{what}: HTTP {response.status_code}", provider=PROVIDER)
        body = _json_object(response)
        if response.status_code >= 400:
            errors = body.get("errors") or [{}]
            code = str(errors[0].get("code", response.status_code))
            detail = errors[0].get("detail") or errors[0].get("title") or response.text
            error = CallAlreadyEnded if code in CALL_ENDED_CODES else ProviderRejected
            raise error(
                f"{what}: {detail}", provider=PROVIDER, code=code, status=response.status_code
            )
        return body.get("data") or {}

    async def search_available(
        self, area_code: str | None = None, limit: int = 10, *, locality: str | None = None
    ) -> list[AvailableNumber]:
        """US numbers with voice, in an area code and/or a city (Telnyx's `locality`) if given."""
        params = {
            "filter[country_code]": "US",
            "filter[features][]": "voice",
            "filter[limit]": str(limit),
        }
        for name, value in (("national_destination_code", area_code), ("locality", locality)):
            if value:
                params[f"filter[{name}]"] = value
        data = await self._request("GET", "/available_phone_numbers", "search", params=params)
        return [
            AvailableNumber(
                e164=number["phone_number"],
                rate_center=_region(number, "rate_center"),
                state=_region(number, "state"),
                features=[f["name"] for f in number.get("features") or [] if f.get("name")],
                monthly_cost=_cost(number, "monthly_cost"),
                upfront_cost=_cost(number, "upfront_cost"),
            )
            for number in data
        ]

    async def order_number(self, e164: str, connection_id: str) -> NumberOrder:
        """Order one number onto our call-control connection."""
        body = {"phone_numbers": [{"phone_number": e164}], "connection_id": connection_id}
        data = await self._request("POST", "/number_orders", f"order {e164}", json=body)
        return NumberOrder(order_id=data["id"], status=data.get("status", ""))

    async def find_number(self, e164: str) -> str | None:
        """The id of the number on our account (what `release_number` takes), or None."""
        params = {"filter[phone_number]": e164}
        data = await self._request("GET", "/phone_numbers", f"find {e164}", params=params)
        return next((n["id"] for n in data or [] if n.get("phone_number") == e164), None)

    async def release_number(self, phone_number_id: str) -> None:
        """Give a number on our account (by its phone-number id) back to Telnyx."""
        await self._request(
            "DELETE", f"/phone_numbers/{phone_number_id}", f"release {phone_number_id}"
        )

    async def _command(
        self, call_control_id: str, action: str, body: dict[str, Any], command_id: str | None
    ) -> None:
        """A call-control action; Telnyx ignores a repeat of the same `command_id`."""
        if command_id:
            body = {**body, "command_id": command_id}
        await self._request(
            "POST",
            f"/calls/{call_control_id}/actions/{action}",
            f"{action} {call_control_id}",
            json=body,
        )

    async def answer(self, call_control_id: str, command_id: str | None = None) -> None:
        await self._command(call_control_id, "answer", {}, command_id)

    async def transfer(
        self, call_control_id: str, to: str, headers: dict[str, str], command_id: str | None = None
    ) -> None:
        """Bridge the call leg to a SIP URI (LiveKit), with our `X-` headers on the INVITE."""
        custom_headers = [{"name": name, "value": value} for name, value in headers.items()]
        body = {"to": to, "custom_headers": custom_headers}
        await self._command(call_control_id, "transfer", body, command_id)

    async def reject(self, call_control_id: str, cause: str, command_id: str | None = None) -> None:
        """Refuse an incoming call; `cause` is `CALL_REJECTED` or `USER_BUSY`."""
        await self._command(call_control_id, "reject", {"cause": cause}, command_id)

    async def hangup(self, call_control_id: str, command_id: str | None = None) -> None:
        await self._command(call_control_id, "hangup", {}, command_id)
