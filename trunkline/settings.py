"""Deployment settings, read from environment variables (and an optional `.env` file)."""

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob a process of the stack reads; the variable name is the field name in capitals."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".trunkline"), validation_alias="TRUNKLINE_DATA_DIR")
    database_url: str = "sqlite:///.trunkline/trunkline.db"

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "trunkline"
    temporal_ui_port: int = 8233

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    public_base_url: str = "http://127.0.0.1:8000"

    livekit_url: str = "http://127.0.0.1:7880"
    livekit_api_key: str = "devkey"
    livekit_api_secret: str = "trunkline-dev-livekit-secret-0123456789abcdef"
    livekit_sip_outbound_trunk_id: str = "ST_trunkline_outbound"

    telnyx_api_base_url: str = "http://127.0.0.1:7880/telnyx/v2"
    telnyx_api_key: str = "KEY_trunkline_dev"
    telnyx_public_key: str = ""

    simulator_host: str = "127.0.0.1"
    simulator_port: int = 7880

    webhook_timeout_seconds: float = Field(10.0, gt=0, le=60)
    webhook_allow_private_targets: bool = False
    webhook_secret_grace_hours: float = Field(24.0, ge=0)


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
