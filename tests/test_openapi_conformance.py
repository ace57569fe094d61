"""The OpenAPI schema tells the truth: what it says matches what the served API does."""

import asyncio
import sys
from pathlib import Path

import pytest

from tests.conftest import RunningApi, Tenant

SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
]


async def test_a_boolean_is_only_a_boolean(tenant: Tenant) -> None:
    reprompts = {"messages": ["Still there?"], "endCallAfterMax": 0}
    response = await tenant.http.post(
        "/v1/agents", json={"name": "Desk", "idleReprompts": reprompts}
    )
    assert response.status_code == 422, response.text
    assert response.json()["details"][0]["field"] == "idleReprompts.endCallAfterMax"


async def test_a_405_names_every_method_of_the_path(tenant: Tenant) -> None:
    for path, allowed in (
        ("/v1/agents", "GET, POST"),
        ("/v1/agents/agent_x", "DELETE, GET, PATCH"),
    ):
        response = await tenant.http.request("PUT", path)
        assert response.status_code == 405
        assert response.headers["allow"] == allowed
        assert response.json()["code"] == "method_not_allowed"


async def test_the_schema_documents_body_errors_and_numbers(api: RunningApi) -> None:
    async with api.client() as http:
        schema = (await http.get("/openapi.json")).json()
    for path in ("/v1/agents", "/v1/sessions/phone", "/v1/callbacks"):
        assert {"400", "413", "415", "422"} <= set(schema["paths"][path]["post"]["responses"])
    to = schema["components"]["schemas"]["OutboundCallRequest"]["properties"]["to"]
    assert to["pattern"] == r"^(?:\+1[0-9]{10}|\+[2-9][0-9]{6,14})$"


@pytest.mark.slow
@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.usefixtures("worker")
async def test_every_operation_keeps_to_the_schema(
    api: RunningApi, tenant: Tenant, tmp_path: Path
) -> None:
    """A few deterministic examples per operation, valid and not: no 5xx, no answer off-schema."""
    argv = [
        str(SCHEMATHESIS),
        "run",
        f"{api.base_url}/openapi.json",
        f"--header=Authorization: Bearer {tenant.api_key}",
        f"--checks={','.join(CHECKS)}",
        "--phases=examples,fuzzing",
        "--max-examples=3",
        "--max-time=150",
        "--generation-deterministic",
        "--workers=1",
        "--continue-on-failure",
        "--no-color",
        "--request-timeout=10",
        f"--report-dir={tmp_path}",
    ]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), 240)
    finally:
        if process.returncode is None:
            process.kill()
    assert process.returncode == 0, output.decode()
