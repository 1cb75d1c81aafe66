"""Inputs of the thirteenth hunt that the corpus (tests/bad_inputs/) cannot express: an accepted
input that was silently changed (a catalogue's money amounts under a scenario's currency), and
environments the corpus does not set up."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from riskmodel import config

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def catalogue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the catalogue where K-ETS's fine of KRW 100,000 a tonne has no make-good (so it
    caps the price)."""
    d = tmp_path / "markets"
    shutil.copytree(config.MARKETS_DIR, d)
    p = d / "k_ets.yaml"
    text = p.read_text(encoding="utf-8")
    old = ('make_good: {value: null, note: "not in the seeds: the factsheet '
           '(seeds/icap-compare-ets-eu-korea.txt:295) states the fine only"}')
    assert old in text
    p.write_text(text.replace(old, 'make_good: {value: false, source: '
                              '"seeds/icap-compare-ets-eu-korea.txt:295"}'), encoding="utf-8")
    monkeypatch.setattr(config, "MARKETS_DIR", d)
    from riskmodel.batch import parallel

    monkeypatch.setattr(parallel, "_RESOLVED", {})
    return d


def _kets(currency: str | None) -> object:
    from riskmodel.sim.scenario import Scenario

    m: dict[str, object] = {"id": "k_ets", "bau_emissions": 600}
    if currency:
        m["currency"] = currency
    return Scenario.model_validate({"name": "k", "markets": [m],
                                    "horizon": {"start_year": 2024, "years": 2},
                                    "simulation": {"paths": 100, "paths_per_chunk": 50}})


def test_a_catalogue_penalty_is_converted_into_the_scenarios_currency(catalogue: Path) -> None:
    """A scenario that trades K-ETS in EUR (``markets[].currency``) had the catalogue's KRW
    100,000 fine taken as EUR 100,000 (no cap at all); the calibration's prices were converted
    and the catalogue's money amounts were not. They are now converted at the same rates, and a
    note says so."""
    from riskmodel.sim import layout as L
    from riskmodel.sim.resolve import resolve

    krw = resolve(_kets(None))
    assert krw.mp[0, L.CEIL] == pytest.approx(100000.0)
    eur = resolve(_kets("EUR"))
    rate = json.loads((REPO / "calibrations" / "fx.json").read_text())["rates"]["KRW"]
    assert eur.mp[0, L.CEIL] == pytest.approx(100000.0 * rate)
    assert any("catalogue penalty 100000 KRW = 73.68 EUR" in n for n in eur.notes)


PROBE = """
import os, sys
import riskmodel
from riskmodel.sim import kernel
from riskmodel.sim.compile_notice import message
print(os.environ["NUMBA_CACHE_DIR"])
print(kernel.run_paths._cache._cache_path)
print(message())
"""


@pytest.mark.parametrize("where", ["a_file", "a_file/below"])
def test_a_numba_cache_dir_that_cannot_be_used(tmp_path: Path, where: str) -> None:
    """NUMBA_CACHE_DIR naming a file (or a folder below one): numba quietly kept the kernels
    beside the sources (``riskmodel/**/__pycache__``, not keyed by the source fingerprint, so
    an edit of the link solver the kernel inlines left a stale kernel) and the notice said
    later runs would load them from the numba cache. Now a temporary folder of this run holds
    them, removed at exit, and the notice says that later runs compile again."""
    import subprocess
    import sys

    from riskmodel import numba_cache

    (tmp_path / "a_file").write_text("not a folder\n", encoding="utf-8")
    env = {**__import__("os").environ, "NUMBA_CACHE_DIR": str(tmp_path / where)}
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True,
                         text=True, check=True)
    assert "Traceback" not in out.stderr
    used, kernel_cache, notice = out.stdout.rstrip("\n").split("\n")
    assert Path(used).name == f"src-{numba_cache.fingerprint()}"
    assert Path(used).parent.name.startswith("riskmodel-numba-")
    assert Path(kernel_cache).is_relative_to(Path(used))  # not the sources' __pycache__
    assert not Path(used).exists()  # removed when the process ended
    assert notice == (f"compiling kernels for this run only (the numba cache folder "
                      f"{tmp_path / where} cannot be used: a file is in the way; later runs "
                      "compile again: set NUMBA_CACHE_DIR to a writable folder) ...")


def test_a_usable_numba_cache_dir_keeps_the_plain_notice(tmp_path: Path) -> None:
    from riskmodel import numba_cache

    assert numba_cache.unusable(tmp_path / "new" / "cache") is None
    assert (tmp_path / "new" / "cache").is_dir()
    (tmp_path / "f").write_text("x", encoding="utf-8")
    assert numba_cache.unusable(tmp_path / "f") == "a file is in the way"
