"""Organization and webhook-secret bodies."""

from datetime import datetime
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, Field, model_validator

from api.schemas.common import ResponseModel
from trunkline.pipeline import ApiModel


def _known_zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"{value!r} is not an IANA time zone") from exc
    return value


Clock = Annotated[str, Field(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$", examples=["09:00"])]


class CallingWindow(ApiModel):
    """Local times between which callbacks may ring the callee; `start` must be before `end`."""

    start: Clock
    end: Clock

    @model_validator(mode="after")
    def _ordered(self) -> "CallingWindow":
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self


class CallingWindowOut(ResponseModel):
    start: str
    end: str


class OrganizationUpdate(ApiModel):
    timezone: Annotated[str, Field(max_length=64), AfterValidator(_known_zone)] | None = None
    calling_window: CallingWindow | None = None


class OrganizationOut(ResponseModel):
    id: str
    name: str
    business_verified: bool
    credits: float
    timezone: str
    calling_window: CallingWindowOut
    created_at: datetime


class WebhookSecretOut(ResponseModel):
    secret: Annotated[str, Field(description="Standard Webhooks secret (`whsec_…`).")]
    previous_secret_expires_at: Annotated[
        datetime | None,
        Field(description="Until then, webhooks also carry signatures made with retired secrets."),
    ]
