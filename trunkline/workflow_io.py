"""Typed inputs and outputs of workflows and activities: pure pydantic, safe in the sandbox."""

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

DeliveryStatus = Literal["pending", "succeeded", "failed"]


class WebhookDeliveryInput(BaseModel):
    delivery_id: str


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
