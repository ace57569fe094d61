"""The Temporal SDK runtime of a Trunkline process: the SDK core's logs go through Python logging
(so `LOG_FORMAT` applies to them too), and its metrics to a private loopback port when this
process exports metrics (`trunkline.metrics` re-exposes them on the process's own port)."""

import logging
import socket
from dataclasses import dataclass

from temporalio.runtime import (
    LogForwardingConfig,
    LoggingConfig,
    PrometheusConfig,
    Runtime,
    TelemetryConfig,
    TelemetryFilter,
)

CORE_LOGS = LoggingConfig(
    filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
    forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
)


@dataclass(frozen=True)
class SdkRuntime:
    runtime: Runtime
    metrics_port: int | None
    """Where the SDK's Prometheus exporter answers on 127.0.0.1, when metrics are on."""


def sdk_runtime(*, metrics: bool) -> SdkRuntime:
    """A runtime for this process's Temporal client (and worker)."""
    if not metrics:
        return SdkRuntime(Runtime(telemetry=TelemetryConfig(logging=CORE_LOGS)), None)
    while True:
        port = _free_loopback_port()
        exporter = PrometheusConfig(
            bind_address=f"127.0.0.1:{port}", counters_total_suffix=True, durations_as_seconds=True
        )
        try:
            runtime = Runtime(telemetry=TelemetryConfig(logging=CORE_LOGS, metrics=exporter))
        except ValueError as exc:  # another process took the port meanwhile: take another
            if "Address already in use" not in str(exc):
                raise
            continue
        return SdkRuntime(runtime, port)


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
