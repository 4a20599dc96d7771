"""The one Settings class: the only reader of the environment (prefix ``RETURNBRIDGE_``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Configuration, from ``RETURNBRIDGE_*`` environment variables or arguments."""

    model_config = SettingsConfigDict(env_prefix="RETURNBRIDGE_", extra="ignore")

    database_url: str = Field(
        default="sqlite:///returnbridge.db",
        description="SQLAlchemy URL: sqlite:///FILE (embedded default) or postgresql://...",
    )
    batch_size: int = Field(
        default=200, ge=1, le=10_000, description="Inbox events processed per transaction."
    )
    import_batch_size: int = Field(
        default=1_000, ge=1, le=100_000, description="Imported events stored per transaction."
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["console", "json"] = "console"
