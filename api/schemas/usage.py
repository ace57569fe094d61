"""The usage summary body, as the Speko SDK's `UsageSummary` reads it."""

from typing import Annotated, Literal

from pydantic import Field

from api.schemas.common import ResponseModel


class UsageLineOut(ResponseModel):
    provider: Annotated[
        str, Field(description="The cost breakdown line: telephony, stt, llm, tts, transfer_legs…")
    ]
    type: Literal["stt", "llm", "tts"] | None
    metric: Literal["minutes"] = "minutes"
    key_source: Literal["MANAGED"] = "MANAGED"
    charge_kind: Literal["minutes"] = "minutes"
    quantity: Annotated[float, Field(description="Billed minutes.")]
    cost: Annotated[float, Field(description="US dollars.")]


class UsageOut(ResponseModel):
    total_sessions: Annotated[int, Field(description="Calls created in the window.")]
    total_minutes: Annotated[float, Field(description="Their talk time, unrounded.")]
    total_cost: float
    minutes_cost: float
    minutes_billed_seconds: float
    add_on_cost: float
    breakdown: list[UsageLineOut]
    balance_usd: float
    currency: Literal["USD"] = "USD"
