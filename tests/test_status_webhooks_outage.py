"""A status webhook receiver down for two days still gets every call.status, exactly once each.

Runs on the time-skipping server: the call itself happens in real time against the simulator,
then the server's clock jumps two days ahead while the receiver keeps failing.
"""

import json
from collections import Counter
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from standardwebhooks import Webhook
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from simulator.app import Simulator
from tests.calls_support import call_when, place_call, script, set_up_line
from tests.conftest import RunningApi, Tenant, new_tenant
from tests.receiver import Reply, WebhookReceiver
from tests.servers import serving
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.settings import Settings
from worker import running_worker


@pytest.fixture
async def skipping_tenant(
    time_skipping_temporal: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    sockets: dict,
    simulator: Simulator,
) -> AsyncIterator[Tenant]:
    """The API and the worker, both on the time-skipping server, and an organization."""
    address = time_skipping_temporal.client.service_client.config.target_host
    on_skipping = settings.model_copy(update={"temporal_address": address})
    async with (
        serving(create_app(on_skipping), sockets["api"]) as base_url,
        running_worker(time_skipping_temporal.client, on_skipping, database),
    ):
        tenant = await new_tenant(database, RunningApi(base_url), "Acme")
        yield tenant
        await tenant.http.aclose()


async def test_receiver_down_for_two_days_then_up(
    skipping_tenant: Tenant,
    time_skipping_temporal: WorkflowEnvironment,
    simulator: Simulator,
    receiver: WebhookReceiver,
) -> None:
    tenant = skipping_tenant
    receiver.default = Reply(503, body="down for maintenance")
    line = await set_up_line(tenant, receiver)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    session = await place_call(line)
    await call_when(tenant, session["sessionId"], "ended", "failed")
    path = f"/v1/calls/{session['sessionId']}/webhook-deliveries"
    deliveries = (await tenant.http.get(path)).json()["data"]
    assert len(deliveries) >= 5 and {d["status"] for d in deliveries} == {"pending"}

    await time_skipping_temporal.sleep(timedelta(days=2))
    assert {d["status"] for d in (await tenant.http.get(path)).json()["data"]} == {"pending"}
    receiver.default = Reply(200)
    c = await time_skipping_temporal.client.get_workflow_handle(
        f"call-{session['sessionId']}"
    ).describe()
    print("CALL", c.status, await time_skipping_temporal.get_current_time())
    for d in deliveries:
        dd = await time_skipping_temporal.client.get_workflow_handle(
            f"webhook-{d['id']}"
        ).describe()
        print("DEL", dd.status, dd.raw_description.pending_activities)
    await time_skipping_temporal.sleep(timedelta(hours=4))  # past the 9th attempt, at 51 h 35 m

    async def all_delivered() -> list[dict] | None:
        rows = (await tenant.http.get(path)).json()["data"]
        return rows if {d["status"] for d in rows} == {"succeeded"} else None

    deliveries = await eventually(all_delivered)
    for delivery in deliveries:
        codes = [attempt["statusCode"] for attempt in delivery["attempts"]]
        assert codes == [503] * 8 + [200]
    per_message = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert set(per_message.values()) == {9}
    secret = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    last = receiver.received[-1]
    assert json.loads(last.body)["type"] == "call.status"
    Webhook(secret).verify(last.body, last.headers)
