"""The FastAPI application."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import agents, organization
from trunkline.db import Database
from trunkline.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the API for `settings` (the environment's by default)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        database = Database(settings.database_url)
        await database.create_tables()
        app.state.database = database
        yield
        await database.dispose()

    app = FastAPI(
        title="Trunkline",
        version="0.1.0",
        description="Self-hostable backend for AI phone agents. Errors always have the shape "
        '`{"error": {"code": "...", "message": "...", "details": ...}}`.',
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.include_router(organization.router)
    app.include_router(agents.router)

    @app.get("/healthz", tags=["health"], include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
