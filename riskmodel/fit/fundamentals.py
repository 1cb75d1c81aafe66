"""Joint distribution of annual output growth and intensity growth across jurisdictions (MODEL §2).

For every jurisdiction j the vector ``[dlog_output_j, dlog_intensity_j]`` over all jurisdictions of
a scenario is modelled as

* iid jointly normal: ``y_t ~ N(mean, cov)`` (default), or
* VAR(1): ``y_t = const + A y_{t-1} + e_t, e_t ~ N(0, resid_cov)``. With ~32 annual observations
  a full VAR(1) over 18 variables is not estimable (19 coefficients per equation, residual
  covariance of rank <= 13), so the default structure is **block**: each jurisdiction's own
  2-variable VAR(1) fitted with statsmodels, the cross-market dependence in the residual
  covariance. ``var1="full"`` fits the unrestricted system when there are enough years.

Reported per jurisdiction: the output-emissions correlation corr(dlog_output, dlog_emissions)
(the key parameter for intensity versus absolute caps, MODEL §8), the output-intensity correlation,
means and standard deviations, the one-year-ahead coefficients of variation of output and
emissions, and the cross-market correlation matrices of output and of emissions growth.

Calibration is on the common years of all requested jurisdictions; a non-PD covariance is
repaired through its correlation matrix (``nearest_pd``) and the repair is recorded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from riskmodel.data.fundamentals import DEFAULT_START, JURISDICTIONS, load_annual
from riskmodel.errors import FitError, InputError
from riskmodel.fit.dependence import nearest_pd
from riskmodel.io import atomic_write_json, hash_series

SCHEMA = "riskmodel.fundamentals/1"
VARS = ("dlog_output", "dlog_intensity")
Var1 = bool | Literal["block", "full"]


@dataclass
class FundamentalsCalibration:
    """Mean and covariance (or VAR(1)) of annual output and intensity growth, with statistics."""

    jurisdictions: list[str]
    variables: list[str]  # "<jur>:dlog_output", "<jur>:dlog_intensity", ...
    mean: np.ndarray
    cov: np.ndarray
    years: list[int]
    corr_output_emissions: dict[str, float]
    stats: dict[str, dict[str, float]]
    cross_corr_output: pd.DataFrame
    cross_corr_emissions: pd.DataFrame
    repaired: bool = False
    repair_note: str = ""
    var1: dict[str, Any] | None = None
    sources: dict[str, Any] = field(default_factory=dict)
    report: dict[str, list[str]] = field(default_factory=dict)
    data_hash: str = ""

    @property
    def corr(self) -> np.ndarray:
        """Correlation matrix of ``variables``."""
        d = np.sqrt(np.diag(self.cov))
        return self.cov / np.outer(d, d)

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of Contract 2 (derived statistics only, no data)."""
        from riskmodel import __version__

        return {
            "schema": SCHEMA,
            "jurisdictions": self.jurisdictions,
            "variables": self.variables,
            "model": "var1" if self.var1 else "iid_normal",
            "units": "annual change in natural log",
            "mean": self.mean.tolist(),
            "cov": self.cov.tolist(),
            "corr": self.corr.tolist(),
            "years": self.years,
            "nobs": len(self.years),
            "corr_output_emissions": self.corr_output_emissions,
            "stats": self.stats,
            "cross_corr_output": _frame_dict(self.cross_corr_output),
            "cross_corr_emissions": _frame_dict(self.cross_corr_emissions),
            "repaired": self.repaired,
            "repair_note": self.repair_note,
            "var1": self.var1,
            "sources": self.sources,
            "report": self.report,
            "data_hash": self.data_hash,
            "versions": {"riskmodel": __version__, "numpy": np.__version__},
        }

    def save(self, path: str | Path | None = None) -> Path:
        """Write ``calibrations/fundamentals.json`` (or ``path``) atomically."""
        from riskmodel.config import CALIBRATIONS_DIR

        return atomic_write_json(path or CALIBRATIONS_DIR / "fundamentals.json", self.to_dict())

    def summary(self) -> str:
        """Plain-text summary: per-jurisdiction statistics and cross-market correlations."""
        y = self.years
        lines = [
            f"Fundamentals: {len(self.jurisdictions)} jurisdictions, growth years {y[0]}-{y[-1]} "
            f"({len(y)} obs), model {'VAR(1) ' + self.var1['structure'] if self.var1 else 'iid'}",
            f"  covariance: {self.repair_note}",
            f"  {'':12} {'mean dY':>8} {'sd dY':>7} {'mean dI':>8} {'sd dI':>7} {'sd dE':>7} "
            f"{'rho(Y,E)':>8} {'rho(Y,I)':>8}",
        ]
        for j in self.jurisdictions:
            s = self.stats[j]
            lines.append(
                f"  {j:12} {s['mean_dlog_output']:8.4f} {s['sd_dlog_output']:7.4f} "
                f"{s['mean_dlog_intensity']:8.4f} {s['sd_dlog_intensity']:7.4f} "
                f"{s['sd_dlog_emissions']:7.4f} {s['corr_output_emissions']:8.3f} "
                f"{s['corr_output_intensity']:8.3f}"
            )
        for name, m in (
            ("output", self.cross_corr_output),
            ("emissions", self.cross_corr_emissions),
        ):
            lines.append(f"  cross-market correlation of {name} growth:")
            lines.append("  " + " " * 12 + " ".join(f"{c[:6]:>6}" for c in m.columns))
            for r in m.index:
                lines.append(f"  {r:12}" + " ".join(f"{v:6.2f}" for v in m.loc[r]))
        if self.var1:
            lines.append(f"  VAR(1) max |eigenvalue| of A = {self.var1['max_abs_eig']:.3f}")
        return "\n".join(lines)


def _frame_dict(m: pd.DataFrame) -> dict[str, dict[str, float]]:
    return {str(r): {str(c): float(m.loc[r, c]) for c in m.columns} for r in m.index}


def growth_frame(
    frames: dict[str, pd.DataFrame], end: int | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Wide frames of [dlog_output, dlog_intensity] and of dlog_emissions on common years.

    Returns ``(growth, emissions_growth, report)``; ``growth`` columns are
    ``"<jur>:dlog_output", "<jur>:dlog_intensity"`` in jurisdiction order.
    """
    cols, emi = {}, {}
    for j, f in frames.items():
        for v in VARS:
            cols[f"{j}:{v}"] = f[v]
        emi[j] = f["dlog_emissions"]
    wide = pd.DataFrame(cols)
    e = pd.DataFrame(emi)
    if end is not None:
        wide, e = wide.loc[:end], e.loc[:end]
    ok = wide.notna().all(axis=1)
    report = []
    partial = wide.index[~ok & wide.notna().any(axis=1)]
    if len(partial):
        report.append(
            f"years {', '.join(map(str, partial))} dropped: not every jurisdiction has them"
        )
    return wide[ok], e[ok], report


def fit_growth(growth: pd.DataFrame, var1: Var1 = False) -> dict[str, Any]:
    """Mean/covariance (and optionally VAR(1)) of a wide growth frame with no NaN.

    Returns ``{"mean", "cov", "repaired", "repair_note", "var1"}``. For a VAR(1), ``mean`` and
    ``cov`` are the process's stationary mean and covariance (when stable), ``var1`` holds
    ``const``, ``coef`` (A, rows = equations), ``resid_cov``, ``last`` (y at the last year),
    ``max_abs_eig`` and ``structure``.
    """
    if growth.isna().any().any():
        raise InputError("growth frame has NaN", field="growth")
    y = growth.to_numpy(dtype=float)
    n, k = y.shape
    if n < 3:
        raise FitError(f"only {n} common years for {k} variables")
    out: dict[str, Any] = {"var1": None}
    if not var1:
        mean, cov = y.mean(axis=0), np.cov(y, rowvar=False, ddof=1)
    else:
        structure = "block" if var1 is True else str(var1)
        const, coef, resid = _fit_var1(growth, structure)
        resid_cov = np.cov(resid, rowvar=False, ddof=1)
        eig = float(np.abs(np.linalg.eigvals(coef)).max())
        out["var1"] = {
            "structure": structure,
            "const": const.tolist(),
            "coef": coef.tolist(),
            "resid_cov": resid_cov.tolist(),
            "last": y[-1].tolist(),
            "max_abs_eig": eig,
            "nobs": int(n - 1),
        }
        resid_cov, rinfo = _repair_cov(resid_cov)
        out["var1"]["resid_cov"] = resid_cov.tolist()
        out["var1"]["repair_note"] = rinfo
        if eig < 1:
            import scipy.linalg

            mean = np.linalg.solve(np.eye(k) - coef, const)
            cov = scipy.linalg.solve_discrete_lyapunov(coef, resid_cov)
        else:
            mean, cov = y.mean(axis=0), np.cov(y, rowvar=False, ddof=1)
    cov, note = _repair_cov(cov)
    out.update(
        mean=mean, cov=cov, repaired=not note.startswith("positive definite"), repair_note=note
    )
    return out


def _repair_cov(cov: np.ndarray) -> tuple[np.ndarray, str]:
    """Covariance -> PD covariance via the nearest correlation matrix; returns a note."""
    d = np.sqrt(np.diag(cov))
    if (d <= 0).any():
        raise FitError("a variable has zero variance")
    corr = cov / np.outer(d, d)
    fixed, info = nearest_pd(corr)
    return (fixed * np.outer(d, d) if info.repaired else cov), info.note


def _fit_var1(growth: pd.DataFrame, structure: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """VAR(1) by statsmodels: block-diagonal (per jurisdiction) or full; (const, A, residuals)."""
    from statsmodels.tsa.api import VAR

    cols = list(growth.columns)
    k = len(cols)
    data = growth.reset_index(drop=True)
    if structure == "full":
        if len(data) - 1 < 2 * (k + 1):
            raise FitError(
                f"full VAR(1) over {k} variables needs >= {2 * (k + 1) + 1} years, "
                f"have {len(data)}; use var1='block'"
            )
        res = VAR(data).fit(1, trend="c")
        return (res.params.iloc[0].to_numpy(), res.coefs[0], res.resid.to_numpy())
    if structure != "block":
        raise InputError(f"unknown VAR structure {structure!r} (block or full)", field="var1")
    blocks: dict[str, list[int]] = {}
    for i, c in enumerate(cols):
        blocks.setdefault(c.split(":")[0], []).append(i)
    const, coef = np.zeros(k), np.zeros((k, k))
    resid = np.zeros((len(data) - 1, k))
    for idx in blocks.values():
        res = VAR(data.iloc[:, idx]).fit(1, trend="c")
        const[idx] = res.params.iloc[0].to_numpy()
        coef[np.ix_(idx, idx)] = res.coefs[0]
        resid[:, idx] = res.resid.to_numpy()
    return const, coef, resid


def _stats(f: pd.DataFrame) -> dict[str, float]:
    g = f[["dlog_output", "dlog_intensity", "dlog_emissions"]].dropna()
    sd = g.std(ddof=1)
    return {
        "mean_dlog_output": float(g["dlog_output"].mean()),
        "sd_dlog_output": float(sd["dlog_output"]),
        "mean_dlog_intensity": float(g["dlog_intensity"].mean()),
        "sd_dlog_intensity": float(sd["dlog_intensity"]),
        "mean_dlog_emissions": float(g["dlog_emissions"].mean()),
        "sd_dlog_emissions": float(sd["dlog_emissions"]),
        "corr_output_emissions": float(g["dlog_output"].corr(g["dlog_emissions"])),
        "corr_output_intensity": float(g["dlog_output"].corr(g["dlog_intensity"])),
        # one-year-ahead coefficient of variation of a lognormal level: sqrt(exp(s^2) - 1)
        "cv_output": float(np.sqrt(np.expm1(sd["dlog_output"] ** 2))),
        "cv_emissions": float(np.sqrt(np.expm1(sd["dlog_emissions"] ** 2))),
        "nobs": int(len(g)),
    }


def calibrate_fundamentals(
    jurisdictions: Sequence[str] | None = None,
    start: int = DEFAULT_START,
    end: int | None = None,
    var1: Var1 = False,
    data_dir: str | Path | None = None,
) -> FundamentalsCalibration:
    """Calibrate the joint model of output and intensity growth from the annual data.

    ``jurisdictions`` default to all nine. Levels from ``start`` (growth from ``start + 1``) to
    ``end`` (default: the last common year).
    """
    jurs = list(jurisdictions) if jurisdictions else list(JURISDICTIONS)
    if len(set(jurs)) != len(jurs):
        raise InputError("duplicate jurisdiction", field="jurisdictions")
    frames = {j: load_annual(j, data_dir=data_dir, start=start) for j in jurs}
    cal = calibrate_from_frames(frames, end=end, var1=var1)
    cal.report["common"].append(
        f"levels from {start}, growth from {cal.years[0]} (sample choice: "
        "riskmodel.data.fundamentals); includes 2009 and 2020 as observed"
    )
    proxies = [j for j in ("usa", "canada") if j in jurs]
    if proxies:
        cal.report["common"].append(
            f"{' and '.join(proxies)}: national series stand in for California / Quebec"
        )
    return cal


def calibrate_from_frames(
    frames: dict[str, pd.DataFrame], end: int | None = None, var1: Var1 = False
) -> FundamentalsCalibration:
    """``calibrate_fundamentals`` on frames already loaded (or simulated), Contract-1 columns."""
    jurs = list(frames)
    growth, emi, report = growth_frame(frames, end=end)
    if len(growth) < 3:
        raise FitError(f"only {len(growth)} common years for {', '.join(jurs)}")
    fit = fit_growth(growth, var1=var1)
    years = [int(y) for y in growth.index]
    common = {j: frames[j].loc[years] for j in jurs}
    stats = {j: _stats(common[j]) for j in jurs}
    out_g = growth[[f"{j}:dlog_output" for j in jurs]].set_axis(jurs, axis=1)
    return FundamentalsCalibration(
        jurisdictions=jurs,
        variables=list(growth.columns),
        mean=np.asarray(fit["mean"]),
        cov=np.asarray(fit["cov"]),
        years=years,
        corr_output_emissions={j: stats[j]["corr_output_emissions"] for j in jurs},
        stats=stats,
        cross_corr_output=out_g.corr(),
        cross_corr_emissions=emi.corr(),
        repaired=fit["repaired"],
        repair_note=fit["repair_note"],
        var1=fit["var1"],
        sources={j: frames[j].attrs.get("sources") for j in jurs},
        report={"common": report, **{j: list(frames[j].attrs.get("report", [])) for j in jurs}},
        data_hash=hash_series(growth),
    )


def load_fundamentals(path: str | Path | None = None) -> FundamentalsCalibration:
    """Read ``calibrations/fundamentals.json``; bad content raises InputError naming the field."""
    from riskmodel.config import CALIBRATIONS_DIR

    path = Path(path) if path is not None else CALIBRATIONS_DIR / "fundamentals.json"
    from riskmodel.io import read_json

    doc = read_json(path)
    if not isinstance(doc, dict):
        raise InputError("must be a JSON object", file=path)
    for key in ("jurisdictions", "variables", "mean", "cov", "years", "corr_output_emissions"):
        if key not in doc:
            raise InputError("missing key", file=path, field=key)
    jurs, names = doc["jurisdictions"], doc["variables"]
    expect = [f"{j}:{v}" for j in jurs for v in VARS]
    if names != expect:
        raise InputError(f"must be {expect}", file=path, field="variables")
    mean = np.asarray(doc["mean"], dtype=float)
    cov = np.asarray(doc["cov"], dtype=float)
    k = len(names)
    if mean.shape != (k,):
        raise InputError(f"length {mean.shape} for {k} variables", file=path, field="mean")
    if cov.shape != (k, k) or not np.allclose(cov, cov.T, atol=1e-12):
        raise InputError(f"must be a symmetric {k}x{k} matrix", file=path, field="cov")
    if np.linalg.eigvalsh(cov).min() <= 0:
        raise InputError("not positive definite", file=path, field="cov")
    cc = {
        j: pd.DataFrame(doc.get(f"cross_corr_{n}", {}))
        for j, n in (("output", "output"), ("emissions", "emissions"))
    }
    return FundamentalsCalibration(
        jurisdictions=jurs,
        variables=names,
        mean=mean,
        cov=cov,
        years=[int(y) for y in doc["years"]],
        corr_output_emissions=doc["corr_output_emissions"],
        stats=doc.get("stats", {}),
        cross_corr_output=cc["output"],
        cross_corr_emissions=cc["emissions"],
        repaired=bool(doc.get("repaired", False)),
        repair_note=doc.get("repair_note", ""),
        var1=doc.get("var1"),
        sources=doc.get("sources", {}),
        report=doc.get("report", {}),
        data_hash=doc.get("data_hash", ""),
    )
