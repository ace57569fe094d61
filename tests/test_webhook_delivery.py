"""Webhook lanes on real Temporal servers: the worker's first attempt, then the durable lane
workflow's retries over days, 410, Retry-After, per-lane order and stranded lanes."""

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import timedelta

import pytest
from sqlmodel import select
from standardwebhooks import Webhook
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from tests.receiver import Reply, WebhookReceiver
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.models import (
    Organization,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookLane,
    utcnow,
)
from trunkline.organizations import create_organization
from trunkline.settings import Settings
from trunkline.temporal import workflow_exists
from trunkline.webhooks.client import WebhookClient
from trunkline.webhooks.deliveries import make_durable, new_delivery
from trunkline.webhooks.dispatcher import WebhookDispatcher
from trunkline.webhooks.sender import CLAIM_MARGIN, RETRY_DELAYS, LaneSender
from trunkline.workflow_io import LaneInput, LaneResult
from worker import running_worker
from workflows.webhook_lane import WebhookLaneWorkflow

PAYLOAD = {"type": "call.status", "call_id": "session_1", "status": "ended"}


@pytest.fixture
async def organization(database: Database) -> Organization:
    async with database.session() as session:
        return (await create_organization(session, "Acme")).organization


async def queue_delivery(
    database: Database, organization: Organization, url: str, **payload: object
) -> WebhookDelivery:
    """A pending delivery in the lane of call `session_1` to `url`."""
    delivery = new_delivery(
        organization.id,
        {"url": url, "secret": "legacy-secret-0123456789"},
        "call.status",
        {**PAYLOAD, **payload},
        call_id="session_1",
    )
    async with database.session() as session:
        session.add(delivery)
        await session.commit()
    return delivery


Deliver = Callable[[WebhookDelivery], Awaitable[tuple[LaneResult, WorkflowHandle]]]


@pytest.fixture
async def deliver(
    time_skipping_temporal: WorkflowEnvironment, settings: Settings, database: Database
) -> AsyncIterator[Deliver]:
    """Run a durable lane to its end on the time-skipping server; returns result and handle."""
    env = time_skipping_temporal
    async with running_worker(env.client, settings, database):

        async def run(delivery: WebhookDelivery) -> tuple[LaneResult, WorkflowHandle]:
            async with database.session() as session:
                await make_durable(session, delivery.lane)
            handle = await env.client.start_workflow(
                WebhookLaneWorkflow.run,
                LaneInput(lane=delivery.lane),
                id=f"webhooks-{delivery.lane}",
                task_queue=settings.temporal_task_queue,
            )
            return await handle.result(), handle

        yield run


@pytest.fixture
async def dispatcher(
    local_temporal: WorkflowEnvironment, settings: Settings, database: Database
) -> AsyncIterator[WebhookDispatcher]:
    """The worker (for lanes handed over) and a dispatcher of the test's own."""
    client = WebhookClient(timeout_seconds=5, allow_private_targets=True)
    sender = LaneSender(database, client)
    async with running_worker(local_temporal.client, settings, database):
        yield WebhookDispatcher(
            database,
            sender,
            local_temporal.client,
            settings.temporal_task_queue,
            stranded_after=timedelta(seconds=0),
        )
    await client.aclose()


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
    deliver: Deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    receiver.script(*[Reply(503, body="down")] * len(RETRY_DELAYS))
    delivery = await queue_delivery(database, organization, f"{receiver.url}/status")
    result, handle = await deliver(delivery)

    assert result == LaneResult(lane=delivery.lane, delivered=1)
    waits = await timer_waits(handle)
    assert waits == RETRY_DELAYS
    assert sum(waits, timedelta()) > timedelta(days=3)
    assert len(receiver.received) == len(RETRY_DELAYS) + 1
    assert {r.headers["webhook-id"] for r in receiver.received} == {delivery.id}
    final = receiver.received[-1]
    assert Webhook(organization.webhook_secret).verify(final.body, final.headers) == PAYLOAD
    assert final.headers["x-trunkline-signature"].startswith("t=")

    stored, attempts = await recorded(database, delivery.id)
    assert (stored.status, stored.attempt_count, stored.last_status_code) == ("succeeded", 10, 200)
    assert stored.next_attempt_at is None and stored.claimed_until is None
    assert [a.status_code for a in attempts] == [503] * 9 + [200]
    assert attempts[0].error == "HTTP 503" and attempts[0].response_excerpt == "down"
    assert all(a.latency_ms > 0 for a in attempts)


async def test_gone_stops_retrying(
    deliver: Deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    receiver.script(Reply(500), Reply(410))
    delivery = await queue_delivery(database, organization, f"{receiver.url}/status")
    result, _ = await deliver(delivery)
    assert result.delivered == 0
    assert len(receiver.received) == 2
    stored, _ = await recorded(database, delivery.id)
    assert (stored.status, stored.last_status_code) == ("failed", 410)


async def test_retry_after_lengthens_the_wait(
    deliver: Deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    receiver.script(Reply(429, {"retry-after": "3600"}), Reply(503, {"retry-after": "1"}))
    delivery = await queue_delivery(database, organization, f"{receiver.url}/status")
    result, handle = await deliver(delivery)
    assert result.delivered == 1 and len(receiver.received) == 3
    assert await timer_waits(handle) == [timedelta(hours=1), RETRY_DELAYS[1]]


async def test_an_endpoint_that_never_recovers_fails_after_the_last_attempt(
    deliver: Deliver, database: Database, organization: Organization
) -> None:
    delivery = await queue_delivery(database, organization, "http://127.0.0.1:9/unreachable")
    result, _ = await deliver(delivery)
    assert result.delivered == 0
    stored, attempts = await recorded(database, delivery.id)
    assert stored.status == "failed" and stored.last_status_code is None
    assert len(attempts) == len(RETRY_DELAYS) + 1
    assert all("ConnectError" in (a.error or "") for a in attempts)


async def test_activity_retries_are_bounded(
    deliver: Deliver, database: Database, organization: Organization, receiver: WebhookReceiver
) -> None:
    """A worker failing around an attempt retries it a few times, never re-POSTing forever."""
    delivery = await queue_delivery(database, organization, f"{receiver.url}/status")
    _, handle = await deliver(delivery)
    history = await handle.fetch_history()
    limits = {
        event.activity_task_scheduled_event_attributes.retry_policy.maximum_attempts
        for event in history.events
        if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    }
    assert limits == {5}


async def test_the_first_attempt_needs_no_workflow(
    dispatcher: WebhookDispatcher,
    local_temporal: WorkflowEnvironment,
    database: Database,
    organization: Organization,
    receiver: WebhookReceiver,
) -> None:
    delivery = await queue_delivery(database, organization, f"{receiver.url}/status")
    dispatcher.submit([delivery.lane])
    [received] = await receiver.wait_for(1)
    assert json.loads(received.body) == PAYLOAD
    stored, [attempt] = await eventually(lambda: _settled(database, delivery.id))
    assert (stored.status, attempt.status_code) == ("succeeded", 200)
    assert not await workflow_exists(local_temporal.client, f"webhooks-{delivery.lane}")


async def test_a_lane_goes_out_in_order_behind_a_failing_head(
    dispatcher: WebhookDispatcher,
    local_temporal: WorkflowEnvironment,
    database: Database,
    organization: Organization,
    receiver: WebhookReceiver,
) -> None:
    """The head fails once: the lane's workflow retries it after 5 s, then sends the rest."""
    receiver.script(Reply(503))
    url = f"{receiver.url}/status"
    queued = [await queue_delivery(database, organization, url, n=n) for n in range(3)]
    dispatcher.submit([queued[0].lane])
    received = await receiver.wait_for(4, within=30)
    assert [json.loads(r.body)["n"] for r in received] == [0, 0, 1, 2]
    assert [r.headers["webhook-id"] for r in received] == [queued[0].id] + [q.id for q in queued]
    handle = local_temporal.client.get_workflow_handle_for(
        WebhookLaneWorkflow.run, f"webhooks-{queued[0].lane}"
    )
    assert await handle.result() == LaneResult(lane=queued[0].lane, delivered=3)
    assert await timer_waits(handle) == [RETRY_DELAYS[0]]
    async with database.session() as session:
        assert await session.get(WebhookLane, queued[0].lane) is None  # back to the worker


async def test_a_stranded_lane_is_swept_to_its_workflow(
    dispatcher: WebhookDispatcher,
    local_temporal: WorkflowEnvironment,
    database: Database,
    organization: Organization,
    receiver: WebhookReceiver,
) -> None:
    """A worker died after storing a delivery and before sending it: the sweep sends it."""
    delivery = await queue_delivery(database, organization, f"{receiver.url}/status")
    assert await dispatcher.sweep() == 1
    [received] = await receiver.wait_for(1)
    assert received.headers["webhook-id"] == delivery.id
    handle = local_temporal.client.get_workflow_handle_for(
        WebhookLaneWorkflow.run, f"webhooks-{delivery.lane}"
    )
    assert await handle.result() == LaneResult(lane=delivery.lane, delivered=1)
    assert await dispatcher.sweep() == 0


async def test_no_database_connection_is_held_while_the_endpoint_answers(
    dispatcher: WebhookDispatcher,
    database: Database,
    organization: Organization,
    receiver: WebhookReceiver,
) -> None:
    """Slow endpoints must not hold pooled connections (on PostgreSQL the pool would run out)."""
    receiver.script(Reply(delay_seconds=1))
    delivery = await queue_delivery(database, organization, f"{receiver.url}/status")
    dispatcher.submit([delivery.lane])
    await receiver.wait_for(1)
    held_during_post = database.engine.pool.checkedout()  # type: ignore[attr-defined]
    _, [attempt] = await eventually(lambda: _settled(database, delivery.id))
    assert held_during_post == 0
    assert attempt.status_code == 200


async def _settled(database: Database, delivery_id: str) -> tuple[WebhookDelivery, list] | None:
    """The delivery and its attempts once it is no longer pending."""
    delivery, attempts = await recorded(database, delivery_id)
    return (delivery, attempts) if delivery.status != "pending" else None


@pytest.mark.parametrize("endpoint_timeout_ms", [None, 20_000])
async def test_an_attempt_in_flight_holds_its_delivery_for_its_timeout_and_a_margin(
    dispatcher: WebhookDispatcher,
    database: Database,
    organization: Organization,
    receiver: WebhookReceiver,
    endpoint_timeout_ms: int | None,
) -> None:
    """A worker that dies mid-attempt keeps others off the delivery no longer than the attempt
    could have lasted: the dispatcher's client times out after 5 s, an endpoint may wait
    longer."""
    receiver.script(Reply(delay_seconds=1))
    url = f"{receiver.url}/status"
    delivery = new_delivery(organization.id, {"url": url}, "call.status", PAYLOAD, call_id="c1")
    async with database.session() as session:
        if endpoint_timeout_ms:
            endpoint = WebhookEndpoint(
                organization_id=organization.id,
                name="slow",
                url=url,
                timeout_ms=endpoint_timeout_ms,
            )
            session.add(endpoint)
            delivery.endpoint_id = endpoint.id
        session.add(delivery)
        await session.commit()
    before = utcnow()
    dispatcher.submit([delivery.lane])
    await receiver.wait_for(1)
    after = utcnow()
    claimed, _ = await recorded(database, delivery.id)
    hold = timedelta(milliseconds=endpoint_timeout_ms or 5000) + CLAIM_MARGIN
    assert claimed.claimed_until is not None
    assert before + hold <= claimed.claimed_until <= after + hold
    await eventually(lambda: _settled(database, delivery.id))
