"""Agent request and response bodies."""

from datetime import datetime
from typing import Annotated

from pydantic import Field, model_validator

from api.schemas.common import ResponseModel
from trunkline.pipeline import AgentWebhooks, Metadata, PipelineConfig, ShortText


class AgentCreate(PipelineConfig):
    name: ShortText
    metadata: Metadata = Field(default_factory=dict)
    webhooks: AgentWebhooks | None = None


class AgentUpdate(PipelineConfig):
    """Fields present replace the stored ones (objects whole); `null` clears an optional field."""

    name: ShortText | None = None
    metadata: Metadata | None = None
    webhooks: AgentWebhooks | None = None

    @model_validator(mode="after")
    def _name_not_cleared(self) -> "AgentUpdate":
        if "name" in self.model_fields_set and self.name is None:
            raise ValueError("name cannot be null")
        return self


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
    created_at: datetime
    updated_at: datetime
