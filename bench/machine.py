"""What the figures were measured on: cores, CPU model, memory, versions, and how busy the machine already was."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

from bench import natsd, wrk


def _cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _memory_gib() -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) / 1024 / 1024
    return float("nan")


def describe() -> dict[str, Any]:
    packages = ("aiogram", "aiohttp", "litestar", "uvicorn", "uvloop", "httptools", "nats-py", "opentelemetry-sdk")
    return {
        "nproc": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gib": round(_memory_gib(), 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "nats_server": natsd.version(),
        "wrk": wrk.version(),
        "packages": {name: version(name) for name in packages},
        "load_average_at_start": os.getloadavg(),
    }
