"""The FastAPI application."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute
from temporalio.runtime import Runtime

from api import health
from api.call_routing import CallRouter
from api.errors import document_common_errors, install_error_handlers
from api.metrics import HttpMetrics, OpenCalls
from api.middleware import BodyLimit, ContainErrors, RefuseLoneSurrogates, RequireJson
from api.routes import (
    agent_calls,
    agents,
    callbacks,
    calls,
    credits,
    organization,
    phone_numbers,
    provider_webhooks,
    reports,
    transfers,
    usage,
    webhooks,
)
from trunkline import tracing
from trunkline.db import Database
from trunkline.metrics import MetricsServer
from trunkline.providers.telnyx import TelnyxAdapter
from trunkline.settings import Settings, get_settings
from trunkline.temporal import connect

_ROUTERS = [
    # the machines' routes first: every call sends a dozen provider webhooks and agent posts,
    # and a request is matched against the routes in this order
    provider_webhooks.router,
    agent_calls.router,
    organization.router,
    agents.router,
    phone_numbers.router,
    calls.router,
    transfers.router,
    reports.router,
    callbacks.router,
    credits.router,
    usage.router,
    webhooks.router,
]


def _operation_id(route: APIRoute) -> str:
    """OpenAPI operation ids are the route functions' names: `create_agent`, `list_agents`."""
    return route.name


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    metrics: MetricsServer | None = None,
) -> FastAPI:
    """Build the API for `settings` (the environment's by default); its Temporal client runs on
    `runtime` (the SDK's default one otherwise), and `metrics` serves the API's metrics."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        await database.create_tables()
        app.state.database = database
        app.state.temporal = await connect(settings, lazy=True, runtime=runtime)
        app.state.call_router = CallRouter(app.state.temporal, settings.temporal_task_queue)
        open_calls = OpenCalls(database, asyncio.get_running_loop())
        if metrics:
            metrics.add(open_calls)
        async with httpx.AsyncClient(timeout=15, trust_env=False) as http:
            app.state.telnyx = TelnyxAdapter(
                settings.telnyx_api_base_url, settings.telnyx_api_key, http
            )
            yield
        if metrics:
            metrics.remove(open_calls)
        await database.dispose()

    app = FastAPI(
        title="Trunkline",
        version="0.1.0",
        description="Self-hostable backend for AI phone agents. Errors always have the shape "
        '`{"error": "<message>", "code": "<code>", "details": ...}`, as the Speko SDK reads them.',
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
    )
    app.state.settings = settings
    install_error_handlers(app)
    # the last added runs first: errors contained, then the size limit, then the body's form
    app.add_middleware(RefuseLoneSurrogates)
    app.add_middleware(RequireJson)
    app.add_middleware(BodyLimit, limit=settings.max_request_body_bytes)
    app.add_middleware(ContainErrors)
    app.add_middleware(HttpMetrics)
    tracing.instrument(app)
    app.include_router(health.router)
    for router in _ROUTERS:
        app.include_router(router)
    app.state.api_routes = [
        route for router in _ROUTERS for route in router.routes if isinstance(route, APIRoute)
    ]
    document_common_errors(app.state.api_routes)
    return app
