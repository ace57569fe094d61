"""`/healthz` and `/readyz`: readiness follows Temporal and the database, seen over HTTP."""

import socket

import httpx
from temporalio.testing import WorkflowEnvironment

from api.app import create_app
from tests.servers import free_port, serving
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.settings import Settings
from trunkline.temporal import SEARCH_ATTRIBUTES, bundled_binary


async def test_readyz_fails_once_temporal_stops(
    settings: Settings, database: Database, sockets: dict[str, socket.socket]
) -> None:
    """A Temporal of this test's own, stopped halfway: ready, then 503 naming Temporal."""
    temporal = await WorkflowEnvironment.start_local(
        dev_server_existing_path=str(bundled_binary("temporal")),
        search_attributes=SEARCH_ATTRIBUTES,
    )
    address = temporal.client.service_client.config.target_host
    app = create_app(settings.model_copy(update={"temporal_address": address}))
    try:
        async with serving(app, sockets["api"]) as url, httpx.AsyncClient(base_url=url) as http:
            ready = await http.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ready",
                "checks": {"database": "ok", "temporal": "ok"},
            }
            await temporal.shutdown()

            async def refused() -> httpx.Response | None:
                answer = await http.get("/readyz")
                return answer if answer.status_code == 503 else None

            body = (await eventually(refused, 30)).json()
            assert body["code"] == "not_ready" and body["error"] == "unreachable: temporal"
            assert body["details"]["database"] == "ok"
            assert body["details"]["temporal"] != "ok"
            assert (await http.get("/healthz")).json() == {"status": "ok"}
    finally:
        await temporal.shutdown()


async def test_readyz_before_temporal_ever_answered(
    settings: Settings, database: Database, sockets: dict[str, socket.socket]
) -> None:
    """The API starts without Temporal (it connects on first use) and says it is not ready."""
    nowhere = settings.model_copy(update={"temporal_address": f"127.0.0.1:{free_port()}"})
    async with (
        serving(create_app(nowhere), sockets["api"]) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        answer = await http.get("/readyz")
        assert answer.status_code == 503
        assert "Connection refused" in answer.json()["details"]["temporal"]
        assert (await http.get("/healthz")).status_code == 200


async def test_health_routes_stay_out_of_the_public_schema(
    settings: Settings, database: Database, sockets: dict[str, socket.socket]
) -> None:
    async with (
        serving(create_app(settings), sockets["api"]) as url,
        httpx.AsyncClient(base_url=url) as http,
    ):
        schema = (await http.get("/openapi.json")).json()
    assert not {"/healthz", "/readyz"} & schema["paths"].keys()
