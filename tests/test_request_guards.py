"""What every request meets before its route: the body limit, text checks, contained errors."""

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tests.conftest import RunningApi, Tenant
from tests.servers import exchange_on_one_connection, raw_request
from trunkline.db import Database
from trunkline.settings import Settings

LIMIT = 4096
JSON = {"Content-Type": "application/json"}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The test's settings with a small body limit."""
    return settings.model_copy(update={"max_request_body_bytes": LIMIT})


async def chunks(total: int) -> AsyncIterator[bytes]:
    """A chunked body of `total` bytes (no `Content-Length`), as a streaming client sends it."""
    yield b'{"name": "'
    for _ in range(total // 1024):
        yield b"x" * 1024
    yield b'"}'


async def test_a_declared_oversized_body_is_refused_before_it_is_read(api: RunningApi) -> None:
    head = "POST /v1/agents HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
    head += "Content-Length: 100000000\r\n\r\n"
    host, port = api.base_url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(head.encode())  # and not one byte of the 100 MB
    try:
        answer = await asyncio.wait_for(reader.read(4096), 10)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 413 "), answer
    assert b'"code":"payload_too_large"' in answer


@pytest.mark.parametrize("path", ["/v1/agents", "/webhooks/telnyx", "/webhooks/livekit"])
async def test_a_chunked_body_past_the_limit_is_a_413_before_authentication(
    api: RunningApi, path: str
) -> None:
    async with api.client() as anonymous:
        response = await anonymous.post(path, content=chunks(LIMIT * 4), headers=JSON)
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "payload_too_large"
    assert str(LIMIT) in response.json()["error"]


async def test_a_body_within_the_limit_is_served(tenant: Tenant) -> None:
    body = {"name": "Desk", "systemPrompt": "x" * (LIMIT - 100)}
    assert (await tenant.http.post("/v1/agents", json=body)).status_code == 201


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/agents", '{"name": "a", "metadata": {"note": "\\udc00"}}', "metadata.note"),
        ("/v1/agents", '{"name": "a", "ttsOptions": {"\\ud800x": 1}}', "ttsOptions.\\ud800x"),
        ("/v1/agents", '{"name": "a", "tools": [1, "\\udfff"]}', "tools.1"),
        ("/v1/agents", '"\\udc00"', None),
        (
            "/v1/phone-numbers/import",
            '{"e164": "+14155550100", "dispatchMetadataTemplate": {"a": "\\udc00"}}',
            "dispatchMetadataTemplate.a",
        ),
        ("/v1/callbacks", '{"to": "+12015551234", "metadata": {"x": "\\ude00"}}', "metadata.x"),
    ],
)
async def test_lone_surrogates_are_refused_before_anything_is_written(
    tenant: Tenant, path: str, body: str, field: str | None
) -> None:
    response = await tenant.http.post(path, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "validation_error"
    assert [(d["field"], d["type"]) for d in error["details"]] == [(field, "lone_surrogate")]
    for listed in ("/v1/agents", "/v1/phone-numbers"):
        assert (await tenant.http.get(listed)).json() == [], listed
    assert (await tenant.http.get("/v1/callbacks")).json()["callbacks"] == []


async def test_a_surrogate_pair_is_an_ordinary_character(tenant: Tenant) -> None:
    body = '{"name": "a", "metadata": {"mood": "\\ud83d\\ude00 \\\\udc00"}}'
    created = await tenant.http.post("/v1/agents", content=body, headers=JSON)
    assert created.status_code == 201, created.text
    assert created.json()["metadata"] == {"mood": "\U0001f600 \\udc00"}


async def test_an_unexpected_error_is_a_500_that_keeps_the_connection(
    api: RunningApi, tenant: Tenant, database: Database
) -> None:
    assert (await tenant.http.get("/v1/organization")).status_code == 200  # the API is up
    cascade = " CASCADE" if database.engine.dialect.name == "postgresql" else ""
    async with database.engine.begin() as connection:
        await connection.execute(text(f"DROP TABLE agent{cascade}"))
    auth = {"Authorization": f"Bearer {tenant.api_key}"}
    try:
        failed, then = await exchange_on_one_connection(
            api.base_url,
            [
                raw_request("POST", "/v1/agents", b'{"name": "Desk"}', {**auth, **JSON}),
                raw_request("GET", "/v1/organization", headers=auth),
            ],
        )
    finally:
        await database.create_tables()
    assert failed.status == 500 and failed.json()["code"] == "internal_error"
    assert failed.headers.get("connection") != "close"
    assert then.status == 200 and then.json()["id"] == tenant.organization_id
