"""Phone number request and response bodies."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from api.schemas.common import Page, ResponseModel
from trunkline.phone import E164
from trunkline.phone_numbers import Direction
from trunkline.pipeline import ApiModel, ShortText
from trunkline.templates import DispatchTemplate

AgentId = Annotated[str, Field(max_length=64)]


class PhoneNumberCreate(ApiModel):
    """Buy a managed number (US, from `GET /v1/phone-numbers/available`).

    `direction` `inbound` or `both` needs `agentId` or `dispatchMetadataTemplate` (422
    `routing_required`); the agent must be yours (422 `agent_not_found`).
    """

    e164: E164
    direction: Direction = "both"
    agent_id: AgentId | None = None
    dispatch_metadata_template: DispatchTemplate | None = None
    label: ShortText | None = None


class SipTrunkImport(PhoneNumberCreate):
    """Register a number you own, reached through your SIP trunk."""

    sip_connection_installation_id: Annotated[
        str,
        Field(
            pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
        ),
    ]


class PhoneNumberUpdate(ApiModel):
    """Fields present replace the stored ones; `null` clears agentId, the template or the label.

    The result must still route: `inbound` or `both` needs `agentId` or `dispatchMetadataTemplate`.
    """

    agent_id: AgentId | None = None
    dispatch_metadata_template: DispatchTemplate | None = None
    direction: Direction = Field(None, description="Never null.")  # type: ignore[assignment]
    label: ShortText | None = None


class PhoneNumberOut(ResponseModel):
    id: str
    e164: str
    direction: Direction
    agent_id: str | None
    dispatch_metadata_template: dict | None
    label: str | None
    source: Literal["managed", "sip_trunk"]
    sip_connection_installation_id: str | None
    created_at: datetime
    updated_at: datetime


class PhoneNumberPage(Page[PhoneNumberOut]):
    """A page of phone numbers."""


class AvailableNumberOut(ResponseModel):
    e164: str
    locality: str | None
    region: str | None
    monthly_cost: float | None
    upfront_cost: float | None


class AvailableNumbers(ResponseModel):
    data: list[AvailableNumberOut]
