"""SQLModel tables. Every tenant-owned row carries `organization_id`; every query filters on it."""

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlmodel import Field, SQLModel

from trunkline.ids import new_id


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC timestamps on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def timestamp_field(**kwargs: Any) -> Any:
    return Field(sa_type=UTCDateTime, **kwargs)


def micros_field(**kwargs: Any) -> Any:
    """An amount of credits in millionths: 64-bit, since 32 bits hold only 2147 credits."""
    return Field(sa_type=BigInteger, **kwargs)


def json_field(**kwargs: Any) -> Any:
    return Field(sa_column=Column(JSON, nullable=False), **kwargs)


class Organization(SQLModel, table=True):
    id: str = Field(default_factory=lambda: new_id("org"), primary_key=True)
    name: str
    business_verified: bool = False
    credits_micros: int = micros_field(default=0)
    webhook_secret: str
    retired_webhook_secrets: list[dict[str, str]] = json_field(default_factory=list)
    """Rotated-out secrets still signing until their `expires_at` (ISO 8601)."""
    timezone: str = "UTC"
    """IANA zone for reading times callers say ("tomorrow at 3 pm") and for calling windows."""
    calling_window_start: str = "09:00"
    calling_window_end: str = "20:00"
    """Callbacks are placed only between these local times of the callee (else the org's)."""
    created_at: datetime = timestamp_field(default_factory=utcnow)


class CreditLedgerEntry(SQLModel, table=True):
    """One change of an organization's credits, written in the transaction that made it."""

    id: str = Field(default_factory=lambda: new_id("cle"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    kind: str
    """grant, debit, topup, refund or adjustment (the Speko SDK's kinds)."""
    amount_micros: int = micros_field()
    """Signed millionths of a credit: negative takes from the balance."""
    metric: str | None = None
    """What a debit paid for: `call`, `phone_number`."""
    session_id: str | None = Field(default=None, index=True)
    """The call a call charge was for."""
    created_at: datetime = timestamp_field(default_factory=utcnow)


class ApiKey(SQLModel, table=True):
    """An API key, stored as the SHA-256 of the key; the key itself is shown once at creation."""

    id: str = Field(default_factory=lambda: new_id("key"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    key_hash: str = Field(unique=True)
    key_prefix: str
    created_at: datetime = timestamp_field(default_factory=utcnow)
    revoked_at: datetime | None = timestamp_field(default=None)


class Agent(SQLModel, table=True):
    """A persisted agent; `config` holds its fields in camelCase, exactly as the API takes them."""

    id: str = Field(default_factory=lambda: new_id("agent"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    name: str
    config: dict[str, Any] = json_field(default_factory=dict)
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class PhoneNumber(SQLModel, table=True):
    """A managed (bought through Telnyx) or imported (SIP trunk) number, unique across orgs."""

    id: str = Field(default_factory=lambda: new_id("pn"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    e164: str = Field(unique=True)
    direction: str
    agent_id: str | None = Field(default=None, foreign_key="agent.id", index=True)
    dispatch_metadata_template: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    label: str | None = None
    source: str = "sip_trunk"
    sip_connection_installation_id: str | None = None
    sip_trunk_id: str | None = None
    """The legacy way to name an imported number's trunk; stored and echoed, not acted on."""
    sip_provider_name: str | None = None
    sms_automation_enabled: bool = Field(
        default=False, sa_column_kwargs={"server_default": false()}
    )
    """Stored and echoed for the Speko SDK; Trunkline sends no SMS."""
    provider_number_id: str | None = None
    """Telnyx's id of a managed number (looked up after the order), when it was found."""
    provider_order_id: str | None = None
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class KybSubmission(SQLModel, table=True):
    """An organization's business verification (KYB), one per organization: draft, submitted,
    then approved or rejected by an operator (`trunkline org verify`); revoked when the operator
    withdraws the verification. Profiles are stored camelCase, as the API takes them."""

    id: str = Field(default_factory=lambda: new_id("kyb"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", unique=True)
    status: str = "draft"
    business_profile: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    authorized_representative: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    declaration: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    attestation_accepted: bool = False
    attestation_version: str | None = None
    attested_at: datetime | None = timestamp_field(default=None)
    submitted_by_api_key_id: str | None = None
    submitted_at: datetime | None = timestamp_field(default=None)
    reviewed_at: datetime | None = timestamp_field(default=None)
    rejection_reason: str | None = None
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class WebhookEndpoint(SQLModel, table=True):
    """An organization's webhook endpoint: the events it subscribes to, for which agents and
    tags, and how each delivery to it is sent. Auth header values and a custom signing secret
    are write-only. Deleting one keeps the row (`deleted_at`), so past deliveries name it."""

    id: str = Field(default_factory=lambda: new_id("whep"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    name: str
    url: str
    events: list[str] = json_field(default_factory=list)
    all_agents: bool = True
    agent_ids: list[str] = json_field(default_factory=list)
    filter_tags: dict[str, str] = json_field(default_factory=dict)
    headers: dict[str, str] = json_field(default_factory=dict)
    auth_headers: list[dict[str, str]] = json_field(default_factory=list)
    """`[{name, value}]`, sent with every attempt; the values are never returned."""
    timeout_ms: int = 10_000
    signing_secret_source: str = "workspace"
    """`workspace`: the organization's secrets sign; `custom`: `signing_secret` does."""
    signing_secret: str | None = None
    extraction_fields: list[dict[str, Any]] = json_field(default_factory=list)
    """Stored and echoed for the Speko SDK; analysis reads the agent's extraction fields."""
    content_mode: str = "full"
    """`full` payloads, or `metadata_only`: the call's identifiers, event and metadata."""
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
    deleted_at: datetime | None = timestamp_field(default=None)


class WebhookDelivery(SQLModel, table=True):
    """One customer webhook message to one URL; its id is the `webhook-id` on every attempt."""

    id: str = Field(default_factory=lambda: new_id("msg"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    call_id: str | None = Field(default=None, index=True)
    agent_id: str | None = Field(default=None, index=True)
    """The call's agent, when it had one."""
    endpoint_id: str | None = Field(default=None, index=True)
    """The organization's webhook endpoint it goes to; None for an agent's own webhook."""
    event_sequence: int | None = None
    """The call event this delivery reports, so a retried recording finds it again."""
    lane: str = Field(index=True)
    """Deliveries of one lane, (call, endpoint), go out one at a time in creation order."""
    claimed_until: datetime | None = timestamp_field(default=None)
    """While an attempt is in flight: nobody else sends this delivery before then."""
    dedupe_key: str | None = Field(default=None, unique=True)
    """Other deliveries' equivalent: what made it (e.g. a report workflow run)."""
    event_type: str
    url: str
    payload: dict[str, Any] = json_field()
    legacy_secret: str | None = None
    status: str = Field(default="pending", index=True)
    """pending, succeeded, failed, or cancelled (its endpoint was deleted)."""
    manual_attempt: bool = False
    """Redelivery was asked for through the API: the next attempt is a manual one."""
    attempt_count: int = 0
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: datetime | None = timestamp_field(default=None)
    delivered_at: datetime | None = timestamp_field(default=None)
    """When its last successful attempt was made."""
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class WebhookLane(SQLModel, table=True):
    """A lane whose head failed: its `WebhookLaneWorkflow` owns it until the lane is empty."""

    id: str = Field(primary_key=True)
    updated_at: datetime = timestamp_field(default_factory=utcnow)


class WebhookAttempt(SQLModel, table=True):
    """One HTTP attempt of a delivery, as the customer's endpoint answered it."""

    id: str = Field(primary_key=True)
    delivery_id: str = Field(foreign_key="webhookdelivery.id", index=True)
    number: int
    trigger: str = "automatic"
    """`automatic` (the schedule), or `manual` (a redelivery asked for through the API)."""
    started_at: datetime = timestamp_field()
    status_code: int | None = None
    latency_ms: float
    error: str | None = None
    response_excerpt: str = ""


class ProviderEvent(SQLModel, table=True):
    """A verified provider webhook, stored once per provider event id, payload as received."""

    __table_args__ = (UniqueConstraint("provider", "event_id"),)

    id: str = Field(default_factory=lambda: new_id("pev"), primary_key=True)
    provider: str
    event_id: str
    event_type: str
    occurred_at: datetime | None = timestamp_field(default=None)
    received_at: datetime = timestamp_field(default_factory=utcnow)
    room_name: str | None = Field(default=None, index=True)
    call_control_id: str | None = Field(default=None, index=True)
    payload: dict[str, Any] = json_field()
    dispatched_at: datetime | None = timestamp_field(default=None)
    """When the event reached its call workflow (or was found to concern no call)."""
    call_id: str | None = Field(default=None, index=True)
    """The call it concerns, once known."""
    signalled: bool = False
    """Sent to the call's workflow, which records it. The others (events that change nothing in
    the call) are taken into the call's events by its next recorded event, or its report."""
    disposition: str | None = None
    """What became of it when no call took it, e.g. `rejected: unknown number`."""


class Call(SQLModel, table=True):
    """One phone call (a session): its route, resolved config and where it stands."""

    __table_args__ = (UniqueConstraint("organization_id", "idempotency_key"),)

    id: str = Field(default_factory=lambda: new_id("session"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    agent_id: str | None = Field(default=None, index=True)
    phone_number_id: str | None = None
    direction: str
    status: str = "queued"
    from_number: str = Field(index=True)
    to_number: str = Field(index=True)
    room_name: str = Field(unique=True)
    sip_participant_identity: str
    call_control_id: str | None = Field(default=None, unique=True)
    idempotency_key: str | None = None
    request: dict[str, Any] = json_field(default_factory=dict)
    """The per-call fields as requested (outbound) or the inbound routing inputs."""
    pipeline_config: dict[str, Any] = json_field(default_factory=dict)
    config_sources: dict[str, str] = json_field(default_factory=dict)
    call_metadata: dict[str, Any] = json_field(default_factory=dict)
    failure_cause: str | None = None
    sip_status_code: int | None = None
    sip_status: str | None = None
    ended_reason: str | None = None
    answered_machine: bool | None = None
    created_at: datetime = timestamp_field(default_factory=utcnow)
    dialed_at: datetime | None = timestamp_field(default=None)
    """When the outbound dial was placed: a retried dial never places it again."""
    answered_at: datetime | None = timestamp_field(default=None)
    ended_at: datetime | None = timestamp_field(default=None)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
    recording_egress_id: str | None = None
    charged_micros: int | None = micros_field(default=None)
    """What the call cost the organization's credits, once charged (charged once)."""


class CallEvent(SQLModel, table=True):
    """A durable lifecycle event of a call, in the order the call workflow saw it."""

    __table_args__ = (UniqueConstraint("call_id", "sequence"),)

    id: str = Field(default_factory=lambda: new_id("evt"), primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    sequence: int
    recorded_with: int | None = None
    """The sequence number the workflow gave the record that stored this event (and the provider
    events it took in before it), so a retried record finds what it stored."""
    source: str
    type: str
    status: str | None = None
    sip_status_code: int | None = None
    sip_status: str | None = None
    detail: str | None = None
    provider_event_id: str | None = Field(default=None, index=True)
    payload: dict[str, Any] = json_field(default_factory=dict)
    occurred_at: datetime = timestamp_field(default_factory=utcnow)


class TranscriptEntry(SQLModel, table=True):
    """A line of the conversation, as the agent reported it; `entry_id` is the agent's own id."""

    __table_args__ = (UniqueConstraint("call_id", "entry_id"),)

    id: str = Field(default_factory=lambda: new_id("tr"), primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    entry_id: str
    role: str
    text: str
    started_at: datetime | None = timestamp_field(default=None)
    ended_at: datetime | None = timestamp_field(default=None)
    created_at: datetime = timestamp_field(default_factory=utcnow)


class Transfer(SQLModel, table=True):
    """A blind or warm transfer of a call's caller; `request` is the body as asked (camelCase)."""

    id: str = Field(default_factory=lambda: new_id("trf"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    kind: str
    requested_by: str
    state: str
    request: dict[str, Any] = json_field(default_factory=dict)
    current_attempt: int | None = None
    fallback_applied: str | None = None
    sip_status_code: int | None = None
    sip_status: str | None = None
    detail: str | None = None
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
    ended_at: datetime | None = timestamp_field(default=None)


class TransferAttempt(SQLModel, table=True):
    """One destination tried by a transfer: its leg, and how it turned out."""

    __table_args__ = (UniqueConstraint("transfer_id", "number"),)

    id: str = Field(default_factory=lambda: new_id("tra"), primary_key=True)
    transfer_id: str = Field(foreign_key="transfer.id", index=True)
    number: int
    to: str
    label: str | None = None
    room_name: str | None = None
    participant_identity: str | None = None
    outcome: str | None = None
    """None while in flight; then e.g. accepted, busy, no-answer, voicemail, declined."""
    sip_status_code: int | None = None
    sip_status: str | None = None
    detail: str | None = None
    started_at: datetime = timestamp_field(default_factory=utcnow)
    dialed_at: datetime | None = timestamp_field(default=None)
    """When its dial was placed: a retried dial never places it again."""
    answered_at: datetime | None = timestamp_field(default=None)
    ended_at: datetime | None = timestamp_field(default=None)


class CallMessage(SQLModel, table=True):
    """A message the agent took for someone who could not be reached (the report lists them)."""

    id: str = Field(default_factory=lambda: new_id("cmsg"), primary_key=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    transfer_id: str | None = None
    caller_name: str | None = None
    callback_number: str | None = None
    recipient: str | None = None
    text: str
    created_at: datetime = timestamp_field(default_factory=utcnow)


class CallReport(SQLModel, table=True):
    """One analysis of an ended call; re-running analysis adds a version, the old ones stay."""

    __table_args__ = (UniqueConstraint("call_id", "version"),)

    id: str = Field(default_factory=lambda: new_id("rep"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    call_id: str = Field(foreign_key="call.id", index=True)
    version: int
    request_key: str = Field(unique=True)
    """The report workflow run that wrote it, so a retried analysis finds its version."""
    status: str = "ready"
    analyzer: str
    """Which analyzer wrote it: `rules`, or `llm`."""
    analyzer_note: str | None = None
    """Why the LLM analyzer's answer was not used, when it was asked and failed."""
    summary: str = ""
    outcome: str = ""
    structured_data: dict[str, Any] = json_field(default_factory=dict)
    cost_breakdown: dict[str, Any] = json_field(default_factory=dict)
    artifacts: dict[str, Any] = json_field(default_factory=dict)
    callback_request: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """What the caller asked for, e.g. `{"text": "tomorrow at 3 pm", "at": "2026-…"}`."""
    scheduled_callback_id: str | None = None
    created_at: datetime = timestamp_field(default_factory=utcnow)


class ScheduledCallback(SQLModel, table=True):
    """A call to place later (`CallbackWorkflow`), asked for by the API or found by analysis."""

    __table_args__ = (UniqueConstraint("organization_id", "source_key"),)

    id: str = Field(default_factory=lambda: new_id("cb"), primary_key=True)
    organization_id: str = Field(foreign_key="organization.id", index=True)
    agent_id: str
    """Not a foreign key: deleting the agent fails its pending callbacks, it is not refused."""
    to_number: str = Field(index=True)
    from_number: str | None = None
    requested_at: datetime = timestamp_field()
    """The time asked for; `fire_at` may be later, to respect the calling window."""
    fire_at: datetime = timestamp_field()
    status: str = "scheduled"
    """scheduled, placed, cancelled or failed."""
    status_reason: str | None = None
    call_metadata: dict[str, Any] = json_field(default_factory=dict)
    source: str = "api"
    source_call_id: str | None = Field(default=None, index=True)
    source_key: str
    """Makes creation idempotent: the report that asked for it, or a fresh id for the API."""
    placed_call_id: str | None = None
    created_at: datetime = timestamp_field(default_factory=utcnow)
    updated_at: datetime = timestamp_field(default_factory=utcnow)
