"""One signed attempt at a lane's head delivery, recorded: what the worker's dispatcher and
`WebhookLaneWorkflow` both do, so a delivery is sent and recorded the same way by either."""

import json
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Boolean, Row, bindparam, case, insert, select, update
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.db import Database, run_core
from trunkline.metrics import WEBHOOK_ATTEMPTS, WEBHOOK_LAG
from trunkline.models import (
    Organization,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from trunkline.organizations import SigningSecrets, signing_secrets
from trunkline.webhooks.client import WebhookClient, WebhookResult
from trunkline.webhooks.deliveries import claim_head, extend_claim, lane_has_pending, lane_head
from trunkline.webhooks.signing import signature_headers
from trunkline.workflow_io import DeliveryStatus, LaneStep

RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=14),
    timedelta(hours=20),
    timedelta(hours=24),
]
"""Waits between attempts at one delivery: the first is immediate, the last comes about
3 days and 3 hours later."""

MAX_RETRY_AFTER = timedelta(hours=24)
GONE = 410
CLAIM_MARGIN = timedelta(seconds=5)
"""An attempt in flight keeps others off its delivery for its HTTP timeout and this margin: a
worker that dies mid-attempt holds the delivery no longer than that."""


_DELIVERY = WebhookDelivery.__table__
_STORE_ATTEMPT = insert(WebhookAttempt.__table__)
_AFTER_ATTEMPT = (
    update(_DELIVERY)
    .where(_DELIVERY.c.id == bindparam("delivery_id"))
    .values(
        url=bindparam("sent_to"),
        attempt_count=bindparam("number"),
        last_status_code=bindparam("status_code"),
        last_error=bindparam("error"),
        # a delivery cancelled while its attempt was in flight stays cancelled
        status=case(
            (_DELIVERY.c.status == "cancelled", "cancelled"), else_=bindparam("new_status")
        ),
        # only the manual attempt it asked for clears a redelivery request
        manual_attempt=case(
            (bindparam("was_manual", type_=Boolean), False), else_=_DELIVERY.c.manual_attempt
        ),
        next_attempt_at=bindparam("next_at", type_=_DELIVERY.c.next_attempt_at.type),
        delivered_at=case(
            (
                bindparam("succeeded", type_=Boolean),
                bindparam("sent_at", type_=_DELIVERY.c.delivered_at.type),
            ),
            else_=_DELIVERY.c.delivered_at,
        ),
        claimed_until=None,
        updated_at=bindparam("now", type_=_DELIVERY.c.updated_at.type),
    )
)
"""Where a delivery stands after an attempt: built once, as it runs for every webhook sent."""
_ENDPOINTS = WebhookEndpoint.__table__
_SENT_WITH = ("id", "url", "headers", "auth_headers", "timeout_ms", "signing_secret", "deleted_at")
_ORGANIZATIONS = Organization.__table__
_SENDING_AS = (
    select(
        _ORGANIZATIONS.c.webhook_secret,
        _ORGANIZATIONS.c.retired_webhook_secrets,
        *(_ENDPOINTS.c[name] for name in _SENT_WITH),
    )
    .select_from(_ORGANIZATIONS.outerjoin(_ENDPOINTS, _ENDPOINTS.c.id == bindparam("endpoint")))
    .where(_ORGANIZATIONS.c.id == bindparam("organization"))
)
"""What an attempt is sent with, in one row: the organization's signing secrets and its
endpoint's settings (all None for a delivery to an agent's own URL)."""


class LaneSender:
    """Bound to the process's database and webhook client."""

    def __init__(self, database: Database, client: WebhookClient) -> None:
        self._database = database
        self._client = client

    async def attempt_head(
        self, lane: str, failures: int, *, unless_durable: bool = False
    ) -> LaneStep:
        """Send the lane's head once, unless another attempt at it is in flight (or, with
        `unless_durable`, the lane's workflow owns it: it is busy then).

        `failures` counts the head's failed attempts so far: it picks the wait after another.
        """
        now = utcnow()
        until = now + timedelta(seconds=self._client.timeout_seconds) + CLAIM_MARGIN
        async with self._database.busy_session() as session:
            head = await claim_head(session, lane, now, until, unless_durable=unless_durable)
            if head is None:
                return await self._empty_or_busy(session, lane, now)
            ids = {"organization": head.organization_id, "endpoint": head.endpoint_id}
            sending_as = (await run_core(session, _SENDING_AS, ids)).one()
            endpoint = sending_as if sending_as.id else None
            if head.endpoint_id and (endpoint is None or endpoint.deleted_at is not None):
                return await _cancel(session, head)
            if endpoint and endpoint.timeout_ms / 1000 > self._client.timeout_seconds:
                longer = now + timedelta(milliseconds=endpoint.timeout_ms) + CLAIM_MARGIN
                await extend_claim(session, head.id, longer)
        if endpoint:
            head.url = endpoint.url  # the endpoint's address as it is now, recorded with it
        result, sent_at = await self._post(head, sending_as, endpoint)  # no session is open
        step = _step(head.id, result, failures)
        status: DeliveryStatus = "pending" if step.wait_seconds else _final(result)
        next_at = sent_at + timedelta(seconds=step.wait_seconds) if step.wait_seconds else None
        step.lane_empty = await self._record(head, sent_at, result, status, next_at)
        return step

    @staticmethod
    async def _empty_or_busy(session: AsyncSession, lane: str, now: datetime) -> LaneStep:
        """Why the head could not be taken: there is none, or an attempt at it is in flight."""
        head = await lane_head(session, lane)
        if head is None:
            return LaneStep(empty=True)
        busy_until = head.claimed_until or now
        wait = max((busy_until - now).total_seconds(), 1.0)
        return LaneStep(delivery_id=head.id, busy=True, wait_seconds=wait)

    async def _post(
        self,
        delivery: WebhookDelivery,
        organization: SigningSecrets,
        endpoint: Row[Any] | None,
    ) -> tuple[WebhookResult, datetime]:
        """Sign and POST the delivery once: an endpoint's headers and auth headers go with it,
        its custom secret (when it has one) signs and its timeout bounds the attempt."""
        body = json.dumps(delivery.payload, separators=(",", ":"))
        sent_at = utcnow()
        custom = endpoint.signing_secret if endpoint else None
        signed = signature_headers(
            delivery.id,
            sent_at,
            body,
            [custom] if custom else signing_secrets(organization, sent_at),
            delivery.legacy_secret,
        )
        if endpoint is None:
            return await self._client.post(delivery.url, body, signed), sent_at
        headers = {
            **endpoint.headers,
            **{header["name"]: header["value"] for header in endpoint.auth_headers},
            **signed,
        }
        timeout = endpoint.timeout_ms / 1000
        return await self._client.post(delivery.url, body, headers, timeout), sent_at

    async def _record(
        self,
        sent: WebhookDelivery,
        sent_at: datetime,
        result: WebhookResult,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Store the attempt and where the delivery stands, and let go of it; True when the
        lane has nothing pending behind it (then the sender need not ask again)."""
        number = sent.attempt_count + 1  # the claim keeps others off: this number is ours
        attempt = {
            "id": f"{sent.id}-{number}",
            "delivery_id": sent.id,
            "number": number,
            "trigger": "manual" if sent.manual_attempt else "automatic",
            "started_at": sent_at,
            "status_code": result.status_code,
            "latency_ms": result.latency_ms,
            "error": result.error,
            "response_excerpt": result.response_excerpt,
        }
        standing = {
            "delivery_id": sent.id,
            "sent_to": sent.url,  # where this attempt went (an endpoint may have moved)
            "number": number,
            "status_code": result.status_code,
            "error": result.error,
            "new_status": status,
            "was_manual": sent.manual_attempt,
            "next_at": next_attempt_at,
            "succeeded": result.succeeded,
            "sent_at": sent_at,
            "now": utcnow(),
        }
        async with self._database.busy_session() as session:
            await run_core(session, _STORE_ATTEMPT, attempt)
            await run_core(session, _AFTER_ATTEMPT, standing)
            lane_empty = not await lane_has_pending(session, sent.lane)
            await session.commit()
        _count(sent, sent_at, result, status)
        return lane_empty


async def _cancel(session: AsyncSession, delivery: WebhookDelivery) -> LaneStep:
    """Its endpoint was deleted while it waited: cancel it unsent, and let the lane go on."""
    await session.exec(  # type: ignore[call-overload]
        update(WebhookDelivery)
        .where(col(WebhookDelivery.id) == delivery.id)
        .values(status="cancelled", claimed_until=None, next_attempt_at=None, updated_at=utcnow())
    )
    lane_empty = not await lane_has_pending(session, delivery.lane)
    await session.commit()
    return LaneStep(delivery_id=delivery.id, gave_up=True, lane_empty=lane_empty)


def _count(
    sent: WebhookDelivery, sent_at: datetime, result: WebhookResult, status: DeliveryStatus
) -> None:
    """Count the attempt just recorded (each is recorded once, under its own number), and how
    long after its event a delivery reached the customer."""
    outcome = "succeeded" if result.succeeded else "retrying" if status == "pending" else "failed"
    WEBHOOK_ATTEMPTS.labels(sent.event_type, outcome).inc()
    if result.succeeded:
        lag = (sent_at - sent.created_at).total_seconds()
        WEBHOOK_LAG.labels(sent.event_type).observe(max(lag, 0.0))


def _final(result: WebhookResult) -> DeliveryStatus:
    return "succeeded" if result.succeeded else "failed"


def _step(delivery_id: str, result: WebhookResult, failures: int) -> LaneStep:
    """Done (delivered, gone, or out of attempts), or the wait before the next attempt."""
    if result.succeeded:
        return LaneStep(delivery_id=delivery_id, succeeded=True)
    if result.status_code == GONE or failures >= len(RETRY_DELAYS):
        return LaneStep(delivery_id=delivery_id, gave_up=True)
    retry_after = min(timedelta(seconds=result.retry_after_seconds or 0), MAX_RETRY_AFTER)
    wait = max(RETRY_DELAYS[failures], retry_after)
    return LaneStep(delivery_id=delivery_id, wait_seconds=wait.total_seconds())
