"""`/v1/credits`: the organization's prepaid balance and the ledger of every change to it."""

from fastapi import APIRouter

from api.deps import CurrentOrganization, DbSession
from api.errors import error_responses
from api.schemas.common import PageCursor, PageLimit
from api.schemas.credits import BalanceOut, LedgerEntryOut, LedgerPage
from trunkline import credits
from trunkline.models import CreditLedgerEntry
from trunkline.organizations import MICROS_PER_CREDIT

router = APIRouter(prefix="/v1/credits", tags=["credits"], responses=error_responses(401, 422))


@router.get("/balance")
async def get_balance(organization: CurrentOrganization, session: DbSession) -> BalanceOut:
    """The balance in US dollars (one credit is one dollar)."""
    return BalanceOut(
        balance_usd=organization.credits_micros / MICROS_PER_CREDIT,
        updated_at=await credits.balance_updated_at(session, organization),
    )


def _entry_out(entry: CreditLedgerEntry) -> LedgerEntryOut:
    return LedgerEntryOut(
        id=entry.id,
        kind=entry.kind,  # type: ignore[arg-type]
        amount_micro_usd=str(entry.amount_micros),
        metric=entry.metric,
        session_id=entry.session_id,
        created_at=entry.created_at,
    )


@router.get("/ledger")
async def get_ledger(
    organization: CurrentOrganization,
    session: DbSession,
    limit: PageLimit = 20,
    cursor: PageCursor = None,
) -> LedgerPage:
    """Grants, call charges, number purchases and refunds, newest first."""
    page = await credits.ledger(session, organization.id, limit, cursor)
    return LedgerPage(
        entries=[_entry_out(entry) for entry in page.rows], next_cursor=page.next_cursor
    )
