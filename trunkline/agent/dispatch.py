"""What Trunkline puts in an agent dispatch's metadata: a call's agent, or a transfer's screener.

The call's pipeline config is read field by field with the API's own models, so one field the
agent cannot use (an unknown shape) is dropped with a warning instead of failing the call.
"""

import json
import logging
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from trunkline.pipeline import PipelineConfig

logger = logging.getLogger(__name__)


class DispatchModel(BaseModel):
    """camelCase on the wire, like every body Trunkline writes; unknown keys are ignored."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


class AmdRequest(DispatchModel):
    mode: str = "agent"
    timeout_seconds: float = 8


class Telephony(DispatchModel):
    amd: AmdRequest | None = None


class CallDispatch(DispatchModel):
    """The agent of a call: its pipeline, who is on the line, and how to reach Trunkline."""

    role: Literal["call"] = "call"
    session_id: str
    direction: Literal["inbound", "outbound"]
    from_number: str = Field(alias="from")
    to_number: str = Field(alias="to")
    pipeline_config: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    telephony: Telephony = Telephony()
    agent_token: str
    api_base_url: str
    tool_secrets: dict[str, str] = {}

    @property
    def party(self) -> str:
        """The person on the phone: the callee (outbound) or the caller (inbound)."""
        return self.to_number if self.direction == "outbound" else self.from_number

    def pipeline(self) -> PipelineConfig:
        """The pipeline config, keeping each field that validates and naming those that do not."""
        return usable_pipeline(self.pipeline_config)


class Destination(DispatchModel):
    to: str
    label: str | None = None


class VoicemailDetection(DispatchModel):
    mode: str = "agent"
    enabled: bool = True
    timeout_seconds: float = 10


class ScreeningDispatch(DispatchModel):
    """The screening agent of one attempt of a warm transfer, on its consultation leg."""

    role: Literal["screening"]
    session_id: str
    transfer_id: str
    attempt: int
    destination: Destination
    screening_prompt: str | None = None
    call_summary: str | None = None
    voicemail_detection: VoicemailDetection | None = None
    agent_token: str
    api_base_url: str


class DispatchError(ValueError):
    """Metadata that is not a Trunkline dispatch."""


def parse_dispatch(raw: str) -> CallDispatch | ScreeningDispatch:
    """The dispatch a job's metadata describes; a `DispatchError` says what is wrong."""
    try:
        fields = json.loads(raw or "{}")
    except json.JSONDecodeError as exc:
        raise DispatchError(f"dispatch metadata is not JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise DispatchError("dispatch metadata is not a JSON object")
    model = ScreeningDispatch if fields.get("role") == "screening" else CallDispatch
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise DispatchError(f"not a Trunkline dispatch: {exc}") from exc


READ_AS_GIVEN = frozenset({"backgroundAudio"})
"""Fields the agent reads from the raw config: the SDK's vocabulary of them is wider than ours."""


def usable_pipeline(config: dict[str, Any]) -> PipelineConfig:
    """`config` as a PipelineConfig, without the fields that do not validate (logged)."""
    kept: dict[str, Any] = {}
    for key, value in config.items():
        if key in READ_AS_GIVEN:
            continue
        try:
            PipelineConfig.model_validate({key: value})
        except ValidationError as exc:
            logger.warning("ignoring pipeline field %s the agent cannot use: %s", key, exc)
        else:
            kept[key] = value
    return PipelineConfig.model_validate(kept)
