"""`/v1/organization`: the caller's organization and its webhook signing secret."""

from datetime import timedelta

from fastapi import APIRouter

from api.deps import AppSettings, CurrentOrganization, DbSession
from api.errors import error_responses
from api.schemas.organization import (
    CallingWindowOut,
    OrganizationOut,
    OrganizationUpdate,
    WebhookSecretOut,
)
from trunkline.models import Organization, utcnow
from trunkline.organizations import MICROS_PER_CREDIT, grace_period_end, rotate_webhook_secret

router = APIRouter(prefix="/v1/organization", tags=["organization"], responses=error_responses(401))


def _secret_out(organization: Organization) -> WebhookSecretOut:
    return WebhookSecretOut(
        secret=organization.webhook_secret,
        previous_secret_expires_at=grace_period_end(organization, utcnow()),
    )


def _organization_out(organization: Organization) -> OrganizationOut:
    return OrganizationOut(
        id=organization.id,
        name=organization.name,
        business_verified=organization.business_verified,
        credits=organization.credits_micros / MICROS_PER_CREDIT,
        timezone=organization.timezone,
        calling_window=CallingWindowOut(
            start=organization.calling_window_start, end=organization.calling_window_end
        ),
        created_at=organization.created_at,
    )


@router.get("")
async def get_organization(organization: CurrentOrganization) -> OrganizationOut:
    return _organization_out(organization)


@router.patch("", responses=error_responses(422))
async def update_organization(
    body: OrganizationUpdate, organization: CurrentOrganization, session: DbSession
) -> OrganizationOut:
    """The time zone that callers' "tomorrow at 3 pm" is read in, and the calling window."""
    if body.timezone:
        organization.timezone = body.timezone
    if body.calling_window:
        organization.calling_window_start = body.calling_window.start
        organization.calling_window_end = body.calling_window.end
    session.add(organization)
    await session.commit()
    return _organization_out(organization)


@router.get("/webhook-secret")
async def get_webhook_secret(organization: CurrentOrganization) -> WebhookSecretOut:
    """The secret that signs every webhook Trunkline sends you (Standard Webhooks)."""
    return _secret_out(organization)


@router.post("/webhook-secret/rotate")
async def rotate_secret(
    organization: CurrentOrganization, session: DbSession, settings: AppSettings
) -> WebhookSecretOut:
    """Issue a new secret; for the grace period webhooks are signed with both old and new."""
    grace = timedelta(hours=settings.webhook_secret_grace_hours)
    return _secret_out(await rotate_webhook_secret(session, organization, grace))
