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
