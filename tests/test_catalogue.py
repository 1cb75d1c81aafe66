"""The market catalogue: every file loads through the schema, broken files are rejected with the
file and the dotted field named, citations point at seed lines that hold the cited numbers, and the
README table is the generated one."""

from __future__ import annotations

import copy
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from riskmodel import config
from riskmodel.data import catalogue as cat
from riskmodel.errors import InputError

EXPECTED_IDS = {
    "eu_ets",
    "k_ets",
    "china_ets",
    "beijing",
    "shanghai",
    "guangdong",
    "shenzhen",
    "tianjin",
    "hubei",
    "chongqing",
    "fujian",
    "tokyo",
    "saitama",
    "california",
    "quebec",
    "rggi",
    "swiss_ets",
    "nz_ets",
    "uk_ets",
}


def _raw(market_id: str) -> dict[str, Any]:
    return yaml.safe_load((config.MARKETS_DIR / f"{market_id}.yaml").read_text(encoding="utf-8"))


def _write(directory: Path, market_id: str, data: Any) -> Path:
    path = directory / f"{market_id}.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path


def _error(market_id: str, data: Any, tmp_path: Path) -> InputError:
    path = _write(tmp_path, market_id, data)
    with pytest.raises(InputError) as info:
        cat.load_market(market_id, path=path)
    return info.value


# ---------------------------------------------------------------------------- the real catalogue


def test_every_catalogue_file_loads() -> None:
    markets = cat.load_catalogue()
    assert EXPECTED_IDS <= set(markets)
    for mid in markets:
        assert cat.load_market(mid).id == mid
        assert (config.MARKETS_DIR / f"{mid}.yaml").read_text(encoding="utf-8").startswith("#")


def test_catalogue_matches_the_brief() -> None:
    """Design facts the engine relies on: cap types, proxies, links and their years."""
    m = cat.load_catalogue()
    assert m["k_ets"].cap.type == m["eu_ets"].cap.type == "absolute"
    assert m["china_ets"].cap.type == "intensity"
    for pilot in (
        "beijing",
        "shanghai",
        "guangdong",
        "shenzhen",
        "tianjin",
        "hubei",
        "chongqing",
        "fujian",
    ):
        assert m[pilot].status == "pilot" and m[pilot].currency == "CNY"
        assert m[pilot].price_series.market == pilot
    assert m["swiss_ets"].price_series.proxy.of == "eu_ets"
    assert m["quebec"].price_series.proxy.of == "california"
    links = {(mid, lk.partner): lk for mid, d in m.items() for lk in d.links}
    assert links[("eu_ets", "swiss_ets")].since == 2020
    assert links[("california", "quebec")].since == 2014
    assert links[("tokyo", "saitama")].since == 2011
    assert links[("california", "ontario")].until == 2018
    assert m["eu_ets"].stabilisation.msr is not None
    assert m["k_ets"].stabilisation.kets_triggers.discretionary is True


def test_price_series_agree_with_the_series_registry() -> None:
    """The catalogue's instrument per market matches data/manifests/series.yaml (price layer)."""
    registry = config.MANIFESTS_DIR / "series.yaml"
    if not registry.is_file():
        pytest.skip("data/manifests/series.yaml not written yet")
    entries = (yaml.safe_load(registry.read_text(encoding="utf-8")) or {}).get("markets", {})
    checked = 0
    for mid, d in cat.load_catalogue().items():
        entry = entries.get(mid)
        if d.price_series.market == mid and isinstance(entry, dict):
            assert entry.get("instrument") == d.price_series.instrument, mid
            assert entry.get("currency", d.currency) == d.currency, mid
            checked += 1
        elif d.price_series.market is None:
            assert not isinstance(entry, dict), f"{mid}: registry has a series the catalogue lacks"
    assert checked > 0


def test_citations_hold_the_cited_numbers(data_dir: Path) -> None:
    seeds = data_dir.parent / "seeds"
    if not seeds.is_dir():
        pytest.skip(f"seed documents not found at {seeds}")
    assert cat.check_citations(cat.load_catalogue(), seeds, data_dir) == []


def test_citation_check_catches_a_wrong_number(data_dir: Path) -> None:
    seeds = data_dir.parent / "seeds"
    if not seeds.is_dir():
        pytest.skip(f"seed documents not found at {seeds}")
    m = cat.load_catalogue()
    eu = m["eu_ets"]
    wrong = eu.cap.path[2013].model_copy(update={"value": 2184.0})
    bad = eu.model_copy(
        update={"cap": eu.cap.model_copy(update={"path": {**eu.cap.path, 2013: wrong}})}
    )
    problems = cat.check_citations({"eu_ets": bad}, seeds)
    assert problems == [f"eu_ets: cap.path.2013: value 2184 not found on {wrong.source}"]
    far = "seeds/icap-compare-ets-eu-korea.txt:9999"
    moved = eu.cap.path[2013].model_copy(update={"source": far})
    bad = eu.model_copy(
        update={"cap": eu.cap.model_copy(update={"path": {**eu.cap.path, 2013: moved}})}
    )
    assert "outside" in cat.check_citations({"eu_ets": bad}, seeds)[0]


def test_readme_table_is_generated() -> None:
    text = (config.MARKETS_DIR / "README.md").read_text(encoding="utf-8")
    assert cat.readme_with_table(text, cat.catalogue_table()) == text


# ---------------------------------------------------------------------------- broken files


@pytest.mark.parametrize(
    ("mutate", "field", "words"),
    [
        (lambda d: d.pop("currency"), "currency", "required field is missing"),
        (lambda d: d["cap"]["path"][2021].update(value=-5), "cap.path.2021.value", "must be > 0"),
        (lambda d: d["cap"]["path"][2022].update(value=0), "cap.path.2022.value", "must be > 0"),
        (lambda d: d.update(currency="KRX"), "currency", "must be one of"),
        (lambda d: d["cap"].update(type="hybrid"), "cap.type", "must be one of"),
        (lambda d: d["cap"].update(type="indexed", degree=1.5), "cap.degree", "must be <= 1"),
        (lambda d: d["cap"].update(type="indexed"), "cap.degree", "needs a degree"),
        (lambda d: d["cap"].update(degree=0.5), "cap.degree", "only indexed caps"),
        (
            lambda d: d["collar"].update(
                floor={"value": 20000, "unit": "KRW/t", "source": "data/x.csv"},
                ceiling={"value": 10000, "unit": "KRW/t", "source": "data/x.csv"},
            ),
            "collar.floor.value",
            "above the ceiling",
        ),
        (
            lambda d: d["penalty"]["amount"].update(unit="ABC/t"),
            "penalty.amount.unit",
            "unknown currency 'ABC'",
        ),
        (
            lambda d: d["penalty"]["amount"].update(unit="EUR/t"),
            "penalty.amount.unit",
            "market currency KRW",
        ),
        (lambda d: d["coverage"].update(colour="red"), "coverage.colour", "unknown field"),
        (lambda d: d["cap"]["path"][2015].pop("source"), "cap.path.2015.source", "needs a source"),
        (lambda d: d["penalty"]["make_good"].pop("note"), "penalty.make_good.note", "needs a note"),
        (
            lambda d: d["offsets"]["limit_share"].update(value=5),
            "offsets.limit_share.value",
            "must be <= 1",
        ),
        (
            lambda d: d["banking"]["allowed"].update(source="ICAP p.3"),
            "banking.allowed.source",
            "must look like",
        ),
        (lambda d: d.update(id="korea"), "id", "file name stem"),
        (lambda d: d["price_series"].pop("instrument"), "price_series.instrument", "required"),
        (
            lambda d: d["stabilisation"]["kets_triggers"].pop("low_price_multiple"),
            "stabilisation.kets_triggers.low_price_multiple",
            "required field is missing",
        ),
    ],
)
def test_broken_file_names_file_and_field(
    tmp_path: Path, mutate: Any, field: str, words: str
) -> None:
    data = copy.deepcopy(_raw("k_ets"))
    mutate(data)
    err = _error("k_ets", data, tmp_path)
    assert err.field == field
    assert words in str(err)
    assert str(err).startswith(f"{tmp_path / 'k_ets.yaml'}: {field}: ")


def test_intensity_cap_needs_benchmark(tmp_path: Path) -> None:
    data = _raw("beijing")
    del data["cap"]["benchmark"]
    assert _error("beijing", data, tmp_path).field == "cap.benchmark"


def test_every_problem_on_its_own_line(tmp_path: Path) -> None:
    data = _raw("eu_ets")
    data["cap"]["path"][2013]["value"] = -1
    data["links"][0]["type"] = "chain"
    data["surprise"] = True
    text = str(_error("eu_ets", data, tmp_path))
    lines = text.splitlines()
    shown = str(tmp_path / "eu_ets.yaml")
    assert [ln.split(": ")[1] for ln in lines] == [
        "cap.path.2013.value",
        "links.0.type",
        "surprise",
    ]
    assert all(ln.startswith(shown + ": ") for ln in lines)


def test_not_a_mapping_and_bad_yaml(tmp_path: Path) -> None:
    assert _error("eu_ets", ["a", "list"], tmp_path).field == "(file)"
    path = tmp_path / "eu_ets.yaml"
    path.write_text("id: [unclosed\n", encoding="utf-8")
    with pytest.raises(InputError, match="eu_ets.yaml: line"):
        cat.load_market("eu_ets", path=path)
    with pytest.raises(InputError, match="no catalogue file for market 'mars'"):
        cat.load_market("mars")


def test_project_files_are_shown_relative() -> None:
    data = _raw("eu_ets")
    data.pop("name")
    with pytest.raises(InputError) as info:
        cat.validate_market(data, file=config.MARKETS_DIR / "eu_ets.yaml", stem="eu_ets")
    assert str(info.value) == "data/markets/eu_ets.yaml: name: required field is missing"


# ---------------------------------------------------------------------------- cross-file checks


@pytest.fixture
def catalogue_copy(tmp_path: Path) -> Path:
    d = tmp_path / "markets"
    d.mkdir()
    for mid in ("eu_ets", "swiss_ets", "k_ets"):
        shutil.copy(config.MARKETS_DIR / f"{mid}.yaml", d / f"{mid}.yaml")
    return d


def test_small_catalogue_loads(catalogue_copy: Path) -> None:
    assert set(cat.load_catalogue(catalogue_copy)) == {"eu_ets", "swiss_ets", "k_ets"}


def test_unknown_link_partner(catalogue_copy: Path) -> None:
    data = _raw("k_ets")
    data["links"] = [
        {
            "partner": "mars_ets",
            "since": 2030,
            "type": "bilateral",
            "source": "seeds/icap-compare-ets-eu-korea.txt:288",
        }
    ]
    _write(catalogue_copy, "k_ets", data)
    with pytest.raises(InputError) as info:
        cat.load_catalogue(catalogue_copy)
    assert info.value.field == "links.0.partner"
    assert str(info.value).startswith(str(catalogue_copy / "k_ets.yaml"))
    assert "unknown link partner 'mars_ets'" in str(info.value)


def test_one_sided_and_inconsistent_links(catalogue_copy: Path) -> None:
    data = _raw("k_ets")
    data["links"] = [
        {
            "partner": "eu_ets",
            "since": 2025,
            "type": "bilateral",
            "source": "seeds/icap-compare-ets-eu-korea.txt:288",
        }
    ]
    _write(catalogue_copy, "k_ets", data)
    with pytest.raises(InputError, match="eu_ets does not list the bilateral link back"):
        cat.load_catalogue(catalogue_copy)
    swiss = _raw("swiss_ets")
    swiss["links"][0]["since"] = 2019
    _write(catalogue_copy, "swiss_ets", swiss)
    _write(catalogue_copy, "k_ets", _raw("k_ets"))
    with pytest.raises(InputError, match="disagrees with eu_ets"):
        cat.load_catalogue(catalogue_copy)


def test_unknown_proxy(catalogue_copy: Path) -> None:
    (catalogue_copy / "eu_ets.yaml").unlink()
    swiss = _raw("swiss_ets")
    swiss["links"] = []
    _write(catalogue_copy, "swiss_ets", swiss)
    with pytest.raises(InputError) as info:
        cat.load_catalogue(catalogue_copy)
    assert info.value.field == "price_series.proxy.of"
