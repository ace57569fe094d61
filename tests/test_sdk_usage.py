"""`speko.usage` from the official SDK: calls and their cost breakdowns over a window."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
import spekoai
from spekoai import AsyncSpeko
from spekoai.models import UsageSummary

from simulator.app import Simulator
from tests.calls_support import set_up_line, stored_costs
from tests.conftest import Tenant
from tests.receiver import WebhookReceiver
from tests.test_reports import a_finished_call
from trunkline.db import Database


async def test_no_calls_is_an_empty_summary_with_the_balance(tenant: Tenant) -> None:
    usage = await tenant.speko.usage.get()
    assert isinstance(usage, UsageSummary)
    assert (usage.total_sessions, usage.total_minutes, usage.total_cost) == (0, 0.0, 0.0)
    assert (usage.breakdown, usage.balance_usd, usage.currency) == ([], 0.0, "USD")


async def test_bad_windows_are_422s(tenant: Tenant, stranger: AsyncSpeko) -> None:
    for window in ({"from_date": "last tuesday"}, {"to_date": "2026-02-30"}):
        with pytest.raises(spekoai.SpekoApiError) as bad:
            await tenant.speko.usage.get(**window)
        assert (bad.value.status, bad.value.code) == (422, "validation_error"), window
    with pytest.raises(spekoai.SpekoApiError) as backwards:
        await tenant.speko.usage.get(from_date="2026-03-01", to_date="2026-02-01")
    assert (backwards.value.status, backwards.value.code) == (422, "invalid_window")
    with pytest.raises(spekoai.SpekoAuthError):
        await stranger.usage.get()


@pytest.mark.usefixtures("worker")
async def test_a_reported_call_is_counted_and_priced(
    tenant: Tenant, simulator: Simulator, receiver: WebhookReceiver, database: Database
) -> None:
    line = await set_up_line(tenant, receiver)
    call_id = await a_finished_call(tenant, simulator, line)
    costs = await stored_costs(database, call_id)
    usage = await tenant.speko.usage.get()
    assert usage.total_sessions == 1
    assert usage.total_minutes == pytest.approx(costs["talk_seconds"] / 60, abs=1e-6)
    assert usage.total_cost == pytest.approx(costs["total"])
    by_item = {line.provider: line for line in usage.breakdown}
    assert set(by_item) == {item["item"] for item in costs["items"]}
    for item in costs["items"]:
        line = by_item[item["item"]]
        assert (line.quantity, line.cost) == (item["minutes"], pytest.approx(item["amount"]))
        assert (line.metric, line.key_source, line.charge_kind) == ("minutes", "MANAGED", "minutes")
    assert by_item["stt"].type == "stt" and by_item["telephony"].type is None
    assert usage.minutes_billed_seconds == by_item["telephony"].quantity * 60
    today = datetime.now(UTC).date()
    speko = tenant.sync_speko()
    try:
        same_day = await asyncio.to_thread(
            speko.usage.get, from_date=today.isoformat(), to_date=today.isoformat()
        )
        tomorrow = (today + timedelta(days=1)).isoformat()
        later = await asyncio.to_thread(speko.usage.get, from_date=tomorrow, to_date=tomorrow)
    finally:
        speko.close()
    assert same_day.total_sessions == 1 and same_day.total_cost == usage.total_cost
    assert (later.total_sessions, later.breakdown) == (0, [])
