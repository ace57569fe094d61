"""Forwarded-from detection: number normalisation, Diversion, History-Info and precedence."""

from typing import Any

import pytest

from trunkline.calls.forwarding import (
    ForwardedFrom,
    forwarded_from,
    normalize_number,
    parse_diversion,
    parse_history_info,
)
from trunkline.numbers.e164 import check_e164

DIALED = "+15551230000"
ORIGINAL = "+15557654321"
MIDDLE = "+15558889999"
OTHER = "+15552223333"

FIELD_NOTES_DIVERSION = "<sip:+15557654321@host>;reason=unconditional;counter=1"
FIELD_NOTES_HISTORY = "<sip:+15557654321@a>;index=1, <sip:+15551230000@b;cause=302>;index=1.1"


@pytest.mark.parametrize(
    "value",
    [
        "+15557654321",
        "15557654321",
        "5557654321",
        "+1 (555) 765-4321",
        "(555) 765-4321",
        "555.765.4321",
        "1-555-765-4321",
        "  +15557654321  ",
        "tel:+15557654321",
        "tel:+1-555-765-4321",
        "tel:+15557654321;phone-context=example.com",
        "TEL:5557654321;phone-context=+1",
        "sip:+15557654321@host",
        "sip:+15557654321@host;user=phone",
        "sip:15557654321@host:5060;transport=udp",
        "sip:5557654321@10.0.0.1",
        "sips:+15557654321@host",
        "SIP:+15557654321@Host",
        "sip:+15557654321;npdi@host;user=phone",
        "sip:%2B15557654321@host",
        "sip:+15557654321@host?X-Header=1",
        "<sip:15557654321@host>",
        "<sip:+15557654321@host;user=phone>",
        "<tel:+15557654321>",
        '"Bob" <sip:+15557654321@h>',
        '"Smith, Bob <boss>" <sip:+15557654321@h>',
        '"Say \\"hi\\"" <sip:+15557654321@h>',
        "Bob <sip:+15557654321@h>",
    ],
)
def test_normalize_number_accepts(value: str) -> None:
    assert normalize_number(value) == ORIGINAL
    assert check_e164(ORIGINAL) == ORIGINAL


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "anonymous",
        "Anonymous",
        "unknown",
        "sip:alice@example.com",
        "sip:anonymous@anonymous.invalid",
        "<sip:alice@example.com>",
        '"Alice" <sip:alice@example.com>',
        "sip:example.com",
        "sip:+15557654321",
        "mailto:+15557654321@host",
        "http://15557654321",
        "+",
        "+0123456789",
        "+1234",
        "+1234567890123456",
        "1234",
        "555-7654",
        "25557654321",
        "015557654321",
        "+1555765432a",
        "+1 555 765 4321 ext 12",
        "1+5557654321",
        "<>",
        "<sip:+15557654321@host",
        '"Bob <sip:+15557654321@h>',
    ],
)
def test_normalize_number_rejects(value: str) -> None:
    assert normalize_number(value) is None


@pytest.mark.parametrize(
    ("value", "country_code", "expected"),
    [
        ("2079460958", "44", "+442079460958"),
        ("442079460958", "44", "+442079460958"),
        ("2079460958", "+44", "+442079460958"),
        ("+15557654321", "44", "+15557654321"),
        ("15557654321", "44", None),
        ("5557654321", "x", None),
    ],
)
def test_normalize_number_default_country_code(
    value: str, country_code: str, expected: str | None
) -> None:
    assert normalize_number(value, country_code) == expected


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            [FIELD_NOTES_DIVERSION],
            ForwardedFrom(ORIGINAL, "unconditional", "diversion"),
            id="field-notes",
        ),
        pytest.param(
            [f"<sip:{MIDDLE}@h>;reason=user-busy", f"<sip:{ORIGINAL}@h>;reason=no-answer"],
            ForwardedFrom(ORIGINAL, "no-answer", "diversion"),
            id="two-headers-last-is-original",
        ),
        pytest.param(
            [
                f"<sip:{OTHER}@h>;reason=deflection",
                f"<sip:{MIDDLE}@h>;reason=user-busy",
                f"<tel:{ORIGINAL}>;reason=unavailable",
            ],
            ForwardedFrom(ORIGINAL, "unavailable", "diversion"),
            id="three-headers",
        ),
        pytest.param(
            [f"<sip:{MIDDLE}@h>;reason=user-busy, <sip:{ORIGINAL}@h>;reason=no-answer"],
            ForwardedFrom(ORIGINAL, "no-answer", "diversion"),
            id="two-entries-in-one-value",
        ),
        pytest.param(
            [f"<sip:{OTHER}@h>;reason=deflection", f"<sip:{MIDDLE}@h>, <sip:{ORIGINAL}@h>"],
            ForwardedFrom(ORIGINAL, None, "diversion"),
            id="mixed-headers-and-entries",
        ),
        pytest.param(
            [f'<sip:{ORIGINAL}@h>;reason="user-busy";counter=1'],
            ForwardedFrom(ORIGINAL, "user-busy", "diversion"),
            id="quoted-reason",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@h>;Reason=No-Answer"],
            ForwardedFrom(ORIGINAL, "no-answer", "diversion"),
            id="reason-case",
        ),
        pytest.param(
            [f'<sip:{ORIGINAL}@h>;counter=2;reason = " Time-Of-Day " ;privacy=off'],
            ForwardedFrom(ORIGINAL, "time-of-day", "diversion"),
            id="spaced-quoted-reason",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@h>;counter=1"],
            ForwardedFrom(ORIGINAL, None, "diversion"),
            id="no-reason",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@h>;reason="],
            ForwardedFrom(ORIGINAL, None, "diversion"),
            id="empty-reason",
        ),
        pytest.param(
            [
                f'"Smith, Bob" <sip:{MIDDLE}@h>;reason=user-busy,'
                f' "Jones, Ann" <sip:{ORIGINAL}@h>;reason=unconditional'
            ],
            ForwardedFrom(ORIGINAL, "unconditional", "diversion"),
            id="commas-in-display-names",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@h;x=a,b>;reason=deflection"],
            ForwardedFrom(ORIGINAL, "deflection", "diversion"),
            id="comma-inside-angle-brackets",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@h>;reason=no-answer, <sip:alice@example.com>;reason=deflection"],
            ForwardedFrom(ORIGINAL, "no-answer", "diversion"),
            id="non-phone-last-entry-skipped",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@h>;reason=no-answer", "<sip:anonymous@anonymous.invalid>"],
            ForwardedFrom(ORIGINAL, "no-answer", "diversion"),
            id="non-phone-last-header-skipped",
        ),
        pytest.param(
            [f"sip:{ORIGINAL}@h;reason=unconditional"],
            ForwardedFrom(ORIGINAL, "unconditional", "diversion"),
            id="bare-addr-spec",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@h>;reason=unconditional", "", " , "],
            ForwardedFrom(ORIGINAL, "unconditional", "diversion"),
            id="empty-values-ignored",
        ),
    ],
)
def test_parse_diversion(values: list[str], expected: ForwardedFrom) -> None:
    assert parse_diversion(values) == expected


@pytest.mark.parametrize(
    "values",
    [
        [],
        [""],
        [",,,"],
        ["<sip:alice@example.com>;reason=unconditional"],
        ["garbage;;;==="],
        ["<sip:+15557654321@h"],
        ['"unterminated <sip:alice@h>'],
        [";reason=unconditional"],
    ],
)
def test_parse_diversion_without_a_number(values: list[str]) -> None:
    assert parse_diversion(values) is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param(
            [FIELD_NOTES_HISTORY],
            ForwardedFrom(ORIGINAL, "unconditional", "history-info"),
            id="field-notes",
        ),
        pytest.param(
            [
                f"<sip:{ORIGINAL}@a>;index=1, <sip:{MIDDLE}@b;cause=486>;index=1.1,"
                f" <sip:{DIALED}@c;cause=408>;index=1.1.1"
            ],
            ForwardedFrom(ORIGINAL, "user-busy", "history-info"),
            id="chain-1-1.1-1.1.1",
        ),
        pytest.param(
            [
                f"<sip:{DIALED}@c;cause=408>;index=1.1.1",
                f"<sip:{MIDDLE}@b;cause=486>;index=1.1",
                f"<sip:{ORIGINAL}@a>;index=1",
            ],
            ForwardedFrom(ORIGINAL, "user-busy", "history-info"),
            id="out-of-order-across-values",
        ),
        pytest.param(
            [
                f"<sip:{ORIGINAL}@a>;index=1, <sip:{MIDDLE}@b>;index=1.1",
                f"<sip:{DIALED}@c;cause=480>;index=1.1.1",
            ],
            ForwardedFrom(MIDDLE, "unavailable", "history-info"),
            id="first-retarget-deeper",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@a>;index=1, <sip:{DIALED}@b>;index=1.1"],
            ForwardedFrom(ORIGINAL, None, "history-info"),
            id="no-cause-uses-first-entry",
        ),
        pytest.param(
            [f"<sip:{DIALED}@b>;index=1.1", f"<sip:{ORIGINAL}@a>;index=1"],
            ForwardedFrom(ORIGINAL, None, "history-info"),
            id="no-cause-first-by-index",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@a>;index=1, <sip:{DIALED}@b>;index=1.1;cause=302"],
            ForwardedFrom(ORIGINAL, "unconditional", "history-info"),
            id="cause-as-header-param",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@a>;index=1, <sip:{DIALED}@b;user=phone;cause=487?X=1>;index=1.1"],
            ForwardedFrom(ORIGINAL, "deflection", "history-info"),
            id="cause-among-uri-params",
        ),
        pytest.param(
            [f"<tel:{ORIGINAL}>;index=1, <tel:{DIALED};cause=503>;index=1.1"],
            ForwardedFrom(ORIGINAL, "unavailable", "history-info"),
            id="tel-uris",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@a>;index=1, <sip:{DIALED}@b;cause=404>;index=1.1"],
            ForwardedFrom(ORIGINAL, "unknown", "history-info"),
            id="cause-404",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@a>;index=1, <sip:{DIALED}@b;cause=600>;index=1.1"],
            ForwardedFrom(ORIGINAL, None, "history-info"),
            id="unmapped-cause",
        ),
        pytest.param(
            [f"<sip:{ORIGINAL}@a>;index=1, <sip:{DIALED}@b;cause=>;index=1.1"],
            ForwardedFrom(ORIGINAL, None, "history-info"),
            id="empty-cause",
        ),
        pytest.param(
            [
                f"<sip:{OTHER}@x;cause=302>;index=1.10",
                f"<sip:{MIDDLE}@y>;index=1.9",
                f"<sip:{DIALED}@z;cause=486>;index=1.9.1",
            ],
            ForwardedFrom(MIDDLE, "user-busy", "history-info"),
            id="1.9-before-1.10",
        ),
        pytest.param(
            [
                f"<sip:{ORIGINAL}@a>;index=1",
                f"<sip:{MIDDLE}@b>;index=1.1",
                f"<sip:{DIALED}@c;cause=408>;index=1.2",
            ],
            ForwardedFrom(ORIGINAL, "no-answer", "history-info"),
            id="sibling-retarget-points-at-parent",
        ),
        pytest.param(
            [f"<sip:{MIDDLE}@b>;index=1.1, <sip:{DIALED}@c;cause=302>;index=1.1.1.1"],
            ForwardedFrom(MIDDLE, "unconditional", "history-info"),
            id="missing-parent-uses-previous",
        ),
        pytest.param(
            [
                f"<sip:alice@pbx>;index=1, <sip:{ORIGINAL}@b;cause=302>;index=1.1,"
                f" <sip:{DIALED}@c;cause=486>;index=1.1.1"
            ],
            ForwardedFrom(ORIGINAL, "user-busy", "history-info"),
            id="non-phone-retarget-skipped",
        ),
        pytest.param(
            [
                f'"Smith, Bob" <sip:{ORIGINAL}@a>;index=1,'
                f' "Jones, Ann" <sip:{DIALED}@b;cause=302>;index=1.1'
            ],
            ForwardedFrom(ORIGINAL, "unconditional", "history-info"),
            id="commas-in-display-names",
        ),
        pytest.param(
            [
                f"<sip:{ORIGINAL}@a>;index=1, <sip:{OTHER}@a>;index=1,"
                f" <sip:{DIALED}@b;cause=302>;index=1.1"
            ],
            ForwardedFrom(ORIGINAL, "unconditional", "history-info"),
            id="duplicate-index-first-wins",
        ),
        pytest.param(
            [
                f"<sip:{OTHER}@x>;index=abc, <sip:{OTHER}@y;cause=302>",
                f"<sip:{ORIGINAL}@a>;index=1, <sip:{DIALED}@b;cause=302>;index=1.1",
            ],
            ForwardedFrom(ORIGINAL, "unconditional", "history-info"),
            id="entries-without-valid-index-ignored",
        ),
    ],
)
def test_parse_history_info(values: list[str], expected: ForwardedFrom) -> None:
    assert parse_history_info(values) == expected


@pytest.mark.parametrize(
    "values",
    [
        [],
        [""],
        [f"<sip:{ORIGINAL}@a>;index=1"],
        [f"<sip:{ORIGINAL}@a;cause=302>;index=1"],
        [f"<sip:{ORIGINAL}@a>, <sip:{DIALED}@b;cause=302>"],
        ["<sip:alice@a>;index=1, <sip:bob@b;cause=302>;index=1.1"],
        ["<sip:alice@a>;index=1, <sip:+15551230000@b>;index=1.1"],
        ["garbage;index=1.., ;index=, <>;index=1.1"],
    ],
)
def test_parse_history_info_without_a_number(values: list[str]) -> None:
    assert parse_history_info(values) is None


def telnyx(**fields: Any) -> dict[str, Any]:
    """A call.initiated payload carrying the given fields."""
    return {"call_control_id": "v3:abc", "direction": "incoming", "to": DIALED, **fields}


ALL_SOURCES = {
    "forwarded_from": "+15550000001",
    "redirecting_number": "+15550000002",
    "diversion": "<sip:+15550000003@h>;reason=user-busy",
    "history-info": "<sip:+15550000004@a>;index=1, <sip:+15551230000@b;cause=408>;index=1.1",
    "original_to": "+15550000005",
}
SOURCE_NUMBERS = {
    "forwarded_from": ("+15550000001", None),
    "redirecting_number": ("+15550000002", None),
    "diversion": ("+15550000003", "user-busy"),
    "history-info": ("+15550000004", "no-answer"),
    "original_to": ("+15550000005", None),
}


def payload_with(sources: list[str]) -> dict[str, Any]:
    """A Telnyx payload holding only the given sources, headers in Telnyx's list shape."""
    headers = [
        {"name": name.title(), "value": ALL_SOURCES[name]}
        for name in ("diversion", "history-info")
        if name in sources
    ]
    fields = {
        name: ALL_SOURCES[name]
        for name in ("forwarded_from", "redirecting_number", "original_to")
        if name in sources
    }
    return telnyx(sip_headers=headers, **fields)


@pytest.mark.parametrize("winner", list(SOURCE_NUMBERS))
def test_each_source_wins_when_higher_ones_are_absent(winner: str) -> None:
    order = list(SOURCE_NUMBERS)
    present = order[order.index(winner) :]
    result = forwarded_from(dialed_number=DIALED, telnyx_payload=payload_with(present))
    assert result == ForwardedFrom(*SOURCE_NUMBERS[winner], winner)


@pytest.mark.parametrize("winner", list(SOURCE_NUMBERS))
def test_a_source_alone_wins(winner: str) -> None:
    result = forwarded_from(dialed_number=DIALED, telnyx_payload=payload_with([winner]))
    assert result == ForwardedFrom(*SOURCE_NUMBERS[winner], winner)


@pytest.mark.parametrize(
    ("payload", "expected_source"),
    [
        (telnyx(forwarded_from=DIALED, redirecting_number=ORIGINAL), "redirecting_number"),
        (
            telnyx(
                redirecting_number="tel:+15551230000",
                sip_headers=[{"name": "Diversion", "value": f"<sip:{ORIGINAL}@h>"}],
            ),
            "diversion",
        ),
        (
            telnyx(
                sip_headers=[
                    {"name": "Diversion", "value": f"<sip:{DIALED}@h>;reason=deflection"},
                    {"name": "History-Info", "value": f"<sip:{ORIGINAL}@a>;index=1, <x>;index=2"},
                ]
            ),
            "history-info",
        ),
        (telnyx(forwarded_from="5551230000", original_to=ORIGINAL), "original_to"),
    ],
)
def test_candidate_equal_to_dialed_number_is_skipped(
    payload: dict[str, Any], expected_source: str
) -> None:
    result = forwarded_from(dialed_number=DIALED, telnyx_payload=payload)
    assert result is not None
    assert (result.number, result.source) == (ORIGINAL, expected_source)


@pytest.mark.parametrize("dialed", [DIALED, "5551230000", "sip:+15551230000@sip.telnyx.com"])
def test_original_to_equal_to_dialed_number_means_not_forwarded(dialed: str) -> None:
    assert forwarded_from(dialed_number=dialed, telnyx_payload=telnyx(original_to=DIALED)) is None


@pytest.mark.parametrize("dialed", [None, "", "anonymous"])
def test_without_a_dialed_number_nothing_is_skipped(dialed: str | None) -> None:
    result = forwarded_from(dialed_number=dialed, telnyx_payload=telnyx(original_to=DIALED))
    assert result == ForwardedFrom(DIALED, None, "original_to")


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            {
                "forwarded_from": "5557654321",
                "sip_headers": [{"name": "Diversion", "value": FIELD_NOTES_DIVERSION}],
            },
            ForwardedFrom(ORIGINAL, "unconditional", "forwarded_from"),
            id="from-diversion",
        ),
        pytest.param(
            {
                "redirecting_number": ORIGINAL,
                "sip_headers": [{"name": "History-Info", "value": FIELD_NOTES_HISTORY}],
            },
            ForwardedFrom(ORIGINAL, "unconditional", "redirecting_number"),
            id="from-history-info",
        ),
        pytest.param(
            {
                "original_to": ORIGINAL,
                "sip_headers": [
                    {"name": "Diversion", "value": f"<sip:{ORIGINAL}@h>;reason=user-busy"},
                    {"name": "History-Info", "value": FIELD_NOTES_HISTORY},
                ],
            },
            ForwardedFrom(ORIGINAL, "user-busy", "diversion"),
            id="diversion-wins-over-original-to",
        ),
        pytest.param(
            {
                "forwarded_from": ORIGINAL,
                "sip_headers": [
                    {"name": "Diversion", "value": f"<sip:{ORIGINAL}@h>"},
                    {"name": "History-Info", "value": FIELD_NOTES_HISTORY},
                ],
            },
            ForwardedFrom(ORIGINAL, "unconditional", "forwarded_from"),
            id="diversion-without-reason-then-history-info",
        ),
        pytest.param(
            {
                "sip_headers": [
                    {"name": "Diversion", "value": f"<sip:{ORIGINAL}@h>"},
                    {"name": "History-Info", "value": FIELD_NOTES_HISTORY},
                ],
            },
            ForwardedFrom(ORIGINAL, "unconditional", "diversion"),
            id="diversion-borrows-from-history-info",
        ),
        pytest.param(
            {
                "forwarded_from": ORIGINAL,
                "sip_headers": [{"name": "Diversion", "value": f"<sip:{OTHER}@h>;reason=x"}],
            },
            ForwardedFrom(ORIGINAL, None, "forwarded_from"),
            id="different-number-lends-no-reason",
        ),
    ],
)
def test_reason_is_borrowed_only_for_the_same_number(
    fields: dict[str, Any], expected: ForwardedFrom
) -> None:
    assert forwarded_from(dialed_number=DIALED, telnyx_payload=telnyx(**fields)) == expected


EXPECTED_DIVERSION = ForwardedFrom(ORIGINAL, "unconditional", "diversion")


@pytest.mark.parametrize(
    "sip_headers",
    [
        pytest.param([("Diversion", FIELD_NOTES_DIVERSION)], id="pairs"),
        pytest.param([["diversion", FIELD_NOTES_DIVERSION]], id="lists"),
        pytest.param((("DIVERSION", FIELD_NOTES_DIVERSION),), id="tuple-of-pairs"),
        pytest.param(iter([("Diversion", FIELD_NOTES_DIVERSION)]), id="iterator"),
        pytest.param({"Diversion": FIELD_NOTES_DIVERSION}, id="mapping"),
        pytest.param({"diversion": [FIELD_NOTES_DIVERSION]}, id="mapping-of-lists"),
        pytest.param({" Diversion ": FIELD_NOTES_DIVERSION}, id="padded-name"),
        pytest.param([{"name": "Diversion", "value": FIELD_NOTES_DIVERSION}], id="telnyx-list"),
        pytest.param(
            {"Diversion": [f"<sip:{MIDDLE}@h>;reason=no-answer", FIELD_NOTES_DIVERSION]},
            id="mapping-of-several",
        ),
        pytest.param(
            [("Via", "SIP/2.0/UDP x"), ("X-Foo", "1"), ("Diversion", FIELD_NOTES_DIVERSION)],
            id="among-other-headers",
        ),
    ],
)
def test_sip_header_shapes(sip_headers: Any) -> None:
    assert forwarded_from(dialed_number=DIALED, sip_headers=sip_headers) == EXPECTED_DIVERSION


@pytest.mark.parametrize("key", ["sip_headers", "custom_headers"])
def test_telnyx_payload_header_lists(key: str) -> None:
    payload = telnyx(**{key: [{"name": "diversion", "value": FIELD_NOTES_DIVERSION}]})
    assert forwarded_from(dialed_number=DIALED, telnyx_payload=payload) == EXPECTED_DIVERSION


def test_payload_headers_come_before_separate_headers() -> None:
    payload = telnyx(sip_headers=[{"name": "Diversion", "value": f"<sip:{MIDDLE}@h>"}])
    result = forwarded_from(
        dialed_number=DIALED,
        telnyx_payload=payload,
        sip_headers=[("Diversion", FIELD_NOTES_DIVERSION)],
    )
    assert result == EXPECTED_DIVERSION


def test_history_info_from_field_notes_with_telnyx_payload() -> None:
    payload = telnyx(sip_headers=[{"name": "History-Info", "value": FIELD_NOTES_HISTORY}])
    result = forwarded_from(dialed_number=DIALED, telnyx_payload=payload)
    assert result == ForwardedFrom(ORIGINAL, "unconditional", "history-info")


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({}, id="nothing"),
        pytest.param({"telnyx_payload": None, "sip_headers": None}, id="nones"),
        pytest.param({"telnyx_payload": {}, "sip_headers": []}, id="empties"),
        pytest.param({"sip_headers": {}}, id="empty-mapping"),
        pytest.param({"telnyx_payload": telnyx()}, id="plain-call"),
        pytest.param(
            {
                "telnyx_payload": telnyx(
                    forwarded_from=None, redirecting_number="", original_to=None
                )
            },
            id="null-fields",
        ),
        pytest.param(
            {"telnyx_payload": telnyx(forwarded_from=15557654321, original_to=["+15557654321"])},
            id="non-string-fields",
        ),
        pytest.param(
            {"telnyx_payload": telnyx(forwarded_from="anonymous", redirecting_number="sip:a@b")},
            id="non-number-fields",
        ),
        pytest.param(
            {"telnyx_payload": telnyx(sip_headers=None, custom_headers=None)}, id="null-headers"
        ),
        pytest.param({"telnyx_payload": telnyx(sip_headers="Diversion: x")}, id="string-headers"),
        pytest.param({"telnyx_payload": telnyx(sip_headers=42)}, id="number-headers"),
        pytest.param(
            {
                "telnyx_payload": telnyx(
                    sip_headers=[
                        None,
                        42,
                        "Diversion",
                        {},
                        {"name": "Diversion"},
                        {"name": "Diversion", "value": None},
                        {"name": None, "value": FIELD_NOTES_DIVERSION},
                        {"value": FIELD_NOTES_DIVERSION},
                        ["Diversion"],
                        ("Diversion", FIELD_NOTES_DIVERSION, "extra"),
                    ]
                )
            },
            id="malformed-header-items",
        ),
        pytest.param({"sip_headers": {"Diversion": None, "History-Info": 7}}, id="bad-values"),
        pytest.param({"sip_headers": {"Diversion": [None, 3]}}, id="bad-list-values"),
        pytest.param(
            {
                "sip_headers": [
                    ("Diversion", ";;;,,,<<>>\"'"),
                    ("Diversion", "<sip:alice@example.com>;reason=unconditional"),
                    ("History-Info", "<sip:x@y>;index=1.a, <>;index=, garbage"),
                    ("History-Info", "<sip:+15557654321@a;cause=302>;index=1"),
                ]
            },
            id="malformed-header-values",
        ),
        pytest.param({"telnyx_payload": "not a mapping"}, id="payload-not-a-mapping"),
    ],
)
def test_garbage_means_not_forwarded(kwargs: dict[str, Any]) -> None:
    assert forwarded_from(dialed_number=DIALED, **kwargs) is None
