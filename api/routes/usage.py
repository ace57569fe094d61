"""`/v1/usage`: what the organization's calls used and cost over a window."""

from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentOrganization, DbSession
from api.errors import ApiError, error_responses
from api.schemas.usage import UsageLineOut, UsageOut
from trunkline.models import utcnow
from trunkline.organizations import MICROS_PER_CREDIT
from trunkline.usage import usage

router = APIRouter(prefix="/v1/usage", tags=["usage"], responses=error_responses(401, 422))

MODALITIES = ("stt", "llm", "tts")

Bound = date | datetime | None
BOUND_HELP = "An ISO 8601 date (UTC) or date-time; a date-time without zone is UTC. "


def _instant(value: date | datetime, *, end: bool) -> datetime:
    """A bound as a UTC time; a date `to` includes that whole day."""
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    day = value + timedelta(days=1) if end else value
    return datetime.combine(day, time(), UTC)


def _window(
    start: date | datetime | None, end: date | datetime | None
) -> tuple[datetime, datetime]:
    """[from, to): by default from the start of this calendar month (UTC) until now."""
    now = utcnow()
    lower = (
        _instant(start, end=False)
        if start
        else now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    )
    upper = _instant(end, end=True) if end else now
    if lower >= upper:
        details = {"from": lower.isoformat(), "to": upper.isoformat()}
        raise ApiError(422, "invalid_window", "from must be before to", details)
    return lower, upper


@router.get("")
async def get_usage(
    organization: CurrentOrganization,
    session: DbSession,
    start: Annotated[
        Bound, Query(alias="from", description=BOUND_HELP + "Default: this month's start.")
    ] = None,
    end: Annotated[
        Bound,
        Query(alias="to", description=BOUND_HELP + "Excluded; a date is included. Default: now."),
    ] = None,
) -> UsageOut:
    """Calls created in [from, to) and their latest reports' cost breakdowns, in US dollars."""
    lower, upper = _window(start, end)
    summary = await usage(session, organization.id, lower, upper)
    lines = [
        UsageLineOut(
            provider=item.item,
            type=item.item if item.item in MODALITIES else None,
            quantity=item.minutes,
            cost=item.amount,
        )
        for item in summary.items.values()
    ]
    return UsageOut(
        total_sessions=summary.calls,
        total_minutes=round(summary.talk_seconds / 60, 6),
        total_cost=summary.total,
        minutes_cost=summary.total,
        minutes_billed_seconds=summary.billed_seconds,
        add_on_cost=0.0,
        breakdown=lines,
        balance_usd=organization.credits_micros / MICROS_PER_CREDIT,
    )
