"""`/v1/organization`: the caller's organization and its webhook signing secret."""

from datetime import timedelta

from fastapi import APIRouter

from api.deps import AppSettings, CurrentOrganization, DbSession
from api.errors import ERROR_RESPONSES
from api.schemas.organization import OrganizationOut, WebhookSecretOut
from trunkline.models import Organization, utcnow
from trunkline.organizations import MICROS_PER_CREDIT, rotate_webhook_secret

router = APIRouter(prefix="/v1/organization", tags=["organization"], responses=ERROR_RESPONSES)


def _secret_out(organization: Organization) -> WebhookSecretOut:
    expires_at = organization.previous_webhook_secret_expires_at
    in_grace = expires_at is not None and expires_at > utcnow()
    return WebhookSecretOut(
        secret=organization.webhook_secret,
        previous_secret_expires_at=expires_at if in_grace else None,
    )


@router.get("")
async def get_organization(organization: CurrentOrganization) -> OrganizationOut:
    return OrganizationOut(
        id=organization.id,
        name=organization.name,
        business_verified=organization.business_verified,
        credits=organization.credits_micros / MICROS_PER_CREDIT,
        created_at=organization.created_at,
    )


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
