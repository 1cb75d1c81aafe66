"""Hostile shapes of input (riskmodel.io.check_shape): YAML alias bombs, deep nesting and
numbers beyond a float, refused in one line where they are read, before anything is written;
and the calibrations' carry.json read through the same reader."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.io import MAX_INPUT_DEPTH, MAX_INPUT_VALUES, InputShapeError, check_shape, read_yaml


def test_an_alias_bomb_is_counted_expanded_but_walked_once(tmp_path: Path):
    """Nine levels of nine aliases expand to 9^9 values: refused at once (the walk visits the
    ten distinct lists, not the 387 million references), naming where the count passed the
    bound; the same shape written out small is accepted."""
    levels = ["&b0 [1,1,1,1,1,1,1,1,1]"] + [
        f"&b{i} [" + ",".join([f"*b{i - 1}"] * 9) + "]" for i in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("x: {counts: [" + ", ".join(levels) + "]}\n")
    t0 = time.process_time()
    with pytest.raises(InputError) as exc:
        read_yaml(tmp_path / "bomb.yaml")
    assert time.process_time() - t0 < 2.0
    assert exc.value.field == "x.counts[6]"
    assert f"more than {MAX_INPUT_VALUES:,} values" in exc.value.reason
    (tmp_path / "small.yaml").write_text("x: {counts: [&a [1, 2], *a, *a]}\n")
    assert read_yaml(tmp_path / "small.yaml") == {"x": {"counts": [[1, 2]] * 3}}


def test_depth_counts_through_a_shared_node():
    """A list shared at depth 2 and referenced again deep down is as deep as its deepest
    reference: the memo keeps each node's height."""
    inner: list = [1]
    for _ in range(40):
        inner = [inner]
    deep = inner
    outer = {"a": inner, "b": deep}
    for _ in range(MAX_INPUT_DEPTH - 30):
        outer = {"b": outer}
    with pytest.raises(InputShapeError) as exc:
        check_shape({"first": inner, "then": outer})
    assert exc.value.where.startswith("then.b.b.b") and "nested too deeply" in exc.value.problem
    check_shape({"first": inner, "then": {"b": {"a": inner}}})  # 43 levels: fine


@pytest.mark.parametrize("value,ok", [(2**1023, True), (-(2**1024), False), (10**400, False),
                                      (1.0e308, True), (True, True)])
def test_numbers_beyond_a_float_are_refused(value, ok):
    if ok:
        check_shape({"v": [value]})
    else:
        with pytest.raises(InputShapeError) as exc:
            check_shape({"v": [value]})
        assert exc.value.where == "v[0]" and "digits" in exc.value.problem


@pytest.fixture
def cals(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of calibrations/ as config.CALIBRATIONS_DIR."""
    d = tmp_path / "cals"
    shutil.copytree(config.CALIBRATIONS_DIR, d, ignore=shutil.ignore_patterns("validation"))
    monkeypatch.setattr(config, "CALIBRATIONS_DIR", d)
    return d


@pytest.mark.parametrize("damage,field,reason", [
    (lambda p: p.write_text(p.read_text().replace('"rates": {', '"zz": ' + "9" * 5000
                                                  + ', "rates": {', 1)),
     "line 8", "a number with thousands of digits"),
    (lambda p: p.write_text(p.read_text().replace('"rates": {', '"zz": ' + "[" * 300 + "1"
                                                  + "]" * 300 + ', "rates": {', 1)),
     "zz" + "[0]" * 19 + "[…", "nested too deeply"),
    (lambda p: (p.unlink(), p.mkdir()), "rates", "not a JSON file (a folder"),
    (lambda p: (p.unlink(), p.symlink_to(p)), "rates", "not a JSON file (a folder"),
])
def test_a_damaged_carry_file_is_refused_not_replaced_by_the_default(cals, damage, field,
                                                                    reason):
    """carry.json with a huge number, deep nesting, or a folder / a looping link in its place:
    one line naming the file (a folder used to mean "no file": the default 3% carry replaced
    the EU's measured 0.47% without a word)."""
    from riskmodel.sim import banking_resolve as br

    damage(cals / "carry.json")
    with pytest.raises(InputError) as exc:
        br.carry_default(None, "eu_ets")
    assert exc.value.field == field and exc.value.reason.startswith(reason)
    assert Path(exc.value.file).name == "carry.json"


def test_without_a_carry_file_the_default_applies_and_says_so(cals):
    from riskmodel.sim import banking_resolve as br

    (cals / "carry.json").unlink()
    r, src = br.carry_default(None, "eu_ets")
    assert r == br.DEFAULT_CARRY and "no calibrations/carry.json" in src


def _with_eu27_sd(d: dict, sd: float) -> dict:
    d["stats"]["eu27"]["sd_dlog_emissions"] = sd
    return d


@pytest.mark.parametrize("damage,field,reason", [
    (lambda p: (p.unlink(), p.mkdir()), "stats", "not a JSON file (a folder"),
    (lambda p: p.write_text(json.dumps(_with_eu27_sd(json.loads(p.read_text()), -0.5))),
     "stats.eu27.sd_dlog_emissions", "must be a number from 0 to 2"),
    (lambda p: p.write_text("[1, 2]"), "stats", "must be a JSON object"),
    (lambda p: p.write_text('{"stats": {"eu27": {"sd_dlog_emissions": 1' + "0" * 400 + "}}}"),
     "stats.eu27.sd_dlog_emissions", "a number of about 401 digits"),
])
def test_a_damaged_fundamentals_file_is_refused_by_the_firm_reports(cals, damage, field, reason):
    """Firm reports read a market's emission dispersion from fundamentals.json: a folder there
    meant "no figure" (sd 0, the firm's own risk switched off), -0.5 or 1e300 were used as
    given, and deep nesting, huge numbers or a list crashed."""
    from riskmodel.firm.emissions_law import market_emissions_sd

    damage(cals / "fundamentals.json")
    with pytest.raises(InputError) as exc:
        market_emissions_sd("eu_ets")
    assert exc.value.field == field and exc.value.reason.startswith(reason)


def test_a_damaged_fx_file_is_refused_by_the_collar_check(cals):
    """Two linked markets in two currencies, both with collars: the design check reads
    fx.json before the resolver does, and crashed on a list of rates or a huge rate."""
    from riskmodel.sim.design_checks import _fx_table
    from riskmodel.sim.scenario import scenario_from_dict

    base = Path(__file__).parent / "bad_inputs" / "bases" / "scenario.yaml"
    scn = scenario_from_dict(read_yaml(base))
    (cals / "fx.json").write_text('{"numeraire": "EUR", "rates": [1, 2]}')
    with pytest.raises(InputError) as exc:
        _fx_table(scn)
    assert Path(exc.value.file).name == "fx.json" and exc.value.field.startswith("rates")


@pytest.mark.parametrize("text,field,reason", [
    ('{"paths": 50, "points": {"0": ["x"]}, "points": {}}', "line 1", "duplicate key 'points'"),
    ('{"paths": ' + "5" * 5000 + ', "points": {}}', "events", "a number with thousands"),
    ('{"paths": 1000000000000, "points": {}}', "events.paths", "input should be less than"),
])
def test_a_damaged_events_index_is_refused(tmp_path, text, field, reason):
    """A run's events.json: a key given twice dropped the stored events (json keeps the
    last), and a huge paths crashed the report."""
    from riskmodel.batch.run_arrays import read_events_index
    from riskmodel.errors import DataError

    (tmp_path / "events.json").write_text(text)
    with pytest.raises(DataError) as exc:
        read_events_index(tmp_path / "events.json")
    assert exc.value.field == field and exc.value.reason.startswith(reason)


def test_price_files_keep_na_words_as_text(tmp_path):
    """pandas reads 'nan', 'NULL', 'N/A', '-1.#IND' as missing by default: 2,500 prices of
    'nan' vanished from a fit without a word, while 'abc' was refused. Only an empty cell is
    missing now; the words reach the non-number check (which refuses them for a fit)."""
    import pandas as pd

    from riskmodel.data.prices import ParseReport, _numeric, _read_csv

    (tmp_path / "p.csv").write_text("date,price\n2020-01-01,NULL\n2020-01-02,\n2020-01-03,"
                                    "nan\n2020-01-04,-1.#IND\n2020-01-05,20.5\n")
    raw = _read_csv(tmp_path / "p.csv", dtype={"date": "string"})
    assert raw["price"].tolist()[:1] == ["NULL"] and pd.isna(raw["price"].iloc[1])
    rep = ParseReport(file="p.csv", loader="test")
    num = _numeric(raw["price"], rep, "price")
    assert num.iloc[4] == 20.5 and num.iloc[:4].isna().all()
    assert rep.non_numeric_counts["price"] == 3
    assert set(rep.non_numeric_cells["price"]) == {"NULL", "nan", "-1.#IND"}
