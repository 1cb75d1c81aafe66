"""Annual fundamentals: real-data loaders, EU-27 aggregation, calibration, VAR(1) recovery."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from riskmodel.data import fundamentals as fd
from riskmodel.errors import DataError, FitError, InputError
from riskmodel.fit.fundamentals import (
    calibrate_from_frames,
    calibrate_fundamentals,
    load_fundamentals,
)

JURS = list(fd.JURISDICTIONS)


# ------------------------------------------------------------------------------ real data


@pytest.mark.realdata
@pytest.mark.parametrize("jur", JURS)
def test_every_jurisdiction_loads_with_consistent_growth(data_dir: Path, jur: str) -> None:
    f = fd.load_annual(jur, data_dir=data_dir)
    assert list(f.columns) == fd.COLUMNS
    assert len(f) > 25
    assert f.index[0] == 1990
    assert (np.diff(f.index) == 1).all()  # consecutive years
    assert (f[["output", "emissions", "intensity"]] > 0).all().all()
    assert f.iloc[0][["dlog_output", "dlog_intensity", "dlog_emissions"]].isna().all()
    g = f.iloc[1:]
    np.testing.assert_allclose(g["dlog_output"], np.diff(np.log(f["output"])), rtol=1e-12)
    np.testing.assert_allclose(g["dlog_emissions"], np.diff(np.log(f["emissions"])), rtol=1e-12)
    np.testing.assert_allclose(
        g["dlog_emissions"], g["dlog_output"] + g["dlog_intensity"], atol=1e-12
    )
    np.testing.assert_allclose(f["intensity"], f["emissions"] / f["output"], rtol=1e-12)
    assert f.attrs["sources"]["output"] and f.attrs["sources"]["emissions"]
    assert isinstance(f.attrs["report"], list)
    # annual real growth and intensity change are in a plausible range
    assert g["dlog_output"].abs().max() < 0.2
    assert g["dlog_intensity"].abs().max() < 0.3


@pytest.mark.realdata
def test_single_country_matches_source_files(data_dir: Path) -> None:
    """Output = Maddison gdppc x pop, emissions = OWID annual co2, read independently here."""
    mad = pd.read_csv(data_dir / fd.MADDISON)
    owid = pd.read_csv(data_dir / fd.OWID_ANNUAL)
    f = fd.load_annual("korea", data_dir=data_dir)
    m = mad[mad.countrycode == "KOR"].set_index("year").loc[f.index]
    np.testing.assert_allclose(f["output"], m.gdppc * m["pop"] * 1e3 / 1e9, rtol=1e-12)
    o = owid[owid.Code == "KOR"].set_index("Year").loc[f.index]
    np.testing.assert_allclose(f["emissions"], o.co2 / 1e6, rtol=1e-12)


@pytest.mark.realdata
def test_eu27_aggregate_is_sane(data_dir: Path) -> None:
    f = fd.load_annual("eu27", data_dir=data_dir)
    mad = pd.read_csv(data_dir / fd.MADDISON)
    owid20 = pd.read_csv(data_dir / fd.OWID_2020)
    members = set(fd.EU27_MEMBERS)
    mad = mad[mad.countrycode.isin(members)]
    in_mad = set(mad.countrycode)
    mad_sum = mad.assign(g=mad.gdppc * mad["pop"] * 1e3 / 1e9).groupby("year")["g"].sum()
    o = owid20[owid20.iso_code.isin(members - in_mad)]
    owid_sum = o.groupby("year")["gdp"].sum(min_count=len(members - in_mad)) / 1e9
    # full coverage years: plain sum over the 27 members
    full = list(range(1990, 2017))
    np.testing.assert_allclose(
        f.loc[full, "output"], mad_sum.loc[full] + owid_sum.loc[full], rtol=1e-10
    )
    # after 2016 the aggregate grows like the members still observed
    late = f.loc[2016:, "output"]
    np.testing.assert_allclose(
        np.diff(np.log(late)), np.diff(np.log(mad_sum.loc[2016:2022])), rtol=1e-10
    )
    share = mad_sum.loc[2016] / f.loc[2016, "output"]
    assert 0.75 < share < 0.95  # the 11 Maddison members are most of the EU economy
    assert any("chain-linked" in r for r in f.attrs["report"])
    # emissions are OWID's own EU-27 aggregate; larger than the 8 ETS sectors, plausible level
    owid = pd.read_csv(data_dir / fd.OWID_ANNUAL)
    eu = owid[owid.Entity == "European Union (27)"].set_index("Year").loc[f.index, "co2"]
    np.testing.assert_allclose(f["emissions"], eu / 1e6, rtol=1e-12)
    ets = fd.load_eu_ets_verified(data_dir).attrs["total_8_sectors"]
    yrs = [y for y in range(2013, 2023)]
    assert (ets.loc[yrs] < f.loc[yrs, "emissions"]).all()
    assert 2000 < f.loc[2019, "emissions"] < 4500
    usa = fd.load_annual("usa", data_dir=data_dir)
    assert 0.5 < f.loc[2019, "output"] / usa.loc[2019, "output"] < 1.5


@pytest.mark.realdata
def test_start_option_and_other_loaders(data_dir: Path) -> None:
    assert fd.load_annual("japan", data_dir=data_dir, start=2000).index[0] == 2000
    assert fd.load_annual("japan", data_dir=data_dir, start=None).index[0] == 1990
    longer = fd.load_annual("japan", data_dir=data_dir, start=1950)
    assert longer.index[0] == 1950 and (np.diff(longer.index) == 1).all()
    china = fd.load_annual("china", data_dir=data_dir, start=1900)  # data begin in 1950
    assert china.index[0] == 1950 and any("1900" in r for r in china.attrs["report"])
    wb = fd.load_worldbank_gdp(data_dir)
    assert {"EUU", "CAN", "CHN"} <= set(wb.code)
    assert (wb.gdp_usd > 0).all()


# ------------------------------------------------------------------------------ bad input


def _write(base: Path, rel: str, text: str) -> Path:
    p = base / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p


def test_missing_column_names_file_and_column(tmp_path: Path) -> None:
    p = _write(tmp_path, fd.MADDISON, "countrycode,year,gdppc\nUSA,2000,40000\n")
    with pytest.raises(DataError) as err:
        fd.load_maddison(tmp_path)
    assert err.value.field == "pop"
    assert str(p) in str(err.value) and "pop" in str(err.value)


def test_non_numeric_value_names_field(tmp_path: Path) -> None:
    _write(tmp_path, fd.OWID_ANNUAL, "Entity,Code,Year,co2\nJapan,JPN,2000,12x\n")
    with pytest.raises(DataError) as err:
        fd.load_owid_annual_co2(tmp_path)
    assert err.value.field == "co2" and "12x" in str(err.value)


def test_missing_file_and_unknown_jurisdiction(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        fd.load_eu_ets_verified(tmp_path)
    with pytest.raises(InputError) as err:
        fd.load_annual("atlantis", data_dir=tmp_path)
    assert err.value.field == "jurisdiction" and "eu27" in str(err.value)


def test_duplicate_rows_are_an_error(tmp_path: Path) -> None:
    _write(
        tmp_path, fd.WORLDBANK, "Country Name,Country Code,Year,Value\nX,XXX,2000,1\nX,XXX,2000,2\n"
    )
    with pytest.raises(DataError, match="duplicate"):
        fd.load_worldbank_gdp(tmp_path)


# ------------------------------------------------------------------------------ calibration


@pytest.mark.realdata
def test_calibration_reproduces_sample_covariance(data_dir: Path, tmp_path: Path) -> None:
    jurs = ["china", "eu27", "usa", "korea"]
    cal = calibrate_fundamentals(jurs, data_dir=data_dir)
    frames = [fd.load_annual(j, data_dir=data_dir).iloc[1:] for j in jurs]
    y = np.column_stack(
        [f[c].to_numpy() for f in frames for c in ("dlog_output", "dlog_intensity")]
    )
    np.testing.assert_allclose(cal.mean, y.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(cal.cov, np.cov(y.T), rtol=1e-10)
    assert cal.variables[:2] == ["china:dlog_output", "china:dlog_intensity"]
    assert cal.years[0] == 1991 and len(cal.years) == len(frames[0])
    for j, f in zip(jurs, frames, strict=True):
        r = np.corrcoef(f["dlog_output"], f["dlog_emissions"])[0, 1]
        assert cal.corr_output_emissions[j] == pytest.approx(r, abs=1e-12)
    r = np.corrcoef(frames[0]["dlog_output"], frames[1]["dlog_output"])[0, 1]
    assert cal.cross_corr_output.loc["china", "eu27"] == pytest.approx(r, abs=1e-12)
    assert not cal.repaired and np.linalg.eigvalsh(cal.cov).min() > 0
    # round trip through the calibration file
    path = cal.save(tmp_path / "fundamentals.json")
    back = load_fundamentals(path)
    np.testing.assert_array_equal(back.cov, cal.cov)
    assert back.jurisdictions == jurs and back.years == cal.years
    assert "china" in cal.summary()


def _simulated_frames(
    const: np.ndarray, coef: np.ndarray, chol: np.ndarray, n: int, seed: int
) -> dict[str, pd.DataFrame]:
    """Contract-1 frames for jurisdictions j0, j1, ... from a simulated VAR(1) of growth."""
    rng = np.random.default_rng(seed)
    k = len(const)
    y = np.zeros((n + 200, k))
    y[0] = np.linalg.solve(np.eye(k) - coef, const)
    for t in range(1, len(y)):
        y[t] = const + coef @ y[t - 1] + chol @ rng.standard_normal(k)
    y = y[200:]
    frames = {}
    years = np.arange(1000, 1000 + n + 1)
    for j in range(k // 2):
        dy, di = y[:, 2 * j], y[:, 2 * j + 1]
        lo = np.concatenate([[0.0], np.cumsum(dy)])
        li = np.concatenate([[0.0], np.cumsum(di)])
        f = pd.DataFrame(
            {"output": np.exp(lo), "emissions": np.exp(lo + li), "intensity": np.exp(li)},
            index=pd.Index(years, name="year"),
        )
        f["dlog_output"] = np.log(f["output"]).diff()
        f["dlog_intensity"] = np.log(f["intensity"]).diff()
        f["dlog_emissions"] = np.log(f["emissions"]).diff()
        frames[f"j{j}"] = f[fd.COLUMNS]
    return frames


def test_var1_recovers_block_parameters() -> None:
    coef = np.zeros((4, 4))
    coef[:2, :2] = [[0.5, 0.1], [-0.2, 0.3]]
    coef[2:, 2:] = [[0.2, 0.0], [0.3, 0.6]]
    const = np.array([0.02, -0.01, 0.03, -0.02])
    sd = np.array([0.02, 0.03, 0.015, 0.025])
    rho = np.array(
        [[1, -0.4, 0.5, 0.1], [-0.4, 1, 0.0, 0.3], [0.5, 0.0, 1, -0.2], [0.1, 0.3, -0.2, 1]]
    )
    sigma = rho * np.outer(sd, sd)
    frames = _simulated_frames(const, coef, np.linalg.cholesky(sigma), 4000, seed=7)
    cal = calibrate_from_frames(frames, var1=True)
    v = cal.var1
    assert v is not None and v["structure"] == "block"
    a_hat = np.array(v["coef"])
    np.testing.assert_allclose(a_hat, coef, atol=0.05)
    assert a_hat[0, 2] == 0 and a_hat[3, 1] == 0  # block structure kept
    np.testing.assert_allclose(np.array(v["resid_cov"]), sigma, rtol=0.1, atol=2e-5)
    np.testing.assert_allclose(v["const"], const, atol=0.005)
    # stationary mean and covariance are what the process implies
    np.testing.assert_allclose(cal.mean, np.linalg.solve(np.eye(4) - coef, const), atol=0.003)
    y = np.column_stack(
        [frames[j][c].iloc[1:] for j in frames for c in ("dlog_output", "dlog_intensity")]
    )
    np.testing.assert_allclose(cal.cov, np.cov(y.T), rtol=0.15, atol=2e-5)
    assert v["max_abs_eig"] < 1


def test_iid_model_recovers_mean_and_cov_and_full_var_needs_data() -> None:
    const = np.array([0.02, -0.01, 0.03, -0.02])
    sigma = np.diag([0.02, 0.03, 0.015, 0.025]) ** 2
    sigma[0, 2] = sigma[2, 0] = 0.6 * 0.02 * 0.015
    frames = _simulated_frames(const, np.zeros((4, 4)), np.linalg.cholesky(sigma), 3000, 3)
    cal = calibrate_from_frames(frames)
    np.testing.assert_allclose(cal.mean, const, atol=0.002)
    np.testing.assert_allclose(cal.cov, sigma, rtol=0.1, atol=2e-5)
    small = {j: f.iloc[:8] for j, f in frames.items()}
    with pytest.raises(FitError, match="full VAR"):
        calibrate_from_frames(small, var1="full")


def test_load_fundamentals_rejects_bad_cov(tmp_path: Path) -> None:
    const = np.array([0.02, -0.01])
    frames = _simulated_frames(const, np.zeros((2, 2)), np.diag([0.02, 0.03]), 50, 1)
    path = calibrate_from_frames(frames).save(tmp_path / "f.json")
    import json

    doc = json.loads(path.read_text())
    doc["cov"] = [[1.0, 2.0], [2.0, 1.0]]
    path.write_text(json.dumps(doc))
    with pytest.raises(InputError) as err:
        load_fundamentals(path)
    assert err.value.field == "cov" and str(path) in str(err.value)


def test_gap_inside_the_sample_is_an_error(tmp_path: Path) -> None:
    years = range(2000, 2006)
    mad = "countrycode,year,gdppc,pop\n" + "".join(
        f"USA,{y},{'' if y == 2003 else 50000},300000\n" for y in years
    )
    _write(tmp_path, fd.MADDISON, mad)
    _write(tmp_path, fd.OWID_2020, "iso_code,country,year,co2,gdp,population\n")
    _write(
        tmp_path,
        fd.OWID_ANNUAL,
        "Entity,Code,Year,co2\n" + "".join(f"United States,USA,{y},5e9\n" for y in years),
    )
    with pytest.raises(DataError, match="missing or non-positive output in 2003") as err:
        fd.load_annual("usa", data_dir=tmp_path, start=2000)
    assert err.value.field == "output"
    f = fd.load_annual("usa", data_dir=tmp_path, start=2004)
    assert list(f.index) == [2004, 2005]
    assert f["dlog_output"].iloc[1] == pytest.approx(0.0)
