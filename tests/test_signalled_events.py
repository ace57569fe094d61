"""Which provider events a call's workflow hears of: only those that can move the call."""

import pytest

from trunkline.calls.signals import CallRef, moves_call
from trunkline.workflow_io import ProviderSignal


def telnyx(event_type: str) -> ProviderSignal:
    return ProviderSignal(provider_event_id="ev", provider="telnyx", event_type=event_type)


def call(direction: str, status: str, *, asked_for_amd: bool = False) -> CallRef:
    return CallRef("session_1", status, direction, asked_for_amd)


@pytest.mark.parametrize(
    ("event_type", "ref", "signalled"),
    [
        # the carrier's progress moves an outbound call until it is in progress
        ("call.initiated", call("outbound", "dialing"), True),
        ("call.answered", call("outbound", "ringing"), True),
        ("call.answered", call("outbound", "in-progress"), False),
        # an inbound call's answer and bridge are the workflow's own steps
        ("call.answered", call("inbound", "queued"), False),
        ("call.bridged", call("inbound", "in-progress"), False),
        # a carrier verdict counts only when AMD was asked for
        ("call.machine.detection.ended", call("outbound", "in-progress"), False),
        ("call.machine.detection.ended", call("outbound", "in-progress", asked_for_amd=True), True),
        # the phone leaving ends any call that has not ended
        ("call.hangup", call("inbound", "in-progress"), True),
        ("call.hangup", call("outbound", "ended"), False),
    ],
)
def test_a_call_hears_only_of_what_can_move_it(
    event_type: str, ref: CallRef, signalled: bool
) -> None:
    assert moves_call(telnyx(event_type), ref) is signalled


def test_the_phone_leaving_the_room_is_signalled_and_the_agent_leaving_is_not() -> None:
    left = ProviderSignal(provider_event_id="ev", provider="livekit", event_type="participant_left")
    phone = left.model_copy(update={"participant_is_phone": True, "participant_identity": "sip"})
    agent = left.model_copy(update={"participant_identity": "agent-1"})
    assert moves_call(phone, call("outbound", "in-progress"))
    assert not moves_call(agent, call("outbound", "in-progress"))


def test_only_the_first_word_of_the_phone_leaving_an_answered_call_is_signalled() -> None:
    """Both providers say the phone left, milliseconds apart; the second would reach a workflow
    already ending it (and have Temporal refuse that task's completion and run it again)."""
    left = ProviderSignal(provider_event_id="ev", provider="livekit", event_type="participant_left")
    phone = left.model_copy(update={"participant_is_phone": True, "participant_identity": "sip"})
    answered = call("inbound", "in-progress")
    told = answered._replace(phone_left_heard=True)
    for departure in (
        telnyx("call.hangup"),
        phone,
        ProviderSignal(provider_event_id="ev", provider="livekit", event_type="room_finished"),
    ):
        assert moves_call(departure, answered)
        assert not moves_call(departure, told)
    # before the answer the carrier's hangup carries why the call failed: always signalled
    assert moves_call(
        telnyx("call.hangup"), call("outbound", "ringing")._replace(phone_left_heard=True)
    )
