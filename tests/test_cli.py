"""Admin commands of the `trunkline` CLI, run as a user would, against a real database."""

import asyncio
import json
import os
import subprocess
import sys

import httpx

from simulator.app import Simulator
from tests.conftest import RunningApi
from trunkline.db import Database
from trunkline.organizations import create_organization, update_organization
from trunkline.settings import Settings

DECLARATION = {
    "declaration": {"businessName": "Acme", "useCase": "Support line"},
    "attestationAccepted": True,
    "attestationVersion": "1",
}
"""The short business verification (KYB) form, as the Speko SDK submits it."""


def trunkline(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "trunkline.cli", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_org_create_json_gives_a_working_key(settings: Settings, api: RunningApi) -> None:
    result = trunkline(settings, "org", "create", "Acme", "--verified", "--credits", "25", "--json")
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["organizationId"].startswith("org_")
    async with api.client(created["apiKey"]) as http:
        organization = (await http.get("/v1/organization")).json()
    assert organization == {
        "id": created["organizationId"],
        "name": "Acme",
        "businessVerified": True,
        "credits": 25.0,
        "timezone": "UTC",
        "callingWindow": {"start": "09:00", "end": "20:00"},
        "createdAt": organization["createdAt"],
    }


async def test_key_create_issues_another_key(settings: Settings, api: RunningApi) -> None:
    created = json.loads(trunkline(settings, "org", "create", "Acme", "--json").stdout)
    second = trunkline(settings, "key", "create", created["organizationId"], "--json")
    assert second.returncode == 0, second.stderr
    key = json.loads(second.stdout)["apiKey"]
    assert key != created["apiKey"]
    async with api.client(key) as http:
        assert (await http.get("/v1/organization")).json()["id"] == created["organizationId"]


async def test_a_revoked_key_is_refused_at_once(settings: Settings, api: RunningApi) -> None:
    created = json.loads(trunkline(settings, "org", "create", "Acme", "--json").stdout)
    organization_id = created["organizationId"]
    spare = json.loads(trunkline(settings, "key", "create", organization_id, "--json").stdout)
    listed = [
        json.loads(line)
        for line in trunkline(settings, "key", "list", organization_id).stdout.splitlines()
    ]
    assert [k["prefix"] for k in listed] == [created["apiKey"][:8], spare["apiKey"][:8]]
    assert all(k["revokedAt"] is None and k["id"].startswith("key_") for k in listed)
    assert created["apiKey"] not in trunkline(settings, "key", "list", organization_id).stdout

    revoked = trunkline(settings, "key", "revoke", listed[0]["id"])
    assert revoked.returncode == 0, revoked.stderr
    assert json.loads(revoked.stdout)["revokedAt"] is not None
    async with api.client(created["apiKey"]) as http:
        refused = await http.get("/v1/organization")
    assert refused.status_code == 401
    async with api.client(spare["apiKey"]) as http:
        assert (await http.get("/v1/organization")).status_code == 200
    assert trunkline(settings, "key", "revoke", "key_missing").returncode == 1
    assert trunkline(settings, "key", "list", "org_missing").returncode == 1


def test_key_create_for_an_unknown_org_fails(settings: Settings, database: Database) -> None:
    trunkline(settings, "org", "create", "Acme")
    result = trunkline(settings, "key", "create", "org_missing")
    assert result.returncode == 1
    assert "no organization org_missing" in result.stderr


def test_text_output_shows_id_and_key(settings: Settings, database: Database) -> None:
    result = trunkline(settings, "org", "create", "Plain")
    assert result.returncode == 0
    assert "organization: org_" in result.stdout and "api key:      tk_" in result.stdout


async def test_org_update_sets_verification_and_credits(
    settings: Settings, api: RunningApi
) -> None:
    created = json.loads(trunkline(settings, "org", "create", "Acme", "--json").stdout)
    org_id = created["organizationId"]
    result = trunkline(settings, "org", "update", org_id, "--verified", "--credits", "10")
    assert json.loads(result.stdout) == {
        "organizationId": org_id,
        "businessVerified": True,
        "credits": 10.0,
    }
    result = trunkline(settings, "org", "update", org_id, "--unverified", "--add-credits", "-2.5")
    assert json.loads(result.stdout)["credits"] == 7.5
    async with api.client(created["apiKey"]) as http:
        organization = (await http.get("/v1/organization")).json()
    assert (organization["businessVerified"], organization["credits"]) == (False, 7.5)
    assert trunkline(settings, "org", "update", "org_missing", "--verified").returncode == 1


async def test_any_balance_a_business_could_hold_fits(settings: Settings, api: RunningApi) -> None:
    created = trunkline(settings, "org", "create", "Acme", "--credits", "2148", "--json")
    assert created.returncode == 0, created.stderr
    org_id, api_key = json.loads(created.stdout).values()
    result = trunkline(settings, "org", "update", org_id, "--add-credits", "999999997852")
    assert result.returncode == 0, result.stderr
    async with api.client(api_key) as http:
        assert (await http.get("/v1/organization")).json()["credits"] == 1e12
    for amount in ("1e13", "-1e13", "nan", "inf"):
        refused = trunkline(settings, "org", "update", org_id, f"--credits={amount}")
        assert refused.returncode == 2 and "at most 1e+12 credits" in refused.stderr, amount


async def test_adding_credits_concurrently_loses_nothing(database: Database) -> None:
    """`org update --add-credits` adds in one SQL statement, so concurrent additions all count."""
    async with database.session() as session:
        org_id = (await create_organization(session, "Acme")).organization.id

    async def add_one() -> None:
        async with database.session() as session:
            await update_organization(session, org_id, add_credits=1)

    await asyncio.gather(*(add_one() for _ in range(10)))
    async with database.session() as session:
        updated = await update_organization(session, org_id, add_credits=-2.5)
    assert updated is not None and updated["credits"] == 7.5


async def test_provider_events_prints_what_was_stored(
    settings: Settings, simulator: Simulator, api: RunningApi
) -> None:
    async with httpx.AsyncClient(base_url=settings.livekit_url) as control:
        await control.post(
            "/control/inbound-calls", json={"from": "+12015551234", "to": "+14155550100"}
        )
        await control.post("/control/drain")
    result = trunkline(settings, "provider-events", "--provider", "telnyx")
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (event["provider"], event["event_type"]) == ("telnyx", "call.initiated")
    assert trunkline(settings, "provider-events", "--provider", "livekit").stdout == ""


async def test_org_verify_reviews_the_submitted_kyb(settings: Settings, api: RunningApi) -> None:
    created = json.loads(trunkline(settings, "org", "create", "Acme", "--json").stdout)
    org_id = created["organizationId"]
    nothing = trunkline(settings, "org", "verify", org_id)
    assert nothing.returncode == 1 and "no business verification to review" in nothing.stderr
    assert trunkline(settings, "org", "verify", "org_missing").returncode == 1
    async with api.client(created["apiKey"]) as http:
        submitted = await http.post("/v1/phone-numbers/kyb/submit", json=DECLARATION)
        assert submitted.status_code == 200, submitted.text
        result = trunkline(settings, "org", "verify", org_id)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout) == {
            "organizationId": org_id,
            "businessVerified": True,
            "kyb": {"id": submitted.json()["id"], "status": "approved"},
            "rejectionReason": None,
        }
        assert (await http.get("/v1/organization")).json()["businessVerified"] is True
        revoked = trunkline(settings, "org", "verify", org_id, "--reject", "fraud reports")
        assert json.loads(revoked.stdout)["kyb"]["status"] == "revoked"
        kyb = (await http.get("/v1/phone-numbers/kyb")).json()
        assert (kyb["status"], kyb["submission"]["rejectionReason"]) == ("revoked", "fraud reports")
        assert (await http.get("/v1/organization")).json()["businessVerified"] is False


async def test_org_update_keeps_the_kyb_in_step(settings: Settings, api: RunningApi) -> None:
    created = json.loads(trunkline(settings, "org", "create", "Acme", "--json").stdout)
    org_id = created["organizationId"]
    async with api.client(created["apiKey"]) as http:
        await http.post("/v1/phone-numbers/kyb/submit", json=DECLARATION)
        trunkline(settings, "org", "update", org_id, "--verified")
        kyb = (await http.get("/v1/phone-numbers/kyb")).json()
        assert (kyb["status"], kyb["submission"]["status"]) == ("approved", "approved")
        trunkline(settings, "org", "update", org_id, "--unverified")
        kyb = (await http.get("/v1/phone-numbers/kyb")).json()
        assert (kyb["status"], kyb["submission"]["status"]) == ("revoked", "revoked")
        resubmitted = await http.post("/v1/phone-numbers/kyb/submit", json=DECLARATION)
        assert resubmitted.json()["status"] == "submitted"
