"""The catalog of Kie.ai text-to-image models, shared by the dispatcher (what to offer) and imagegen (how to ask).

The data lives in `catalog.json` beside this module (or a file named by the service's settings). The first
model is the default; with `single_model_only` only the default (z-image) is offered.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.json")


class CatalogModel(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str = Field(min_length=1)
    title: str
    description: str = ""
    verified: bool = False  # input schema confirmed from Kie's docs
    max_prompt_chars: int = Field(gt=0)
    aspect_ratio_field: str = "aspect_ratio"
    aspect_ratios: tuple[str, ...] = Field(min_length=1)
    default_aspect_ratio: str
    price_credits: float | None = None
    extra_input: dict[str, Any] = Field(default_factory=dict)

    def task_input(self, prompt: str, aspect_ratio: str) -> dict[str, Any]:
        """The createTask `input` object for this model."""
        if aspect_ratio not in self.aspect_ratios:
            raise ValueError(f"{self.id} does not take aspect ratio {aspect_ratio!r}")
        return {**self.extra_input, "prompt": prompt, self.aspect_ratio_field: aspect_ratio}


class Catalog(BaseModel):
    model_config = ConfigDict(frozen=True)

    models: tuple[CatalogModel, ...] = Field(min_length=1)

    @property
    def default(self) -> CatalogModel:
        return self.models[0]

    def offered(self, *, single_model_only: bool) -> tuple[CatalogModel, ...]:
        return (self.default,) if single_model_only else self.models

    def get(self, model_id: str) -> CatalogModel | None:
        return next((m for m in self.models if m.id == model_id), None)


def load_catalog(path: str | Path | None = None) -> Catalog:
    """Read and validate a catalog file (the packaged one when `path` is None)."""
    data = json.loads(Path(path or DEFAULT_CATALOG_PATH).read_text(encoding="utf-8"))
    return Catalog.model_validate({"models": data["models"]})


@cache
def default_catalog() -> Catalog:
    return load_catalog()
