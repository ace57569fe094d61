"""`/healthz` (the process answers) and `/readyz` (it can serve: database and Temporal reachable),
for load balancers and orchestrators: no authentication, outside `/v1` and the OpenAPI."""

import asyncio
from collections.abc import Awaitable
from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest
from temporalio.client import Client

from api.errors import error_response
from trunkline.db import Database

CHECK_TIMEOUT_SECONDS = 3.0

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving HTTP."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """200 when the database and Temporal both answer; 503 naming what did not."""
    state = request.app.state
    names = ("database", "temporal")
    results = await asyncio.gather(
        _check(_database(state.database)), _check(_temporal(state.temporal))
    )
    checks = dict(zip(names, results, strict=True))
    failed = [name for name, result in checks.items() if result != "ok"]
    if failed:
        return error_response(503, "not_ready", f"unreachable: {', '.join(failed)}", checks)
    return JSONResponse({"status": "ready", "checks": checks})


async def _check(probe: Awaitable[None]) -> str:
    """`ok`, or why the probe failed (within the check timeout)."""
    try:
        await asyncio.wait_for(probe, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g} s"
    except Exception as exc:
        return " ".join(f"{type(exc).__name__}: {exc}".split())[:300]
    return "ok"


async def _database(database: Database) -> None:
    async with database.session() as session:
        await session.exec(text("SELECT 1"))  # type: ignore[call-overload]


async def _temporal(client: Client) -> None:
    timeout = timedelta(seconds=CHECK_TIMEOUT_SECONDS)
    await client.workflow_service.get_system_info(GetSystemInfoRequest(), timeout=timeout)
