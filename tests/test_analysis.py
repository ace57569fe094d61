"""The rule-based analyzer, callback times, calling windows, number zones and the rate card."""

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from trunkline.calls.calling_window import next_in_window
from trunkline.numbers.zones import zone_for_number
from trunkline.pipeline import ExtractionRule
from trunkline.reports.analysis.callback_time import find_callback_request
from trunkline.reports.analysis.rules import CallFacts, analyze, extract
from trunkline.reports.costs import RateCard, billable_minutes, cost_breakdown

NEW_YORK = ZoneInfo("America/New_York")
ENDED = datetime(2026, 11, 24, 20, 0, tzinfo=UTC)  # Tuesday, 15:00 in New York


@pytest.mark.parametrize(
    ("said", "text", "local"),
    [
        ("Can you call me back tomorrow at 3 pm?", "tomorrow at 3 pm", "2026-11-25T15:00"),
        ("Please call me back in 2 hours.", "in 2 hours", "2026-11-24T17:00"),
        ("call me back on Friday morning", "on Friday morning", "2026-11-27T09:00"),
        ("Call me back at 9:30am", "at 9:30am", "2026-11-25T09:30"),  # 9:30 today has passed
        ("ring me back tonight", "tonight", "2026-11-24T19:00"),
        ("just call me back at 4", "at 4", "2026-11-24T16:00"),
        ("call me back next Tuesday at 11", "next Tuesday at 11", "2026-12-01T11:00"),
        ("call us back at 17:45", "at 17:45", "2026-11-24T17:45"),
        ("call me back tomorrow in the afternoon", "tomorrow in the afternoon", "2026-11-25T14:00"),
        ("Call me back at 8 p.m. please", "at 8 pm please", "2026-11-24T20:00"),
        ("call me back tonight at 9", "tonight at 9", "2026-11-24T21:00"),
        ("call me back this evening at 9", "this evening at 9", "2026-11-24T21:00"),
        ("call me back today at 2 pm", "today at 2 pm", "2026-11-25T14:00"),  # 2 pm has passed
        ("call me back at noon", "at noon", "2026-11-25T12:00"),
    ],
)
def test_callback_requests_are_read_in_the_organizations_zone(
    said: str, text: str, local: str
) -> None:
    request = find_callback_request(["Hello.", said], ENDED, NEW_YORK)
    assert request is not None and request.text == text
    assert request.at is not None
    assert request.at.astimezone(NEW_YORK).isoformat().startswith(local)


def test_relative_times_count_real_hours_across_a_clock_change() -> None:
    before_fall_back = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT, an hour before
    request = find_callback_request(["call me back in 2 hours"], before_fall_back, NEW_YORK)
    assert request is not None and request.at == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)


@pytest.mark.parametrize("said", ["Call me back later.", "Call me back when you can"])
def test_a_callback_request_without_a_time(said: str) -> None:
    request = find_callback_request([said], ENDED, NEW_YORK)
    assert request is not None and request.at is None


@pytest.mark.parametrize("said", ["I'll call you tomorrow.", "Thanks, bye!", "Call the office."])
def test_no_callback_request(said: str) -> None:
    assert find_callback_request([said], ENDED, NEW_YORK) is None


def facts(**overrides: object) -> CallFacts:
    values: dict = {
        "direction": "inbound",
        "status": "ended",
        "failure_cause": None,
        "ended_reason": "caller_hung_up",
        "answered_machine": False,
        "party": "+12015559876",
        "talk_seconds": 125,
        "transcript": [("agent", "Hi, Acme."), ("user", "I need help with my invoice please.")],
        "messages": [],
        "transferred": False,
        "rules": [],
        "ended_at": ENDED,
        "zone": NEW_YORK,
    }
    return CallFacts(**{**values, **overrides})


@pytest.mark.parametrize(
    ("overrides", "outcome"),
    [
        ({}, "completed"),
        ({"status": "failed", "failure_cause": "busy"}, "busy"),
        ({"status": "failed", "failure_cause": "machine"}, "voicemail"),
        ({"status": "failed", "failure_cause": "rejected"}, "failed"),
        ({"answered_machine": True}, "voicemail"),
        ({"transferred": True}, "transferred"),
        ({"messages": [{"message": "Call Ann"}]}, "message_taken"),
        ({"transcript": [("user", "Call me back tomorrow at 10")]}, "callback_requested"),
        ({"transcript": [("agent", "Hello?")]}, "no_conversation"),
    ],
)
def test_the_outcome_follows_how_the_call_ended(overrides: dict, outcome: str) -> None:
    assert analyze(facts(**overrides)).outcome == outcome


def test_the_summary_says_who_how_long_and_what() -> None:
    summary = analyze(facts(messages=[{"message": "Call Ann about the invoice"}])).summary
    assert summary == (
        "Inbound call from +12015559876, 2 min 5 s: message taken. "
        'The caller said: "I need help with my invoice please." '
        'A message was taken: "Call Ann about the invoice"'
    )


@pytest.mark.parametrize(
    ("rule", "text", "value"),
    [
        (
            {"name": "email", "type": "email"},
            "it's Sam.Lee+x@mail.example.co.uk ok",
            "Sam.Lee+x@mail.example.co.uk",
        ),
        ({"name": "phone", "type": "phone"}, "reach me on 415 555 0100", "+14155550100"),
        ({"name": "phone", "type": "phone"}, "or +44 20 7123 4567", "+442071234567"),
        ({"name": "n", "type": "number"}, "about 2,5 hours", 2.5),
        ({"name": "n", "type": "number", "pattern": r"(\d+) seats"}, "10 users, 12 seats", 12),
        ({"name": "b", "type": "boolean", "keywords": ["Premium"]}, "the premium one", True),
        ({"name": "b", "type": "boolean", "keywords": ["premium"]}, "the basic one", False),
        ({"name": "order", "pattern": r"order (\w+)"}, "my order AB12 is late", "AB12"),
        ({"name": "email", "type": "email"}, "no address here", None),
        # a custom pattern that captured no number: no value, never an analysis that fails
        ({"name": "n", "type": "number", "pattern": r"order (\w+)"}, "my order ABC", None),
    ],
)
def test_extraction_rules(rule: dict, text: str, value: object) -> None:
    assert extract(ExtractionRule.model_validate(rule), text) == value


@pytest.mark.parametrize(
    "rule",
    [
        {"name": "x"},
        {"name": "x", "pattern": "("},
        {"name": "x", "type": "boolean"},
        {"name": "1x", "type": "email"},
    ],
)
def test_unusable_extraction_rules_are_refused(rule: dict) -> None:
    with pytest.raises(ValueError):
        ExtractionRule.model_validate(rule)


@pytest.mark.parametrize(
    ("at", "moved_to"),
    [
        ("2026-11-24T14:00:00+00:00", "2026-11-24T14:00:00+00:00"),  # 09:00 in NY: open
        ("2026-11-24T13:59:00+00:00", "2026-11-24T14:00:00+00:00"),  # 08:59: wait a minute
        ("2026-11-25T01:00:00+00:00", "2026-11-25T14:00:00+00:00"),  # 20:00: next morning
    ],
)
def test_calling_windows(at: str, moved_to: str) -> None:
    moved = next_in_window(datetime.fromisoformat(at), NEW_YORK, time(9), time(20))
    assert moved == datetime.fromisoformat(moved_to)


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+12015551234", "America/New_York"),
        ("+14155550100", "America/Los_Angeles"),
        ("+13125550100", "America/Chicago"),
        ("+16025550100", "America/Phoenix"),
        ("+442071234567", "Europe/London"),
        ("+35312345678", "Europe/Dublin"),
        ("+15555550100", None),
        ("+79161234567", None),
    ],
)
def test_number_zones(number: str, zone: str | None) -> None:
    assert zone_for_number(number) == zone


def test_costs_round_up_per_increment_and_add_up() -> None:
    assert billable_minutes(0, 60) == 0
    assert billable_minutes(61, 60) == 2
    assert billable_minutes(61, 6) == pytest.approx(1.1)
    rates = RateCard(billing_increment_seconds=60)
    costs = cost_breakdown(
        rates,
        direction="inbound",
        talk_seconds=90,
        transfer_leg_seconds=[30, 61],
        recording_seconds=90,
    )
    items = {i["item"]: i for i in costs["items"]}
    assert items["telephony"]["rate_per_minute"] == rates.telephony_inbound_per_minute
    assert items["telephony"]["minutes"] == 2
    assert items["transfer_legs"]["minutes"] == 3  # each leg rounded on its own
    assert costs["total"] == pytest.approx(2 * (0.01 + 0.01 + 0.02 + 0.03 + 0.002) + 3 * 0.014)
