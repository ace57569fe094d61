"""Organizations, their API keys and their webhook signing secrets."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from trunkline.credentials import generate_api_key, generate_webhook_secret, hash_api_key
from trunkline.credits import grant_opening_balance, move_credits, set_balance
from trunkline.models import ApiKey, Organization, utcnow
from trunkline.numbers.kyb import follow_verification

MICROS_PER_CREDIT = 1_000_000
MAX_CREDITS = 1e12
"""The largest balance (or change) accepted; as millionths it fits a 64-bit column many times."""


@dataclass(frozen=True)
class NewOrganization:
    organization: Organization
    api_key: str


async def create_organization(
    session: AsyncSession, name: str, *, verified: bool = False, credits: float = 0
) -> NewOrganization:
    """Create an organization with a webhook secret and its first API key, and commit."""
    organization = Organization(
        name=name,
        business_verified=verified,
        credits_micros=round(credits * MICROS_PER_CREDIT),
        webhook_secret=generate_webhook_secret(),
    )
    session.add(organization)
    await session.flush()
    grant_opening_balance(session, organization)
    api_key = _add_api_key(session, organization.id)
    await session.commit()
    return NewOrganization(organization, api_key)


async def update_organization(
    session: AsyncSession,
    organization_id: str,
    *,
    verified: bool | None = None,
    credits: float | None = None,
    add_credits: float | None = None,
) -> dict[str, Any] | None:
    """Admin changes to verification and credits; returns the organization's new state."""
    organization = await session.get(Organization, organization_id)
    if organization is None:
        return None
    if credits is not None:
        await set_balance(session, organization, round(credits * MICROS_PER_CREDIT))
    if verified is not None:
        organization.business_verified = verified
        await follow_verification(session, organization_id, verified)
    session.add(organization)
    await session.commit()
    if add_credits is not None:
        delta = round(add_credits * MICROS_PER_CREDIT)
        kind = "grant" if delta > 0 else "adjustment"
        await move_credits(session, organization_id, delta, kind, allow_negative=True)
    await session.refresh(organization)
    return {
        "organizationId": organization.id,
        "businessVerified": organization.business_verified,
        "credits": organization.credits_micros / MICROS_PER_CREDIT,
    }


async def issue_api_key(session: AsyncSession, organization_id: str) -> str | None:
    """Create and commit another API key for an organization; returns the key itself, or None
    when there is no such organization."""
    if await session.get(Organization, organization_id) is None:
        return None
    api_key = _add_api_key(session, organization_id)
    await session.commit()
    return api_key


async def api_keys(session: AsyncSession, organization_id: str) -> list[dict[str, Any]] | None:
    """An organization's keys, oldest first, as ids and prefixes (the keys are not stored)."""
    if await session.get(Organization, organization_id) is None:
        return None
    statement = (
        select(ApiKey)
        .where(ApiKey.organization_id == organization_id)
        .order_by(col(ApiKey.created_at), col(ApiKey.id))
    )
    return [_key_view(key) for key in (await session.exec(statement)).all()]


async def revoke_api_key(session: AsyncSession, key_id: str) -> dict[str, Any] | None:
    """Revoke a key at once (again is harmless); None when there is no such key."""
    key = await session.get(ApiKey, key_id)
    if key is None:
        return None
    key.revoked_at = key.revoked_at or utcnow()
    session.add(key)
    await session.commit()
    await session.refresh(key)
    return _key_view(key)


def _key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "id": key.id,
        "organizationId": key.organization_id,
        "prefix": key.key_prefix,
        "createdAt": key.created_at.isoformat(),
        "revokedAt": key.revoked_at.isoformat() if key.revoked_at else None,
    }


def _add_api_key(session: AsyncSession, organization_id: str) -> str:
    api_key = generate_api_key()
    session.add(
        ApiKey(
            organization_id=organization_id,
            key_hash=hash_api_key(api_key),
            key_prefix=api_key[:8],
        )
    )
    return api_key


async def organization_for_api_key(session: AsyncSession, api_key: str) -> Organization | None:
    """The organization that owns a live (unrevoked) key, or None."""
    statement = (
        select(Organization)
        .join(ApiKey, ApiKey.organization_id == Organization.id)
        .where(ApiKey.key_hash == hash_api_key(api_key), ApiKey.revoked_at.is_(None))  # type: ignore[union-attr]
    )
    return (await session.exec(statement)).first()


async def api_key_id(session: AsyncSession, api_key: str) -> str | None:
    """The id of a live key (to record who did something), or None."""
    statement = select(ApiKey.id).where(
        ApiKey.key_hash == hash_api_key(api_key),
        ApiKey.revoked_at.is_(None),  # type: ignore[union-attr]
    )
    return (await session.exec(statement)).first()


async def rotate_webhook_secret(
    session: AsyncSession, organization: Organization, grace: timedelta
) -> Organization:
    """Replace the signing secret; each retired one keeps signing alongside it for `grace`."""
    now = utcnow()
    retired = {"secret": organization.webhook_secret, "expires_at": (now + grace).isoformat()}
    organization.retired_webhook_secrets = [retired, *_in_grace(organization, now)]
    organization.webhook_secret = generate_webhook_secret()
    session.add(organization)
    await session.commit()
    await session.refresh(organization)
    return organization


class SigningSecrets(Protocol):
    """An organization, or a row of its secrets alone: what signing a webhook needs."""

    webhook_secret: str
    retired_webhook_secrets: list[dict[str, str]]


def _in_grace(organization: SigningSecrets, at: datetime) -> list[dict[str, str]]:
    return [
        retired
        for retired in organization.retired_webhook_secrets
        if datetime.fromisoformat(retired["expires_at"]) > at
    ]


def grace_period_end(organization: Organization, at: datetime) -> datetime | None:
    """When the last retired secret stops signing, or None when none still does."""
    ends = [datetime.fromisoformat(r["expires_at"]) for r in _in_grace(organization, at)]
    return max(ends, default=None)


def signing_secrets(organization: SigningSecrets, at: datetime) -> list[str]:
    """The secrets that sign a webhook sent at `at`: the current one, then retired ones in grace."""
    return [organization.webhook_secret] + [r["secret"] for r in _in_grace(organization, at)]
