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


async def test_rotating_twice_drops_the_oldest(tenant: Tenant, database: Database) -> None:
    first = (await tenant.http.get("/v1/organization/webhook-secret")).json()["secret"]
    second = (await tenant.http.post("/v1/organization/webhook-secret/rotate")).json()["secret"]
    third = (await tenant.http.post("/v1/organization/webhook-secret/rotate")).json()["secret"]
    async with database.session() as session:
        organization = await session.get_one(Organization, tenant.organization_id)
    assert signing_secrets(organization, datetime.now(UTC)) == [third, second]
    assert first not in signing_secrets(organization, datetime.now(UTC))


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
            for status in ("401", "404", "422"):
                content = operation["responses"][status]["content"]["application/json"]
                assert content["schema"] == error_ref, (method, path, status)
    assert set(schema["components"]["schemas"]["ErrorBody"]["properties"]) == {
        "code",
        "message",
        "details",
    }
