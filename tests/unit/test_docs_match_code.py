"""Docs that match the code: every variable a service reads is in the README's configuration tables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic_settings import BaseSettings

from imagebot_dispatcher.settings import DispatcherSettings
from imagebot_gateway.settings import GatewaySettings
from imagebot_imagegen.settings import ImagegenSettings

pytestmark = pytest.mark.unit

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


@pytest.mark.parametrize("settings", [GatewaySettings, DispatcherSettings, ImagegenSettings], ids=lambda s: s.__name__)
def test_every_setting_is_documented_in_the_readme(settings: type[BaseSettings]):
    missing = [name.upper() for name in settings.model_fields if f"`{name.upper()}`" not in README]
    missing = [m for m in missing if m != "INSTANCE_ID"]  # computed per process, not configured
    assert not missing, f"README lacks {missing}"
