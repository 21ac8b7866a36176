"""A settings error a human can act on: which variable, what is wrong — never the value (it may be a secret)."""

from __future__ import annotations

from pydantic import ValidationError


def explain_settings_error(service: str, exc: ValidationError) -> str:
    lines = [f"{service}: invalid configuration:"]
    for error in exc.errors(include_input=False, include_url=False):
        location = "_".join(str(part) for part in error["loc"]).upper() or "(settings)"
        lines.append(f"  {location}: {error['msg']}")
    return "\n".join(lines)
