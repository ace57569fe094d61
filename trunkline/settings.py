"""Deployment settings, read from environment variables (and an optional `.env` file)."""

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from trunkline.reports.costs import RateCard


class SettingError(Exception):
    """A setting that cannot work as given; the message names it (a one-line startup error)."""


class Settings(BaseSettings):
    """Every knob a process of the stack reads; the variable name is the field name in capitals."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", validate_by_name=True)

    data_dir: Path = Field(Path(".trunkline"), validation_alias="TRUNKLINE_DATA_DIR")
    database_url: str = Field("", description="Defaults to a SQLite file in the data folder.")

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "trunkline"
    # Temporal's own environment configuration (`temporalio.envconfig`, the `temporal` CLI's):
    # empty means unset; what is set wins over the profile file's, which wins over the defaults.
    temporal_api_key: str = Field("", description="Temporal Cloud API key; turns TLS on.")
    temporal_tls: bool | None = Field(None, description="Force TLS on or off; unset: decided.")
    temporal_tls_client_cert_path: str = ""
    temporal_tls_client_key_path: str = ""
    temporal_tls_server_ca_cert_path: str = ""
    temporal_tls_server_name: str = ""
    temporal_config_file: str = Field("", description="A TOML file of connection profiles.")
    temporal_profile: str = Field("", description="The profile to use; default: `default`.")
    temporal_ui_port: int = 8233

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"
    max_request_body_bytes: int = Field(
        1_000_000, ge=1024, description="Larger request bodies are refused (413) unread."
    )

    livekit_url: str = "http://127.0.0.1:7880"
    livekit_api_key: str = ""
    livekit_api_secret: str = Field("", description="No default: webhooks fail closed without it.")
    livekit_public_url: str | None = Field(
        None,
        description="Where browsers reach LiveKit (web join); default: `livekit_url` as ws(s).",
    )
    livekit_sip_outbound_trunk_id: str = "ST_trunkline_outbound"
    livekit_sip_host: str = Field(
        "sip.trunkline.sim", description="Host of LiveKit's SIP URI that carrier legs bridge to."
    )
    livekit_agent_name: str = "trunkline-agent"

    telnyx_api_base_url: str = "http://127.0.0.1:7880/telnyx/v2"
    telnyx_api_key: str = "KEY_trunkline_dev"
    telnyx_public_key: str = Field("", description="Base64 Ed25519 key that signs Telnyx webhooks.")
    telnyx_connection_id: str = "trunkline-call-control"
    managed_number_price_credits: float = Field(1.0, ge=0)

    simulator_host: str = "127.0.0.1"
    simulator_port: int = 7880
    simulator_telnyx_private_key: str = Field(
        "", description="Base64 Ed25519 private key the simulator signs Telnyx webhooks with."
    )

    agent_token_secret: str = Field(
        "", description="Signs the per-call tokens agents use; without it they are refused."
    )
    pre_call_timeout_seconds: float = Field(3.0, gt=0, le=30)
    call_watchdog_seconds: float = Field(30.0, gt=0)
    worker_max_cached_workflows: int = Field(
        1000,
        ge=2,
        description="Workflows a worker keeps in memory between their tasks; one evicted is "
        "replayed from its history at its next task. Bounds a worker's memory however many "
        "calls are open.",
    )
    call_max_duration_seconds: float = Field(3600.0, gt=0)
    transfer_decision_timeout_seconds: float = Field(
        120.0, gt=0, description="How long a screened warm-transfer recipient has to decide."
    )

    call_recording_enabled: bool = Field(
        True, description="Record every answered call (room-composite audio egress)."
    )
    rate_card: RateCard = Field(
        default_factory=RateCard, description="JSON: credits per minute for each part of a call."
    )
    analysis_llm_base_url: str = Field(
        "", description="An OpenAI-compatible API (e.g. https://api.openai.com/v1); empty: rules."
    )
    analysis_llm_api_key: str = ""
    analysis_llm_model: str = "gpt-4o-mini"
    analysis_llm_timeout_seconds: float = Field(20.0, gt=0, le=120)

    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    webhook_allow_private_targets: bool = False
    webhook_secret_grace_hours: float = Field(24.0, ge=0)

    api_metrics_port: int = Field(
        0, ge=0, le=65535, description="The API's Prometheus `/metrics` port; 0: none."
    )
    worker_metrics_port: int = Field(
        0, ge=0, le=65535, description="The worker's Prometheus `/metrics` port; 0: none."
    )
    metrics_host: str = Field("127.0.0.1", description="Where the `/metrics` servers listen.")
    log_format: Literal["text", "json"] = Field(
        "text", description="`json`: one JSON object a line, with the call's ids."
    )

    @field_validator("temporal_tls", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        return None if value == "" else value

    @model_validator(mode="after")
    def _default_database(self) -> "Settings":
        if not self.database_url:
            self.database_url = f"sqlite:///{self.data_dir.resolve()}/trunkline.db"
        return self

    def as_environment(self) -> dict[str, str]:
        """These settings as the environment variables that reproduce them in a child process."""
        environment = {}
        for name, field in type(self).model_fields.items():
            variable = field.validation_alias if isinstance(field.validation_alias, str) else name
            value = getattr(self, name)
            if value is None:
                continue  # unset: the child's default, as here (never the text "None")
            if isinstance(value, BaseModel):
                environment[variable.upper()] = value.model_dump_json()
            else:
                environment[variable.upper()] = (
                    str(value).lower() if isinstance(value, bool) else str(value)
                )
        return environment


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
