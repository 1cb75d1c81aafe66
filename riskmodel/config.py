"""Where things live: the data directory and the project folders.

The data directory holds third-party price and fundamentals files that are read in place and
never copied into the project. It is chosen, in order, by the ``--data-dir`` option, the
``RISKMODEL_DATA`` environment variable, or ``../shared/data`` beside the project checkout
(or beside the current directory) when that exists.
"""

from __future__ import annotations

import os
from pathlib import Path

from riskmodel.errors import InputError

ENV_DATA = "RISKMODEL_DATA"

#: The project checkout (parent of the package directory).
PROJECT_ROOT = Path(__file__).resolve().parent.parent
#: Market catalogue, scenario library, example firms, data manifests (committed).
DATA_DIR = PROJECT_ROOT / "data"
MARKETS_DIR = DATA_DIR / "markets"
SCENARIOS_DIR = DATA_DIR / "scenarios"
FIRMS_DIR = DATA_DIR / "firms"
MANIFESTS_DIR = DATA_DIR / "manifests"
#: Fitted models written by ``riskmodel fit`` (committed).
CALIBRATIONS_DIR = PROJECT_ROOT / "calibrations"
#: Files in the calibrations folder that are not a market's price process.
NOT_MARKET_CALIBRATIONS = frozenset(
    {"dependence", "fundamentals", "backtest", "selection", "fx", "carry"}
)
#: Batch results written by ``riskmodel run`` (git-ignored).
RUNS_DIR = PROJECT_ROOT / "runs"

_override: Path | None = None


def set_data_dir(path: str | Path | None) -> None:
    """Set the data directory for this process (the CLI's ``--data-dir``)."""
    global _override
    _override = Path(path).expanduser().resolve() if path is not None else None


def default_data_dir() -> Path | None:
    """The data directory if one can be found, else ``None`` (no error)."""
    if _override is not None:
        return _override
    env = os.environ.get(ENV_DATA)
    if env:
        return Path(env).expanduser().resolve()
    for base in (PROJECT_ROOT, Path.cwd()):
        cand = (base.parent / "shared" / "data").resolve()
        if cand.is_dir():
            return cand
    return None


def data_dir(path: str | Path | None = None) -> Path:
    """Resolve the data directory, or raise an error that says how to set it."""
    p = Path(path).expanduser().resolve() if path is not None else default_data_dir()
    if p is None or not p.is_dir():
        where = f" ({p})" if p is not None else ""
        raise InputError(
            f"data directory not found{where}: pass --data-dir or set {ENV_DATA} "
            "(default ../shared/data beside the checkout)",
            field="data_dir",
        )
    return p
