"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI
from fastapi.routing import APIRoute

from api.call_routing import CallRouter
from api.errors import document_common_errors, install_error_handlers
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
from trunkline.db import Database
from trunkline.providers.telnyx import TelnyxAdapter
from trunkline.settings import Settings, get_settings
from trunkline.temporal import connect

_ROUTERS = [
    organization.router,
    agents.router,
    phone_numbers.router,
    calls.router,
    transfers.router,
    reports.router,
    callbacks.router,
    credits.router,
    usage.router,
    agent_calls.router,
    provider_webhooks.router,
    webhooks.router,
]


def _operation_id(route: APIRoute) -> str:
    """OpenAPI operation ids are the route functions' names: `create_agent`, `list_agents`."""
    return route.name


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for `settings` (the environment's by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        await database.create_tables()
        app.state.database = database
        app.state.temporal = await connect(settings, lazy=True)
        app.state.call_router = CallRouter(app.state.temporal, settings.temporal_task_queue)
        async with httpx.AsyncClient(timeout=15, trust_env=False) as http:
            app.state.telnyx = TelnyxAdapter(
                settings.telnyx_api_base_url, settings.telnyx_api_key, http
            )
            yield
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
    for router in _ROUTERS:
        app.include_router(router)
    app.state.api_routes = [
        route for router in _ROUTERS for route in router.routes if isinstance(route, APIRoute)
    ]
    document_common_errors(app.state.api_routes)

    @app.get("/healthz", tags=["health"], include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
