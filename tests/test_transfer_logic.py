"""The pure parts of transfers: event routing, the screening summary, the tool's destinations."""

import pytest

from api.errors import ApiError
from api.transfer_control import tool_destinations
from trunkline.calls.signals import consultation_room, signal_for, transfer_of_room
from trunkline.models import ProviderEvent, TranscriptEntry
from trunkline.pipeline import TransferCallTool
from trunkline.transfers import call_summary

ROOM = "consult-trf_01JD3ABCDEFGHJKMNPQRSTVWXY-2"


def telnyx_event(event_type: str, headers: list[dict[str, str]]) -> ProviderEvent:
    payload = {"call_control_id": "v3:x", "custom_headers": headers, "sip_hangup_cause": "486"}
    return ProviderEvent(
        provider="telnyx",
        event_id="e1",
        event_type=event_type,
        payload={"data": {"event_type": event_type, "payload": payload}},
    )


def livekit_event(room: str, identity: str, kind: str = "SIP") -> ProviderEvent:
    return ProviderEvent(
        provider="livekit",
        event_id="e2",
        event_type="participant_left",
        room_name=room,
        payload={"participant": {"identity": identity, "kind": kind}},
    )


def test_consultation_events_are_found_by_room_or_by_header() -> None:
    assert consultation_room(livekit_event(ROOM, "recipient-x")) == ROOM
    assert consultation_room(livekit_event("call-session_1", "phone-1")) is None
    header = [{"name": "x-trunkline-consultation", "value": ROOM}]
    assert consultation_room(telnyx_event("call.hangup", header)) == ROOM
    session_header = [{"name": "X-Trunkline-Session-Id", "value": "session_1"}]
    assert consultation_room(telnyx_event("call.hangup", session_header)) is None
    assert transfer_of_room(ROOM) == "trf_01JD3ABCDEFGHJKMNPQRSTVWXY"


def test_a_recipient_is_not_the_calls_phone() -> None:
    recipient = signal_for(livekit_event("call-s", "recipient-trf_1-1"))
    assert (recipient.participant_is_phone, recipient.participant_identity) == (
        False,
        "recipient-trf_1-1",
    )
    assert signal_for(livekit_event("call-s", "sip_+12015559876")).participant_is_phone
    assert not signal_for(livekit_event("call-s", "agent-AD_1", "AGENT")).participant_is_phone


def test_the_screening_summary_quotes_the_latest_lines() -> None:
    entries = [
        TranscriptEntry(call_id="s", entry_id=str(n), role=role, text=f"line {n}")
        for n, role in enumerate(["agent", "user"] * 6)
    ]
    summary = call_summary("+12015559876", {"plan": "gold", "empty": None}, entries)
    lines = summary.splitlines()
    assert lines[:3] == [
        "Caller: +12015559876.",
        "Call details: plan: gold.",
        "Latest conversation:",
    ]
    assert lines[3:] == [f"{'Caller' if n % 2 else 'Agent'}: line {n}" for n in range(4, 12)]
    assert call_summary("+1", {}, []).splitlines() == ["Caller: +1.", "Nothing has been said yet."]


TOOL = TransferCallTool.model_validate(
    {
        "type": "transfer_call",
        "destinations": [
            {"to": "+12015557001", "label": "Front desk"},
            {"to": "+12015557002", "label": "Overflow"},
            {"to": "+12015557003"},
        ],
    }
)


@pytest.mark.parametrize(
    ("to", "label", "first"),
    [
        (None, None, "+12015557001"),
        (None, "Overflow", "+12015557002"),
        ("+12015557003", None, "+12015557003"),
        ("+12015557002", "Overflow", "+12015557002"),
    ],
)
def test_the_tool_puts_the_asked_for_destination_first(
    to: str | None, label: str | None, first: str
) -> None:
    chosen = tool_destinations(TOOL, to, label)
    assert chosen[0].to == first
    assert sorted(d.to for d in chosen) == sorted(d.to for d in TOOL.destinations)


@pytest.mark.parametrize(("to", "label"), [("+12015550000", None), ("+12015557001", "Overflow")])
def test_the_tool_refuses_destinations_it_does_not_list(to: str, label: str | None) -> None:
    with pytest.raises(ApiError) as refused:
        tool_destinations(TOOL, to, label)
    assert (refused.value.status, refused.value.code) == (422, "unknown_destination")
