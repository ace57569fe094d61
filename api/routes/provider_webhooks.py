"""`/webhooks/{livekit,telnyx}`: provider webhooks, verified on the raw body, stored once."""

from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request
from livekit import api
from pydantic import BaseModel
from temporalio.service import RPCError

from api.call_routing import CallRouter
from api.deps import AppSettings, DbSession, Router
from api.errors import ApiError, error_responses
from trunkline.metrics import PROVIDER_WEBHOOKS
from trunkline.models import ProviderEvent
from trunkline.providers.events import from_livekit, from_telnyx, store_once
from trunkline.providers.telnyx import InvalidTelnyxSignature, verify_webhook

router = APIRouter(prefix="/webhooks", tags=["provider webhooks"])


class Acknowledgement(BaseModel):
    status: Literal["stored", "duplicate"]
    event_id: str


async def _store_and_dispatch(
    session: DbSession, router: CallRouter, event: ProviderEvent
) -> Acknowledgement:
    """Store once; hand to the call unless done before. A 503 makes the provider retry."""
    await router.classify(session, event)
    stored, new = await store_once(session, event)
    try:
        await router.dispatch(session, stored)
    except RPCError as exc:
        PROVIDER_WEBHOOKS.labels(event.provider, "unavailable").inc()
        raise ApiError(503, "temporarily_unavailable", f"could not reach Temporal: {exc}") from exc
    result = "stored" if new else "duplicate"
    PROVIDER_WEBHOOKS.labels(event.provider, result).inc()
    return Acknowledgement(status=result, event_id=stored.event_id)


def _refused(provider: str, status: int, code: str, message: str) -> ApiError:
    """A webhook we do not take (bad signature or body), counted."""
    PROVIDER_WEBHOOKS.labels(provider, "refused").inc()
    return ApiError(status, code, message)


@router.post("/livekit", responses=error_responses(400, 401, 503))
async def livekit_webhook(
    request: Request, session: DbSession, settings: AppSettings, router: Router
) -> Acknowledgement:
    """LiveKit: `Authorization` holds a JWT signed with our API secret over the body's SHA-256."""
    body = await request.body()
    receiver = api.WebhookReceiver(
        api.TokenVerifier(settings.livekit_api_key, settings.livekit_api_secret)
    )
    try:
        event = receiver.receive(body.decode(), request.headers.get("authorization", ""))
    except Exception as exc:  # jwt, hash and parse errors all mean: not from LiveKit
        raise _refused(
            "livekit", 401, "invalid_signature", f"LiveKit webhook rejected: {exc}"
        ) from exc
    if not event.id:
        raise _refused("livekit", 400, "invalid_event", "LiveKit webhook without an event id")
    return await _store_and_dispatch(session, router, from_livekit(event))


@router.post("/telnyx", responses=error_responses(400, 401, 503))
async def telnyx_webhook(
    request: Request, session: DbSession, settings: AppSettings, router: Router
) -> Acknowledgement:
    """Telnyx: Ed25519 over `timestamp|body`, within 300 s of now."""
    body = await request.body()
    try:
        verify_webhook(
            body,
            request.headers.get("telnyx-signature-ed25519"),
            request.headers.get("telnyx-timestamp"),
            settings.telnyx_public_key,
            datetime.now(UTC),
        )
    except InvalidTelnyxSignature as exc:
        raise _refused(
            "telnyx", 401, "invalid_signature", f"Telnyx webhook rejected: {exc}"
        ) from exc
    try:
        event = from_telnyx(await request.json())
    except ValueError as exc:
        raise _refused("telnyx", 400, "invalid_event", str(exc)) from exc
    return await _store_and_dispatch(session, router, event)
