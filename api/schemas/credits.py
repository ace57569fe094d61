"""Credit balance and ledger bodies, as the Speko SDK reads them (credits are US dollars)."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from api.schemas.common import ResponseModel
from trunkline.credits import LedgerKind


class BalanceOut(ResponseModel):
    balance_usd: float
    currency: Literal["USD"] = "USD"
    updated_at: Annotated[
        datetime, Field(description="The latest ledger entry's time, else the organization's.")
    ]


class LedgerEntryOut(ResponseModel):
    id: str
    kind: LedgerKind
    amount_micro_usd: Annotated[
        str, Field(description="Signed millionths of a dollar, as a string; negative is a debit.")
    ]
    metric: Annotated[str | None, Field(description="A debit's object: `call`, `phone_number`.")]
    provider: str | None = None
    session_id: Annotated[str | None, Field(description="The call a call charge was for.")]
    created_at: datetime


class LedgerPage(ResponseModel):
    """Newest first; pass `nextCursor` as `cursor` for older entries."""

    entries: list[LedgerEntryOut]
    next_cursor: str | None
