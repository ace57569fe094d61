"""Post-call reports through the REST API: analysis, costs, recording, the `call.report` webhook."""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from simulator.agent import agent_joiner
from simulator.app import Simulator
from simulator.scripts import SpokenLine
from tests.calls_support import (
    Line,
    call_when,
    events,
    hang_up_once_heard,
    place_call,
    script,
    set_up_line,
)
from tests.conftest import Tenant, WorkerWith
from tests.receiver import WebhookReceiver
from tests.servers import serving
from tests.waiting import eventually
from trunkline.calls.recordings import missing_reason
from trunkline.models import Call, utcnow

ANALYSIS = {
    "structuredData": [
        {"name": "email", "type": "email"},
        {"name": "wantsPremium", "type": "boolean", "keywords": ["premium"]},
        {"name": "seats", "type": "number", "pattern": r"(\d+) seats"},
    ]
}
SAID = [
    SpokenLine(text="Hi, this is Sam. My email is sam@example.com.", after_seconds=0.1),
    SpokenLine(text="We want the premium plan for 12 seats.", after_seconds=0.3),
]


async def reporting_line(tenant: Tenant, receiver: WebhookReceiver) -> Line:
    return await set_up_line(
        tenant,
        receiver,
        agent={
            "analysis": ANALYSIS,
            "webhooks": {
                "status": {"url": f"{receiver.url}/status"},
                "postCall": {"url": f"{receiver.url}/post-call"},
            },
        },
    )


async def report_when(tenant: Tenant, call_id: str, version: int = 1) -> dict:
    """The call's report once its analysis `version` is ready."""

    async def ready() -> dict | None:
        report = (await tenant.http.get(f"/v1/calls/{call_id}/report")).json()
        return report if (report.get("analysis_version") or 0) >= version else None

    return await eventually(ready, 30)


def post_calls(receiver: WebhookReceiver) -> list[Any]:
    return [r for r in receiver.received if r.path == "/post-call"]


async def a_finished_call(
    tenant: Tenant, simulator: Simulator, line: Line, *, recorded: bool = True
) -> str:
    """A call the agent heard all of (and, when `recorded`, whose recording started)."""
    simulator.world.on_dispatch = agent_joiner(simulator.world)
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None, transcript=SAID)
    call_id = (await place_call(line))["sessionId"]
    await hang_up_once_heard(tenant, simulator, call_id, SAID, recorded=recorded)
    await call_when(tenant, call_id, "ended")
    return call_id


@pytest.mark.usefixtures("worker")
async def test_a_completed_call_yields_a_full_report(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    line = await reporting_line(tenant, receiver)
    credits_before = (await tenant.http.get("/v1/organization")).json()["credits"]
    call_id = await a_finished_call(tenant, simulator, line)
    report = await report_when(tenant, call_id)
    assert (report["analysis_status"], report["analyzer"], report["outcome"]) == (
        "heuristic",
        "rules",
        "completed",
    )
    said = [line["text"] for line in report["transcript"]["entries"] if line["source"] == "user"]
    assert said == [s.text for s in SAID]
    assert report["summary"].startswith("Outbound call to +12015551234")
    assert report["structured_data"] == {
        "email": "sam@example.com",
        "wantsPremium": True,
        "seats": 12,
    }
    costs = report["cost"]
    telephony = next(i for i in costs["items"] if i["item"] == "telephony")
    assert (telephony["minutes"], telephony["rate_per_minute"]) == (1.0, 0.014)
    assert report["cost_micro_usd"] == str(round(costs["total"] * 1_000_000))
    line_of = {line["provider"]: line for line in report["cost_breakdown"]}
    assert line_of["telephony"]["costMicroUsd"] == str(round(telephony["amount"] * 1_000_000))
    assert costs["total"] == pytest.approx(sum(i["amount"] for i in costs["items"]))
    assert report["artifacts"]["recording_error"] is None
    recording = report["artifacts"]["recording"]
    assert recording["status"] == "EGRESS_COMPLETE" and recording["duration_seconds"] > 0
    async with httpx.AsyncClient() as plain:
        assert (await plain.get(recording["url"])).status_code == 200
    transcript = await tenant.http.get(report["artifacts"]["transcript_url"])
    assert transcript.json()["entries"] == report["transcript"]["entries"]
    credits_after = (await tenant.http.get("/v1/organization")).json()["credits"]
    assert credits_before - credits_after == pytest.approx(costs["total"])

    [delivered] = await eventually(lambda: _async(post_calls(receiver)), 20)
    secret = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    payload = Webhook(secret).verify(delivered.body, delivered.headers)
    assert payload["type"] == "call.report" and payload["call_id"] == call_id
    assert payload["summary"] == report["summary"]
    assert payload["structured_data"] == report["structured_data"]
    assert payload["cost"]["total"] == costs["total"]
    lines = [(e["id"], e["source"], e["text"]) for e in report["transcript"]["entries"]]
    assert [(e["id"], e["source"], e["text"]) for e in payload["transcript"]["entries"]] == lines


@pytest.mark.usefixtures("worker")
async def test_a_call_livekit_cannot_record_goes_on_unrecorded(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    simulator.world.egress_unavailable = True
    line = await reporting_line(tenant, receiver)
    call_id = await a_finished_call(tenant, simulator, line, recorded=False)
    report = await report_when(tenant, call_id)
    assert (report["outcome"], report["artifacts"].get("recording")) == ("completed", None)
    recording = next(i for i in report["cost"]["items"] if i["item"] == "recording")
    assert (recording["minutes"], recording["amount"]) == (0, 0)
    # LiveKit is asked three times, over longer than the call lasts: the failure still counts
    [failed] = [e for e in await events(tenant, call_id) if e["event_type"] == "recording.failed"]
    assert f"record call-{call_id}" in failed["detail"]
    error = report["artifacts"]["recording_error"]
    assert error == f"the recording could not start: {failed['detail']}"


@pytest.mark.usefixtures("worker")
async def test_a_recording_livekit_fails_is_reported_with_its_error(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver
) -> None:
    simulator.world.egress_failure = "Start signal not received"
    line = await reporting_line(tenant, receiver)
    call_id = await a_finished_call(tenant, simulator, line)
    report = await report_when(tenant, call_id)
    recording = report["artifacts"]["recording"]
    assert (recording["status"], recording["url"]) == ("EGRESS_FAILED", None)
    assert report["artifacts"]["recording_error"] == (
        "LiveKit's recording ended EGRESS_FAILED: Start signal not received"
    )
    ended = [e for e in await events(tenant, call_id) if e["event_type"] == "egress_ended"]
    assert len(ended) == 1  # LiveKit's own word is among the call's events


async def test_a_call_recorded_nowhere_says_why_in_its_report_and_events(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, worker_with: WorkerWith
) -> None:
    async with worker_with(call_recording_enabled=False):
        line = await reporting_line(tenant, receiver)
        call_id = await a_finished_call(tenant, simulator, line, recorded=False)
        report = await report_when(tenant, call_id)
    error = report["artifacts"]["recording_error"]
    assert "CALL_RECORDING_ENABLED=false" in error
    [unavailable] = [
        e for e in await events(tenant, call_id) if e["event_type"] == "recording.unavailable"
    ]
    assert (unavailable["provider"], unavailable["detail"]) == ("trunkline", error)


async def _async(value: Any) -> Any:
    return value


@pytest.mark.usefixtures("worker")
async def test_finalize_with_each_flag(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    local_temporal: WorkflowEnvironment,
) -> None:
    line = await reporting_line(tenant, receiver)
    call_id = await a_finished_call(tenant, simulator, line)
    first = await report_when(tenant, call_id)
    await eventually(lambda: _async(len(post_calls(receiver)) == 1), 20)
    credits = (await tenant.http.get("/v1/organization")).json()["credits"]

    async def finalize(**flags: bool) -> dict:
        """Finalize as a client would: again while an earlier report run is still going."""

        async def applied() -> dict | None:
            response = await tenant.http.post(f"/v1/calls/{call_id}/report/finalize", json=flags)
            if response.status_code == 409:  # a run is going: the flags wait for it to end
                assert response.json()["code"] == "report_in_progress", response.text
                return None
            assert response.status_code == 202, response.text
            return None if response.json()["already_running"] else response.json()

        return await eventually(applied, 20)

    await finalize(forceAnalysis=True)
    second = await report_when(tenant, call_id, version=2)
    assert second["summary"] == first["summary"]
    older = (await tenant.http.get(f"/v1/calls/{call_id}/report?version=1")).json()
    assert older["analysis_version"] == 1
    assert (await tenant.http.get(f"/v1/calls/{call_id}/report?version=9")).status_code == 404

    await finalize(retryWebhook=True)
    await eventually(lambda: _async(len(post_calls(receiver)) == 2), 20)
    await finalize(forceAnalysis=True, retryWebhook=True)
    await report_when(tenant, call_id, version=3)
    await eventually(lambda: _async(len(post_calls(receiver)) == 3), 20)
    await finalize()  # nothing asked: nothing new, once that run has finished
    await local_temporal.client.get_workflow_handle(f"report-{call_id}").result()
    assert (await report_when(tenant, call_id))["analysis_version"] == 3
    deliveries = (await tenant.http.get(f"/v1/calls/{call_id}/webhook-deliveries")).json()["data"]
    assert [d["eventType"] for d in deliveries].count("call.report") == 3
    versions = [json.loads(r.body)["analysis_version"] for r in post_calls(receiver)]
    assert versions == [1, 2, 3]  # version 2 went out only when asked (retryWebhook)
    after = (await tenant.http.get("/v1/organization")).json()["credits"]
    assert after == credits  # a call is charged once, however often it is analysed
    script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
    live = await place_call(line)
    refused = await tenant.http.post(f"/v1/calls/{live['sessionId']}/report/finalize", json={})
    assert (refused.status_code, refused.json()["code"]) == (409, "call_in_progress")
    await tenant.http.post(f"/v1/calls/{live['sessionId']}/hangup")
    await call_when(tenant, live["sessionId"], "ended", "failed", within=30)


# --- the LLM analyzer -------------------------------------------------------------------------


class FakeLlm:
    """A loopback OpenAI-compatible `/chat/completions`: records requests, answers as told."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.content = json.dumps(
            {
                "summary": "Sam wants the premium plan for twelve seats.",
                "outcome": "completed",
                "structured_data": {"seats": 12, "sentiment": "positive"},
            }
        )

    async def complete(self, request: Request) -> Response:
        self.requests.append({"headers": dict(request.headers), "body": await request.json()})
        if self.status != 200:
            return Response("overloaded", self.status)
        return JSONResponse(
            {"choices": [{"message": {"role": "assistant", "content": self.content}}]}
        )


@pytest.fixture
async def fake_llm() -> AsyncIterator[tuple[FakeLlm, str]]:
    fake = FakeLlm()
    app = Starlette(routes=[Route("/v1/chat/completions", fake.complete, methods=["POST"])])
    async with serving(app) as url:
        yield fake, f"{url}/v1"


@pytest.mark.parametrize("fails", [False, True])
async def test_the_llm_analyzer_and_its_fallback(
    tenant: Tenant,
    simulator: Simulator,
    receiver: WebhookReceiver,
    worker_with: WorkerWith,
    fake_llm: tuple[FakeLlm, str],
    fails: bool,
) -> None:
    fake, base_url = fake_llm
    fake.status = 500 if fails else 200
    async with worker_with(
        analysis_llm_base_url=base_url,
        analysis_llm_api_key="sk-test",
        analysis_llm_model="test-model",
    ):
        line = await reporting_line(tenant, receiver)
        call_id = await a_finished_call(tenant, simulator, line)
        report = await report_when(tenant, call_id)
    [request] = fake.requests
    assert request["headers"]["authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "test-model"
    prompt = request["body"]["messages"][1]["content"]
    assert "Caller: We want the premium plan for 12 seats." in prompt
    if fails:
        assert report["analyzer"] == "rules"
        assert "HTTP 500" in report["analysis_error"]
        assert report["summary"].startswith("Outbound call")
    else:
        assert (report["analyzer"], report["analysis_error"]) == ("llm", None)
        assert report["summary"] == "Sam wants the premium plan for twelve seats."
        assert report["structured_data"]["sentiment"] == "positive"
        assert report["structured_data"]["email"] == "sam@example.com"  # the rules' fields stay


def test_why_a_call_has_no_recording() -> None:
    answered = Call.model_construct(answered_at=utcnow())
    assert missing_reason(Call.model_construct(answered_at=None), "boom", True) is None
    assert missing_reason(answered, "room gone", True) == "the recording could not start: room gone"
    assert "CALL_RECORDING_ENABLED=false" in (missing_reason(answered, None, False) or "")
    assert missing_reason(answered, None, True) == "the call ended before its recording started"
