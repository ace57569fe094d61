"""Prepaid credits (one credit is one US dollar) and their ledger.

Every change of a balance goes through here, so its ledger entry is written in the same
transaction as the change itself.
"""

from datetime import datetime
from typing import Literal

from sqlalchemy import update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.models import CreditLedgerEntry, Organization
from trunkline.pagination import PageOf, paginate

LedgerKind = Literal["grant", "debit", "topup", "refund", "adjustment"]


def _entry(
    organization_id: str,
    kind: LedgerKind,
    amount_micros: int,
    metric: str | None = None,
    session_id: str | None = None,
) -> CreditLedgerEntry:
    return CreditLedgerEntry(
        organization_id=organization_id,
        kind=kind,
        amount_micros=amount_micros,
        metric=metric,
        session_id=session_id,
    )


async def move_credits(
    session: AsyncSession,
    organization_id: str,
    delta: int,
    kind: LedgerKind,
    *,
    metric: str | None = None,
    session_id: str | None = None,
    allow_negative: bool = False,
) -> bool:
    """Add `delta` micro-credits and its ledger entry, and commit (with whatever else is pending);
    refuse to go below zero unless allowed, and then nothing is written."""
    statement = (
        update(Organization)
        .where(col(Organization.id) == organization_id)
        .values(credits_micros=col(Organization.credits_micros) + delta)
    )
    if not allow_negative:
        statement = statement.where(col(Organization.credits_micros) + delta >= 0)
    applied = (await session.exec(statement)).rowcount == 1  # type: ignore[call-overload]
    if applied:
        session.add(_entry(organization_id, kind, delta, metric, session_id))
    await session.commit()
    return applied


def grant_opening_balance(session: AsyncSession, organization: Organization) -> None:
    """Stage the entry for a new organization's starting credits (the caller commits)."""
    if organization.credits_micros:
        session.add(_entry(organization.id, "grant", organization.credits_micros))


async def set_balance(session: AsyncSession, organization: Organization, micros: int) -> None:
    """Stage an operator's new balance and the adjustment that gets there (the caller commits)."""
    await session.refresh(organization, with_for_update=True)
    delta = micros - organization.credits_micros
    if delta:
        organization.credits_micros = micros
        session.add(organization)
        session.add(_entry(organization.id, "adjustment", delta))


async def ledger(
    session: AsyncSession, organization_id: str, limit: int, cursor: str | None
) -> PageOf[CreditLedgerEntry]:
    """The organization's credit movements, newest first."""
    statement = select(CreditLedgerEntry).where(
        CreditLedgerEntry.organization_id == organization_id
    )
    return await paginate(session, statement, CreditLedgerEntry.id, limit, cursor)


async def balance_updated_at(session: AsyncSession, organization: Organization) -> datetime:
    """When the balance last changed: its latest ledger entry, else the organization's creation."""
    statement = (
        select(CreditLedgerEntry.created_at)
        .where(CreditLedgerEntry.organization_id == organization.id)
        .order_by(col(CreditLedgerEntry.id).desc())
        .limit(1)
    )
    return (await session.exec(statement)).first() or organization.created_at
