"""Chaos runs: what each one measured is printed at the end of the run and kept as JSON for docs/reliability.md."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FIGURES_FILE = Path(tempfile.gettempdir()) / "imagebot-chaos-figures.json"
_measured: dict[str, dict[str, Any]] = {}


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """A dict the test fills with its figures (tried, lost, duplicates, durations...), reported even on failure."""
    found: dict[str, Any] = {}
    yield found
    _measured[request.node.name] = found
    print(f"\n{request.node.name}: {json.dumps(found, ensure_ascii=False)}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not _measured:
        return
    terminalreporter.section("chaos figures")
    for name, found in _measured.items():
        terminalreporter.write_line(f"{name}:")
        for key, value in found.items():
            terminalreporter.write_line(f"    {key}: {json.dumps(value, ensure_ascii=False)}")
    FIGURES_FILE.write_text(json.dumps(_measured, indent=2, ensure_ascii=False))
    terminalreporter.write_line(f"(also written to {FIGURES_FILE})")
