"""Where each resolved value came from: the scenario, a catalogue file, a calibration, a default.

``riskmodel.sim.resolve`` records every value it decides in a :class:`Sources` as it goes, so
the design a user sees (``riskmodel scenario show``, ``design.json``) is the one that runs.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from riskmodel import config

DEFAULT = "default"


def rel(path: str | Path) -> str:
    """A path relative to the project root when it lies inside it."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(config.PROJECT_ROOT.resolve()))
    except ValueError:
        return str(p)


def scenario(field: str) -> str:
    """Source: a field the scenario sets."""
    return f"scenario: {field}"


def catalogue_file(market_id: str) -> str:
    """A market's catalogue file as errors and sources name it (``data/markets/<id>.yaml``)."""
    return rel(config.MARKETS_DIR / f"{market_id}.yaml")


def catalogue(market_id: str, field: str) -> str:
    """Source: a field of a catalogue file."""
    return f"catalogue: {catalogue_file(market_id)}: {field}"


def calibration(path: str | Path, field: str) -> str:
    """Source: a field of a calibration file."""
    return f"calibration: {rel(path)}: {field}"


def default(why: str = "") -> str:
    """Source: the schema's or the model's default."""
    return f"{DEFAULT}: {why}" if why else DEFAULT


def derived(how: str) -> str:
    """Source: computed from other resolved values."""
    return f"derived: {how}"


def _plain(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "tolist"):
        return _plain(v.tolist())
    if isinstance(v, list | tuple):
        return [_plain(x) for x in v]
    if isinstance(v, dict):
        return {str(a): _plain(b) for a, b in v.items()}
    return v


class Sources:
    """An ordered record ``key -> {value, source}`` (keys are dotted: ``markets.eu_ets.cap.type``,
    ``dependence.copula``, ``links.eu_ets-china_ets.quota``)."""

    def __init__(self) -> None:
        self.items: dict[str, dict[str, Any]] = {}

    def set(self, key: str, value: Any, source: str) -> None:
        """Record (or overwrite) one resolved value and its source."""
        self.items[key] = {"value": _plain(value), "source": source}

    def given(
        self, key: str, model: Any, name: str, path: str, value: Any = None, fallback: str = DEFAULT
    ) -> None:
        """Record ``model.name``: from the scenario when the user set it, else ``fallback``."""
        v = getattr(model, name) if value is None else value
        src = scenario(f"{path}.{name}") if name in model.model_fields_set else fallback
        self.set(key, v, src)

    def under(self, prefix: str) -> dict[str, dict[str, Any]]:
        """The entries below ``prefix.`` with the prefix removed."""
        head = prefix + "."
        return {k[len(head) :]: v for k, v in self.items.items() if k.startswith(head)}
