"""Typed inputs and outputs of workflows and activities: pure pydantic, safe in the sandbox."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookDeliveryInput(BaseModel):
    delivery_id: str
    first_attempt: int = 1
    """Numbering continues across replays of the same delivery."""


class WebhookDeliveryResult(BaseModel):
    delivery_id: str
    status: DeliveryStatus
    attempts: int


class WebhookAttemptInput(BaseModel):
    delivery_id: str
    number: int


class WebhookAttemptOutcome(BaseModel):
    status_code: int | None
    succeeded: bool
    error: str | None
    retry_after_seconds: float | None


class WebhookDeliveryUpdate(BaseModel):
    delivery_id: str
    status: DeliveryStatus
    next_attempt_at: datetime | None = None


CallStatus = Literal["queued", "dialing", "ringing", "in-progress", "ended", "failed"]
TERMINAL_STATUSES = ("ended", "failed")


class CallInput(BaseModel):
    session_id: str


class CallResult(BaseModel):
    session_id: str
    status: CallStatus
    failure_cause: str | None = None
    sip_status_code: int | None = None
    ended_reason: str | None = None


class AmdSettings(BaseModel):
    mode: Literal["agent", "provider"]
    timeout_seconds: float


class CallPlan(BaseModel):
    """What the workflow needs to run a call; the config itself stays in the database."""

    session_id: str
    organization_id: str
    agent_id: str | None
    direction: Literal["inbound", "outbound"]
    from_number: str
    to_number: str
    room_name: str
    sip_participant_identity: str
    call_control_id: str | None
    has_pre_call_webhook: bool
    ringing_timeout_seconds: float
    max_duration_seconds: float
    watchdog_seconds: float
    amd: AmdSettings | None
    summary: str


class ProviderSignal(BaseModel):
    """A stored provider webhook, reduced to what the call's state machine needs."""

    provider_event_id: str
    provider: Literal["livekit", "telnyx"]
    event_type: str
    participant_is_phone: bool = False
    sip_status_code: int | None = None
    sip_status: str | None = None
    disconnect_reason: str | None = None
    hangup_source: str | None = None
    machine_detection: Literal["human", "machine"] | None = None
    occurred_at: datetime | None = None


class CallEventRecord(BaseModel):
    """One event to record: the call row follows `status` and the failure fields when given."""

    session_id: str
    sequence: int
    source: Literal["livekit", "telnyx", "trunkline", "transfer"]
    type: str
    status: CallStatus
    failure_cause: str | None = None
    sip_status_code: int | None = None
    sip_status: str | None = None
    detail: str | None = None
    provider_event_id: str | None = None
    ended_reason: str | None = None


class PreCallOutcome(BaseModel):
    outcome: Literal["applied", "timeout", "error", "bad_response"]
    applied: list[str] = []
    ignored: list[str] = []
    invalid: dict[str, str] = {}
    detail: str | None = None


class DialOutcome(BaseModel):
    answered: bool


class ProbeResult(BaseModel):
    phone_present: bool


class HangupRequest(BaseModel):
    reason: str = "api"


class CallView(BaseModel):
    session_id: str
    status: CallStatus


class RejectInput(BaseModel):
    """An inbound leg to refuse at the carrier, and why."""

    call_control_id: str
    cause: Literal["CALL_REJECTED", "USER_BUSY"]
    to_number: str
    reason: str
