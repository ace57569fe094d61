"""What a call costs: minutes from its timestamps, priced by the deployment's rate card."""

import math
from typing import Any

from pydantic import BaseModel, Field


class RateCard(BaseModel):
    """Credits per minute for each part of a call, and the billing increment (rounded up)."""

    telephony_inbound_per_minute: float = Field(0.01, ge=0)
    telephony_outbound_per_minute: float = Field(0.014, ge=0)
    stt_per_minute: float = Field(0.01, ge=0)
    llm_per_minute: float = Field(0.02, ge=0)
    tts_per_minute: float = Field(0.03, ge=0)
    transfer_leg_per_minute: float = Field(0.014, ge=0)
    recording_per_minute: float = Field(0.002, ge=0)
    billing_increment_seconds: int = Field(60, ge=1, le=3600)


def billable_minutes(seconds: float, increment_seconds: int) -> float:
    """`seconds` rounded up to whole increments, in minutes (nothing for no time at all)."""
    if seconds <= 0:
        return 0.0
    return math.ceil(round(seconds, 3) / increment_seconds) * increment_seconds / 60


def cost_breakdown(
    rates: RateCard,
    *,
    direction: str,
    talk_seconds: float,
    transfer_leg_seconds: list[float],
    recording_seconds: float,
) -> dict[str, Any]:
    """The report's cost breakdown: one line per part, each rounded per the rate card."""
    telephony_rate = (
        rates.telephony_inbound_per_minute
        if direction == "inbound"
        else rates.telephony_outbound_per_minute
    )
    talk = billable_minutes(talk_seconds, rates.billing_increment_seconds)
    parts = [
        ("telephony", talk, telephony_rate),
        ("stt", talk, rates.stt_per_minute),
        ("llm", talk, rates.llm_per_minute),
        ("tts", talk, rates.tts_per_minute),
        (
            "transfer_legs",
            sum(billable_minutes(s, rates.billing_increment_seconds) for s in transfer_leg_seconds),
            rates.transfer_leg_per_minute,
        ),
        (
            "recording",
            billable_minutes(recording_seconds, rates.billing_increment_seconds),
            rates.recording_per_minute,
        ),
    ]
    items = [
        {
            "item": item,
            "minutes": minutes,
            "rate_per_minute": rate,
            "amount": round(minutes * rate, 6),
        }
        for item, minutes, rate in parts
    ]
    return {
        "currency": "credits",
        "billing_increment_seconds": rates.billing_increment_seconds,
        "talk_seconds": round(talk_seconds, 3),
        "items": items,
        "total": round(sum(i["amount"] for i in items), 6),
    }
