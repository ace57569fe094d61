"""`/v1/organization`: the caller's organization and its webhook signing secret."""

from datetime import timedelta

from fastapi import APIRouter

from api.deps import AppSettings, CurrentOrganization, DbSession
from api.errors import error_responses
from api.schemas.organization import OrganizationOut, WebhookSecretOut
from trunkline.models import Organization, utcnow
from trunkline.organizations import MICROS_PER_CREDIT, grace_period_end, rotate_webhook_secret

router = APIRouter(prefix="/v1/organization", tags=["organization"], responses=error_responses(401))


def _secret_out(organization: Organization) -> WebhookSecretOut:
    return WebhookSecretOut(
        secret=organization.webhook_secret,
        previous_secret_expires_at=grace_period_end(organization, utcnow()),
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
