"""Typed inputs and outputs of workflows and activities: pure pydantic, safe in the sandbox."""

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

DeliveryStatus = Literal["pending", "succeeded", "failed"]


class LaneInput(BaseModel):
    """A webhook lane to send, and how it stands when handed over."""

    lane: str
    failures: int = 0
    """Failed attempts at the head so far."""
    wait_seconds: float = 0
    """Before the next attempt."""


class LaneAttemptInput(BaseModel):
    lane: str
    failures: int


class LaneStep(BaseModel):
    """What one attempt at a lane's head came to."""

    empty: bool = False
    delivery_id: str | None = None
    succeeded: bool = False
    gave_up: bool = False
    """A 410, or the last attempt failed: the delivery failed and the lane moves on."""
    busy: bool = False
    """Another attempt at the head is in flight."""
    wait_seconds: float = 0
    """Before the next attempt: 0 to go on at once."""
    lane_empty: bool = False
    """Nothing else was pending in the lane when this attempt was recorded."""


class LaneResult(BaseModel):
    lane: str
    delivered: int


CONSULTATION_ROOM_PREFIX = "consult-"
"""A warm transfer's consultation rooms: `consult-{transferId}-{attempt}`."""
RECIPIENT_PREFIX = "recipient-"
"""A consultation leg's participant: `recipient-{transferId}-{attempt}`."""

CallStatus = Literal["queued", "dialing", "ringing", "in-progress", "ended", "failed"]
TERMINAL_STATUSES = ("ended", "failed")
STATUS_RANK: dict[str, int] = {
    "queued": 0,
    "dialing": 1,
    "ringing": 2,
    "in-progress": 3,
    "ended": 4,
    "failed": 4,
}
"""How far along a status is: a call only ever moves to a higher rank."""


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
    record: bool = True
    """Whether to record the call (CALL_RECORDING_ENABLED); plans stored before it recorded."""


class ProviderSignal(BaseModel):
    """A stored provider webhook, reduced to what the call's state machine needs."""

    provider_event_id: str
    provider: Literal["livekit", "telnyx"]
    event_type: str
    participant_is_phone: bool = False
    """A SIP participant other than a transfer's recipient: the caller or callee."""
    participant_identity: str | None = None
    consultation_room: str | None = None
    """For a warm transfer's consultation leg: the room that names its attempt."""
    sip_status_code: int | None = None
    sip_status: str | None = None
    disconnect_reason: str | None = None
    hangup_source: str | None = None
    machine_detection: Literal["human", "machine"] | None = None
    occurred_at: datetime | None = None

    @property
    def detail(self) -> str | None:
        """What the event's call event says in `detail`."""
        return self.disconnect_reason or self.hangup_source or self.machine_detection


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
    facts: dict[str, Any] = {}
    """Stored as the event's payload when it is not a provider event (e.g. a transfer's)."""
    absorb: bool = False
    """Store the call's provider events that were not signalled to it first, in the order they
    arrived, numbered from `sequence` on; the event itself comes after them."""


class RecordOutcome(BaseModel):
    absorbed: int
    """The sequence numbers taken before the event: by provider events it took in, and by
    another record's rows that held its own number (the workflow numbers on past them)."""
    status: CallStatus | None = None
    """The call's status once the record is stored. Ahead of the record's own when a workflow
    task that failed had recorded further (its local activity ran, its result was lost, and the
    task's retry took another path): the workflow catches up with it."""


class PreparedCall(BaseModel):
    """A prepared call whose `call.queued` is recorded, as its first event."""

    plan: CallPlan
    queued: RecordOutcome


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


class AgentFailure(BaseModel):
    """The agent cannot run the call (a provider key missing, say): recorded, then hung up."""

    reason: str
    detail: str


class CallView(BaseModel):
    session_id: str
    status: CallStatus


class RejectInput(BaseModel):
    """An inbound leg to refuse at the carrier, and why."""

    call_control_id: str
    cause: Literal["CALL_REJECTED", "USER_BUSY"]
    to_number: str
    reason: str


# --- transfers ------------------------------------------------------------------------------

TransferState = Literal[
    "transferring",
    "dialing",
    "screening",
    "completed",
    "failed",
    "cancelled",
    "exhausted",
    "caller_hung_up",
    "call_ended",
]
TRANSFER_END_STATES = (
    "completed",
    "failed",
    "cancelled",
    "exhausted",
    "caller_hung_up",
    "call_ended",
)
FallbackStrategy = Literal["take_message", "return_to_agent", "hangup"]


class TransferTarget(BaseModel):
    to: str
    label: str | None = None


class BlindTransferRequest(BaseModel):
    """A SIP REFER of the caller to `to`; `request` is the API body kept on the transfer row."""

    transfer_id: str
    to: str
    ringing_timeout_seconds: float
    requested_by: Literal["api", "agent"]
    request: dict[str, Any]
    participant_identity: str | None = None
    """Who is transferred; by default the caller's phone leg."""
    play_dialtone: bool = False
    headers: dict[str, str] = {}


class WarmTransferPlan(BaseModel):
    """What the warm transfer workflow needs; the screening prompt stays in the database."""

    transfer_id: str
    session_id: str
    from_number: str
    destinations: list[TransferTarget]
    fallback: FallbackStrategy
    voicemail_mode: Literal["agent", "provider", "off"]
    voicemail_timeout_seconds: float
    ringing_timeout_seconds: float
    decision_timeout_seconds: float


class WarmTransferRequest(BaseModel):
    plan: WarmTransferPlan
    requested_by: Literal["api", "agent"]
    request: dict[str, Any]


class TransferRecord(BaseModel):
    """The transfer row to create (idempotent on the id)."""

    transfer_id: str
    session_id: str
    kind: Literal["blind", "warm"]
    requested_by: Literal["api", "agent"]
    state: TransferState
    request: dict[str, Any]


class TransferView(BaseModel):
    transfer_id: str
    state: TransferState


class LegOutcome(BaseModel):
    """How a transfer's leg ended: `outcome` is e.g. completed, busy, no-answer, declined."""

    outcome: str
    sip_status_code: int | None = None
    sip_status: str | None = None
    detail: str | None = None


class TransferOutcome(LegOutcome):
    succeeded: bool


class TransferProgress(BaseModel):
    """A step of a warm transfer, for the call workflow to record as a call event."""

    transfer_id: str
    event_type: str
    state: TransferState
    detail: str | None = None
    sip_status_code: int | None = None
    sip_status: str | None = None
    facts: dict[str, Any] = {}
    recipient_identity: str | None = None
    """Set when the recipient joins the caller's room."""
    end_call: bool = False
    """The fallback hangs up the call."""


class ConsultationLeg(BaseModel):
    """One destination's consultation leg: its room, its SIP participant and its attempt row."""

    transfer_id: str
    session_id: str
    attempt: int
    to: str
    label: str | None
    from_number: str
    ringing_timeout_seconds: float

    @property
    def room_name(self) -> str:
        return f"{CONSULTATION_ROOM_PREFIX}{self.transfer_id}-{self.attempt}"

    @property
    def identity(self) -> str:
        return f"{RECIPIENT_PREFIX}{self.transfer_id}-{self.attempt}"


class AttemptEnd(LegOutcome):
    """Close a consultation leg and record how its attempt turned out."""

    leg: ConsultationLeg


class TransferStateChange(BaseModel):
    transfer_id: str
    state: TransferState
    current_attempt: int | None = None
    fallback_applied: FallbackStrategy | None = None
    detail: str | None = None


class AgentNotice(BaseModel):
    """A message to the agent in the call's room (LiveKit data, topic `trunkline.transfer`)."""

    session_id: str
    type: str
    transfer_id: str | None = None
    instructions: str | None = None
    facts: dict[str, Any] = {}


class CancelTransfer(BaseModel):
    try_next: bool = False
    reason: str | None = None
    """Kept as the cancelled attempt's detail."""


class ScreeningReport(BaseModel):
    """What a screening agent (for its `attempt`) or an operator (attempt None) reports."""

    attempt: int | None = None
    verdict: Literal["human", "machine"] | None = None
    reason: str | None = None


class CallEnded(BaseModel):
    """From the call to its running warm transfer: the call is over, and whether the caller left."""

    caller_left: bool


# --- reports and callbacks ------------------------------------------------------------------


class ReportRequest(BaseModel):
    """Analyse an ended call (again, with `force_analysis`) and (re)send its `call.report`."""

    session_id: str
    force_analysis: bool = False
    retry_webhook: bool = False
    rules_only: bool = False
    """No LLM analyser is configured: the analysis is quick, and runs as a local activity."""
    grace_waited: bool = False
    """Started once the transcript grace had passed (a start delay): no timer waits it again."""


class ReportRef(BaseModel):
    report_id: str
    session_id: str
    version: int
    created: bool
    """Written by this run (so it is charged, scheduled and delivered once)."""
    wants_callback: bool = False


class ReportSettlement(BaseModel):
    """A report's bookkeeping in one step: charged and its callback scheduled when this run
    wrote it (`report.created`), its `call.report` queued when `send`."""

    report: ReportRef
    send: bool


class ReportResult(BaseModel):
    session_id: str
    report_id: str
    version: int
    webhook_sent: bool


class CallbackInput(BaseModel):
    callback_id: str


class CallbackPlan(BaseModel):
    """When to ring (inside the calling window), or that there is nothing left to do."""

    fire_at: datetime | None


class CallbackResult(BaseModel):
    callback_id: str
    status: str
    call_id: str | None = None
