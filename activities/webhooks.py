"""Activities of webhook delivery: one signed HTTP attempt, and the delivery's recorded state."""

import json

from temporalio import activity
from temporalio.exceptions import ApplicationError

from trunkline.db import Database
from trunkline.models import Organization, WebhookAttempt, WebhookDelivery, utcnow
from trunkline.organizations import signing_secrets
from trunkline.webhooks.client import WebhookClient
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
        async with self._database.session() as session:
            delivery = await session.get(WebhookDelivery, request.delivery_id)
            if delivery is None:
                raise ApplicationError(f"no delivery {request.delivery_id}", non_retryable=True)
            organization = await session.get_one(Organization, delivery.organization_id)
            body = json.dumps(delivery.payload, separators=(",", ":"))
            sent_at = utcnow()
            headers = signature_headers(
                delivery.id,
                sent_at,
                body,
                signing_secrets(organization, sent_at),
                delivery.legacy_secret,
            )
            result = await self._client.post(delivery.url, body, headers)
            await session.merge(
                WebhookAttempt(
                    id=f"{delivery.id}-{request.number}",
                    delivery_id=delivery.id,
                    number=request.number,
                    started_at=sent_at,
                    status_code=result.status_code,
                    latency_ms=result.latency_ms,
                    error=result.error,
                    response_excerpt=result.response_excerpt,
                )
            )
            delivery.attempt_count = max(delivery.attempt_count, request.number)
            delivery.last_status_code = result.status_code
            delivery.last_error = result.error
            delivery.updated_at = utcnow()
            session.add(delivery)
            await session.commit()
        return WebhookAttemptOutcome(
            status_code=result.status_code,
            succeeded=result.succeeded,
            error=result.error,
            retry_after_seconds=result.retry_after_seconds,
        )

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
