"""Report, finalize and callback bodies."""

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, StrictBool

from api.schemas.common import ResponseModel, SnakeResponseModel
from trunkline.pipeline import ApiModel


class TranscriptEntryOut(SnakeResponseModel):
    id: str
    index: int
    source: Literal["user", "agent", "system"]
    text: str
    started_at: datetime
    ended_at: datetime | None


class TranscriptOut(SnakeResponseModel):
    entries: list[TranscriptEntryOut]


class CallTranscriptOut(TranscriptOut):
    call_id: str


class CostLineOut(ResponseModel):
    """One line of the SDK's `cost_breakdown` (camelCase inside the snake_case report)."""

    provider: str
    metric: str
    quantity: float
    key_source: Literal["BYOK", "MANAGED"]
    cost_micro_usd: str


class CostItemOut(SnakeResponseModel):
    item: str
    minutes: float
    rate_per_minute: float
    amount: float


class CostOut(SnakeResponseModel):
    """Trunkline's own view of the cost: the rate card's billing increment and rates."""

    currency: str
    billing_increment_seconds: int
    talk_seconds: float
    items: list[CostItemOut]
    total: float


class RecordingOut(SnakeResponseModel):
    egress_id: str
    status: str
    url: str | None
    duration_seconds: float | None
    size_bytes: int | None


class ArtifactsOut(SnakeResponseModel):
    transcript_url: str | None = None
    recording: RecordingOut | None = None
    recording_error: str | None = None


class CallbackOut(SnakeResponseModel):
    id: str
    to: str
    at: datetime
    requested_at: datetime
    status: str


class VoicemailOut(SnakeResponseModel):
    detected: bool
    amd_verdict: Literal["human", "machine"] | None
    delivery: str | None


class ReportCallOut(SnakeResponseModel):
    direction: str
    from_: str = Field(alias="from")
    to: str
    status: str
    ended_reason: str | None
    failure_cause: str | None
    duration_seconds: float | None


class ReportOut(SnakeResponseModel):
    """The SDK's `CallReport`; the `call.report` webhook carries the same body."""

    session_id: str
    call_id: str
    organization_id: str
    summary: str
    outcome: str
    structured_data: dict[str, Any]
    transcript: TranscriptOut
    cost_micro_usd: str = Field(description="The total in millionths of a US dollar.")
    cost_breakdown: list[CostLineOut]
    cost: CostOut
    artifacts: ArtifactsOut
    metadata: dict[str, Any]
    scheduled_callback: CallbackOut | None
    voicemail: VoicemailOut
    analysis_status: Literal["heuristic", "completed", "failed"]
    analysis_error: str | None = Field(description="Why the LLM analyzer's answer was not used.")
    analysis_completed_at: datetime
    analysis_version: int
    analyzer: Literal["rules", "llm"]
    call: ReportCallOut
    created_at: datetime
    updated_at: datetime


class FinalizeBody(ApiModel):
    force_analysis: StrictBool = Field(False, description="Analyse again: a new report version.")
    retry_webhook: StrictBool = Field(False, description="Send the `call.report` webhook again.")


class FinalizeOut(SnakeResponseModel):
    """The SDK's `FinalizeCallReportResult`: the latest report's figures (empty before the
    first), and what was asked of the run."""

    session_id: str
    summary: str
    outcome: str
    cost_micro_usd: str
    workflow_id: str
    already_running: bool = Field(
        description="A report run was going: it stands, and these flags were not applied."
    )
    force_analysis: bool
    retry_webhook: bool
