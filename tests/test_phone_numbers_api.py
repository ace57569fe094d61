"""Phone numbers through the REST API: search, buy (verification, credits), import, rules."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from simulator.app import Simulator
from tests.conftest import RunningApi, Tenant, new_tenant
from trunkline.db import Database
from trunkline.numbers.store import next_renewal

TRUNK_INSTALLATION = "00000000-0000-4000-8000-000000000010"


@pytest.fixture
async def buyer(database: Database, api: RunningApi, simulator: Simulator) -> AsyncIterator[Tenant]:
    """A verified organization with 5 credits (a number costs 1)."""
    tenant = await new_tenant(database, api, "Buyer", verified=True, credits=5)
    yield tenant
    await tenant.aclose()


async def credits(tenant: Tenant) -> float:
    return (await tenant.http.get("/v1/organization")).json()["credits"]


async def numbers(tenant: Tenant) -> list[dict]:
    return (await tenant.http.get("/v1/phone-numbers")).json()


async def agent_id(tenant: Tenant) -> str:
    return (await tenant.http.post("/v1/agents", json={"name": "Desk"})).json()["id"]


async def search(tenant: Tenant, **params: str) -> list[dict]:
    response = await tenant.http.get("/v1/phone-numbers/available", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_search_lists_numbers_for_sale(buyer: Tenant) -> None:
    options = await search(buyer, areaCode="415")
    assert len(options) == 10
    assert options[0] == {
        "e164": "+14155550100",
        "friendlyName": "(415) 555-0100",
        "monthlyCostUsd": 0.0,
        "upfrontCostUsd": 1.0,
        "features": ["voice", "sms"],
        "region": {"state": "CA", "locality": None, "rateCenter": "SAN FRANCISCO"},
        "monthlyCost": 1.0,
        "upfrontCost": 1.0,
    }
    for bad in ("41", "4155", "015", "abc"):
        refused = await buyer.http.get("/v1/phone-numbers/available", params={"areaCode": bad})
        assert refused.status_code == 422, bad
        assert refused.json()["details"][0]["field"] == "areaCode"


async def test_search_by_city_or_anywhere(buyer: Tenant) -> None:
    chicago = await search(buyer, locality="Chicago", limit="2")
    assert [n["e164"] for n in chicago] == ["+13125550100", "+13125550101"]
    assert chicago[0]["region"] == {"state": "IL", "locality": "Chicago", "rateCenter": "CHICAGO"}
    assert await search(buyer, areaCode="415", locality="Chicago") == []
    assert len(await search(buyer, limit="3")) == 3


async def test_buying_charges_credits_and_orders_at_the_carrier(
    buyer: Tenant, simulator: Simulator
) -> None:
    desk = await agent_id(buyer)
    options = await search(buyer, areaCode="415")
    body = {"e164": options[0]["e164"], "direction": "both", "agentId": desk, "label": "Main"}
    response = await buyer.http.post("/v1/phone-numbers", json=body)
    assert response.status_code == 201, response.text
    number = response.json()
    assert number["id"].startswith("pn_")
    assert (number["e164"], number["source"], number["agentId"]) == (body["e164"], "managed", desk)
    assert await credits(buyer) == 4.0
    assert list(simulator.inventory.owned.values()) == [body["e164"]]
    assert (await buyer.http.get(f"/v1/phone-numbers/{number['id']}")).json() == number

    assert number["providerResourceId"] in simulator.inventory.owned
    released = await buyer.http.delete(f"/v1/phone-numbers/{number['id']}")
    assert (released.status_code, released.json()) == (200, {"released": True, "id": number["id"]})
    assert simulator.inventory.owned == {}
    assert await numbers(buyer) == []


async def test_buying_needs_business_verification(tenant: Tenant, simulator: Simulator) -> None:
    body = {"e164": "+14155550100", "direction": "outbound"}
    response = await tenant.http.post("/v1/phone-numbers", json=body)
    assert response.status_code == 403
    assert response.json()["code"] == "business_verification_required"
    assert await numbers(tenant) == [] and simulator.inventory.owned == {}


async def test_buying_needs_enough_credits(
    database: Database, api: RunningApi, simulator: Simulator
) -> None:
    poor = await new_tenant(database, api, "Poor", verified=True, credits=0.5)
    response = await poor.http.post(
        "/v1/phone-numbers", json={"e164": "+14155550100", "direction": "outbound"}
    )
    assert response.status_code == 402
    assert response.json()["code"] == "insufficient_credits"
    assert await credits(poor) == 0.5 and simulator.inventory.owned == {}
    await poor.aclose()


async def test_a_failed_order_stores_nothing_and_refunds(
    buyer: Tenant, simulator: Simulator
) -> None:
    simulator.inventory.fail_orders = True
    response = await buyer.http.post(
        "/v1/phone-numbers", json={"e164": "+14155550100", "direction": "outbound"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "number_unavailable"
    assert await numbers(buyer) == [] and await credits(buyer) == 5.0


async def test_a_lost_order_reply_releases_what_was_bought_and_refunds(
    buyer: Tenant, simulator: Simulator
) -> None:
    """Telnyx placed the order but its answer was a 503: we look the number up and release it."""
    simulator.inventory.lose_order_replies = True
    response = await buyer.http.post(
        "/v1/phone-numbers", json={"e164": "+14155550100", "direction": "outbound"}
    )
    assert response.status_code == 502
    assert response.json()["code"] == "provider_error"
    assert simulator.inventory.owned == {}
    assert await numbers(buyer) == [] and await credits(buyer) == 5.0


@asynccontextmanager
async def when_charged(database: Database, statement: str) -> AsyncIterator[None]:
    """Run `statement` in the transaction that charges credits, as a concurrent writer would."""
    if database.engine.dialect.name == "sqlite":
        create = [
            "CREATE TRIGGER concurrent_writer AFTER UPDATE OF credits_micros ON organization "
            f"WHEN NEW.credits_micros < OLD.credits_micros BEGIN {statement}; END"
        ]
        drop = ["DROP TRIGGER concurrent_writer"]
    else:
        create = [
            "CREATE FUNCTION concurrent_writer() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN {statement}; RETURN NULL; END $$",
            "CREATE TRIGGER concurrent_writer AFTER UPDATE OF credits_micros ON organization "
            "FOR EACH ROW WHEN (NEW.credits_micros < OLD.credits_micros) "
            "EXECUTE FUNCTION concurrent_writer()",
        ]
        drop = [
            "DROP TRIGGER concurrent_writer ON organization",
            "DROP FUNCTION concurrent_writer()",
        ]
    async with database.engine.begin() as connection:
        for sql in create:
            await connection.exec_driver_sql(sql)
    try:
        yield
    finally:
        async with database.engine.begin() as connection:
            for sql in drop:
                await connection.exec_driver_sql(sql)


async def test_losing_the_race_for_a_number_releases_it_and_refunds(
    buyer: Tenant, database: Database, api: RunningApi, simulator: Simulator
) -> None:
    """Another organization registers the number after our checks passed, before our insert.

    A trigger on the credit charge (which comes between the checks and the insert) plays the
    other organization, so the race is lost every time, on SQLite and PostgreSQL alike.
    """
    rival = await new_tenant(database, api, "Rival")
    registers_it = (
        "INSERT INTO phonenumber (id, organization_id, e164, direction, source, created_at, "
        f"updated_at) VALUES ('pn_rival', '{rival.organization_id}', '+14155550100', "
        "'outbound', 'sip_trunk', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
    )
    async with when_charged(database, registers_it):
        response = await buyer.http.post(
            "/v1/phone-numbers", json={"e164": "+14155550100", "direction": "outbound"}
        )
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "phone_number_taken"
    assert [n["id"] for n in await numbers(rival)] == ["pn_rival"]
    assert simulator.inventory.owned == {}
    assert await numbers(buyer) == [] and await credits(buyer) == 5.0
    await rival.aclose()


async def test_an_agent_deleted_mid_purchase_is_agent_not_found(
    buyer: Tenant, database: Database, simulator: Simulator
) -> None:
    """The agent goes after our checks passed, before our insert (a trigger deletes it then)."""
    desk = await agent_id(buyer)
    async with when_charged(database, f"DELETE FROM agent WHERE id = '{desk}'"):
        response = await buyer.http.post(
            "/v1/phone-numbers", json={"e164": "+14155550100", "direction": "both", "agentId": desk}
        )
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "agent_not_found"
    assert simulator.inventory.owned == {}
    assert await numbers(buyer) == [] and await credits(buyer) == 5.0


async def test_a_number_belongs_to_one_organization(
    buyer: Tenant, database: Database, api: RunningApi
) -> None:
    body = {"e164": "+14155550100", "direction": "outbound"}
    assert (await buyer.http.post("/v1/phone-numbers", json=body)).status_code == 201
    rival = await new_tenant(database, api, "Rival", verified=True, credits=5)
    for path, extra in (
        ("/v1/phone-numbers", {}),
        ("/v1/phone-numbers/import", {"sipConnectionInstallationId": TRUNK_INSTALLATION}),
    ):
        response = await rival.http.post(path, json={**body, **extra})
        assert response.status_code == 409, path
        assert response.json()["code"] == "phone_number_taken"
        assert "Buyer" not in response.text
    assert await credits(rival) == 5.0
    await rival.aclose()


async def test_import_a_sip_trunk_number_as_in_the_guide(buyer: Tenant) -> None:
    desk = await agent_id(buyer)
    body = {
        "e164": "+442071234567",
        "sipConnectionInstallationId": TRUNK_INSTALLATION,
        "direction": "both",
        "agentId": desk,
        "label": "London front desk",
    }
    response = await buyer.http.post("/v1/phone-numbers/import", json=body)
    assert response.status_code == 201, response.text
    number = response.json()
    assert (number["source"], number["sipConnectionInstallationId"]) == (
        "sip_trunk",
        TRUNK_INSTALLATION,
    )
    assert await credits(buyer) == 5.0
    bad = {**body, "e164": "+442071234568", "sipConnectionInstallationId": "trunk-1"}
    response = await buyer.http.post("/v1/phone-numbers/import", json=bad)
    assert response.status_code == 422


async def test_import_by_legacy_trunk_id_and_the_former_path(buyer: Tenant) -> None:
    body = {
        "e164": "+442071234567",
        "sipTrunkId": "ST_abc123",
        "sipProviderName": "Twilio Elastic SIP",
        "direction": "outbound",
    }
    response = await buyer.http.post("/v1/phone-numbers/import-sip-trunk", json=body)
    assert response.status_code == 201, response.text
    number = response.json()
    assert (number["sipTrunkId"], number["sipProviderName"]) == ("ST_abc123", "Twilio Elastic SIP")
    assert number["sipConnectionInstallationId"] is None
    assert number["setupStatus"]["sipConnectionReady"] is True
    neither = {"e164": "+442071234568", "direction": "outbound"}
    refused = await buyer.http.post("/v1/phone-numbers/import", json=neither)
    assert refused.status_code == 422
    assert "sipConnectionInstallationId" in refused.json()["error"]


@pytest.mark.parametrize("e164", ["4155550100", "+1 415 555 0100", "+0123456789", "+1415555", ""])
async def test_numbers_must_be_strict_e164(buyer: Tenant, e164: str) -> None:
    body = {
        "e164": e164,
        "direction": "outbound",
        "sipConnectionInstallationId": TRUNK_INSTALLATION,
    }
    response = await buyer.http.post("/v1/phone-numbers/import", json=body)
    assert response.status_code == 422
    assert response.json()["details"][0]["field"] == "e164"


@pytest.mark.parametrize(
    "digits",
    [
        "\u0664\u0661\u0665\u0665\u0665\u0665\u0660\u0661\u0660\u0660",  # Arabic-Indic
        "\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff10\uff10",  # fullwidth
        "\u096a\u0967\u096b\u096b\u096b\u096b\u0966\u0967\u0966\u0966",  # Devanagari
    ],
)
async def test_only_ascii_digits_make_a_phone_number(buyer: Tenant, digits: str) -> None:
    number = "+1" + digits
    imported = await buyer.http.post(
        "/v1/phone-numbers/import",
        json={
            "e164": number,
            "direction": "outbound",
            "sipConnectionInstallationId": TRUNK_INSTALLATION,
        },
    )
    dialled = await buyer.http.post("/v1/sessions/phone", json={"to": number, "agentId": "a"})
    filtered = await buyer.http.get("/v1/calls", params={"phoneNumber": number})
    searched = await buyer.http.get("/v1/phone-numbers/available", params={"areaCode": digits[:3]})
    for response, field in (
        (imported, "e164"),
        (dialled, "to"),
        (filtered, "phoneNumber"),
        (searched, "areaCode"),
    ):
        assert response.status_code == 422, response.text
        assert response.json()["details"][0]["field"] == field
    assert await numbers(buyer) == []


async def test_inbound_routing_rules(buyer: Tenant, database: Database, api: RunningApi) -> None:
    path = "/v1/phone-numbers/import"
    base = {"sipConnectionInstallationId": TRUNK_INSTALLATION}
    for direction in ("inbound", "both"):
        response = await buyer.http.post(
            path, json={**base, "e164": "+14155550100", "direction": direction}
        )
        assert response.status_code == 422
        assert response.json()["code"] == "routing_required"
        [problem] = response.json()["details"]
        assert (problem["field"], problem["type"]) == (None, "routing_required")
    outbound = {**base, "e164": "+14155550100", "direction": "outbound"}
    assert (await buyer.http.post(path, json=outbound)).status_code == 201

    other = await new_tenant(database, api, "Other")
    theirs = await agent_id(other)
    response = await buyer.http.post(
        path, json={**base, "e164": "+14155550101", "direction": "inbound", "agentId": theirs}
    )
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "agent_not_found"
    assert error["details"] == [
        {
            "field": "agentId",
            "location": "body",
            "type": "agent_not_found",
            "message": f"agent {theirs} not found",
        }
    ]
    await other.aclose()

    template_only = {
        **base,
        "e164": "+14155550102",
        "direction": "inbound",
        "dispatchMetadataTemplate": {"tenant": "acme", "caller": "{{callerNumber}}"},
    }
    assert (await buyer.http.post(path, json=template_only)).status_code == 201
    typo = {
        **template_only,
        "e164": "+14155550103",
        "dispatchMetadataTemplate": {"c": "{{caller}}"},
    }
    response = await buyer.http.post(path, json=typo)
    assert response.status_code == 422 and "unknown placeholder(s) caller" in response.text


async def test_patch_keeps_the_rules(buyer: Tenant) -> None:
    desk = await agent_id(buyer)
    created = await buyer.http.post(
        "/v1/phone-numbers/import",
        json={
            "e164": "+14155550100",
            "sipConnectionInstallationId": TRUNK_INSTALLATION,
            "direction": "outbound",
        },
    )
    path = f"/v1/phone-numbers/{created.json()['id']}"
    refused = await buyer.http.patch(path, json={"direction": "inbound"})
    assert refused.json()["code"] == "routing_required"
    routed = await buyer.http.patch(path, json={"direction": "both", "agentId": desk})
    assert routed.status_code == 200 and routed.json()["agentId"] == desk
    template = {"line": "{{dialedNumber}}"}
    both = await buyer.http.patch(path, json={"dispatchMetadataTemplate": template, "label": "L"})
    assert both.json()["dispatchMetadataTemplate"] == template
    cleared = await buyer.http.patch(path, json={"agentId": None})
    assert cleared.status_code == 200 and cleared.json()["agentId"] is None
    assert (
        await buyer.http.patch(path, json={"dispatchMetadataTemplate": None})
    ).status_code == 422
    assert (await buyer.http.patch(path, json={"direction": None})).status_code == 422
    for never in (None, "yes", 1):
        refused = await buyer.http.patch(path, json={"smsAutomationEnabled": never})
        assert refused.status_code == 422, never
    sms = await buyer.http.patch(path, json={"smsAutomationEnabled": True})
    assert sms.json()["smsAutomationEnabled"] is True
    assert (await buyer.http.patch(path, json={"e164": "+14155550199"})).status_code == 422
    assert (await buyer.http.get(path)).json()["dispatchMetadataTemplate"] == template


async def test_routed_agents_cannot_be_deleted_and_tenancy_holds(
    buyer: Tenant, database: Database, api: RunningApi
) -> None:
    desk = await agent_id(buyer)
    number = (
        await buyer.http.post(
            "/v1/phone-numbers/import",
            json={
                "e164": "+14155550100",
                "sipConnectionInstallationId": TRUNK_INSTALLATION,
                "direction": "inbound",
                "agentId": desk,
            },
        )
    ).json()
    refused = await buyer.http.delete(f"/v1/agents/{desk}")
    assert refused.status_code == 409
    assert refused.json()["details"] == {"phoneNumbers": ["+14155550100"]}
    listed = await buyer.http.get("/v1/phone-numbers", params={"agentId": desk})
    assert [n["id"] for n in listed.json()] == [number["id"]]

    other = await new_tenant(database, api, "Other")
    path = f"/v1/phone-numbers/{number['id']}"
    assert (await other.http.get(path)).status_code == 404
    assert (await other.http.patch(path, json={"label": "mine"})).status_code == 404
    assert (await other.http.delete(path)).status_code == 404
    assert await numbers(other) == []
    await other.aclose()


async def test_the_list_pages_through_a_link_header(buyer: Tenant) -> None:
    base = {"sipConnectionInstallationId": TRUNK_INSTALLATION, "direction": "outbound"}
    for last in range(3):
        body = {**base, "e164": f"+1415555010{last}"}
        assert (await buyer.http.post("/v1/phone-numbers/import", json=body)).status_code == 201
    first = await buyer.http.get("/v1/phone-numbers", params={"limit": 2})
    assert [n["e164"] for n in first.json()] == ["+14155550102", "+14155550101"]
    link = first.headers["link"]
    assert link.endswith('>; rel="next"')
    rest = await buyer.http.get(link[1 : link.index(">")])
    assert [n["e164"] for n in rest.json()] == ["+14155550100"]
    assert "link" not in rest.headers


@pytest.mark.parametrize(
    ("bought", "now", "renewal"),
    [
        ("2025-01-15T10:00", "2025-01-15T10:00", "2025-02-15T10:00"),
        ("2025-01-15T10:00", "2025-03-15T09:59", "2025-03-15T10:00"),
        ("2025-01-15T10:00", "2025-03-15T10:00", "2025-04-15T10:00"),
        ("2025-01-31T08:00", "2025-02-03T00:00", "2025-02-28T08:00"),
        ("2025-01-31T08:00", "2025-03-01T00:00", "2025-03-31T08:00"),
        ("2024-12-31T08:00", "2025-01-31T08:01", "2025-02-28T08:00"),
    ],
)
def test_a_number_renews_monthly_on_the_day_it_was_bought(
    bought: str, now: str, renewal: str
) -> None:
    def utc(text: str) -> datetime:
        return datetime.fromisoformat(text).replace(tzinfo=UTC)

    assert next_renewal(utc(bought), utc(now)) == utc(renewal)
