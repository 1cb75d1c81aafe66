"""Calibration schema and whole-scenario design checks on the real shipped files.

Every shipped calibration, scenario, firm and catalogue file passes the strict checks (so the
rules refuse only what is wrong); the calibration rules agree with the closed forms they guard
(a GARCH with persistence < 1 has the finite unconditional variance omega / (1 - persistence));
the printed data summary lists every dropped cell and empty series.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.fit.calibration import load_all, load_calibration
from riskmodel.fit.calibration_schema import validate_calibration

CALS = sorted(
    p
    for p in config.CALIBRATIONS_DIR.glob("*.json")
    if isinstance(json.loads(p.read_text()).get("model"), dict)
)


def test_shipped_calibrations_pass() -> None:
    assert len(CALS) >= 15
    for p in CALS:
        spec = validate_calibration(json.loads(p.read_text()), file=p, need_price=True)
        assert spec.state is not None and spec.state.last_price > 0
    assert len(load_all()) == len(CALS)


@pytest.mark.parametrize("path", CALS, ids=[p.stem for p in CALS])
def test_accepted_single_regime_has_finite_unconditional_variance(path: Path) -> None:
    d = json.loads(path.read_text())
    p, fam = d["params"], d["model"]["family"]
    if fam == "egarch":
        assert abs(p["beta"]) < 1  # log-variance mean omega / (1 - beta) exists
    elif fam in ("garch", "gjr"):
        pers = p["alpha"] + p["beta"] + (0.5 * p.get("gamma", 0.0) if fam == "gjr" else 0.0)
        assert 0 < p["omega"] / (1 - pers) < float("inf")


@pytest.mark.parametrize(
    ("key", "value", "field"),
    [
        ("omega", -0.01, "params.omega"),
        ("omega", float("nan"), "params.omega"),
        ("beta", 0.95, "params.beta"),
        ("nu", 2.0, "params.nu"),
        ("alpha", True, "params.alpha"),
    ],
)
def test_load_calibration_refuses_corruption(
    tmp_path: Path, key: str, value: object, field: str
) -> None:
    d = json.loads((config.CALIBRATIONS_DIR / "china_ets.json").read_text())
    d["model"].update(family="garch", dist="t")  # a shipped GARCH-t fit, whatever is chosen
    d["params"][key] = value
    p = tmp_path / "uk_ets.json"
    p.write_text(json.dumps(d))
    with pytest.raises(InputError) as e:
        load_calibration(p)
    assert e.value.file == str(p) and e.value.field == field


def test_persistence_boundary_is_exact() -> None:
    d = json.loads((config.CALIBRATIONS_DIR / "china_ets.json").read_text())
    d["model"].update(family="garch", dist="t")  # a shipped GARCH-t fit, whatever is chosen
    d["params"].update(alpha=0.1, beta=0.9 - 1e-9)
    validate_calibration(d)
    d["params"].update(beta=0.9)
    with pytest.raises(InputError, match="persistence alpha \\+ beta = 1 must be < 1"):
        validate_calibration(d)


def test_thin_trading_block_accepted_when_valid() -> None:
    d = json.loads((config.CALIBRATIONS_DIR / "hubei.json").read_text())
    d["thin_trading"] = {
        "model": "markov",
        "p01": 0.2,
        "p11": 0.4,
        "zero_share": 0.25,
        "last_state": 1,
    }
    validate_calibration(d, need_price=True)
    d["thin_trading"]["zero_share"] = -0.1
    with pytest.raises(InputError) as e:
        validate_calibration(d, file="hubei.json")
    assert e.value.field == "thin_trading.zero_share"


def test_shipped_scenarios_firms_and_catalogue_pass() -> None:
    from riskmodel.batch.scenario_file import load_scenario_file
    from riskmodel.data.catalogue import load_catalogue
    from riskmodel.firm.firm import load_firm

    scenarios = sorted(config.SCENARIOS_DIR.glob("*.yaml"))
    assert len(scenarios) >= 9
    for p in scenarios:
        assert load_scenario_file(p).scenarios
    for p in sorted(config.FIRMS_DIR.glob("*.yaml")):
        load_firm(p)
    assert len(load_catalogue()) >= 19


def test_collar_check_uses_fx_and_exchange_rate(tmp_path: Path) -> None:
    """A floor exactly at the partner ceiling times the exchange rate is allowed; above is not."""
    from riskmodel.batch.scenario_file import load_scenario_file

    base = (Path(__file__).parent / "bad_inputs" / "bases" / "scenario.yaml").read_text()
    ok = base.replace(
        "  - markets: [north, south]", "  - markets: [north, south]\n    exchange_rate: 0.2"
    )
    # P_north = 0.2 * P_south: north's floor 10 = 0.2 * south's ceiling 50 exactly
    (tmp_path / "ok.yaml").write_text(ok)
    assert load_scenario_file(tmp_path / "ok.yaml").scenarios
    bad = ok.replace("{floor: 10.0, ceiling: 90.0}", "{floor: 10.5, ceiling: 90.0}")
    (tmp_path / "bad.yaml").write_text(bad)
    with pytest.raises(InputError) as e:
        load_scenario_file(tmp_path / "bad.yaml")
    assert e.value.field == "markets[0].collar.floor"


def test_printed_summary_lists_dropped_cells_and_empty_series(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from test_bad_inputs import invoke

    nzu = tmp_path / "prices" / "nzu"
    nzu.mkdir(parents=True)
    (nzu / "spotprices.csv").write_text(
        '"date","price"\n2010-05-14,17.75\n2010-05-21,17.5\n2010-05-29,-\n2010-06-11,ca. 17\n'
    )
    (nzu / "weeklymeanprice.csv").write_text('"date","price"\n2010-05-14,\n2010-05-21,\n')
    code, out, err = invoke(["--data-dir", str(tmp_path), "data", "summary"], capsys)
    assert code == 0, err
    assert "Dropped while parsing (2):" in out
    assert "nzu/spotprices.csv: price: 2 cell(s) not a number, dropped (e.g. '-', 'ca. 17')" in out
    assert (
        "nzu/weeklymeanprice.csv: price: series nzu.weekly_mean is empty (no price in the "
        "column), left out" in out
    )


def test_shared_calibrations_pass_and_fx_refuses_bad_rates() -> None:
    from riskmodel.fit.shared_calibrations import (
        validate_dependence,
        validate_fundamentals,
        validate_fx,
    )

    def read(name: str) -> dict:
        return json.loads((config.CALIBRATIONS_DIR / name).read_text())

    validate_dependence(read("dependence.json"))
    validate_fundamentals(read("fundamentals.json"))
    fx = read("fx.json")
    validate_fx(fx)
    fx["rates"]["KRW"] = -0.0007
    with pytest.raises(InputError) as e:
        validate_fx(fx, file="fx.json")
    assert (e.value.file, e.value.field) == ("fx.json", "rates.KRW")


def test_skewt_nu_bounds_are_arch_bounds() -> None:
    """The schema's skew-t nu range is arch's (its ppf builds the engine's innovation table), and
    the table builds at both ends; a Student-t nu just above 2 stays accepted."""
    import numpy as np
    from arch.univariate.distribution import SkewStudent

    from riskmodel.fit.calibration_schema import SKEWT_NU_MAX, SKEWT_NU_MIN
    from riskmodel.sim.innovations import build_table

    assert SkewStudent().bounds(np.empty(0))[0] == (SKEWT_NU_MIN, SKEWT_NU_MAX)
    for nu in (SKEWT_NU_MIN, SKEWT_NU_MAX):
        assert np.all(np.isfinite(build_table("skewt", nu, 0.3, "gaussian", None)[3]))
    d = json.loads((config.CALIBRATIONS_DIR / "china_ets.json").read_text())
    d["model"].update(family="garch", dist="t")
    d["params"]["nu"] = 2.0001
    validate_calibration(d)
    d["model"]["dist"], d["params"]["lambda"] = "skewt", 0.1
    with pytest.raises(InputError, match=r"skew-t nu must lie in \[2.05, 300\]"):
        validate_calibration(d)


def test_egarch_bounds_refuse_explosive_and_keep_real_fits() -> None:
    """EGARCH: the log variance's stationary mean and sd are bounded; the shipped fits are far
    inside, a t fit whose naive omega / (1 - beta) is large but whose E|z| pulls it back passes."""
    d = json.loads((config.CALIBRATIONS_DIR / "k_ets.json").read_text())
    validate_calibration(d)
    d["params"].update(omega=10.0, beta=0.999999)
    with pytest.raises(InputError) as e:
        validate_calibration(d)
    assert e.value.field == "params.omega"
    d["params"].update(omega=0.0, alpha=10.0)
    with pytest.raises(InputError) as e:
        validate_calibration(d)
    assert e.value.field == "params.beta"
    # a pilot's EGARCH-t refit (nu at arch's 2.05): omega / (1 - beta) = 35.7, but E|z| ~ 0.2
    d["model"].update(dist="t", name="zegarch-t")  # (the name records the law: hunt 9)
    d["params"].update(omega=2.272, alpha=3.399, gamma=0.0, beta=0.93632, nu=2.05)
    validate_calibration(d)


def test_json_duplicate_key_is_refused_with_its_line(tmp_path: Path) -> None:
    from riskmodel.io import read_json

    p = tmp_path / "c.json"
    p.write_text('{"a": [{"k": 1}, {"k": 2}],\n "b": {"k": 1,\n  "k": 2}}\n')
    with pytest.raises(InputError) as e:
        read_json(p)
    assert (e.value.field, e.value.reason) == (
        "line 3", "duplicate key 'k' (first given on line 2); each key may appear once")
    p.write_text('{"a": {"k": 1}, "b": {"k": 1}, "s": "{\\"a\\": 1, \\"a\\": 2}"}')
    assert read_json(p)["s"] == '{"a": 1, "a": 2}'  # same key in other objects, or in a string


def test_fundamentals_variables_of_engine_and_fit_agree() -> None:
    from riskmodel.fit.fundamentals import VARS
    from riskmodel.fit.shared_calibrations import FUNDAMENTAL_VARS

    assert FUNDAMENTAL_VARS == VARS


def test_a_short_regime_may_carry_a_large_mean_but_the_long_run_mean_is_bounded() -> None:
    """Chongqing's ms2 fits put 13-18% a day on a short regime of limit-up days: a fit, not a
    typo, while the regimes' long-run mean stays within 10% a day."""
    base = json.loads((config.CALIBRATIONS_DIR / "eu_ets.json").read_text(encoding="utf-8"))
    base["params"].update(mu_0=18.2, mu_1=0.1, p_00=0.5, p_01=0.5, p_10=0.01, p_11=0.99)
    validate_calibration(base)  # long-run mean 18.2 * 0.0196 + 0.1 * 0.98 = 0.46
    base["params"].update(mu_0=30.0, p_00=0.99, p_01=0.01, p_10=0.01, p_11=0.99)  # long run 15
    with pytest.raises(InputError) as exc:
        validate_calibration(base)
    assert exc.value.field == "params.mu_0" and "long-run mean" in str(exc.value)


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d["rates"].update(CHF=1e300), "rates.CHF"),
    (lambda d: d["rates"].update(CHF=1e-300), "rates.CHF"),
    (lambda d: d["rates"].update(EUR=2.0), "rates.EUR"),
    (lambda d: d["rates"].update(chf=1.0), "rates.chf"),
    (lambda d: d.update(numeraire="XYZ"), "numeraire"),
    (lambda d: d.update(year="2022"), "year"),
    (lambda d: d.update(note="x"), "note"),
])
def test_fx_json_checks(edit, field) -> None:
    """fx.json's rates are bounded (1e300 ran costs into inf, 1e-300 into NaN), its numeraire
    known and its own rate 1, unknown keys refused."""
    from riskmodel.fit.shared_calibrations import validate_fx

    d = json.loads((config.CALIBRATIONS_DIR / "fx.json").read_text(encoding="utf-8"))
    validate_fx(d)  # the shipped file passes
    edit(d)
    with pytest.raises(InputError) as exc:
        validate_fx(d)
    assert exc.value.field == field


@pytest.mark.parametrize(("edit", "field"), [
    (lambda d: d.update(schema="riskmodel.carry/9"), "schema"),
    (lambda d: d.update(extra=1), "extra"),
    (lambda d: d["days"].update(eu_ets=-5), "days.eu_ets"),
    (lambda d: d["rates"].update({"EU ETS": 0.01}), "rates.EU ETS"),
])
def test_carry_json_checks(edit, field) -> None:
    from riskmodel.fit.shared_calibrations import validate_carry

    d = json.loads((config.CALIBRATIONS_DIR / "carry.json").read_text(encoding="utf-8"))
    validate_carry(d)
    edit(d)
    with pytest.raises(InputError) as exc:
        validate_carry(d)
    assert exc.value.field == field
