"""Scenario -> flat arrays for the kernel: calibrations, catalogue, FX, fundamentals, dependence.

Everything the kernel needs is resolved once here, in Python, with errors that name the scenario
field (``InputError``). What was assumed or repaired is collected in ``Resolved.notes``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.sim import layout as L
from riskmodel.sim import thin_trading
from riskmodel.sim.events import daily_cumulative, link_generator, market_generators
from riskmodel.sim.innovations import (
    COMP_GRID,
    TABLE_SIZE,
    build_table,
    compensator_table,
    joint_correlation,
    nearest_correlation,
    table_error,
)
from riskmodel.sim.scenario import MarketSpec, Scenario

#: MODEL.md §3 defaults when the catalogue lacks a number.
MSR_DEFAULTS = {"rate": 0.24, "in": 1096.0, "rel_amt": 100.0, "rel_th": 400.0, "cancel": 400.0}
#: Placeholder quota (Mt) of a share quota at compile time; the kernel sets share x supply.
SHARE_PLACEHOLDER = 1e300
KETS_DEFAULTS = {"hi": 3.0, "months": 6.0, "mid": 2.0, "lo": 0.6}


@dataclass
class Resolved:
    """Arrays and facts the kernel and the result tables need (see ``layout``)."""

    ids: list[str]
    currencies: list[str]
    n: int
    j: int
    years: int
    dpy: int
    mp: np.ndarray
    mi: np.ndarray
    rmu: np.ndarray
    rom: np.ndarray
    ral: np.ndarray
    rbe: np.ndarray
    rcum: np.ndarray
    rh0: np.ndarray
    rp0cum: np.ndarray
    tab: np.ndarray
    comp: np.ndarray
    chol: np.ndarray
    jdrift: np.ndarray
    jsd: np.ndarray
    jcorr: np.ndarray
    qobs: np.ndarray
    qcf: np.ndarray
    ends: np.ndarray
    lpar: np.ndarray
    lk_f: np.ndarray
    link_names: list[str]
    ev_link: np.ndarray
    ev_ex: np.ndarray
    ev_int: np.ndarray
    has_events: bool
    st: np.ndarray
    s_conv: np.ndarray
    copula_t: bool
    cnu: float
    plo: np.ndarray
    pstep: np.ndarray
    elo: np.ndarray
    estep: np.ndarray
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------- sources


def _read_json(path: Path, fld: str) -> dict[str, Any]:
    if not path.is_file():
        raise InputError("file not found", file=path, field=fld)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON (line {exc.lineno})", file=path, field=fld) from exc


def _calibration(spec: MarketSpec, k: int) -> dict[str, Any]:
    """The market's process in Contract-2 form (model, params, state, price_level, currency)."""
    if spec.process is not None:
        p = spec.process
        return {"model": {"family": p.family, "mean": p.mean, "dist": p.dist,
                          "k_regimes": p.k_regimes},
                "params": dict(p.params), "state": {"last_price": p.last_price, **p.state},
                "thin_trading": p.thin_trading,
                "price_level": {}, "currency": spec.currency, "proxy": None,
                "source": f"markets[{k}].process"}
    name = spec.calibration or spec.id
    path = Path(name)
    if path.suffix != ".json":
        path = config.CALIBRATIONS_DIR / f"{name}.json"
    d = _read_json(path, f"markets[{k}].calibration")
    d["source"] = str(path)
    return d


def _catalogue(spec: MarketSpec, k: int) -> Any | None:
    if spec.synthetic:
        return None
    from riskmodel.data.catalogue import load_market

    try:
        return load_market(spec.id)
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"catalogue entry not usable: {exc}", field=f"markets[{k}].id") from exc


def _val(obj: Any, *names: str) -> float | None:
    """``obj.a.b.value`` or None."""
    for n in names:
        if obj is None:
            return None
        obj = getattr(obj, n, None)
    v = getattr(obj, "value", obj)
    return None if v is None else float(v)


def _fx(scn: Scenario, currencies: list[str], notes: list[str]) -> np.ndarray:
    num = scn.simulation.numeraire
    rates: dict[str, float] = {}
    path = config.CALIBRATIONS_DIR / "fx.json"
    if path.is_file():
        d = _read_json(path, "simulation.fx")
        base = d.get("numeraire", "EUR")
        r = {str(a): float(b) for a, b in (d.get("rates") or {}).items()}
        r[base] = 1.0
        if num in r:
            rates = {c: v / r[num] for c, v in r.items()}
        notes.append(f"fx: rates from calibrations/{path.name} (numeraire {base})")
    rates.update(scn.simulation.fx)
    rates[num] = 1.0
    out = np.empty(len(currencies))
    for i, c in enumerate(currencies):
        if c not in rates:
            raise InputError(
                f"no exchange rate for {c} (numeraire {num}): give simulation.fx.{c} "
                "(numeraire per unit) or calibrations/fx.json", field="simulation.fx")
        out[i] = rates[c]
    return out


def _fundamentals(scn: Scenario) -> dict[str, Any] | None:
    p = scn.fundamentals.calibration
    path = Path(p) if p else config.CALIBRATIONS_DIR / "fundamentals.json"
    if not path.is_file():
        if p:
            raise InputError("file not found", file=path, field="fundamentals.calibration")
        return None
    d = _read_json(path, "fundamentals.calibration")
    d["_path"] = str(path)
    return d


def _dependence(scn: Scenario, ids: list[str], proxies: list[str | None],
                notes: list[str]) -> tuple[np.ndarray, str, float | None]:
    n = len(ids)
    dep = scn.dependence
    if dep.corr is not None:
        c = np.asarray(dep.corr, dtype=float)
        if np.linalg.eigvalsh(c).min() <= 1e-10:
            c = nearest_correlation(c)
            notes.append("dependence.corr repaired to the nearest positive-definite matrix")
        return c, dep.copula, dep.nu
    path = Path(dep.calibration) if dep.calibration else config.CALIBRATIONS_DIR / "dependence.json"
    if not path.is_file():
        if dep.calibration:
            raise InputError("file not found", file=path, field="dependence.calibration")
        if n > 1:
            notes.append("dependence: no calibrations/dependence.json; price innovations "
                         "independent across markets")
        return np.eye(n), dep.copula, dep.nu
    d = _read_json(path, "dependence.calibration")
    names = list(d.get("markets", []))
    full = np.asarray(d.get("corr", []), dtype=float)
    c = np.eye(n)
    for a in range(n):
        for b in range(a + 1, n):
            ka = ids[a] if ids[a] in names else proxies[a]
            kb = ids[b] if ids[b] in names else proxies[b]
            if ka in names and kb in names:
                v = 0.99 if ka == kb else full[names.index(ka), names.index(kb)]
                c[a, b] = c[b, a] = v
            else:
                notes.append(f"dependence: no correlation for {ids[a]}-{ids[b]} in {path.name}; "
                             "0 used")
    if np.linalg.eigvalsh(c).min() <= 1e-10:
        c = nearest_correlation(c)
        notes.append("dependence: sub-matrix repaired to the nearest positive-definite matrix")
    copula = dep.copula if "copula" in dep.model_fields_set else str(d.get("copula", "gaussian"))
    nu = dep.nu if dep.nu is not None else d.get("nu")
    if copula == "t" and nu is None:
        nu = 8.0
    return c, copula, (float(nu) if nu is not None else None)


# --------------------------------------------------------------------------- processes


def _process(k: int, cal: dict[str, Any], drift_zero: bool, mp: np.ndarray, mi: np.ndarray,
             rg: dict[str, np.ndarray], fld: str) -> tuple[str, float | None, float | None]:
    """Fill market k's process parameters; return (dist, nu, lambda)."""
    model = cal.get("model") or {}
    fam = str(model.get("family", "garch"))
    if fam not in L.FAMILIES:
        raise InputError(f"unknown family {fam!r}", field=f"{fld}.model.family")
    pr = {str(a): float(b) for a, b in (cal.get("params") or {}).items()}
    st = cal.get("state") or {}
    dist = str(model.get("dist", "normal"))
    mi[k, L.FAM] = L.FAMILIES[fam]

    def need(key: str) -> float:
        if key not in pr:
            raise InputError(f"missing parameter {key!r} for a {fam} model", field=f"{fld}.params")
        return pr[key]

    if fam in ("garch", "gjr", "egarch"):
        mi[k, L.AR] = int(model.get("mean", "constant") == "ar1")
        mp[k, L.MU] = 0.0 if drift_zero else need("mu")
        mp[k, L.PHI] = pr.get("phi", 0.0) if mi[k, L.AR] and not drift_zero else 0.0
        mp[k, L.OMEGA], mp[k, L.ALPHA], mp[k, L.BETA] = need("omega"), need("alpha"), need("beta")
        mp[k, L.GAMMA] = pr.get("gamma", 0.0) if fam != "garch" else 0.0
        if fam == "egarch":
            h0 = st.get("last_variance") or math.exp(mp[k, L.OMEGA] / (1 - mp[k, L.BETA]))
        else:
            pers = mp[k, L.ALPHA] + mp[k, L.BETA] + 0.5 * mp[k, L.GAMMA]
            h0 = st.get("last_variance") or (mp[k, L.OMEGA] / max(1 - pers, 1e-6))
        mp[k, L.H0] = float(h0)
        mp[k, L.E0] = float(st.get("last_resid", 0.0))
        mp[k, L.Z0] = float(st.get("last_std_resid", mp[k, L.E0] / math.sqrt(mp[k, L.H0])))
        mp[k, L.R0] = float(st.get("last_return", 0.0)) if mi[k, L.AR] else 0.0
        mi[k, L.K] = 1
    else:
        kk = int(model.get("k_regimes", 0) or 0)
        if kk == 0:
            kk = sum(1 for key in pr if key.startswith("p_")) and int(
                round(math.sqrt(sum(1 for key in pr if key.startswith("p_")))))
        if not 1 <= kk <= L.KMAX:
            raise InputError(f"k_regimes must be 1..{L.KMAX}", field=f"{fld}.model.k_regimes")
        mi[k, L.K] = kk
        pm = np.array([[need(f"p_{a}{b}") for b in range(kk)] for a in range(kk)])
        if np.any(pm < 0) or not np.allclose(pm.sum(axis=1), 1.0, atol=1e-6):
            raise InputError("transition rows must be probabilities summing to 1",
                             field=f"{fld}.params.p_ij")
        pm /= pm.sum(axis=1, keepdims=True)
        rg["rcum"][k, :kk, :kk] = np.cumsum(pm, axis=1)
        probs = np.asarray(st.get("regime_probs") or _ergodic(pm), dtype=float)
        if probs.shape != (kk,):
            raise InputError(f"regime_probs must have {kk} entries", field=f"{fld}.state")
        rg["rp0cum"][k, :kk] = np.cumsum(probs / probs.sum())
        if fam == "ms":
            for s in range(kk):
                rg["rmu"][k, s] = 0.0 if drift_zero else need(f"mu_{s}")
                rg["rom"][k, s] = need(f"sigma2_{s}")
            rg["rh0"][k, :kk] = rg["rom"][k, :kk]
            dist = "normal"
        else:
            mp[k, L.MU] = 0.0 if drift_zero else need("mu")
            for s in range(kk):
                rg["rom"][k, s] = need(f"omega_{s}")
                rg["ral"][k, s] = need(f"alpha_{s}")
                rg["rbe"][k, s] = need(f"beta_{s}")
            hv = st.get("regime_variances")
            if hv is None:
                hv = [rg["rom"][k, s] / max(1 - rg["ral"][k, s] - rg["rbe"][k, s], 1e-6)
                      for s in range(kk)]
            if len(hv) != kk:
                raise InputError(f"regime_variances must have {kk} entries", field=f"{fld}.state")
            rg["rh0"][k, :kk] = np.asarray(hv, dtype=float)
    if dist in ("t", "skewt") and "nu" not in pr:
        raise InputError(f"dist {dist} needs 'nu'", field=f"{fld}.params")
    if dist == "skewt" and "lambda" not in pr:
        raise InputError("dist skewt needs 'lambda'", field=f"{fld}.params")
    return dist, pr.get("nu"), pr.get("lambda")


def _ergodic(p: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eig(p.T)
    x = np.abs(np.real(v[:, np.argmin(np.abs(w - 1))]))
    return x / x.sum()


# --------------------------------------------------------------------------- main


def resolve(scn: Scenario) -> Resolved:
    """Resolve a scenario into kernel arrays (raises ``InputError`` naming the field)."""
    from riskmodel.sim.scenario import check_markets_known

    check_markets_known(scn)
    if scn.fundamentals.var1:
        raise InputError("the engine simulates i.i.d. annual growth; VAR(1) is not implemented",
                         field="fundamentals.var1")
    notes: list[str] = []
    ids = scn.market_ids()
    n = len(ids)
    years, dpy = scn.horizon.years, scn.horizon.days_per_year
    mp = np.zeros((n, L.NPF))
    mi = np.zeros((n, L.NPI), dtype=np.int64)
    rg = {"rmu": np.zeros((n, L.KMAX)), "rom": np.zeros((n, L.KMAX)),
          "ral": np.zeros((n, L.KMAX)), "rbe": np.zeros((n, L.KMAX)),
          "rcum": np.ones((n, L.KMAX, L.KMAX)), "rh0": np.zeros((n, L.KMAX)),
          "rp0cum": np.ones((n, L.KMAX))}
    cats = [_catalogue(m, k) for k, m in enumerate(scn.markets)]
    cals = [_calibration(m, k) for k, m in enumerate(scn.markets)]
    currencies: list[str] = []
    proxies: list[str | None] = []
    for k, m in enumerate(scn.markets):
        cur = m.currency or (cats[k].currency if cats[k] is not None else None)
        if cur is None:
            raise InputError("currency unknown", field=f"markets[{k}].currency")
        currencies.append(cur)
        px = cals[k].get("proxy")
        # a linked proxy (Swiss ETS -> EUA) shares its market's shocks; a level proxy (Tokyo: the
        # K-ETS dynamics rescaled, no price series) does not, so it gets no borrowed correlation
        linked_proxy = isinstance(px, dict) and px.get("fx") != "level"
        proxies.append(px.get("of") if linked_proxy else None)
    fx = _fx(scn, currencies, notes)
    cal_cur = [str(c.get("currency") or currencies[k]) for k, c in enumerate(cals)]
    fx_cal = _fx(scn, cal_cur, notes) if cal_cur != currencies else fx
    fund = _fundamentals(scn)
    dep_corr, copula, cnu = _dependence(scn, ids, proxies, notes)
    copula_t = copula == "t"
    tab = np.zeros((n, TABLE_SIZE))
    comp = np.zeros((n, COMP_GRID))
    tab_err: dict[str, float] = {}

    # jurisdictions / output
    jur_keys: list[str] = []
    jur_of = np.zeros(n, dtype=np.int64)
    jmu: list[float] = []
    jsig: list[float] = []
    fj = list(fund["jurisdictions"]) if fund else []
    fvars = list(fund["variables"]) if fund else []
    fcov = np.asarray(fund["cov"], dtype=float) if fund else np.zeros((0, 0))
    fmean = np.asarray(fund["mean"], dtype=float) if fund else np.zeros(0)
    rho = np.zeros(n)
    emis_cv: dict[str, float] = {}
    for k, m in enumerate(scn.markets):
        jur = m.jurisdiction or (cats[k].jurisdiction if cats[k] is not None else None)
        if m.output_growth is not None or m.output_vol is not None:
            key = f"market:{m.id}"
            mu_j, sd_j = float(m.output_growth or 0.0), float(m.output_vol or 0.0)
        elif jur is not None and jur in fj:
            key = jur
            io = fvars.index(f"{jur}:dlog_output")
            ii = fvars.index(f"{jur}:dlog_intensity")
            mu_j, sd_j = float(fmean[io]), math.sqrt(fcov[io, io])
            ve = fcov[io, io] + fcov[ii, ii] + 2 * fcov[io, ii]
            emis_cv[m.id] = math.sqrt(max(ve, 0.0))
        else:
            raise InputError(
                f"no output process for market {m.id!r} (jurisdiction {jur!r} not in the "
                "fundamentals calibration): give output_growth and output_vol",
                field=f"markets[{k}].output_vol")
        if key not in jur_keys:
            jur_keys.append(key)
            jmu.append(mu_j)
            jsig.append(sd_j * scn.fundamentals.vol_scale)
        jur_of[k] = jur_keys.index(key)
        mi[k, L.JUR] = jur_of[k]
        fr = scn.fundamentals
        if fr.price_output_corr != 0.0:
            rho[k] = fr.price_output_corr
        elif m.id in fr.output_emissions_corr:
            rho[k] = fr.output_emissions_corr[m.id]
        elif fund and jur in (fund.get("corr_output_emissions") or {}):
            rho[k] = float(fund["corr_output_emissions"][jur])
    nj = len(jur_keys)
    ocorr = np.eye(nj)
    for a in range(nj):
        for b in range(a + 1, nj):
            ka, kb = jur_keys[a], jur_keys[b]
            if ka in fj and kb in fj:
                ia, ib = fvars.index(f"{ka}:dlog_output"), fvars.index(f"{kb}:dlog_output")
                ocorr[a, b] = ocorr[b, a] = fcov[ia, ib] / math.sqrt(fcov[ia, ia] * fcov[ib, ib])
    if nj > 1 and np.linalg.eigvalsh(ocorr).min() <= 1e-10:
        ocorr = nearest_correlation(ocorr)
        notes.append("fundamentals: output correlation repaired to nearest positive definite")
    joint, repaired = joint_correlation(dep_corr, ocorr, jur_of, rho)
    if repaired:
        notes.append("joint price/output correlation repaired to the nearest positive-definite "
                      "matrix (price-output correlations too strong for the cross-market ones)")
    chol = np.linalg.cholesky(joint)
    jmu_a, jsig_a = np.asarray(jmu), np.asarray(jsig)

    # processes, design
    qobs = np.zeros((n, years))
    qcf = np.zeros((n, years))
    st = np.zeros((n, L.NST))
    for k, m in enumerate(scn.markets):
        fld = f"markets[{k}]"
        drift = scn.simulation.price_drift
        mp[k, L.COMP] = 1.0 if drift == "martingale" else 0.0
        dist, nu, lam = _process(k, cals[k], drift != "fitted", mp, mi, rg,
                                 fld)
        thin_trading.fill(k, cals[k], mp, f"{fld}.calibration", notes, m.id)
        mode, lo, step, vals = build_table(dist, nu, lam, copula, cnu)
        mp[k, L.MAXR] = m.max_daily_return if m.max_daily_return is not None else math.inf
        mi[k, L.TAB_MODE] = mode
        mp[k, L.TAB_LO], mp[k, L.TAB_STEP] = lo, step
        tab[k] = vals
        mp[k, L.CMP_LO], mp[k, L.CMP_STEP], comp[k] = compensator_table(
            mode, lo, step, vals, copula, cnu, mp[k, L.MAXR])
        tab_err[m.id] = table_error(dist, nu, lam, copula, cnu)
        scale = fx_cal[k] / fx[k]  # proxy processes: converted into the market's currency
        if abs(scale - 1.0) > 1e-12:
            notes.append(f"{m.id}: process of {cal_cur[k]} prices converted by FX ({scale:.6g})")
        st_ = cals[k].get("state") or {}
        last = st_.get("last_price")
        if last is None or not float(last) > 0:
            raise InputError("state.last_price must be positive", field=f"{fld}.calibration")
        mp[k, L.LOGP0] = math.log(float(last) * scale)
        cat = cats[k]
        plevel = m.abatement.price_level
        if plevel is None:
            pl = (cals[k].get("price_level") or {}).get("mean_last_year")
            plevel = float(pl) * scale if pl else float(last) * scale
        mp[k, L.PLEVEL] = plevel
        share = m.abatement.share
        bau = m.bau_emissions or _val(cat, "coverage", "covered_emissions")
        if bau is None and cat is not None and cat.cap.path:
            y0 = scn.horizon.start_year
            yr = min(cat.cap.path, key=lambda yy: (abs(yy - y0), -yy))
            qlast = cat.cap.path[yr].value
            if qlast:
                bau = float(qlast) / (1 - share)
                notes.append(f"{m.id}: BAU emissions = catalogue cap {yr} ({qlast:g} Mt, "
                             f"{cat.cap.path[yr].source}) / (1 - abatement share {share:g})")
        if bau is None:
            raise InputError("BAU emissions unknown (catalogue has none): give bau_emissions",
                             field=f"{fld}.bau_emissions")
        mp[k, L.BAU] = bau
        eta = m.abatement.exponent
        mp[k, L.ETA] = eta
        mp[k, L.C] = m.abatement.slope or share * bau / plevel**eta
        mp[k, L.FX] = fx[k]
        # supply rules
        if m.observed_cap is not None:
            b_obs = m.observed_cap.effective_degree
            q0o = m.observed_cap.level or bau * (1 - share)
            go = m.observed_cap.annual_change
        else:
            b_obs = 0.0
            if cat is not None:
                b_obs = {"absolute": 0.0, "intensity": 1.0}.get(cat.cap.type,
                                                                 cat.cap.degree or 0.0)
            q0o, go = bau * (1 - share), 0.0
        if "cap" in m.model_fields_set:
            b_cf = m.cap.effective_degree
            q0c = m.cap.level or bau * (1 - share)
            gc = m.cap.annual_change
        else:
            b_cf, q0c, gc = b_obs, q0o, go
        mp[k, L.B_OBS], mp[k, L.B_CF] = b_obs, b_cf
        yy = np.arange(years)
        qobs[k] = q0o * (1 + go) ** yy
        qcf[k] = q0c * (1 + gc) ** yy
        # collar, offsets, penalty -> the link solver's single floor and ceiling
        if "collar" in m.model_fields_set or cat is None:
            fl, ce = m.collar.floor, m.collar.ceiling
            rup, rdn = m.collar.reserve_up, m.collar.reserve_down
        else:
            fl, ce = _val(cat, "collar", "floor"), _val(cat, "collar", "ceiling")
            rup, rdn = _val(cat, "collar", "reserve"), None
        _collar(k, m, cat, fl, ce, rup, rdn, mp, notes)
        # stabilisation
        sb = m.stabilisation
        if sb.msr:
            c_msr = getattr(getattr(cat, "stabilisation", None), "msr", None)
            mi[k, L.MSR_ON] = 1
            st[k, L.MSR_RATE] = _val(c_msr, "intake_rate") or MSR_DEFAULTS["rate"]
            st[k, L.MSR_IN] = _val(c_msr, "intake_threshold") or MSR_DEFAULTS["in"]
            st[k, L.MSR_REL_AMT] = _val(c_msr, "release_amount") or MSR_DEFAULTS["rel_amt"]
            st[k, L.MSR_REL_TH] = _val(c_msr, "release_threshold") or MSR_DEFAULTS["rel_th"]
            st[k, L.MSR_CANCEL] = _val(c_msr, "cancellation_threshold") or MSR_DEFAULTS["cancel"]
            st[k, L.MSR_TNAC0] = sb.tnac0 if sb.tnac0 is not None else st[k, L.MSR_IN]
            st[k, L.MSR_RES0] = sb.msr_reserve0
        if sb.kets_triggers:
            c_k = getattr(getattr(cat, "stabilisation", None), "kets_triggers", None)
            mi[k, L.KETS_ON] = 1
            st[k, L.K_HI_MULT] = _val(c_k, "high_price_multiple") or KETS_DEFAULTS["hi"]
            st[k, L.K_HI_MONTHS] = _val(c_k, "high_price_months") or KETS_DEFAULTS["months"]
            st[k, L.K_MID_MULT] = _val(c_k, "volume_price_multiple") or KETS_DEFAULTS["mid"]
            st[k, L.K_LO_MULT] = _val(c_k, "low_price_multiple") or KETS_DEFAULTS["lo"]
            st[k, L.K_PROB] = sb.kets_probability
            st[k, L.K_SHARE] = sb.kets_release_share
            st[k, L.K_AVG0] = plevel

    # links
    ends, lpar, lk_f, ev_link, names, svec = _links(scn, ids, dpy)
    from riskmodel.linking import validate_collars

    solver_mkt = _solver_markets(mp, svec)
    validate_collars(solver_mkt, ids, ends if len(ends) else None)
    ev_ex = np.zeros((n, 2, 2))
    ev_int = np.zeros((n, 2, 2))
    mev = {ev.market: ev for ev in scn.events.markets}
    for k, m in enumerate(scn.markets):
        ev = mev.get(m.id)
        gx, gi = market_generators(ev)
        ev_ex[k], ev_int[k] = daily_cumulative(gx, dpy), daily_cumulative(gi, dpy)
        if ev is not None:
            mi[k, L.HAS_EX] = int(ev.exemption_on > 0 and ev.exemption_share > 0)
            mi[k, L.HAS_INT] = int(ev.intervention_on > 0)
            mp[k, L.EX_SHARE] = ev.exemption_share
            mp[k, L.INT_FLOOR] = ev.intervention_floor or 0.0
            mp[k, L.INT_SUPPLY] = ev.intervention_supply_share
    has_events = bool(scn.events.links or scn.events.markets)

    # histogram ranges
    plo = np.log(mp[:, L.PLEVEL]) - 7.0
    pstep = np.full(n, 14.0 / L.NBINS)
    bau_all = np.append(mp[:, L.BAU], mp[:, L.BAU].sum())
    elo = -0.5 * bau_all
    estep = 3.0 * bau_all / L.NBINS
    meta = {"table_error": tab_err, "rho_price_output": dict(zip(ids, rho.tolist(), strict=True)),
            "fundamentals_emissions_sd": emis_cv, "copula": copula, "copula_nu": cnu,
            "jurisdictions": jur_keys, "link_names": names,
            "fundamentals": fund.get("_path") if fund else None,
            "price_bin_log_width": 14.0 / L.NBINS,
            "emissions_bin_width_share_of_bau": 3.0 / L.NBINS}
    return Resolved(
        ids=ids, currencies=currencies, n=n, j=nj, years=years, dpy=dpy, mp=mp, mi=mi,
        rmu=rg["rmu"], rom=rg["rom"], ral=rg["ral"], rbe=rg["rbe"], rcum=rg["rcum"],
        rh0=rg["rh0"], rp0cum=rg["rp0cum"], tab=tab, comp=comp, chol=chol,
        jdrift=jmu_a / dpy, jsd=jsig_a / math.sqrt(dpy), jcorr=(jmu_a + 0.5 * jsig_a**2) / dpy,
        qobs=qobs, qcf=qcf, ends=ends, lpar=lpar, lk_f=lk_f, link_names=names,
        ev_link=ev_link, ev_ex=ev_ex, ev_int=ev_int, has_events=has_events, st=st,
        s_conv=svec, copula_t=copula_t, cnu=float(cnu or 0.0), plo=plo, pstep=pstep, elo=elo,
        estep=estep,
        notes=notes, meta=meta)


def _collar(k: int, m: MarketSpec, cat: Any, fl: float | None, ce: float | None,
            rup: float | None, rdn: float | None, mp: np.ndarray, notes: list[str]) -> None:
    """Map collar, penalty and offsets onto the solver's one floor and one ceiling."""
    fld = f"markets[{k}]"
    inf = math.inf
    mp[k, L.COLLAR_F] = fl if fl else 0.0
    mp[k, L.COLLAR_K] = ce if ce is not None else inf
    mp[k, L.FLOOR] = fl if fl else 0.0
    mp[k, L.RES_DOWN] = rdn if (fl and rdn is not None) else inf
    mp[k, L.CEIL] = ce if ce is not None else inf
    mp[k, L.RES_UP] = rup if (ce is not None and rup is not None) else inf
    pen = m.penalty_cap
    if pen is None and cat is not None and cat.penalty.make_good.value is False:
        pen = _val(cat, "penalty", "amount")
        if pen:
            notes.append(f"{m.id}: penalty {pen:g} without make-good acts as a price cap")
    if pen:
        if ce is None or math.isinf(mp[k, L.RES_UP]):
            mp[k, L.CEIL] = min(pen, mp[k, L.CEIL])
            mp[k, L.RES_UP] = inf
        else:
            notes.append(f"{m.id}: penalty cap {pen:g} above a ceiling with a finite reserve is "
                         "not represented (the solver has one ceiling step)")
    if m.offset_limit_share > 0:
        if m.offset_price is None:
            raise InputError("offsets need offset_price", field=f"{fld}.offset_price")
        if not math.isinf(mp[k, L.CEIL]):
            raise InputError("offsets together with a ceiling or penalty cap need two supply "
                             "steps; the link solver has one", field=f"{fld}.offset_limit_share")
        mp[k, L.CEIL] = m.offset_price
        mp[k, L.OFF_ON] = 1.0
        mp[k, L.OFF_SHARE] = m.offset_limit_share


def _links(scn: Scenario, ids: list[str], dpy: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Scenario links -> the link solver's (ends, lpar), share quotas and start days, daily
    event matrices, names and permit conversion factors s."""
    from riskmodel.linking import Link, compile_topology

    links = scn.all_links()
    evmap = {frozenset(ev.link.replace(">", "").split("-")): ev for ev in scn.events.links}
    out: list[Link] = []
    lk_f = np.zeros((len(links), L.NLF))
    ev_link = np.zeros((len(links), 3, 3))
    inf = math.inf
    for q, lk in enumerate(links):
        # the solver's Link(a, b, tau): one permit of b covers tau tonnes in a
        a, b = ids.index(lk.markets[1]), ids.index(lk.markets[0])
        qmt = lk.quota.mt if lk.quota and lk.quota.mt is not None else inf
        if lk.quota is not None and lk.quota.share is not None:
            qmt = SHARE_PLACEHOLDER  # finite: the link is restricted; set per step from S'
        ev = evmap.get(frozenset(lk.markets))
        rq, rfee = None, None
        if ev is not None:
            if ev.restricted_quota is not None and ev.restricted_quota.mt is not None:
                rq = min(qmt, ev.restricted_quota.mt)
            elif ev.restricted_quota is not None:
                rq = min(qmt, SHARE_PLACEHOLDER)
            rfee = max(lk.fee, ev.restricted_fee)
        out.append(Link(a=a, b=b, exchange_rate=lk.exchange_rate, quota_ab=qmt, quota_ba=qmt,
                        fee_ab=lk.fee, fee_ba=lk.fee, restricted_quota_ab=rq,
                        restricted_quota_ba=rq, restricted_fee_ab=rfee, restricted_fee_ba=rfee,
                        one_way="ba" if lk.direction == "one_way" else None))
        lk_f[q, L.Q_SHARE] = lk.quota.share if lk.quota and lk.quota.share is not None else -1.0
        lk_f[q, L.RQ_SHARE] = lk_f[q, L.Q_SHARE]
        if ev is not None and ev.restricted_quota is not None and \
                ev.restricted_quota.share is not None:
            rs_ = ev.restricted_quota.share
            lk_f[q, L.RQ_SHARE] = rs_ if lk_f[q, L.Q_SHARE] < 0 else min(rs_, lk_f[q, L.Q_SHARE])
        sy = lk.start_year if lk.start_year is not None else scn.horizon.start_year
        lk_f[q, L.START_DAY] = max(0, (sy - scn.horizon.start_year) * dpy)
        ev_link[q] = daily_cumulative(link_generator(ev), dpy)
    names = [lk.name for lk in links]
    try:
        la = compile_topology(len(ids), out, ids)
    except InputError as exc:
        raise InputError(exc.reason, field=exc.field or "links") from None
    return la.ends, la.lpar, lk_f, ev_link, names, la.s


def _solver_markets(mp: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The link solver's market array with the static collar (for validation)."""
    from riskmodel.linking import (
        M_C,
        M_CEIL,
        M_ETA,
        M_FLOOR,
        M_FX,
        M_RES_DOWN,
        M_RES_UP,
        M_S,
        market_array,
    )

    m = market_array(mp.shape[0])
    m[:, M_C], m[:, M_ETA], m[:, M_FX], m[:, M_S] = mp[:, L.C], mp[:, L.ETA], mp[:, L.FX], s
    m[:, M_FLOOR] = np.where(mp[:, L.COLLAR_F] > 0, mp[:, L.FLOOR], -np.inf)
    m[:, M_RES_DOWN] = mp[:, L.RES_DOWN]
    m[:, M_CEIL], m[:, M_RES_UP] = mp[:, L.CEIL], mp[:, L.RES_UP]
    return m
