"""Prometheus metrics: the product's own, and one `/metrics` server per process that also carries
the Temporal SDK's runtime metrics.

The SDK exports its metrics through its own Prometheus exporter, bound to a private loopback port
(`trunkline.sdk_runtime`); we re-expose what it answers on our port, so each process has one port
to scrape.

Counters count where an action is recorded once in the database (an event stored, an attempt
stored), so a retried activity does not count twice; a worker that dies loses its unscraped
counts, as any Prometheus counter does.
"""

import logging
import urllib.request
from collections.abc import Iterable, Iterator
from threading import Thread
from typing import Protocol
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.exposition import start_http_server
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from temporalio.runtime import Runtime

from trunkline.sdk_runtime import sdk_runtime
from trunkline.settings import SettingError

logger = logging.getLogger(__name__)
disable_created_metrics()  # no `_created` twin for every counter and histogram

CALLS_STARTED = Counter(
    "trunkline_calls_started", "Calls that began (their first event stored).", ["direction"]
)
CALLS_ENDED = Counter(
    "trunkline_calls_ended",
    "Calls that reached their end: outcome `completed` (answered), `canceled` (ended before an "
    "answer) or the failure cause (`busy`, `no-answer`, `machine`, ...).",
    ["direction", "outcome"],
)
WEBHOOK_ATTEMPTS = Counter(
    "trunkline_webhook_deliveries",
    "Customer webhook delivery attempts by result: `succeeded`, `retrying` (failed, another "
    "attempt is scheduled) or `failed` (given up).",
    ["event_type", "result"],
)
WEBHOOK_LAG = Histogram(
    "trunkline_webhook_delivery_lag_seconds",
    "From a webhook's event to its successful delivery.",
    ["event_type"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600, 6 * 3600, 86400),
)
PROVIDER_WEBHOOKS = Counter(
    "trunkline_provider_webhooks",
    "Provider webhooks received, by result: `stored`, `duplicate`, `refused` (signature or "
    "body), `unavailable` (Temporal unreachable; the provider retries).",
    ["provider", "result"],
)
HTTP_REQUESTS = Counter(
    "trunkline_http_requests",
    "API requests by route template and status.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "trunkline_http_request_duration_seconds",
    "API request latency by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
WORKER_READY = Gauge(
    "trunkline_worker_ready",
    "1 while this worker polls its task queue, else 0.",
    registry=None,  # a worker's alone: its metrics server adds it
)


class Source(Protocol):
    """Anything with metric families to give (a prometheus_client collector)."""

    def collect(self) -> Iterable[Metric]: ...


class _Forward:
    """A registry's metrics, as one collector of another registry."""

    def __init__(self, source: Source) -> None:
        self._source = source

    def collect(self) -> Iterable[Metric]:
        return self._source.collect()


class SdkMetrics:
    """The Temporal SDK's metrics, read from its exporter on a loopback port at each scrape."""

    def __init__(self, port: int) -> None:
        self._url = f"http://127.0.0.1:{port}/metrics"

    def collect(self) -> Iterator[Metric]:
        try:
            with urllib.request.urlopen(self._url, timeout=5) as response:
                text = response.read().decode()
        except OSError as exc:  # the scrape still carries our own metrics
            logger.warning("could not read the Temporal SDK's metrics: %s", exc)
            return
        yield from text_string_to_metric_families(text)


class MetricsServer:
    """`/metrics` on `host:port`: this process's metrics, the SDK's (read from its exporter on
    `sdk_port`), and whatever collectors are added.

    `setting` names the port's setting in the error raised when the port cannot be had.
    """

    def __init__(self, host: str, port: int, setting: str, sdk_port: int) -> None:
        self._registry = CollectorRegistry()
        self.add(_Forward(REGISTRY))
        self.add(SdkMetrics(sdk_port))
        self._server: WSGIServer
        self._thread: Thread
        try:
            self._server, self._thread = start_http_server(port, host, self._registry)
        except OSError as exc:
            raise SettingError(
                f"{setting}: cannot listen on {host}:{port} ({exc.strerror})"
            ) from None

    def add(self, source: Source) -> None:
        self._registry.register(source)  # type: ignore[arg-type]

    def remove(self, source: Source) -> None:
        self._registry.unregister(source)  # type: ignore[arg-type]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def process_telemetry(host: str, port: int, setting: str) -> tuple[Runtime, MetricsServer | None]:
    """The process's Temporal runtime, and its `/metrics` server on `port` (none when 0)."""
    sdk = sdk_runtime(metrics=bool(port))
    if sdk.metrics_port is None:
        return sdk.runtime, None
    return sdk.runtime, MetricsServer(host, port, setting, sdk.metrics_port)
