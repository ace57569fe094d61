"""Phone number and business verification (KYB) bodies, in the Speko SDK's camelCase shapes."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, StrictBool, model_validator

from api.schemas.common import ResponseModel
from trunkline.numbers.e164 import E164
from trunkline.numbers.store import Direction
from trunkline.pipeline import ApiModel, ShortText
from trunkline.templates import DispatchTemplate

AgentId = Annotated[str, Field(max_length=64)]
InstallationId = Annotated[
    str,
    Field(pattern=r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"),
]
Text = Annotated[str, Field(min_length=1, max_length=2000)]


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
    """Register a number you own, reached through your SIP trunk: name it by
    `sipConnectionInstallationId` or (legacy) `sipTrunkId`; both are stored and echoed."""

    sip_connection_installation_id: InstallationId | None = None
    sip_trunk_id: ShortText | None = None
    sip_provider_name: ShortText | None = None

    @model_validator(mode="after")
    def _names_its_trunk(self) -> "SipTrunkImport":
        if not self.sip_connection_installation_id and not self.sip_trunk_id:
            raise ValueError("give sipConnectionInstallationId (or the legacy sipTrunkId)")
        return self


class PhoneNumberUpdate(ApiModel):
    """Fields present replace the stored ones; `null` clears agentId, the template or the label.

    The result must still route: `inbound` or `both` needs `agentId` or `dispatchMetadataTemplate`,
    so detaching the agent (`agentId: null`) needs a template or an `outbound` number.
    """

    agent_id: AgentId | None = None
    dispatch_metadata_template: DispatchTemplate | None = None
    direction: Direction = Field(None, description="Never null.")  # type: ignore[assignment]
    label: ShortText | None = None
    sms_automation_enabled: StrictBool = Field(None, description="Stored only; never null.")  # type: ignore[assignment]


class SetupStatusOut(ResponseModel):
    """Derived from the number: direction, routing (agent or template) and trunk."""

    status: Literal["ready", "action_required", "suspended"]
    inbound_ready: bool
    outbound_ready: bool
    agent_ready: bool
    forwarding_required: bool = Field(
        False, description="Never: every call reaches Trunkline through the carrier."
    )
    forwarding_sip_uri: str | None = None
    sip_connection_ready: bool
    issues: list[str]


class PhoneNumberOut(ResponseModel):
    id: str
    organization_id: str
    e164: str
    source: Literal["managed", "sip_trunk"]
    provider_resource_id: str | None = Field(description="Telnyx's id of a managed number.")
    telnyx_phone_number_id: str | None = Field(description="Deprecated: providerResourceId.")
    sip_connection_installation_id: str | None
    sip_trunk_id: str | None
    sip_provider_name: str | None
    direction: Direction
    agent_id: str | None
    dispatch_metadata_template: dict | None
    label: str | None
    sms_automation_enabled: bool
    setup_status: SetupStatusOut
    next_charge_at: datetime = Field(
        description="Start of the next monthly cycle (the purchase or import day of the month)."
    )
    last_charged_at: datetime | None = Field(description="When the purchase price was charged.")
    created_at: datetime
    updated_at: datetime


class ReleasedOut(ResponseModel):
    released: Literal[True]
    id: str


class RegionOut(ResponseModel):
    state: str | None
    locality: str | None
    rate_center: str | None


class AvailableNumberOut(ResponseModel):
    e164: str
    friendly_name: str
    monthly_cost_usd: float = Field(description="Trunkline charges no monthly fee: 0.")
    upfront_cost_usd: float = Field(description="What buying it deducts, in credits (as USD).")
    features: list[str]
    region: RegionOut
    monthly_cost: float | None = Field(description="The carrier's monthly price to the deployment.")
    upfront_cost: float | None = Field(description="The carrier's upfront price to the deployment.")


class KybAddress(ApiModel):
    street: ShortText
    city: ShortText
    state: ShortText
    postal_code: ShortText
    country: ShortText


class KybBusinessProfile(ApiModel):
    legal_name: ShortText
    display_name: ShortText
    entity_type: ShortText
    country: ShortText
    registration_id: ShortText | None = None
    website: ShortText
    address: KybAddress
    use_case: Text
    expected_usage: Text


class KybRepresentative(ApiModel):
    name: ShortText
    title: ShortText
    email: ShortText
    phone: ShortText | None = None


class KybDeclaration(ApiModel):
    business_name: ShortText
    use_case: Text


class KybDraft(ApiModel):
    """A draft: stored, not sent for review."""

    business_profile: KybBusinessProfile
    authorized_representative: KybRepresentative
    attestation_accepted: StrictBool | None = None


class KybSubmit(ApiModel):
    """For review: the full profile (`businessProfile`, `authorizedRepresentative`) or the short
    form (`declaration`, `attestationVersion`); `attestationAccepted` must be true."""

    business_profile: KybBusinessProfile | None = None
    authorized_representative: KybRepresentative | None = None
    declaration: KybDeclaration | None = None
    attestation_accepted: Literal[True]
    attestation_version: ShortText | None = None

    @model_validator(mode="after")
    def _one_form(self) -> "KybSubmit":
        full = self.business_profile is not None and self.authorized_representative is not None
        if self.declaration is not None:
            if self.business_profile or self.authorized_representative:
                raise ValueError("give either declaration or the full profile, not both")
            if not self.attestation_version:
                raise ValueError("the declaration form needs attestationVersion")
        elif not full:
            raise ValueError("give businessProfile and authorizedRepresentative, or declaration")
        return self


class KybAttestorOut(ResponseModel):
    kind: Literal["api_key"]
    api_key_id: str


class KybSubmissionOut(ResponseModel):
    id: str
    organization_id: str
    status: Literal["draft", "submitted", "approved", "rejected", "revoked"]
    business_profile: dict | None
    authorized_representative: dict | None
    declaration: dict | None
    attestor: KybAttestorOut | None
    attestation_accepted: bool
    attestation_version: str | None
    attested_at: datetime | None
    submitted_by_api_key_id: str | None
    submitted_at: datetime | None
    reviewed_at: datetime | None
    rejection_reason: str | None
    access_hold_at: datetime | None = Field(description="When it was rejected or revoked.")
    access_hold_reason: Literal["rejected", "revoked"] | None
    slack_notification_status: Literal["not_queued"] = "not_queued"
    created_at: datetime
    updated_at: datetime


class KybOverviewOut(ResponseModel):
    status: Literal["missing", "draft", "submitted", "approved", "rejected", "revoked"]
    submission: KybSubmissionOut | None
    attestation_required: bool = True
