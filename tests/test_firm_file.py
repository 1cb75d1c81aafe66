"""Firm files: the examples validate; broken files get errors naming the file and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.firm.firm import check_firm_years, firm_from_dict, load_firm

GOOD = """
name: test firm
market: k_ets
emissions: {level: 10.0, idiosyncratic_vol: 0.05}
allocation: {by_year: {2024: 9.0, 2025: 8.5}}
hedges:
  - {type: futures, year: 2024, ratio: 0.5}
"""


def test_example_firms_validate() -> None:
    files = sorted(config.FIRMS_DIR.glob("*.yaml"))
    assert len(files) >= 4
    for f in files:
        firm = load_firm(f)
        assert firm.sources, f"{f.name}: cite sources or say the numbers are illustrative"


def _write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "firm.yaml"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (("emissions: {level: 10.0, idiosyncratic_vol: 0.05}", "emissions: {level: -1}"),
         "emissions.level", "greater than 0"),
        (("emissions: {level: 10.0, idiosyncratic_vol: 0.05}",
          "emissions: {level: 10.0, share: 0.1}"), "emissions", "exactly one of"),
        (("ratio: 0.5", "ratio: 0.5, volume: 1.0"), "hedges[0]", "exactly one of"),
        (("type: futures", "type: swap"), "hedges[0].type", "futures"),
        (("market: k_ets", "market: K-ETS"), "market", "pattern"),
        (("name: test firm", "name: test firm\nbank: lots"), "bank", "number"),
        (("name: test firm", "name: test firm\nbanked: 1.0"), "banked", "Extra inputs"),
        (("allocation: {by_year: {2024: 9.0, 2025: 8.5}}",
          "allocation: {by_year: {2024: 9.0}, output_based: 0.9}"), "allocation", "one of"),
        (("name: test firm", "name: test firm\ncurrency: XYZ"), "currency", "XYZ"),
    ],
)
def test_broken_firm_file_names_file_and_field(
    tmp_path: Path, change: tuple[str, str], field: str, words: str
) -> None:
    p = _write(tmp_path, GOOD.replace(*change))
    with pytest.raises(InputError) as ei:
        load_firm(p)
    assert ei.value.file == str(p)
    assert ei.value.field == field
    assert words in str(ei.value)
    assert str(p) in str(ei.value)


def test_missing_field_and_bad_yaml(tmp_path: Path) -> None:
    p = _write(tmp_path, GOOD.replace("market: k_ets\n", ""))
    with pytest.raises(InputError, match="market") as ei:
        load_firm(p)
    assert ei.value.field == "market"
    p = _write(tmp_path, "name: [unclosed\n")
    with pytest.raises(InputError, match="not valid YAML") as ei:
        load_firm(p)
    assert ei.value.file == str(p)
    with pytest.raises(InputError, match="file not found"):
        load_firm(tmp_path / "absent.yaml")
    p = _write(tmp_path, "- a list\n")
    with pytest.raises(InputError, match="mapping"):
        load_firm(p)


def test_years_outside_the_horizon_are_named(tmp_path: Path) -> None:
    p = _write(tmp_path, GOOD)
    firm = load_firm(p)
    check_firm_years(firm, [2024, 2025])
    with pytest.raises(InputError, match="2026") as ei:
        check_firm_years(firm, [2024, 2025, 2026], file=p)
    assert ei.value.field == "allocation.by_year" and ei.value.file == str(p)
    firm = firm_from_dict({"name": "x", "market": "k_ets", "emissions": {"share": 0.1},
                           "hedges": [{"year": 2030, "volume": 1.0}]})
    with pytest.raises(InputError, match="outside the horizon") as ei:
        check_firm_years(firm, [2024, 2025])
    assert ei.value.field == "hedges[0].year"


def test_stream_seed_is_stable() -> None:
    a = firm_from_dict({"name": "x", "market": "k_ets", "emissions": {"share": 0.1}})
    b = firm_from_dict({"name": "x", "market": "eu_ets", "emissions": {"share": 0.2}})
    assert a.stream_seed() == b.stream_seed()
    c = firm_from_dict({"name": "x", "market": "k_ets",
                        "emissions": {"share": 0.1, "seed": 5}})
    assert c.stream_seed() == 5
