"""Receivers down for days still get every webhook, exactly once each: `call.status` after two
days down, `call.report` after three.

Runs on the time-skipping server: the call itself happens in real time against the simulator,
then the server's clock jumps two days ahead while the receiver keeps failing.
"""

import json
from collections import Counter
from datetime import timedelta

from standardwebhooks import Webhook
from temporalio.testing import WorkflowEnvironment

from simulator.app import Simulator
from tests.calls_support import call_when, place_call, script, set_up_line
from tests.conftest import Tenant
from tests.receiver import Reply, WebhookReceiver
from tests.waiting import eventually
from trunkline.temporal import workflow_exists
from trunkline.webhooks.deliveries import lane_of


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
    assert len(deliveries) >= 4 and {d["status"] for d in deliveries} == {"pending"}
    await lane_handed_over(time_skipping_temporal, session["sessionId"], deliveries[0]["url"])

    await time_skipping_temporal.sleep(timedelta(days=2))
    assert {d["status"] for d in (await tenant.http.get(path)).json()["data"]} == {"pending"}
    receiver.default = Reply(200)
    await time_skipping_temporal.sleep(timedelta(hours=4))  # past the 9th attempt, at 51 h 35 m

    async def all_delivered() -> list[dict] | None:
        rows = (await tenant.http.get(path)).json()["data"]
        return rows if {d["status"] for d in rows} == {"succeeded"} else None

    head, *behind = await eventually(all_delivered)
    assert [attempt["statusCode"] for attempt in head["attempts"]] == [503] * 8 + [200]
    assert all([a["statusCode"] for a in d["attempts"]] == [200] for d in behind)
    per_message = Counter(r.headers["webhook-id"] for r in receiver.received)
    assert per_message == {head["id"]: 9, **{d["id"]: 1 for d in behind}}
    after_outage = [r.headers["webhook-id"] for r in receiver.received[8:]]
    assert after_outage == [head["id"]] + [d["id"] for d in behind]  # in the call's order
    secret = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    last = receiver.received[-1]
    assert json.loads(last.body)["type"] == "call.status"
    Webhook(secret).verify(last.body, last.headers)


async def test_report_receiver_down_for_three_days_then_up(
    skipping_tenant: Tenant,
    time_skipping_temporal: WorkflowEnvironment,
    simulator: Simulator,
    receiver: WebhookReceiver,
) -> None:
    tenant = skipping_tenant
    receiver.default = Reply(503, body="down for maintenance")
    line = await set_up_line(
        tenant, receiver, agent={"webhooks": {"postCall": {"url": f"{receiver.url}/post-call"}}}
    )
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    call_id = (await place_call(line))["sessionId"]
    await call_when(tenant, call_id, "ended", "failed")
    path = f"/v1/calls/{call_id}/webhook-deliveries"

    async def report_queued() -> list[dict]:
        rows = (await tenant.http.get(path)).json()["data"]
        return [d for d in rows if d["eventType"] == "call.report"]

    [queued] = await eventually(report_queued, 20)
    await lane_handed_over(time_skipping_temporal, call_id, queued["url"])
    await time_skipping_temporal.sleep(timedelta(days=3))
    [waiting] = await report_queued()
    assert waiting["status"] == "pending" and waiting["attemptCount"] == 9
    receiver.default = Reply(200)
    await time_skipping_temporal.sleep(timedelta(hours=4))  # past the 10th attempt, at 75 h 35 m

    async def delivered() -> dict | None:
        [row] = await report_queued()
        return row if row["status"] == "succeeded" else None

    row = await eventually(delivered)
    assert [a["statusCode"] for a in row["attempts"]] == [503] * 9 + [200]
    reports = [r for r in receiver.received if r.path == "/post-call"]
    assert [r.headers["webhook-id"] for r in reports] == [queued["id"]] * 10
    assert json.loads(reports[-1].body)["type"] == "call.report"


async def lane_handed_over(env: WorkflowEnvironment, call_id: str, url: str) -> None:
    """Wait until the first attempt failed and the lane's workflow retries it (the clock may
    jump only then: the worker's first attempt happens in real time)."""
    lane = lane_of(call_id, url, "")
    await eventually(lambda: workflow_exists(env.client, f"webhooks-{lane}"), 20)
