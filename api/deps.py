"""Request dependencies: the database session and the caller's organization.

Every dependency is `async def`, even one that only reads app state: FastAPI runs a plain `def`
dependency on a worker thread, a thread hop per request for nothing."""

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel.ext.asyncio.session import AsyncSession
from temporalio.client import Client

from api.call_routing import CallRouter
from api.errors import ApiError
from trunkline.db import Database
from trunkline.models import Organization
from trunkline.organizations import organization_for_api_key
from trunkline.settings import Settings


async def get_database(request: Request) -> Database:
    return request.app.state.database


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def db_session(
    database: Annotated[Database, Depends(get_database)],
) -> AsyncIterator[AsyncSession]:
    async with database.session() as session:
        yield session


DbSession = Annotated[AsyncSession, Depends(db_session)]
AppSettings = Annotated[Settings, Depends(get_settings)]

_bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer tk_…`")


async def authenticate(
    session: DbSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Organization:
    """The organization whose API key is in the `Authorization: Bearer` header, else 401."""
    if credentials is None:
        raise ApiError(401, "unauthorized", "send your API key as Authorization: Bearer <key>")
    organization = await organization_for_api_key(session, credentials.credentials)
    if organization is None:
        raise ApiError(401, "unauthorized", "invalid API key")
    return organization


CurrentOrganization = Annotated[Organization, Depends(authenticate)]


async def get_temporal(request: Request) -> Client:
    return request.app.state.temporal


async def get_router(request: Request) -> CallRouter:
    return request.app.state.call_router


Temporal = Annotated[Client, Depends(get_temporal)]
Router = Annotated[CallRouter, Depends(get_router)]
