"""Which models are offered: the catalog, z-image alone with SINGLE_MODEL_ONLY, and a built-in z-image without
a catalog; what each accepts stays inside the ImageJobV1 contract."""

from __future__ import annotations

import pytest

from imagebot_common.catalog import Catalog, CatalogModel, default_catalog
from imagebot_common.messages.v1 import ASPECT_RATIOS
from imagebot_dispatcher.conversation.models import ModelChoice, load_catalog_or_none, prompt_limit_of, ratios_of

pytestmark = pytest.mark.unit


def model(model_id: str, ratios: tuple[str, ...] = ASPECT_RATIOS, max_chars: int = 1000) -> CatalogModel:
    return CatalogModel(
        id=model_id, title=model_id, max_prompt_chars=max_chars, aspect_ratios=ratios, default_aspect_ratio=ratios[0]
    )


def test_the_whole_catalog_is_offered_with_z_image_as_the_default():
    choice = ModelChoice(default_catalog(), single_model_only=False)
    assert choice.default.id == "z-image"
    assert choice.offered[0].id == "z-image" and choice.has_choice


def test_single_model_only_offers_z_image_alone():
    choice = ModelChoice(default_catalog(), single_model_only=True)
    assert [m.id for m in choice.offered] == ["z-image"]
    assert not choice.has_choice
    other = default_catalog().models[1].id
    assert choice.find(other) is None and choice.resolve(other).id == "z-image"


def test_z_image_is_the_default_even_if_it_is_not_listed_first():
    catalog = Catalog(models=(model("other"), model("z-image")))
    assert ModelChoice(catalog, single_model_only=True).default.id == "z-image"


def test_without_a_readable_catalog_the_bot_offers_a_built_in_z_image(tmp_path):
    broken = tmp_path / "catalog.json"
    broken.write_text("{not json")
    catalog = load_catalog_or_none(str(broken))
    assert catalog is None
    choice = ModelChoice(catalog, single_model_only=False)
    assert [m.id for m in choice.offered] == ["z-image"]
    assert ratios_of(choice.default) == ASPECT_RATIOS


def test_formats_outside_the_job_contract_are_not_offered():
    assert ratios_of(model("grok", ("1:1", "16:9", "9:16", "3:2", "2:3"))) == ("1:1", "16:9", "9:16")


def test_the_prompt_limit_never_exceeds_the_job_contract():
    assert prompt_limit_of(model("seedream", max_chars=3000)) == 1000
    assert prompt_limit_of(model("short", max_chars=500)) == 500
