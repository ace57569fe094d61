"""Report, finalize and callback bodies."""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, StrictBool

from api.schemas.common import InUtc, Page, ResponseModel
from trunkline.phone import E164
from trunkline.pipeline import ApiModel, Metadata


class TranscriptLineOut(ResponseModel):
    role: str
    text: str
    started_at: datetime | None
    ended_at: datetime | None


class CostItemOut(ResponseModel):
    item: str
    minutes: float
    rate_per_minute: float
    amount: float


class CostBreakdownOut(ResponseModel):
    currency: str
    billing_increment_seconds: int
    talk_seconds: float
    items: list[CostItemOut]
    total: float


class RecordingOut(ResponseModel):
    egress_id: str
    status: str
    url: str | None
    duration_seconds: float | None
    size_bytes: int | None


class ArtifactsOut(ResponseModel):
    transcript_url: str | None = None
    recording: RecordingOut | None = None
    recording_error: str | None = None


class CallbackOut(ResponseModel):
    id: str
    to: str
    at: datetime
    requested_at: datetime
    status: str


class ReportCallOut(ResponseModel):
    direction: str
    from_: str = Field(alias="from")
    to: str
    status: str
    ended_reason: str | None
    failure_cause: str | None
    duration_seconds: float | None


class ReportOut(ResponseModel):
    """The guide's report; `status` is `pending` until the call has ended and been analysed."""

    call_id: str
    session_id: str
    status: Literal["pending", "ready", "failed"]
    analysis_version: int | None
    analyzer: str | None
    analyzer_note: str | None
    transcript: list[TranscriptLineOut]
    summary: str | None
    outcome: str | None
    structured_data: dict[str, Any]
    cost_breakdown: CostBreakdownOut | None
    artifacts: ArtifactsOut
    metadata: dict[str, Any]
    scheduled_callback: CallbackOut | None
    call: ReportCallOut
    created_at: datetime | None


class FinalizeBody(ApiModel):
    force_analysis: StrictBool = Field(False, description="Analyse again: a new report version.")
    retry_webhook: StrictBool = Field(False, description="Send the `call.report` webhook again.")


class FinalizeOut(ResponseModel):
    call_id: str
    workflow_id: str
    already_running: bool = Field(
        description="A report run was going: it stands, and these flags were not applied."
    )
    force_analysis: bool
    retry_webhook: bool
    report: ReportOut


class TranscriptOut(ResponseModel):
    call_id: str
    data: list[TranscriptLineOut]


class CallbackCreate(ApiModel):
    """`POST /v1/callbacks`: call `to` at `at` with the agent, like `POST /v1/sessions/phone`."""

    to: E164
    from_number: E164 | None = Field(None, alias="from")
    agent_id: Annotated[str, Field(max_length=64)]
    at: Annotated[AwareDatetime, InUtc] = Field(
        description="ISO 8601 with an offset, at most a year ahead; moved into the calling window."
    )
    metadata: Metadata = Field(default_factory=dict)


class ScheduledCallbackOut(ResponseModel):
    id: str
    to: str
    from_: str | None = Field(alias="from")
    agent_id: str
    requested_at: datetime
    at: datetime
    status: str
    status_reason: str | None
    source: str
    source_call_id: str | None
    placed_call_id: str | None
    metadata: dict[str, Any]
    created_at: datetime


class ScheduledCallbackPage(Page[ScheduledCallbackOut]):
    """A page of scheduled callbacks, newest first."""
