"""OpenTelemetry traces from an API request through the workflows and activities it starts.

Off unless an OTLP endpoint is set in the standard variables (`OTEL_EXPORTER_OTLP_ENDPOINT` or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); spans go out over OTLP/HTTP, and every other `OTEL_`
variable (`OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_BSP_*`, headers) applies.
"""

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import TracerProvider

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")

_provider: "TracerProvider | None" = None


def wanted() -> bool:
    """Whether the environment asks for traces."""
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return not disabled and any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def configure(service_name: str) -> bool:
    """Export this process's spans when the environment asks for it; True if it does.

    `service_name` is the default for `OTEL_SERVICE_NAME` (`trunkline-api`, `trunkline-worker`).
    """
    global _provider
    if _provider is not None or not wanted():
        return _provider is not None
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    named = {} if os.environ.get("OTEL_SERVICE_NAME") else {SERVICE_NAME: service_name}
    provider = TracerProvider(resource=Resource.create(named))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    return True


def interceptors() -> list[Any]:
    """The Temporal client (and worker) interceptors that carry the trace: none when off."""
    if _provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor()]


def instrument(app: "FastAPI") -> None:
    """Trace the API's requests (health checks and metrics aside) when tracing is on."""
    if _provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz")


def shutdown() -> None:
    """Send the spans still buffered; the processes leave with `os._exit`, skipping atexit."""
    if _provider is not None:
        _provider.shutdown()
