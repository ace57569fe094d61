"""The organization endpoints, webhook secret rotation, key storage and the documented errors."""

from datetime import UTC, datetime, timedelta

from sqlmodel import select
from standardwebhooks import Webhook

from tests.conftest import RunningApi, Tenant
from trunkline.credentials import hash_api_key
from trunkline.db import Database
from trunkline.models import ApiKey, Organization
from trunkline.organizations import signing_secrets


async def test_organization_reads_back(tenant: Tenant) -> None:
    organization = (await tenant.http.get("/v1/organization")).json()
    assert organization["id"] == tenant.organization_id
    assert organization["name"] == "Acme"
    assert organization["businessVerified"] is False and organization["credits"] == 0


async def test_webhook_secret_is_a_standard_webhooks_secret(tenant: Tenant) -> None:
    body = (await tenant.http.get("/v1/organization/webhook-secret")).json()
    assert body["secret"].startswith("whsec_")
    assert body["previousSecretExpiresAt"] is None
    Webhook(body["secret"])  # parses as a valid secret


async def test_rotation_signs_with_both_secrets_for_the_grace_period(
    tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    old = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    others = (await other_tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    rotated = (await tenant.http.post("/v1/organization/webhook-secret/rotate")).json()
    assert rotated["secret"] != old and rotated["secret"].startswith("whsec_")
    expires_at = datetime.fromisoformat(rotated["previousSecretExpiresAt"])
    assert timedelta(hours=23, minutes=59) < expires_at - datetime.now(UTC) <= timedelta(hours=24)
    assert (await tenant.http.get("/v1/organization/webhook-secret")).json() == rotated

    async with database.session() as session:
        organization = await session.get_one(Organization, tenant.organization_id)
    assert signing_secrets(organization, datetime.now(UTC)) == [rotated["secret"], old]
    assert signing_secrets(organization, expires_at + timedelta(seconds=1)) == [rotated["secret"]]
    unchanged = (await other_tenant.http.get("/v1/organization/webhook-secret")).json()
    assert unchanged["secret"] == others


async def test_rotating_twice_keeps_every_secret_in_grace(
    tenant: Tenant, database: Database
) -> None:
    first = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    second = (await tenant.http.post("/v1/organization/webhook-secret/rotate")).json()["secret"]
    third = (await tenant.http.post("/v1/organization/webhook-secret/rotate")).json()
    async with database.session() as session:
        organization = await session.get_one(Organization, tenant.organization_id)
    now = datetime.now(UTC)
    assert signing_secrets(organization, now) == [third["secret"], second, first]
    after_grace = datetime.fromisoformat(third["previousSecretExpiresAt"]) + timedelta(seconds=1)
    assert signing_secrets(organization, after_grace) == [third["secret"]]


async def test_api_keys_are_stored_only_as_hashes(tenant: Tenant, database: Database) -> None:
    async with database.session() as session:
        stored = (await session.exec(select(ApiKey))).all()
    assert [key.key_hash for key in stored] == [hash_api_key(tenant.api_key)]
    assert all(tenant.api_key not in repr(key.model_dump()) for key in stored)


async def test_openapi_documents_the_error_shape(api: RunningApi) -> None:
    async with api.client() as http:
        schema = (await http.get("/openapi.json")).json()
    error_ref = {"$ref": "#/components/schemas/ErrorResponse"}
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            errors = {s: r for s, r in operation["responses"].items() if s.startswith(("4", "5"))}
            assert "401" in errors, (method, path)
            for response in errors.values():
                assert response["content"]["application/json"]["schema"] == error_ref
    assert "404" in schema["paths"]["/v1/agents/{agent_id}"]["get"]["responses"]
    assert "409" in schema["paths"]["/v1/agents/{agent_id}"]["delete"]["responses"]
    assert schema["paths"]["/v1/agents"]["post"]["operationId"] == "create_agent"
    assert set(schema["components"]["schemas"]["ErrorResponse"]["properties"]) == {
        "error",
        "code",
        "details",
    }
