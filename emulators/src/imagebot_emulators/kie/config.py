"""Emulator settings: CLI flags, then KIE_EMULATOR_* environment variables, then defaults; changeable at run time
through `POST /control/config`."""

from __future__ import annotations

import argparse
import os
from dataclasses import asdict, dataclass, field, fields
from typing import Any

Z_IMAGE = "z-image"
Z_IMAGE_RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16")
Z_IMAGE_PROMPT_MAX = 1000
PRICE_PER_IMAGE = 0.8


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 8082
    public_url: str = ""  # base of result URLs; default http://host:port
    accepted_keys: list[str] = field(default_factory=list)  # empty: any non-empty bearer key is accepted
    generation_seconds: float = 3.0  # createTask -> final state; waiting/queuing/generating split it 10/20/70 %
    real_http_status: bool = False  # False: HTTP 200 with the error in the envelope `code` (what Kie does)
    unknown_task: str = "404"  # "404" -> code 404 "Task not found"; "null" -> code 422 "recordInfo is null"
    create_limit: int = 20  # new tasks per create_window seconds per key (0 = no limit)
    create_window: float = 10.0
    record_rate: int = 0  # recordInfo calls per second per key (0 = no limit; Kie documents 10)
    credits: float = 100.0
    hmac_key: str = ""  # when set, callbacks carry X-Webhook-Timestamp / X-Webhook-Signature
    callbacks_enabled: bool = True
    callback_copies: int = 1  # 2 = every callback is sent twice (duplicates)
    callback_delay: float = 0.0  # seconds between completion and the callback (late callbacks)
    callback_retries: int = 2  # extra attempts when the receiver does not answer 2xx
    image_long_side: int = 1024
    extra_models: list[str] = field(
        default_factory=lambda: ["grok-imagine/text-to-image", "seedream/4.5-text-to-image"]
    )

    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["hmac_key"] = "***" if self.hmac_key else ""
        return data

    def update(self, changes: dict[str, Any]) -> None:
        known = {f.name: f for f in fields(self)}
        for name, value in changes.items():
            if name not in known or name in ("host", "port"):
                raise ValueError(f"unknown or read-only setting {name!r}")
            current = getattr(self, name)
            if isinstance(current, bool):
                value = _as_bool(value)
            elif isinstance(current, float):
                value = float(value)
            elif isinstance(current, int):
                value = int(value)
            elif isinstance(current, list):
                value = list(value) if not isinstance(value, str) else [v for v in value.split(",") if v]
            setattr(self, name, value)


def _as_bool(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def from_cli(argv: list[str] | None = None) -> EmulatorConfig:
    config = EmulatorConfig()
    env_values = {
        f.name: os.environ[f"KIE_EMULATOR_{f.name.upper()}"]
        for f in fields(config)
        if f"KIE_EMULATOR_{f.name.upper()}" in os.environ
    }
    host, port = env_values.pop("host", config.host), env_values.pop("port", config.port)
    config.update(env_values)
    parser = argparse.ArgumentParser(prog="kie-emulator", description="Local Kie.ai API emulator")
    parser.add_argument("--host", default=host)
    parser.add_argument("--port", type=int, default=int(port))
    for f in fields(config):
        if f.name in ("host", "port"):
            continue
        parser.add_argument(f"--{f.name.replace('_', '-')}", dest=f.name, default=None)
    args = parser.parse_args(argv)
    config.host, config.port = args.host, args.port
    config.update(
        {
            f.name: getattr(args, f.name)
            for f in fields(config)
            if f.name not in ("host", "port") and getattr(args, f.name) is not None
        }
    )
    return config
