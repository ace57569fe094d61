"""Metrics, traces and logs of real `trunkline api` and `trunkline worker` processes, read after
a call placed through the API against the simulator."""

import asyncio
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families
from spekoai import AsyncSpeko
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from temporalio.testing import WorkflowEnvironment

from simulator.app import Simulator, SimulatorConfig
from tests.calls_support import call_when, place_call, script, set_up_line
from tests.conftest import Tenant, stack_settings
from tests.receiver import WebhookReceiver
from tests.servers import free_port, listening_socket, serving
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.organizations import create_organization

START_TIMEOUT_SECONDS = 90


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    trace_id: str


class OtlpReceiver:
    """An OTLP/HTTP trace collector on loopback: keeps every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[Span] = []

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v1/traces", self._traces, methods=["POST"])])

    async def _traces(self, request: Request) -> Response:
        body = await request.body()
        if request.headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        for resource_spans in ExportTraceServiceRequest.FromString(body).resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                self.spans.extend(
                    Span(attributes["service.name"], span.name, span.trace_id.hex())
                    for span in scope_spans.spans
                )
        answer = ExportTraceServiceResponse().SerializeToString()
        return Response(answer, media_type="application/x-protobuf")


class Process:
    """`trunkline <command>` as a deployment runs it, its standard error kept in a file."""

    def __init__(self, command: str, environment: dict[str, str], log: Path) -> None:
        self.command, self.environment, self.log = command, environment, log
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("wb") as stderr:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "trunkline.cli",
                self.command,
                env=self.environment,
                stdout=stderr,
                stderr=stderr,
            )

    async def stop(self) -> None:
        if self.process and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 30)

    def lines(self) -> list[str]:
        return self.log.read_text().splitlines()


@dataclass
class ObservedCall:
    """One answered call, ended through the API, and where to read what the processes saw."""

    session_id: str
    live_during_call: str
    api: str
    api_metrics: str
    worker_metrics: str
    worker: Process
    api_process: Process
    otlp: OtlpReceiver


async def scrape(url: str) -> str:
    async with httpx.AsyncClient(timeout=10) as http:
        response = await http.get(url)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


def sample(text: str, name: str, **labels: str) -> float | None:
    """The sum of the samples called `name` whose labels include `labels`; None if none."""
    found = [
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name and labels.items() <= s.labels.items()
    ]
    return sum(found) if found else None


@pytest.fixture(scope="module")
async def observed(
    local_temporal: WorkflowEnvironment,
    tmp_path_factory: pytest.TempPathFactory,
    telnyx_key_pair: tuple[str, str],
) -> AsyncIterator[ObservedCall]:
    """An API and a worker process with metrics, JSON logs and traces on, and one call."""
    folder = tmp_path_factory.mktemp("telemetry")
    otlp = OtlpReceiver()
    simulator_socket = listening_socket()
    sim_port = simulator_socket.getsockname()[1]
    api_port, api_metrics_port, worker_metrics_port = free_port(), free_port(), free_port()
    settings = stack_settings(
        api_port=api_port,
        sim_port=sim_port,
        telnyx_key_pair=telnyx_key_pair,
        temporal=local_temporal,
        _env_file=None,
        database_url=f"sqlite:///{folder}/trunkline.db",
        TRUNKLINE_DATA_DIR=folder,
        temporal_task_queue="telemetry",
        api_metrics_port=api_metrics_port,
        worker_metrics_port=worker_metrics_port,
        log_format="json",
    )
    database = Database(settings.database_url)
    await database.create_tables()
    simulator = Simulator(
        SimulatorConfig.from_settings(settings).model_copy(update={"departure_seconds": 0.2})
    )
    async with (
        serving(otlp.app()) as otlp_url,
        serving(simulator.app(), simulator_socket),
        WebhookReceiver().serving() as receiver,
    ):
        environment = {
            **os.environ,
            **settings.as_environment(),
            "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_url,
            "OTEL_BSP_SCHEDULE_DELAY": "200",
        }
        worker = Process("worker", environment, folder / "worker.log")
        api = Process("api", environment, folder / "api.log")
        await asyncio.gather(worker.start(), api.start())
        try:
            api_url = f"http://127.0.0.1:{api_port}"
            worker_metrics = f"http://127.0.0.1:{worker_metrics_port}/metrics"
            await eventually(lambda: _answers(f"{api_url}/healthz"), START_TIMEOUT_SECONDS)
            await eventually(lambda: _worker_ready(worker_metrics), START_TIMEOUT_SECONDS)
            async with database.session() as session:
                created = await create_organization(session, "Acme")
            key = created.api_key
            headers = {"Authorization": f"Bearer {key}"}
            async with (
                httpx.AsyncClient(base_url=api_url, headers=headers, timeout=30) as http,
                AsyncSpeko(api_key=key, base_url=api_url) as speko,
            ):
                tenant = Tenant(created.organization.id, key, http, speko)
                line = await set_up_line(tenant, receiver)
                script(simulator, answer_after_seconds=0, hangup_after_seconds=None)
                session_id = (await place_call(line))["sessionId"]
                await call_when(tenant, session_id, "in-progress", within=60)
                live = await scrape(f"http://127.0.0.1:{api_metrics_port}/metrics")
                ended = await http.post(f"/v1/calls/{session_id}/hangup")
                assert ended.status_code == 200, ended.text
                await call_when(tenant, session_id, "ended", within=60)
                yield ObservedCall(
                    session_id=session_id,
                    live_during_call=live,
                    api=api_url,
                    api_metrics=f"http://127.0.0.1:{api_metrics_port}/metrics",
                    worker_metrics=worker_metrics,
                    worker=worker,
                    api_process=api,
                    otlp=otlp,
                )
        finally:
            await asyncio.gather(worker.stop(), api.stop())
            await database.dispose()


async def _answers(url: str) -> bool:
    try:
        async with httpx.AsyncClient(timeout=2) as http:
            return (await http.get(url)).status_code == 200
    except httpx.TransportError:
        return False


async def _worker_ready(metrics_url: str) -> bool:
    try:
        return sample(await scrape(metrics_url), "trunkline_worker_ready") == 1
    except httpx.TransportError:
        return False


async def test_the_worker_counts_the_call_and_exports_the_sdk_metrics(
    observed: ObservedCall,
) -> None:
    text = await scrape(observed.worker_metrics)
    assert sample(text, "trunkline_calls_started_total", direction="outbound") == 1
    ended = sample(text, "trunkline_calls_ended_total", direction="outbound", outcome="completed")
    assert ended == 1
    assert sample(text, "trunkline_worker_ready") == 1
    # the Temporal SDK's own, from the same port
    assert sample(text, "temporal_workflow_task_execution_latency_count") > 0
    assert sample(text, "temporal_num_pollers", poller_type="workflow_task") >= 1

    async def settled() -> str | None:
        """The metrics once the call's workflow completed and a webhook was delivered."""
        text = await scrape(observed.worker_metrics)
        completed = sample(text, "temporal_workflow_completed_total", workflow_type="CallWorkflow")
        succeeded = sample(
            text, "trunkline_webhook_deliveries_total", event_type="call.status", result="succeeded"
        )
        return text if completed and succeeded else None

    text = await eventually(settled, 30)
    assert sample(text, "trunkline_webhook_delivery_lag_seconds_count", event_type="call.status")
    assert "_created" not in text


async def test_the_api_counts_requests_webhooks_and_open_calls(observed: ObservedCall) -> None:
    live = observed.live_during_call
    assert sample(live, "trunkline_calls_live", direction="outbound") == 1
    assert sample(live, "trunkline_calls_queued", direction="outbound") == 0
    text = await scrape(observed.api_metrics)
    assert sample(text, "trunkline_calls_live", direction="outbound") == 0
    placed = {"method": "POST", "route": "/v1/sessions/phone"}
    assert sample(text, "trunkline_http_requests_total", **placed, status="201") == 1
    assert sample(text, "trunkline_http_request_duration_seconds_count", **placed) == 1
    hangup = {"method": "POST", "route": "/v1/calls/{call_id}/hangup", "status": "200"}
    assert sample(text, "trunkline_http_requests_total", **hangup) == 1
    assert sample(text, "trunkline_provider_webhooks_total", result="stored") >= 1
    # the API's Temporal client, through the SDK's metrics
    assert sample(text, "temporal_request_total") >= 1
    assert sample(text, "trunkline_worker_ready") is None  # a worker's metric alone


def test_tracing_is_off_without_an_endpoint() -> None:
    """No tracer provider, exporter or interceptor unless an OTLP endpoint is set."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    probe = (
        "import sys; from trunkline import tracing; "
        "assert not tracing.configure('trunkline-api'); assert tracing.interceptors() == []; "
        "assert not any(m.startswith('opentelemetry.exporter') for m in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], env=environment, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr


async def test_unknown_paths_share_one_route_label(observed: ObservedCall) -> None:
    async with httpx.AsyncClient(base_url=observed.api) as http:
        for path in ("/nothing-here", "/v1/nothing/else"):
            assert (await http.get(path)).status_code == 404
    text = await scrape(observed.api_metrics)
    assert sample(text, "trunkline_http_requests_total", route="<unmatched>", status="404") == 2
    assert "/nothing-here" not in text


async def test_one_trace_runs_from_the_request_through_the_workflow(
    observed: ObservedCall,
) -> None:
    def call_trace() -> dict[str, set[str]] | None:
        """The span names, by service, of the trace that placed the call, once the worker's
        activity spans are in."""
        placed = [s for s in observed.otlp.spans if s.name == "POST /v1/sessions/phone"]
        if not placed:
            return None
        trace = [s for s in observed.otlp.spans if s.trace_id == placed[0].trace_id]
        names: dict[str, set[str]] = {}
        for span in trace:
            names.setdefault(span.service, set()).add(span.name)
        worker = names.get("trunkline-worker", set())
        return names if any(n.startswith("RunActivity:") for n in worker) else None

    async def traced() -> dict[str, set[str]] | None:
        return call_trace()

    names = await eventually(traced, 30)
    assert "StartWorkflow:CallWorkflow" in names["trunkline-api"], names
    assert "RunWorkflow:CallWorkflow" in names["trunkline-worker"], names
    assert "RunActivity:prepare_and_queue_call" in names["trunkline-worker"], names


def json_lines(process: Process) -> list[dict[str, Any]]:
    """Every line the process wrote, each parsed as one JSON object."""
    parsed = []
    for line in process.lines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"not a JSON line in the {process.command}'s log: {line!r}")
    return parsed


async def test_logs_are_json_lines_with_the_calls_ids(observed: ObservedCall) -> None:
    worker = json_lines(observed.worker)
    assert all({"time", "level", "logger", "message"} <= set(r) for r in worker), worker[:3]
    ended = [r for r in worker if r["message"].startswith(f"call {observed.session_id} ended")]
    assert len(ended) == 1, worker
    assert ended[0]["call_id"] == observed.session_id
    assert ended[0]["workflow_id"] == f"call-{observed.session_id}"
    assert ended[0]["activity_type"] == "record_call_event"
    api = json_lines(observed.api_process)
    assert any("POST /v1/sessions/phone" in r["message"] for r in api), api


def test_a_busy_metrics_port_stops_the_worker_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        environment = {
            **os.environ,
            "WORKER_METRICS_PORT": str(port),
            "TRUNKLINE_DATA_DIR": str(tmp_path),
        }
        done = subprocess.run(
            [sys.executable, "-m", "trunkline.cli", "worker"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == (
        f"trunkline worker: WORKER_METRICS_PORT: cannot listen on 127.0.0.1:{port} "
        "(Address already in use)"
    )
