"""Configuration shared by every service: read once from the environment (and an optional `.env`)."""

from __future__ import annotations

import os
import socket
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def default_instance_id() -> str:
    """Host name plus pid: unique per process, stable for its lifetime, readable in logs and traces."""
    return f"{socket.gethostname()}-{os.getpid()}"


class CommonSettings(BaseSettings):
    """The variables all three services read. Each service subclasses this with its own."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL(s), comma-separated")
    nats_replicas: int = Field(default=1, ge=1, le=5, description="JetStream replicas of every stream/bucket")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    instance_id: str = Field(default_factory=default_instance_id)

    def nats_servers(self) -> list[str]:
        return [url.strip() for url in self.nats_url.split(",") if url.strip()]
