"""Webhook endpoint and delivery bodies: the Speko SDK's `WebhookEndpoint*`, `WebhookDelivery*`
and `WebhookRedeliverResult` (camelCase), and the per-call delivery list Trunkline had before."""

import base64
import binascii
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StrictBool, model_validator

from api.schemas.agents import ExtractionField, ExtractionFields
from api.schemas.common import ResponseModel
from trunkline.pipeline import ApiModel, HttpUrlText, Name, ShortText

WorkspaceWebhookEvent = Literal[
    "call.pre_call",
    "call.status",
    "call.report",
    "call.analysis",
    "call.recording",
    "call.initiated",
    "call.ringing",
    "call.answered",
    "call.bridged",
    "call.hold",
    "call.unhold",
    "call.mute",
    "call.unmute",
    "call.dtmf.sent",
    "call.transfer.initiated",
    "call.transfer.completed",
    "call.transfer.failed",
    "call.leg.hangup",
    "call.hangup",
    "sms.received",
    "sms.accepted",
    "sms.sent",
    "sms.delivered",
    "sms.delivery_failed",
    "sms.submission_unknown",
    "sms.opted_out",
    "sms.opted_in",
]
"""The events an endpoint may subscribe to (the SDK's); Trunkline sends `call.status` and
`call.report`, the others are stored and echoed."""

DeliveryStatus = Literal["pending", "delivering", "succeeded", "failed", "cancelled", "expired"]

HeaderName = Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,100}$")]
HeaderValue = Annotated[str, Field(max_length=4096)]


def _standard_webhooks_secret(value: str) -> str:
    """`whsec_` and the base64 of 24 to 64 random bytes, as Standard Webhooks secrets are."""
    try:
        key = base64.b64decode(value.removeprefix("whsec_"), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("must be a Standard Webhooks secret: whsec_<base64>") from None
    if not value.startswith("whsec_") or not 24 <= len(key) <= 64:
        raise ValueError("must be whsec_ followed by the base64 of 24 to 64 bytes")
    return value


SigningSecret = Annotated[str, Field(max_length=200), AfterValidator(_standard_webhooks_secret)]


class EndpointAuthHeader(ApiModel):
    """A header sent with every attempt, its value write-only; on update, a header without a
    value keeps the value stored under its name."""

    name: HeaderName
    value: HeaderValue | None = None


class EndpointFields(ApiModel):
    name: Name | None = None
    url: HttpUrlText | None = None
    events: Annotated[list[WorkspaceWebhookEvent], Field(min_length=1, max_length=50)] | None = None
    all_agents: StrictBool | None = Field(
        None, description="Default true; false sends only the calls of `agentIds`."
    )
    agent_ids: Annotated[list[ShortText], Field(max_length=100)] | None = None
    filter_tags: Annotated[dict[ShortText, ShortText], Field(max_length=20)] | None = Field(
        None, description="Every tag must be among the call's `metadata.webhookTags`."
    )
    headers: Annotated[dict[HeaderName, HeaderValue], Field(max_length=20)] | None = None
    auth_headers: Annotated[list[EndpointAuthHeader], Field(max_length=20)] | None = None
    timeout_ms: Annotated[int, Field(ge=1000, le=30_000)] | None = None
    signing_secret_source: Literal["workspace", "custom"] | None = None
    signing_secret: SigningSecret | None = Field(
        None, description="Write-only; required when `signingSecretSource` is custom."
    )
    extraction_fields: ExtractionFields | None = None
    content_mode: Literal["full", "metadata_only"] | None = None

    @model_validator(mode="after")
    def _unique_auth_headers(self) -> "EndpointFields":
        names = [header.name.lower() for header in self.auth_headers or []]
        if len(names) != len(set(names)):
            raise ValueError("authHeaders names must be unique")
        return self


class EndpointCreate(EndpointFields):
    name: Name
    url: HttpUrlText
    events: Annotated[list[WorkspaceWebhookEvent], Field(min_length=1, max_length=50)]

    @model_validator(mode="after")
    def _auth_values(self) -> "EndpointCreate":
        if any(header.value is None for header in self.auth_headers or []):
            raise ValueError("each of authHeaders needs a value")
        return self


class EndpointUpdate(EndpointFields):
    """Fields present replace the stored ones; absent or null ones stay as they are."""


class AuthHeaderStatus(ResponseModel):
    name: str
    configured: Literal[True] = True


class WebhookEndpointOut(ResponseModel):
    id: str
    name: str
    url: str
    events: list[str]
    all_agents: bool
    agent_ids: list[str]
    filter_tags: dict[str, str]
    headers: dict[str, str]
    auth_headers: list[AuthHeaderStatus]
    timeout_ms: int
    signing_secret_source: Literal["workspace", "custom"]
    has_custom_signing_secret: bool
    extraction_fields: list[ExtractionField]
    content_mode: Literal["full", "metadata_only"]
    legacy_managed: bool = False
    created_at: datetime
    updated_at: datetime


class WebhookEndpointList(ResponseModel):
    data: list[WebhookEndpointOut]


class DeliveryFacts(ResponseModel):
    """What the delivery list and a delivery's detail both say about it."""

    id: str
    event_id: str = Field(description="The `webhook-id` header of every attempt.")
    endpoint_id: str = Field(
        description="The endpoint's id; an agent's own webhook reads `<agent id>:status` or "
        "`<agent id>:postCall`."
    )
    endpoint_name: str
    endpoint_kind: Literal["workspace"] = "workspace"
    endpoint_deleted: bool = False
    event: str
    session_id: str | None
    agent_id: str | None
    webhook_tags: dict[str, str]
    status: DeliveryStatus
    http_status: int | None
    error: str | None
    occurred_at: datetime
    expires_at: datetime = Field(description="When its retry schedule runs out.")
    delivered_at: datetime | None
    created_at: datetime
    can_redeliver: bool


class WebhookDeliveryOut(DeliveryFacts):
    attempts: int


class DeliveryAttemptOut(ResponseModel):
    id: str
    attempt_number: int
    trigger: Literal["automatic", "manual"]
    request_url: str
    response_status: int | None
    response_body: str | None = Field(description="The first 1 KiB of the response.")
    response_truncated: bool
    duration_ms: float
    error: str | None
    created_at: datetime


class WebhookDeliveryDetailOut(DeliveryFacts):
    attempt_count: int
    request_payload: dict[str, Any]
    attempts: list[DeliveryAttemptOut]


class EndpointOption(ResponseModel):
    id: str
    name: str
    kind: Literal["workspace"] = "workspace"
    deleted: bool = False


class WebhookDeliveryPage(ResponseModel):
    data: list[WebhookDeliveryOut]
    has_more: bool
    next_cursor: str | None
    endpoint_options: list[EndpointOption]


class RedeliverResult(ResponseModel):
    delivered: bool
    http_status: int | None = None
    error: str | None = None
    status: DeliveryStatus = Field(description="Where the delivery stands after the wait.")


# --- the per-call list and `retry`, as before the SDK's shapes ------------------------------


class AttemptOut(ResponseModel):
    number: int
    trigger: str
    started_at: datetime
    status_code: int | None
    latency_ms: float
    error: str | None


class DeliveryOut(ResponseModel):
    id: str
    event_type: str
    url: str
    endpoint_id: str | None
    status: str
    attempt_count: int
    last_status_code: int | None
    last_error: str | None
    next_attempt_at: datetime | None
    created_at: datetime
    attempts: list[AttemptOut]


class DeliveryList(ResponseModel):
    data: list[DeliveryOut]
