"""WebhookDeliveryWorkflow on real Temporal servers: retries over days, 410, Retry-After."""

import json
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlmodel import select
from standardwebhooks import Webhook
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.receiver import Reply, WebhookReceiver
from trunkline.db import Database
from trunkline.models import Organization, WebhookAttempt, WebhookDelivery
from trunkline.organizations import create_organization
from trunkline.settings import Settings
from trunkline.workflow_io import WebhookDeliveryInput, WebhookDeliveryResult
from worker import running_worker
from workflows.webhook_delivery import RETRY_DELAYS, WebhookDeliveryWorkflow

PAYLOAD = {"type": "call.status", "call_id": "session_1", "status": "ended"}


@pytest.fixture
async def organization(database: Database) -> Organization:
    async with database.session() as session:
        return (await create_organization(session, "Acme")).organization


async def new_delivery(database: Database, organization: Organization, url: str) -> str:
    async with database.session() as session:
        delivery = WebhookDelivery(
            organization_id=organization.id,
            event_type="call.status",
            url=url,
            payload=PAYLOAD,
            legacy_secret="legacy-secret-0123456789",
        )
        session.add(delivery)
        await session.commit()
        return delivery.id


@pytest.fixture
async def deliver(
    time_skipping_temporal: WorkflowEnvironment, settings: Settings, database: Database
) -> AsyncIterator:
    """Run one delivery to completion on the time-skipping server; returns result and handle."""
    env = time_skipping_temporal
    async with running_worker(env.client, settings, database):

        async def run(delivery_id: str) -> tuple[WebhookDeliveryResult, WorkflowHandle]:
            handle = await env.client.start_workflow(
                WebhookDeliveryWorkflow.run,
                WebhookDeliveryInput(delivery_id=delivery_id),
                id=f"webhook-{delivery_id}",
                task_queue=settings.temporal_task_queue,
            )
            return await handle.result(), handle

        yield run


async def timer_waits(handle: WorkflowHandle) -> list[timedelta]:
    history = await handle.fetch_history()
    return [
        event.timer_started_event_attributes.start_to_fire_timeout.ToTimedelta()
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED
    ]


async def recorded(database: Database, delivery_id: str) -> tuple[WebhookDelivery, list]:
    async with database.session() as session:
        delivery = await session.get_one(WebhookDelivery, delivery_id)
        statement = select(WebhookAttempt).where(WebhookAttempt.delivery_id == delivery_id)
        attempts = sorted((await session.exec(statement)).all(), key=lambda a: a.number)
    return delivery, attempts


async def test_endpoint_down_for_three_days_then_up_gets_exactly_one_success(
    deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    receiver.script(*[Reply(503, body="down")] * len(RETRY_DELAYS))
    delivery_id = await new_delivery(database, organization, f"{receiver.url}/status")
    result, handle = await deliver(delivery_id)

    assert result == WebhookDeliveryResult(
        delivery_id=delivery_id, status="succeeded", attempts=len(RETRY_DELAYS) + 1
    )
    waits = await timer_waits(handle)
    assert waits == RETRY_DELAYS
    assert sum(waits, timedelta()) > timedelta(days=3)
    assert len(receiver.received) == len(RETRY_DELAYS) + 1
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery_id}
    final = receiver.received[-1]
    assert Webhook(organization.webhook_secret).verify(final.body, final.headers) == PAYLOAD
    assert final.headers["x-trunkline-signature"].startswith("t=")

    delivery, attempts = await recorded(database, delivery_id)
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == (
        "succeeded",
        10,
        200,
    )
    assert delivery.next_attempt_at is None
    assert [a.status_code for a in attempts] == [503] * 9 + [200]
    assert attempts[0].error == "HTTP 503" and attempts[0].response_excerpt == "down"
    assert all(a.latency_ms > 0 for a in attempts)


async def test_gone_stops_retrying(
    deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    receiver.script(Reply(500), Reply(410))
    delivery_id = await new_delivery(database, organization, f"{receiver.url}/status")
    result, _ = await deliver(delivery_id)
    assert (result.status, result.attempts) == ("failed", 2)
    assert len(receiver.received) == 2
    delivery, _ = await recorded(database, delivery_id)
    assert (delivery.status, delivery.last_status_code) == ("failed", 410)


async def test_retry_after_lengthens_the_wait(
    deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    receiver.script(Reply(429, {"retry-after": "3600"}), Reply(503, {"retry-after": "1"}))
    delivery_id = await new_delivery(database, organization, f"{receiver.url}/status")
    result, handle = await deliver(delivery_id)
    assert (result.status, result.attempts) == ("succeeded", 3)
    assert await timer_waits(handle) == [timedelta(hours=1), RETRY_DELAYS[1]]


async def test_an_endpoint_that_never_recovers_fails_after_the_last_attempt(
    deliver, database: Database, organization: Organization
) -> None:
    delivery_id = await new_delivery(database, organization, "http://127.0.0.1:9/unreachable")
    result, _ = await deliver(delivery_id)
    assert (result.status, result.attempts) == ("failed", len(RETRY_DELAYS) + 1)
    delivery, attempts = await recorded(database, delivery_id)
    assert delivery.status == "failed" and delivery.last_status_code is None
    assert all("ConnectError" in (a.error or "") for a in attempts)


async def test_pending_delivery_records_when_it_tries_next(
    local_temporal: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    organization: Organization,
    receiver: WebhookReceiver,
) -> None:
    receiver.script(Reply(503))
    delivery_id = await new_delivery(database, organization, f"{receiver.url}/status")
    async with running_worker(local_temporal.client, settings, database):
        handle = await local_temporal.client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(delivery_id=delivery_id),
            id=f"webhook-{delivery_id}",
            task_queue=settings.temporal_task_queue,
        )
        result = await handle.result()
    assert (result.status, result.attempts) == ("succeeded", 2)
    [first, second] = receiver.received
    assert json.loads(first.body) == json.loads(second.body) == PAYLOAD
    assert int(second.headers["webhook-timestamp"]) >= int(first.headers["webhook-timestamp"])


async def test_no_database_connection_is_held_while_the_endpoint_answers(
    local_temporal: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    organization: Organization,
    receiver: WebhookReceiver,
) -> None:
    """Slow endpoints must not hold pooled connections (on PostgreSQL the pool would run out)."""
    receiver.script(Reply(delay_seconds=1))
    delivery_id = await new_delivery(database, organization, f"{receiver.url}/status")
    async with running_worker(local_temporal.client, settings, database):
        handle = await local_temporal.client.start_workflow(
            WebhookDeliveryWorkflow.run,
            WebhookDeliveryInput(delivery_id=delivery_id),
            id=f"webhook-{delivery_id}",
            task_queue=settings.temporal_task_queue,
        )
        await receiver.wait_for(1)
        held_during_post = database.engine.pool.checkedout()  # type: ignore[attr-defined]
        result = await handle.result()
    assert held_during_post == 0
    assert (result.status, result.attempts) == ("succeeded", 1)
    _, [attempt] = await recorded(database, delivery_id)
    assert attempt.status_code == 200


async def test_activity_retries_are_bounded(
    deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    """A worker failing around an attempt retries it a few times, never re-POSTing forever."""
    delivery_id = await new_delivery(database, organization, f"{receiver.url}/status")
    _, handle = await deliver(delivery_id)
    history = await handle.fetch_history()
    limits = {
        event.activity_task_scheduled_event_attributes.retry_policy.maximum_attempts
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    assert limits == {5}
