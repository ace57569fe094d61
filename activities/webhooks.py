"""Activities of webhook delivery: one signed HTTP attempt, and the delivery's recorded state."""

import json
from datetime import datetime

from temporalio import activity
from temporalio.exceptions import ApplicationError

from trunkline.db import Database
from trunkline.models import Organization, WebhookAttempt, WebhookDelivery, utcnow
from trunkline.organizations import signing_secrets
from trunkline.webhooks.client import WebhookClient, WebhookResult
from trunkline.webhooks.signing import signature_headers
from trunkline.workflow_io import (
    WebhookAttemptInput,
    WebhookAttemptOutcome,
    WebhookDeliveryUpdate,
)


class WebhookActivities:
    """Bound to the process's database and webhook client when the worker starts."""

    def __init__(self, database: Database, client: WebhookClient) -> None:
        self._database = database
        self._client = client

    @activity.defn(name="attempt_webhook_delivery")
    async def attempt(self, request: WebhookAttemptInput) -> WebhookAttemptOutcome:
        """Sign with the organization's current secrets, POST once, and record the attempt."""
        delivery, organization = await self._load(request.delivery_id)
        body = json.dumps(delivery.payload, separators=(",", ":"))
        sent_at = utcnow()
        headers = signature_headers(
            delivery.id,
            sent_at,
            body,
            signing_secrets(organization, sent_at),
            delivery.legacy_secret,
        )
        result = await self._client.post(delivery.url, body, headers)  # no session is open
        await self._record_attempt(delivery.id, request.number, sent_at, result)
        return WebhookAttemptOutcome(
            status_code=result.status_code,
            succeeded=result.succeeded,
            error=result.error,
            retry_after_seconds=result.retry_after_seconds,
        )

    async def _load(self, delivery_id: str) -> tuple[WebhookDelivery, Organization]:
        """The delivery and its organization, read in a session closed before any HTTP."""
        async with self._database.session() as session:
            delivery = await session.get(WebhookDelivery, delivery_id)
            if delivery is None:
                raise ApplicationError(f"no delivery {delivery_id}", non_retryable=True)
            organization = await session.get_one(Organization, delivery.organization_id)
        return delivery, organization

    async def _record_attempt(
        self, delivery_id: str, number: int, sent_at: datetime, result: WebhookResult
    ) -> None:
        """Store the attempt and the delivery's latest outcome, in a session of its own."""
        async with self._database.session() as session:
            await session.merge(
                WebhookAttempt(
                    id=f"{delivery_id}-{number}",
                    delivery_id=delivery_id,
                    number=number,
                    started_at=sent_at,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                    response_excerpt=result.response_excerpt,
                )
            )
            delivery = await session.get_one(WebhookDelivery, delivery_id)
            delivery.attempt_count = max(delivery.attempt_count, number)
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error
            delivery.updated_at = utcnow()
            session.add(delivery)
            await session.commit()

    @activity.defn(name="update_webhook_delivery")
    async def update(self, update: WebhookDeliveryUpdate) -> None:
        """Record where the delivery stands: still pending (and when next), succeeded or failed."""
        async with self._database.session() as session:
            delivery = await session.get_one(WebhookDelivery, update.delivery_id)
            delivery.status = update.status
            delivery.next_attempt_at = update.next_attempt_at
            delivery.updated_at = utcnow()
            session.add(delivery)
            await session.commit()
