"""Agent request and response bodies."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

from api.schemas.common import Page, ResponseModel
from trunkline.pipeline import AgentWebhooks, AnalysisConfig, Metadata, Name, PipelineConfig


class AgentCreate(PipelineConfig):
    name: Name
    metadata: Metadata = Field(default_factory=dict)
    webhooks: AgentWebhooks | None = None
    analysis: AnalysisConfig | None = None


class AgentUpdate(PipelineConfig):
    """Fields present replace the stored ones (objects whole); `null` clears an optional field."""

    name: Name = Field(None, description="Optional; never null.")  # type: ignore[assignment]
    metadata: Metadata | None = None
    webhooks: AgentWebhooks | None = None
    analysis: AnalysisConfig | None = None


class WebhookTargetOut(ResponseModel):
    url: str
    secret_set: Annotated[bool, Field(description="A legacy per-webhook secret is configured.")]


class AgentWebhooksOut(ResponseModel):
    pre_call: WebhookTargetOut | None = None
    status: WebhookTargetOut | None = None
    post_call: WebhookTargetOut | None = None


class AgentOut(PipelineConfig):
    id: str
    name: str
    metadata: Metadata
    webhooks: AgentWebhooksOut
    analysis: AnalysisConfig | None = None
    created_at: datetime
    updated_at: datetime


class AgentPage(Page[AgentOut]):
    """A page of agents."""
