"""`speko.credits` from the official SDK: the balance, and a ledger entry for every change."""

import asyncio
from collections.abc import AsyncIterator

import pytest
import spekoai
from spekoai import AsyncSpeko
from spekoai.models import CreditLedgerPage, OrganizationBalance

from simulator.app import Simulator
from tests.calls_support import set_up_line, stored_costs
from tests.conftest import RunningApi, Tenant, new_tenant
from tests.receiver import WebhookReceiver
from tests.test_cli import trunkline
from tests.test_reports import a_finished_call
from tests.waiting import eventually
from trunkline.db import Database
from trunkline.settings import Settings


@pytest.fixture
async def funded(
    database: Database, api: RunningApi, simulator: Simulator
) -> AsyncIterator[Tenant]:
    """A verified organization opened with 5 credits (a number costs 1)."""
    tenant = await new_tenant(database, api, "Funded", verified=True, credits=5)
    yield tenant
    await tenant.aclose()


def kinds(page: CreditLedgerPage) -> list[tuple[str, str, str | None]]:
    return [(e.kind, e.amount_micro_usd, e.metric) for e in page.entries]


async def test_a_new_organization_has_its_opening_grant(funded: Tenant) -> None:
    balance = await funded.speko.credits.get_balance()
    assert isinstance(balance, OrganizationBalance)
    assert (balance.balance_usd, balance.currency) == (5.0, "USD")
    ledger = await funded.speko.credits.get_ledger()
    assert isinstance(ledger, CreditLedgerPage) and ledger.next_cursor is None
    assert kinds(ledger) == [("grant", "5000000", None)]
    assert balance.updated_at == ledger.entries[0].created_at


async def test_an_empty_organization_has_an_empty_ledger(tenant: Tenant) -> None:
    balance = await tenant.speko.credits.get_balance()
    assert balance.balance_usd == 0.0 and balance.updated_at
    assert (await tenant.speko.credits.get_ledger()).entries == []


async def test_a_purchase_is_a_debit_and_a_failed_one_refunds(
    funded: Tenant, simulator: Simulator
) -> None:
    body = {"e164": "+14155550100", "direction": "outbound"}
    assert (await funded.http.post("/v1/phone-numbers", json=body)).status_code == 201
    simulator.inventory.fail_orders = True
    refused = await funded.http.post("/v1/phone-numbers", json={**body, "e164": "+14155550101"})
    assert refused.status_code == 409
    ledger = await funded.speko.credits.get_ledger()
    assert kinds(ledger) == [
        ("refund", "1000000", "phone_number"),
        ("debit", "-1000000", "phone_number"),
        ("debit", "-1000000", "phone_number"),
        ("grant", "5000000", None),
    ]
    assert (await funded.speko.credits.get_balance()).balance_usd == 4.0


async def test_operator_changes_from_the_cli_and_paging(funded: Tenant, settings: Settings) -> None:
    org = funded.organization_id
    for change in (["--add-credits", "2.5"], ["--add-credits", "-0.5"], ["--credits", "10"]):
        assert trunkline(settings, "org", "update", org, *change).returncode == 0
    speko = funded.sync_speko()
    try:
        first = await asyncio.to_thread(speko.credits.get_ledger, limit=2)
        rest = await asyncio.to_thread(speko.credits.get_ledger, cursor=first.next_cursor)
        balance = await asyncio.to_thread(speko.credits.get_balance)
    finally:
        speko.close()
    assert kinds(first) == [("adjustment", "3000000", None), ("adjustment", "-500000", None)]
    assert kinds(rest) == [("grant", "2500000", None), ("grant", "5000000", None)]
    assert rest.next_cursor is None
    assert balance.balance_usd == 10.0 and balance.updated_at == first.entries[0].created_at
    total = sum(int(e.amount_micro_usd) for e in first.entries + rest.entries)
    assert total == 10_000_000


async def test_bad_cursors_and_keys_raise(tenant: Tenant, stranger: AsyncSpeko) -> None:
    with pytest.raises(spekoai.SpekoApiError) as bad:
        await tenant.speko.credits.get_ledger(cursor="garbage")
    assert (bad.value.status, bad.value.code) == (422, "validation_error")
    with pytest.raises(spekoai.SpekoAuthError):
        await stranger.credits.get_balance()


@pytest.mark.usefixtures("worker")
async def test_a_call_charge_names_its_session(
    funded: Tenant, simulator: Simulator, receiver: WebhookReceiver, database: Database
) -> None:
    line = await set_up_line(funded, receiver)
    call_id = await a_finished_call(funded, simulator, line)
    total = (await stored_costs(database, call_id))["total"]

    async def charged() -> list | None:
        entries = (await funded.speko.credits.get_ledger()).entries
        return [e for e in entries if e.session_id == call_id] or None

    (charge,) = await eventually(charged)
    assert (charge.kind, charge.metric) == ("debit", "call")
    assert int(charge.amount_micro_usd) == -round(total * 1_000_000)
    balance = await funded.speko.credits.get_balance()
    assert balance.balance_usd == pytest.approx(5 - total)
