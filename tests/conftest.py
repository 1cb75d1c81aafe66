"""Shared fixtures: the real data directory (skip when absent) and a scratch project folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from riskmodel import config

# numba's on-disk cache lives in the checkout so repeated runs skip compilation.
os.environ.setdefault(
    "NUMBA_CACHE_DIR", str(Path(__file__).resolve().parent.parent / ".numba_cache")
)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real third-party data directory; tests that need it skip with a reason when absent."""
    d = config.default_data_dir()
    if d is None or not d.is_dir():
        pytest.skip(
            f"real data directory not found (set {config.ENV_DATA} or place ../shared/data "
            "beside the checkout)"
        )
    return d


@pytest.fixture
def tmp_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run a test inside an empty temporary directory."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture(autouse=True)
def _data_dir_override_reset():
    """A CLI call in a test sets the process-wide data directory (``--data-dir`` or
    RISKMODEL_DATA, read by the callback); reset it so later tests read the real data."""
    saved = config._override
    yield
    config._override = saved
