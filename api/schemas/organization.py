"""Organization and webhook-secret bodies."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

from api.schemas.common import ResponseModel


class OrganizationOut(ResponseModel):
    id: str
    name: str
    business_verified: bool
    credits: float
    created_at: datetime


class WebhookSecretOut(ResponseModel):
    secret: Annotated[str, Field(description="Standard Webhooks secret (`whsec_…`).")]
    previous_secret_expires_at: Annotated[
        datetime | None,
        Field(description="Until then, webhooks also carry signatures made with retired secrets."),
    ]
