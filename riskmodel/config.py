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

#: ``--data-dir`` (or RISKMODEL_DATA, which the CLI passes the same way): resolved when it can be;
#: a setting that cannot (a symbolic-link loop, ``~nosuchuser``) is kept as given and refused
#: by :func:`data_dir` only when a command reads data (a run of a synthetic scenario needs none).
_override: Path | None = None


def _resolve(raw: str | Path) -> Path:
    """``raw`` with ``~`` expanded and symbolic links resolved, or an error naming the setting
    (``Path.resolve`` raises RuntimeError on a link loop, ``expanduser`` on an unknown user)."""
    how = f"pass --data-dir or set {ENV_DATA} to a folder"
    text = os.fspath(raw)
    try:
        expanded = Path(text).expanduser()
    except RuntimeError:
        head = text.split("/", 1)[0]
        what = "no home directory is known" if head == "~" else "no such user"
        raise InputError(f"cannot expand {head!r}: {what}; {how}", field="data_dir") from None
    try:
        return expanded.resolve()
    except (RuntimeError, OSError):  # a loop (RuntimeError before Python 3.13, then OSError)
        whole = expanded.is_symlink() and _resolves(expanded.parent)
        what = "is" if whole else "passes through"
        raise InputError(f"{text} {what} a symbolic-link loop; {how}", field="data_dir") from None
    except ValueError as exc:  # an embedded NUL byte
        raise InputError(f"{text!r} is not a path ({exc}); {how}", field="data_dir") from None


def _resolves(path: Path) -> bool:
    try:
        path.resolve()
    except (RuntimeError, OSError, ValueError):
        return False
    return True


def set_data_dir(path: str | Path | None) -> None:
    """Set the data directory for this process (the CLI's ``--data-dir``). Never raises: a
    setting that cannot be resolved is refused when data is read (:func:`data_dir`)."""
    global _override
    if path is None:
        _override = None
        return
    try:
        _override = _resolve(path)
    except InputError:
        _override = Path(path)  # kept as given: resolved again, and refused, when data is read


def default_data_dir() -> Path | None:
    """The data directory if one can be found, else ``None``. A setting that names no usable
    path (a symbolic-link loop, an unknown user's ``~``) raises InputError: it is not read as
    "no setting"."""
    if _override is not None:
        return _resolve(_override)
    env = os.environ.get(ENV_DATA)
    if env:
        return _resolve(env)
    for base in (PROJECT_ROOT, Path.cwd()):
        cand = (base.parent / "shared" / "data").resolve()
        if cand.is_dir():
            return cand
    return None


def data_dir(path: str | Path | None = None) -> Path:
    """Resolve the data directory, or raise an error that says how to set it."""
    p = _resolve(path) if path is not None else default_data_dir()
    if p is None or not p.is_dir():
        where = f" ({p})" if p is not None else ""
        raise InputError(
            f"data directory not found{where}: pass --data-dir or set {ENV_DATA} "
            "(default ../shared/data beside the checkout)",
            field="data_dir",
        )
    return p
