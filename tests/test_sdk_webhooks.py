"""The official Speko SDK against Trunkline: `webhooks` (organization endpoints) and
`webhooks.deliveries`, each answer validated by the SDK's own models, and what the endpoints
really receive from real calls on the simulator (signed, in order, filtered)."""

import asyncio
import base64
import json

import pytest
from spekoai import AsyncSpeko, SpekoApiError, SpekoAuthError
from spekoai.models import (
    WebhookDelivery,
    WebhookDeliveryDetail,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookRedeliverResult,
)
from standardwebhooks import Webhook, WebhookVerificationError

from simulator.app import Simulator
from tests.calls_support import Line, call_when, place_call, script, set_up_line
from tests.conftest import Tenant, WorkerWith
from tests.receiver import Received, Reply, WebhookReceiver
from tests.waiting import eventually

CUSTOM_SECRET = "whsec_" + base64.b64encode(b"endpoint-secret-of-32-bytes-0123").decode()
TAGS = {"team": "support", "region": "emea"}


def endpoint_body(url: str, **fields: object) -> dict:
    return {"name": "Call events", "url": url, "events": ["call.status"], **fields}


async def secret_of(tenant: Tenant) -> str:
    return (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]


def at(receiver: WebhookReceiver, path: str) -> list[Received]:
    return [r for r in receiver.received if r.path == path]


async def status_deliveries(tenant: Tenant, call_id: str) -> list[dict]:
    """The call's deliveries to the agent's status URL, once the call ended (all made then)."""
    await call_when(tenant, call_id, "ended", "failed")
    rows = (await tenant.http.get(f"/v1/calls/{call_id}/webhook-deliveries")).json()["data"]
    return [r for r in rows if r["endpointId"] is None and r["eventType"] == "call.status"]


async def received_all(receiver: WebhookReceiver, path: str, count: int) -> list[Received]:
    async def arrived() -> list[Received] | None:
        got = at(receiver, path)
        return got if len(got) >= count else None

    return await eventually(arrived, 20)


# --- endpoints -----------------------------------------------------------------------------


async def test_endpoints_created_read_updated_and_deleted_async(tenant: Tenant) -> None:
    created = await tenant.speko.webhooks.create(
        endpoint_body(
            "https://hooks.example.com/speko",
            events=["call.status", "call.report", "sms.received"],
            filterTags={"team": "support"},
            headers={"X-Source": "trunkline"},
            authHeaders=[{"name": "Authorization", "value": "Bearer s3cret-token"}],
            timeoutMs=5000,
            signingSecretSource="custom",
            signingSecret=CUSTOM_SECRET,
            extractionFields=[
                {"name": "intent", "type": "string", "description": "Why they called."}
            ],
            contentMode="metadata_only",
        )
    )
    assert isinstance(created, WebhookEndpoint)
    assert created.id.startswith("whep_") and created.all_agents is True
    assert created.events == ["call.status", "call.report", "sms.received"]
    assert created.auth_headers[0].name == "Authorization" and created.auth_headers[0].configured
    assert (created.signing_secret_source, created.has_custom_signing_secret) == ("custom", True)
    assert (created.timeout_ms, created.content_mode) == (5000, "metadata_only")
    assert created.extraction_fields[0].name == "intent"
    raw = (await tenant.http.get(f"/v1/webhooks/{created.id}")).text
    assert "s3cret-token" not in raw and CUSTOM_SECRET not in raw

    assert await tenant.speko.webhooks.get(created.id) == created
    assert [e.id for e in await tenant.speko.webhooks.list()] == [created.id]

    updated = await tenant.speko.webhooks.update(
        created.id,
        {
            "name": "Support events",
            "authHeaders": [{"name": "Authorization"}, {"name": "X-Api-Key", "value": "k-1"}],
            "signingSecretSource": "workspace",
        },
    )
    assert isinstance(updated, WebhookEndpoint)
    assert updated.name == "Support events" and updated.url == created.url
    assert [h.name for h in updated.auth_headers] == ["Authorization", "X-Api-Key"]
    assert (updated.signing_secret_source, updated.has_custom_signing_secret) == (
        "workspace",
        False,
    )

    assert await tenant.speko.webhooks.delete(created.id) is None
    assert await tenant.speko.webhooks.list() == []
    with pytest.raises(SpekoApiError) as gone:
        await tenant.speko.webhooks.get(created.id)
    assert (gone.value.status, gone.value.code) == (404, "not_found")


async def test_endpoints_through_the_blocking_client(tenant: Tenant) -> None:
    speko = tenant.sync_speko()
    created = await asyncio.to_thread(
        speko.webhooks.create, endpoint_body("https://hooks.example.com/a")
    )
    assert isinstance(created, WebhookEndpoint) and created.signing_secret_source == "workspace"
    assert await asyncio.to_thread(speko.webhooks.list) == [created]
    fetched = await asyncio.to_thread(speko.webhooks.get, created.id)
    assert fetched.url == "https://hooks.example.com/a"
    updated = await asyncio.to_thread(
        speko.webhooks.update, created.id, {"events": ["call.report"], "timeoutMs": 2000}
    )
    assert (updated.events, updated.timeout_ms) == (["call.report"], 2000)
    await asyncio.to_thread(speko.webhooks.delete, created.id)
    assert await asyncio.to_thread(speko.webhooks.list) == []
    speko.close()


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"allAgents": False}, "agent_ids_required"),
        ({"allAgents": False, "agentIds": ["agent_01JD3ZZZZZZZZZZZZZZZZZZZZZ"]}, "unknown_agent"),
        ({"signingSecretSource": "custom"}, "signing_secret_required"),
        (
            {"signingSecretSource": "workspace", "signingSecret": CUSTOM_SECRET},
            "signing_secret_not_used",
        ),
        ({"signingSecret": "not-a-standard-webhooks-secret"}, "validation_error"),
        ({"url": "ftp://hooks.example.com/x"}, "validation_error"),
        ({"events": []}, "validation_error"),
    ],
)
async def test_bad_endpoints_are_refused(tenant: Tenant, fields: dict, code: str) -> None:
    with pytest.raises(SpekoApiError) as refused:
        await tenant.speko.webhooks.create(
            {**endpoint_body("https://hooks.example.com/x"), **fields}
        )
    assert (refused.value.status, refused.value.code) == (422, code)
    assert await tenant.speko.webhooks.list() == []


@pytest.mark.parametrize(
    "fields",
    [
        {"events": ["call.exploded"]},
        {"authHeaders": [{"name": "Authorization"}]},
        {"colour": "blue"},
    ],
)
async def test_what_the_sdk_would_not_send_is_refused_too(tenant: Tenant, fields: dict) -> None:
    body = {**endpoint_body("https://hooks.example.com/x"), **fields}
    refused = await tenant.http.post("/v1/webhooks", json=body)
    assert (refused.status_code, refused.json()["code"]) == (422, "validation_error")


async def test_other_organizations_endpoints_and_agents_are_out_of_reach(
    tenant: Tenant, other_tenant: Tenant, receiver: WebhookReceiver
) -> None:
    theirs = await other_tenant.speko.webhooks.create(endpoint_body("https://hooks.example.com/"))
    their_agent = await other_tenant.http.post(
        "/v1/agents", json={"name": "Theirs", "systemPrompt": "Hi."}
    )
    for attempt in (
        tenant.speko.webhooks.get(theirs.id),
        tenant.speko.webhooks.update(theirs.id, {"name": "Mine now"}),
        tenant.speko.webhooks.delete(theirs.id),
        tenant.speko.webhooks.deliveries.get("msg_01JD3ZZZZZZZZZZZZZZZZZZZZZ"),
        tenant.speko.webhooks.deliveries.redeliver("msg_01JD3ZZZZZZZZZZZZZZZZZZZZZ"),
    ):
        with pytest.raises(SpekoApiError) as missing:
            await attempt
        assert (missing.value.status, missing.value.code) == (404, "not_found")
    with pytest.raises(SpekoApiError) as foreign:
        await tenant.speko.webhooks.create(
            endpoint_body(
                "https://hooks.example.com/", allAgents=False, agentIds=[their_agent.json()["id"]]
            )
        )
    assert (foreign.value.status, foreign.value.code) == (422, "unknown_agent")
    assert (await other_tenant.speko.webhooks.get(theirs.id)).name == "Call events"


async def test_a_bad_key_is_refused(stranger: AsyncSpeko) -> None:
    with pytest.raises(SpekoAuthError):
        await stranger.webhooks.list()
    with pytest.raises(SpekoAuthError):
        await stranger.webhooks.deliveries.list()


# --- what endpoints receive ----------------------------------------------------------------


@pytest.mark.usefixtures("worker")
async def test_endpoints_receive_the_calls_status_webhooks_in_order_signed(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    org_signed = await tenant.speko.webhooks.create(
        endpoint_body(
            f"{receiver.url}/org",
            filterTags={"team": "support"},
            headers={"X-Source": "trunkline"},
            authHeaders=[{"name": "Authorization", "value": "Bearer s3cret-token"}],
        )
    )
    custom = await tenant.speko.webhooks.create(
        endpoint_body(
            f"{receiver.url}/custom",
            events=["call.status", "call.report"],
            allAgents=False,
            agentIds=[line.agent_id],
            signingSecret=CUSTOM_SECRET,
            contentMode="metadata_only",
        )
    )
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    call_id = (await place_call(line, metadata={"webhookTags": TAGS}))["sessionId"]
    agent_rows = await status_deliveries(tenant, call_id)
    agent_events = await received_all(receiver, "/status", len(agent_rows))
    org_events = await received_all(receiver, "/org", len(agent_rows))
    secret = await secret_of(tenant)

    sent = [Webhook(secret).verify(r.body, r.headers) for r in org_events]
    assert sent == [json.loads(r.body) for r in agent_events]  # the same events, in order
    assert [s["type"] for s in sent] == ["call.status"] * len(sent)
    assert sent[-1]["status"] == "ended"
    assert {r.headers["webhook-id"] for r in org_events}.isdisjoint(
        {r.headers["webhook-id"] for r in agent_events}
    )
    assert {(r.headers["x-source"], r.headers["authorization"]) for r in org_events} == {
        ("trunkline", "Bearer s3cret-token")
    }
    assert "x-trunkline-signature" not in org_events[0].headers

    status_and_report = await received_all(receiver, "/custom", len(agent_rows) + 1)
    bodies = [Webhook(CUSTOM_SECRET).verify(r.body, r.headers) for r in status_and_report]
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(status_and_report[0].body, status_and_report[0].headers)
    assert [b["type"] for b in bodies] == ["call.status"] * len(agent_rows) + ["call.report"]
    assert [b["event_type"] for b in bodies[:-1]] == [b["event_type"] for b in sent]
    assert set(bodies[0]) == {
        "type",
        "event_type",
        "status",
        "call_id",
        "session_id",
        "organization_id",
        "metadata",
    }
    assert set(bodies[-1]) == {"type", "call_id", "session_id", "organization_id", "metadata"}
    assert bodies[-1]["metadata"]["webhookTags"] == TAGS
    assert bodies[-1]["organization_id"] == tenant.organization_id

    page = await tenant.speko.webhooks.deliveries.list(endpoint_id=custom.id, event="call.report")
    assert [(d.endpoint_name, d.session_id, d.agent_id) for d in page.data] == [
        ("Call events", call_id, line.agent_id)
    ]
    assert page.data[0].webhook_tags == TAGS
    assert org_signed.id in {option.id for option in page.endpoint_options}


@pytest.mark.usefixtures("worker")
async def test_agent_and_tag_filters_leave_other_calls_out(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await set_up_line(tenant, receiver)
    other_agent = await tenant.http.post(
        "/v1/agents", json={"name": "Back office", "systemPrompt": "Hi."}
    )
    wrong_tag = await tenant.speko.webhooks.create(
        endpoint_body(f"{receiver.url}/sales", filterTags={"team": "sales"})
    )
    wrong_agent = await tenant.speko.webhooks.create(
        endpoint_body(
            f"{receiver.url}/back-office", allAgents=False, agentIds=[other_agent.json()["id"]]
        )
    )
    untagged_call = await tenant.speko.webhooks.create(
        endpoint_body(f"{receiver.url}/emea", filterTags={"region": "emea"})
    )
    await tenant.speko.webhooks.create(
        endpoint_body(f"{receiver.url}/reports", events=["call.report"])
    )
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    call_id = (await place_call(line, metadata={"team": "support"}))["sessionId"]
    agent_rows = await status_deliveries(tenant, call_id)
    assert agent_rows  # the endpoints' would have been made with these, in one transaction

    for endpoint in (wrong_tag, wrong_agent, untagged_call):
        page = await tenant.speko.webhooks.deliveries.list(endpoint_id=endpoint.id)
        assert page.data == []
    [report] = await received_all(receiver, "/reports", 1)
    assert json.loads(report.body)["type"] == "call.report"
    assert {r.path for r in receiver.received} <= {"/status", "/reports"}


# --- the delivery log ----------------------------------------------------------------------


async def endpoint_call(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> tuple[Line, WebhookEndpoint, str]:
    """A call whose status webhooks go to an endpoint (and the agent's URL)."""
    line = await set_up_line(tenant, receiver)
    endpoint = await tenant.speko.webhooks.create(endpoint_body(f"{receiver.url}/endpoint"))
    script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
    call_id = (await place_call(line))["sessionId"]
    await call_when(tenant, call_id, "ended", "failed")
    return line, endpoint, call_id


async def head_failed(tenant: Tenant, endpoint_id: str) -> WebhookDelivery:
    """The endpoint's first delivery of the call, once its first attempt failed."""

    async def failed() -> WebhookDelivery | None:
        page = await tenant.speko.webhooks.deliveries.list(endpoint_id=endpoint_id)
        head = page.data[-1] if page.data else None
        return head if head and head.http_status == 503 else None

    return await eventually(failed, 20)


async def delivered_by_hand(
    tenant: Tenant, delivery_id: str, attempts: int
) -> WebhookDeliveryDetail:
    """The delivery once its manual attempt (its `attempts`-th at least) has succeeded."""

    async def done() -> WebhookDeliveryDetail | None:
        detail = await tenant.speko.webhooks.deliveries.get(delivery_id)
        manual = detail.attempts and detail.attempts[-1].trigger == "manual"
        return (
            detail
            if manual and detail.status == "succeeded" and detail.attempt_count >= attempts
            else None
        )

    return await eventually(done, 30)


@pytest.mark.usefixtures("worker")
async def test_deliveries_listed_read_and_redelivered(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    receiver.default = Reply(503, body="down for maintenance")
    line, endpoint, call_id = await endpoint_call(tenant, simulator, receiver)
    head = await head_failed(tenant, endpoint.id)
    assert isinstance(head, WebhookDelivery)
    assert (head.endpoint_id, head.endpoint_name, head.endpoint_kind) == (
        endpoint.id,
        "Call events",
        "workspace",
    )
    assert (head.event, head.session_id, head.agent_id) == ("call.status", call_id, line.agent_id)
    assert head.status in ("pending", "delivering") and head.attempts >= 1
    assert head.event_id == head.id and head.error == "HTTP 503" and head.can_redeliver
    assert head.expires_at > head.occurred_at and head.delivered_at is None

    detail = await tenant.speko.webhooks.deliveries.get(head.id)
    assert isinstance(detail, WebhookDeliveryDetail)
    assert detail.request_payload["type"] == "call.status"
    assert detail.request_payload["event_type"] == "call.queued"
    first = detail.attempts[0]
    assert (first.attempt_number, first.trigger, first.response_status) == (1, "automatic", 503)
    assert (first.response_body, first.response_truncated) == ("down for maintenance", False)
    assert first.request_url == f"{receiver.url}/endpoint" and first.duration_ms > 0

    await tenant.speko.webhooks.update(endpoint.id, {"url": f"{receiver.url}/moved"})
    receiver.default = Reply(200)
    result = await tenant.speko.webhooks.deliveries.redeliver(head.id)
    assert isinstance(result, WebhookRedeliverResult)
    if result.delivered:  # within the few seconds redeliver waits; a loaded machine takes longer
        assert (result.http_status, result.error) == (200, None)
    again = await delivered_by_hand(tenant, head.id, attempts=head.attempts + 1)
    assert (again.status, again.attempts[-1].trigger) == ("succeeded", "manual")
    assert again.attempt_count == len(again.attempts) and again.delivered_at is not None
    assert again.attempts[-1].request_url == f"{receiver.url}/moved"  # where the endpoint is now
    sent = at(receiver, "/endpoint") + at(receiver, "/moved")
    posted = [r for r in sent if r.headers["webhook-id"] == head.id]
    assert len(posted) == again.attempt_count

    speko = tenant.sync_speko()
    page = await asyncio.to_thread(
        speko.webhooks.deliveries.list, event_id=head.id, status="succeeded"
    )
    assert isinstance(page, WebhookDeliveryPage) and [d.id for d in page.data] == [head.id]
    agent_page = await asyncio.to_thread(
        speko.webhooks.deliveries.list, endpoint_id=f"{line.agent_id}:status", limit=2
    )
    assert len(agent_page.data) == 2 and agent_page.next_cursor
    assert {d.endpoint_name for d in agent_page.data} == {"Front desk status webhook"}
    rest = await asyncio.to_thread(
        speko.webhooks.deliveries.list,
        endpoint_id=f"{line.agent_id}:status",
        cursor=agent_page.next_cursor,
    )
    assert {d.id for d in rest.data}.isdisjoint({d.id for d in agent_page.data})
    detail_sync = await asyncio.to_thread(speko.webhooks.deliveries.get, head.id)
    assert detail_sync.id == head.id
    await asyncio.to_thread(speko.webhooks.deliveries.redeliver, head.id)
    replayed = await delivered_by_hand(tenant, head.id, attempts=again.attempt_count + 1)
    assert replayed.attempts[-1].response_status == 200
    speko.close()
    none_later = await tenant.speko.webhooks.deliveries.list(
        session_id=call_id, from_date="2999-01-01T00:00:00Z"
    )
    assert none_later.data == []


@pytest.mark.usefixtures("worker")
async def test_deleting_an_endpoint_cancels_its_pending_deliveries(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    receiver.default = Reply(503)
    _, endpoint, call_id = await endpoint_call(tenant, simulator, receiver)
    await head_failed(tenant, endpoint.id)
    await tenant.speko.webhooks.delete(endpoint.id)

    page = await tenant.speko.webhooks.deliveries.list(endpoint_id=endpoint.id)
    assert page.data and {d.status for d in page.data} == {"cancelled"}
    assert all(d.endpoint_deleted and not d.can_redeliver for d in page.data)
    assert all(d.endpoint_name == "Call events" for d in page.data)
    option = next(o for o in page.endpoint_options if o.id == endpoint.id)
    assert option.deleted
    with pytest.raises(SpekoApiError) as refused:
        await tenant.speko.webhooks.deliveries.redeliver(page.data[0].id)
    assert (refused.value.status, refused.value.code) == (409, "endpoint_deleted")
    cancelled = await tenant.speko.webhooks.deliveries.list(status="cancelled", session_id=call_id)
    assert {d.id for d in cancelled.data} == {d.id for d in page.data}


@pytest.mark.parametrize("host", ["[64:ff9b::7f00:1]", "[::ffff:127.0.0.1]", "[::7f00:1]"])
async def test_an_endpoint_reaching_loopback_through_ipv6_is_never_sent_to(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    worker_with: WorkerWith,
    host: str,
) -> None:
    """A deployment that refuses private targets refuses an IPv6 form that carries loopback
    (on a host with NAT64, `64:ff9b::7f00:1` reaches 127.0.0.1): the attempt says why."""
    port = receiver.url.rsplit(":", 1)[1]
    endpoint = await tenant.speko.webhooks.create(endpoint_body(f"http://{host}:{port}/inside"))
    async with worker_with(webhook_allow_private_targets=False):
        line = await set_up_line(tenant, receiver)
        script(simulator, answer_after_seconds=0, hangup_after_seconds=0.2)
        call_id = (await place_call(line))["sessionId"]
        await call_when(tenant, call_id, "ended")

        async def attempted() -> list[WebhookDelivery] | None:  # the lane's head, retried
            page = await tenant.speko.webhooks.deliveries.list(endpoint_id=endpoint.id)
            return [d for d in page.data if d.attempts] or None

        tried = await eventually(attempted)
    for delivery in tried:
        assert delivery.error and delivery.error.startswith("blocked target: ")
        assert "IPv4-embedded loopback address" in delivery.error
    assert not at(receiver, "/inside")
