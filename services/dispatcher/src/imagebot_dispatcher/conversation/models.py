"""Which catalog models the bot offers and what each accepts, within the ImageJobV1 wire contract."""

from __future__ import annotations

import logging

from imagebot_common.catalog import Catalog, CatalogModel, load_catalog
from imagebot_common.messages.v1 import ASPECT_RATIOS, DEFAULT_MODEL, PROMPT_MAX_CHARS

log = logging.getLogger("imagebot.dispatcher.models")

# Used when the catalog cannot be read: the bot still works with z-image (degraded mode).
BUILTIN_DEFAULT = CatalogModel(
    id=DEFAULT_MODEL,
    title="Z-Image Turbo",
    verified=True,
    max_prompt_chars=PROMPT_MAX_CHARS,
    aspect_ratios=ASPECT_RATIOS,
    default_aspect_ratio="1:1",
)


def load_catalog_or_none(path: str | None) -> Catalog | None:
    try:
        return load_catalog(path)
    except Exception:
        log.exception("model catalog unreadable; offering %s only", DEFAULT_MODEL)
        return None


class ModelChoice:
    """The offered models: the whole catalog, or z-image alone with SINGLE_MODEL_ONLY (or no catalog)."""

    def __init__(self, catalog: Catalog | None, *, single_model_only: bool) -> None:
        self._catalog = catalog
        self._single = single_model_only or catalog is None

    @property
    def default(self) -> CatalogModel:
        if self._catalog is None:
            return BUILTIN_DEFAULT
        return self._catalog.get(DEFAULT_MODEL) or self._catalog.default

    @property
    def offered(self) -> tuple[CatalogModel, ...]:
        if self._single or self._catalog is None:
            return (self.default,)
        return self._catalog.models

    @property
    def has_choice(self) -> bool:
        return len(self.offered) > 1

    def find(self, model_id: str | None) -> CatalogModel | None:
        """An offered model by id (None if unknown or not offered now)."""
        return next((m for m in self.offered if m.id == model_id), None)

    def resolve(self, model_id: str | None) -> CatalogModel:
        return self.find(model_id) or self.default


def ratios_of(model: CatalogModel) -> tuple[str, ...]:
    """The model's formats that ImageJobV1 can carry, in the contract's order (1:1, 16:9, 9:16, 4:3, 3:4)."""
    ratios = tuple(r for r in ASPECT_RATIOS if r in model.aspect_ratios)
    return ratios or ASPECT_RATIOS


def prompt_limit_of(model: CatalogModel) -> int:
    return min(model.max_prompt_chars, PROMPT_MAX_CHARS)
