"""Scenario -> flat arrays for the kernel: calibrations, catalogue, FX, fundamentals, dependence.

Everything the kernel needs is resolved once here, in Python, with errors that name the scenario
field (``InputError``). What was assumed or repaired is collected in ``Resolved.notes``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from riskmodel import config
from riskmodel.errors import InputError
from riskmodel.fit.calibration_schema import validate_calibration
from riskmodel.fit.shared_calibrations import (
    fx_rates,
    validate_dependence,
    validate_fundamentals,
    validate_fx,
)
from riskmodel.sim import layout as L
from riskmodel.sim import price_limit, sources, thin_trading
from riskmodel.sim.events import daily_cumulative, link_generator, market_generators
from riskmodel.sim.innovations import (
    COMP_GRID,
    TABLE_SIZE,
    build_table,
    compensator_table,
    effective_copula,
    joint_correlation,
    nearest_correlation,
    table_error,
)
from riskmodel.sim.scenario import (
    MAX_BAU,
    VOL_LEVEL_PERSISTENCE,
    VOL_LEVEL_SD,
    MarketSpec,
    Scenario,
)
from riskmodel.sim.sources import Sources

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
    #: Banking parameters (``layout.BK_*``; zero rows: banking off; docs/BANKING.md).
    bk: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    #: Every resolved design value with its source (``riskmodel.sim.sources.Sources.items``).
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)


# --------------------------------------------------------------------------- sources


def _read_json(path: Path, fld: str) -> dict[str, Any]:
    from riskmodel.io import read_json

    return read_json(path, field=fld)


def _calibration(spec: MarketSpec, k: int) -> dict[str, Any]:
    """The market's process in Contract-2 form (model, params, state, price_level, currency)."""
    if spec.process is not None:
        p = spec.process
        return {"model": {"family": p.family, "mean": p.mean, "dist": p.dist,
                          "k_regimes": p.k_regimes},
                "params": dict(p.params), "state": {"last_price": p.last_price, **p.state},
                "thin_trading": p.thin_trading, "price_limit": p.price_limit,
                "price_level": {}, "currency": spec.currency, "proxy": None,
                "source": f"markets[{k}].process"}
    name = spec.calibration or spec.id
    path = Path(name)
    if path.suffix != ".json":
        path = config.CALIBRATIONS_DIR / f"{name}.json"
    d = _read_json(path, f"markets[{k}].calibration")
    validate_calibration(d, file=path, need_price=True)
    d["source"] = str(path)
    return d


def _calibration_error(exc: InputError, cal: dict[str, Any], k: int) -> InputError:
    """An error the engine finds in market k's process parameters, named where the user wrote
    them: the calibration file and its own field (``params``, ``thin_trading.p01``), or the
    scenario's inline ``markets[k].process``; errors in the scenario's own fields (a price
    limit, a guard) and errors that already name a file are left as they are."""
    if exc.file is not None or not exc.field:
        return exc
    rest = None
    for head in (f"markets[{k}].calibration", f"markets[{k}].params", f"markets[{k}].model"):
        if exc.field == head or exc.field.startswith(head + "."):
            rest = exc.field[len(f"markets[{k}]."):]
            rest = rest.removeprefix("calibration").lstrip(".")
            break
    if rest is None:
        return exc
    src = str(cal.get("source") or "")
    if src == f"markets[{k}].process":  # inline: the scenario's own field
        return InputError(exc.reason, field=".".join(p for p in (src, rest) if p))
    return InputError(exc.reason, file=src, field=rest or None)


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
        validate_fx(d, file=path)
        base = d.get("numeraire", "EUR")
        rates = fx_rates(d, num)
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
    validate_fundamentals(d, file=path)
    d["_path"] = str(path)
    return d


def _dependence(scn: Scenario, ids: list[str], proxies: list[str | None],
                notes: list[str], src: Sources | None = None
                ) -> tuple[np.ndarray, str, float | None]:
    """Correlation of price innovations, copula and its degrees of freedom."""
    src = src if src is not None else Sources()
    c, copula, nu, where = _dependence_values(scn, ids, proxies, notes)
    dep = scn.dependence
    src.set("dependence.copula", copula, sources.scenario("dependence.copula")
            if "copula" in dep.model_fields_set else where.get("copula", sources.default()))
    src.set("dependence.nu", nu, where.get("nu", sources.scenario("dependence.nu")
                                          if "nu" in dep.model_fields_set else sources.default()))
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            src.set(f"dependence.corr.{ids[a]}-{ids[b]}", float(c[a, b]),
                    where.get(f"{a},{b}", where["corr"]))
    return c, copula, nu


def _dependence_values(scn: Scenario, ids: list[str], proxies: list[str | None],
                       notes: list[str]) -> tuple[np.ndarray, str, float | None, dict[str, str]]:
    n = len(ids)
    dep = scn.dependence
    where: dict[str, str] = {}
    if dep.corr is not None:
        where["corr"] = sources.scenario("dependence.corr")
        c = np.asarray(dep.corr, dtype=float)
        if np.linalg.eigvalsh(c).min() <= 1e-10:
            c = nearest_correlation(c)
            notes.append("dependence.corr repaired to the nearest positive-definite matrix")
            where["corr"] += " (repaired to the nearest positive-definite matrix)"
        if dep.copula == "t" and "nu" not in dep.model_fields_set:
            where["nu"] = sources.default("t copula without a calibration")
        return c, dep.copula, dep.nu, where
    path = Path(dep.calibration) if dep.calibration else config.CALIBRATIONS_DIR / "dependence.json"
    if not path.is_file():
        if dep.calibration:
            raise InputError("file not found", file=path, field="dependence.calibration")
        if n > 1:
            notes.append("dependence: no calibrations/dependence.json; price innovations "
                         "independent across markets")
        where["corr"] = sources.default("independent (no calibrations/dependence.json)")
        return np.eye(n), dep.copula, dep.nu, where
    d = _read_json(path, "dependence.calibration")
    where["corr"] = sources.calibration(path, "corr")
    validate_dependence(d, file=path)
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
                if ka == kb:
                    where[f"{a},{b}"] = sources.default(f"0.99 (both proxies of {ka})")
                elif (ka, kb) != (ids[a], ids[b]):
                    where[f"{a},{b}"] = sources.calibration(path, f"corr[{ka}, {kb}] (proxy)")
            else:
                notes.append(f"dependence: no correlation for {ids[a]}-{ids[b]} in {path.name}; "
                             "0 used")
                where[f"{a},{b}"] = sources.default(f"0 (not in {path.name})")
    if np.linalg.eigvalsh(c).min() <= 1e-10:
        c = nearest_correlation(c)
        notes.append("dependence: sub-matrix repaired to the nearest positive-definite matrix")
        where["corr"] += " (repaired to the nearest positive-definite matrix)"
    copula = dep.copula if "copula" in dep.model_fields_set else str(d.get("copula", "gaussian"))
    where["copula"] = sources.calibration(path, "copula") if "copula" in d else sources.default()
    nu = dep.nu if dep.nu is not None else d.get("nu")
    where["nu"] = (sources.scenario("dependence.nu") if "nu" in dep.model_fields_set
                   else sources.default("8 for a t copula") if dep.nu is not None
                   else sources.calibration(path, "nu") if d.get("nu") is not None
                   else sources.default())
    if copula == "t" and nu is None:
        nu = 8.0
        where["nu"] = sources.default("8 for a t copula")
    return c, copula, (float(nu) if nu is not None else None), where


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


@dataclass
class _Build:
    """What the resolve steps share: the scenario, its inputs and the arrays being filled."""

    scn: Scenario
    ids: list[str]
    mp: np.ndarray
    mi: np.ndarray
    rg: dict[str, np.ndarray]
    st: np.ndarray
    qobs: np.ndarray
    qcf: np.ndarray
    notes: list[str]
    src: Sources
    cats: list[Any] = field(default_factory=list)
    cals: list[dict[str, Any]] = field(default_factory=list)
    currencies: list[str] = field(default_factory=list)
    proxies: list[str | None] = field(default_factory=list)
    cal_cur: list[str] = field(default_factory=list)
    fx: np.ndarray = field(default_factory=lambda: np.zeros(0))
    fx_cal: np.ndarray = field(default_factory=lambda: np.zeros(0))
    #: Per market: (first-year level, annual change) of the observed and counterfactual caps.
    caps: list[tuple[float, float, float, float]] = field(default_factory=list)


def resolve(scn: Scenario) -> Resolved:
    """Resolve a scenario into kernel arrays (raises ``InputError`` naming the field).

    The one place where the user's scenario meets the catalogue and the calibrations, in named
    steps: inputs (catalogue, calibrations, currencies, FX), dependence, fundamentals (output
    processes and the joint correlation), then per market the price process, demand, supply
    rule (cap), collar/penalty/offsets and stabilisation (MSR, K-ETS); then links and events.
    Every value decided is recorded with its source in ``Resolved.sources``.
    """
    from riskmodel.sim.scenario import check_markets_known

    check_markets_known(scn)
    if scn.fundamentals.var1:
        raise InputError("the engine simulates i.i.d. annual growth; VAR(1) is not implemented",
                         field="fundamentals.var1")
    ids = scn.market_ids()
    n = len(ids)
    years, dpy = scn.horizon.years, scn.horizon.days_per_year
    b = _Build(
        scn=scn, ids=ids, mp=np.zeros((n, L.NPF)), mi=np.zeros((n, L.NPI), dtype=np.int64),
        rg={"rmu": np.zeros((n, L.KMAX)), "rom": np.zeros((n, L.KMAX)),
            "ral": np.zeros((n, L.KMAX)), "rbe": np.zeros((n, L.KMAX)),
            "rcum": np.ones((n, L.KMAX, L.KMAX)), "rh0": np.zeros((n, L.KMAX)),
            "rp0cum": np.ones((n, L.KMAX))},
        st=np.zeros((n, L.NST)), qobs=np.zeros((n, years)), qcf=np.zeros((n, years)),
        notes=[], src=Sources())
    _inputs_step(b)
    fund = _fundamentals(scn)
    dep_corr, copula, cnu = _dependence(scn, ids, b.proxies, b.notes, b.src)
    fitted_copula = copula
    copula, cnu = effective_copula(copula, cnu, b.notes)
    if copula != fitted_copula:
        b.src.set("dependence.copula_simulated", copula, sources.derived(
            f"{fitted_copula} copula with nu > innovations.T_COPULA_GAUSSIAN_NU simulated as "
            "Gaussian"))
    out = _output_step(b, fund)
    joint, repaired = joint_correlation(dep_corr, out["ocorr"], out["jur_of"], out["rho"])
    if repaired:
        b.notes.append("joint price/output correlation repaired to the nearest positive-definite "
                       "matrix (price-output correlations too strong for the cross-market ones)")
    chol = np.linalg.cholesky(joint)
    jmu_a, jsig_a = np.asarray(out["jmu"]), np.asarray(out["jsig"])

    tab = np.zeros((n, TABLE_SIZE))
    comp = np.zeros((n, COMP_GRID))
    tab_err: dict[str, float] = {}
    for k, m in enumerate(scn.markets):
        try:
            tab_err[m.id] = _price_process_step(b, k, copula, cnu, tab, comp)
        except InputError as exc:
            raise _calibration_error(exc, b.cals[k], k) from None
        _demand_step(b, k)
        _supply_step(b, k)
        _collar_step(b, k)
        _stabilisation_step(b, k)
    from riskmodel.sim.banking_resolve import banking_array

    bk = banking_array(b)

    ends, lpar, lk_f, ev_link, names, svec = _links(scn, ids, dpy, b.src)
    from riskmodel.linking import validate_collars

    validate_collars(_solver_markets(b.mp, svec), ids, ends)  # no links: each market alone
    ev_ex, ev_int = _market_events_step(b, dpy)
    has_events = bool(scn.events.links or scn.events.markets)

    # histogram ranges
    mp = b.mp
    plo = np.log(mp[:, L.PLEVEL]) - 7.0
    pstep = np.full(n, 14.0 / L.NBINS)
    bau_all = np.append(mp[:, L.BAU], mp[:, L.BAU].sum())
    elo = -0.5 * bau_all
    estep = 3.0 * bau_all / L.NBINS
    meta = {"table_error": tab_err,
            "rho_price_output": dict(zip(ids, out["rho"].tolist(), strict=True)),
            "fundamentals_emissions_sd": out["emis_cv"], "copula": copula, "copula_nu": cnu,
            "jurisdictions": out["jur_keys"], "link_names": names,
            "fundamentals": fund.get("_path") if fund else None,
            "price_bin_log_width": 14.0 / L.NBINS,
            "emissions_bin_width_share_of_bau": 3.0 / L.NBINS}
    rg = b.rg
    return Resolved(
        ids=ids, currencies=b.currencies, n=n, j=len(out["jur_keys"]), years=years, dpy=dpy,
        mp=mp, mi=b.mi, rmu=rg["rmu"], rom=rg["rom"], ral=rg["ral"], rbe=rg["rbe"],
        rcum=rg["rcum"], rh0=rg["rh0"], rp0cum=rg["rp0cum"], tab=tab, comp=comp, chol=chol,
        jdrift=jmu_a / dpy, jsd=jsig_a / math.sqrt(dpy), jcorr=(jmu_a + 0.5 * jsig_a**2) / dpy,
        qobs=b.qobs, qcf=b.qcf, ends=ends, lpar=lpar, lk_f=lk_f, link_names=names,
        ev_link=ev_link, ev_ex=ev_ex, ev_int=ev_int, has_events=has_events, st=b.st,
        s_conv=svec, copula_t=copula == "t", cnu=float(cnu or 0.0), plo=plo, pstep=pstep,
        elo=elo, estep=estep, bk=bk, notes=b.notes, meta=meta, sources=b.src.items)


def _calibration_currency_of_its_market(cal: dict[str, Any], cur: str, market: str,
                                        cat: Any | None) -> None:
    """A calibration fitted to a catalogue market's prices (``market``, no ``proxy``) is in
    that market's currency: a file saying otherwise (eu_ets in KRW) would be converted by FX
    into a price a thousand times off. Using another market's calibration on purpose (K-ETS
    dynamics for a market in EUR) stays allowed: it is converted, and noted."""
    own = cal.get("market")
    if cal.get("proxy") or not isinstance(own, str) or \
            not (config.MARKETS_DIR / f"{own}.yaml").is_file():
        return
    if own == market and cat is not None:  # the scenario market's entry, already loaded
        ccy = cat.currency
    else:  # another market's calibration used on purpose: read that market's entry
        from riskmodel.data.catalogue import load_market

        try:
            ccy = load_market(own).currency
        except InputError:
            return  # that market's own file reports its problems where it is read
    if ccy != cur:
        raise InputError(f"{cur!r}, but the calibration is of {own} (its 'market'), which trades "
                         f"in {ccy}", file=cal.get("source"), field="currency")


def _inputs_step(b: _Build) -> None:
    """Catalogue entries, calibrations, currencies, proxies and exchange rates."""
    scn = b.scn
    b.cats = [_catalogue(m, k) for k, m in enumerate(scn.markets)]
    b.cals = [_calibration(m, k) for k, m in enumerate(scn.markets)]
    for k, m in enumerate(scn.markets):
        key = f"markets.{m.id}"
        if m.currency is not None:
            cur, where = m.currency, sources.scenario(f"markets[{k}].currency")
        elif b.cats[k] is not None:
            cur, where = b.cats[k].currency, sources.catalogue(m.id, "currency")
        else:
            raise InputError("currency unknown", field=f"markets[{k}].currency")
        b.currencies.append(cur)
        b.src.set(f"{key}.currency", cur, where)
        px = b.cals[k].get("proxy")
        if isinstance(px, dict) and not (config.MARKETS_DIR / f"{px.get('of')}.yaml").is_file():
            raise InputError(f"{px.get('of')!r} is not a catalogue market: a proxy takes the "
                             "process of a market the catalogue lists",
                             file=b.cals[k].get("source"), field="proxy.of")
        # a linked proxy (Swiss ETS -> EUA) shares its market's shocks; a level proxy (Tokyo: the
        # K-ETS dynamics rescaled, no price series) does not, so it gets no borrowed correlation
        linked_proxy = isinstance(px, dict) and px.get("fx") != "level"
        b.proxies.append(px.get("of") if linked_proxy else None)
        if isinstance(px, dict):
            b.src.set(f"{key}.process.proxy", px.get("of"),
                      sources.calibration(b.cals[k]["source"], "proxy"))
    b.fx = _fx(b.scn, b.currencies, b.notes)
    b.cal_cur = [str(c.get("currency") or b.currencies[k]) for k, c in enumerate(b.cals)]
    for k, c in enumerate(b.cals):
        _calibration_currency_of_its_market(c, b.cal_cur[k], b.scn.markets[k].id, b.cats[k])
    b.fx_cal = _fx(b.scn, b.cal_cur, b.notes) if b.cal_cur != b.currencies else b.fx
    num = scn.simulation.numeraire
    for k, m in enumerate(scn.markets):
        cur = b.currencies[k]
        where = (sources.scenario(f"simulation.fx.{cur}") if cur in scn.simulation.fx
                 else sources.default("numeraire") if cur == num
                 else sources.calibration(config.CALIBRATIONS_DIR / "fx.json", f"rates.{cur}"))
        b.src.set(f"markets.{m.id}.fx", float(b.fx[k]), f"{where} ({num} per {cur})")


def _output_step(b: _Build, fund: dict[str, Any] | None) -> dict[str, Any]:
    """Jurisdictions, output growth processes, price-output correlations and the output
    correlation across jurisdictions (MODEL.md §2)."""
    scn, cats = b.scn, b.cats
    n = len(b.ids)
    fpath = fund.get("_path") if fund else None
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
        key = f"markets.{m.id}.output"
        jur = m.jurisdiction or (cats[k].jurisdiction if cats[k] is not None else None)
        if m.output_growth is not None or m.output_vol is not None:
            jkey = f"market:{m.id}"
            mu_j, sd_j = float(m.output_growth or 0.0), float(m.output_vol or 0.0)
            where = sources.scenario(f"markets[{k}].output_growth/output_vol")
        elif jur is not None and jur in fj:
            jkey = jur
            io = fvars.index(f"{jur}:dlog_output")
            ii = fvars.index(f"{jur}:dlog_intensity")
            mu_j, sd_j = float(fmean[io]), math.sqrt(fcov[io, io])
            ve = fcov[io, io] + fcov[ii, ii] + 2 * fcov[io, ii]
            emis_cv[m.id] = math.sqrt(max(ve, 0.0))
            where = sources.calibration(fpath or "fundamentals.json", f"mean/cov {jur}")
        else:
            why = (f"jurisdiction {jur!r} not in the fundamentals calibration" if jur
                   else "no jurisdiction given")
            raise InputError(
                f"no output process for market {m.id!r} ({why}): give "
                f"{'' if jur else 'jurisdiction, or '}output_growth and output_vol",
                field=f"markets[{k}].output_vol")
        b.src.set(f"{key}.jurisdiction", jur,
                  sources.scenario(f"markets[{k}].jurisdiction") if m.jurisdiction
                  else sources.catalogue(m.id, "jurisdiction") if jur else sources.default())
        b.src.set(f"{key}.growth", mu_j, where)
        b.src.set(f"{key}.vol", sd_j * scn.fundamentals.vol_scale, where)
        if jkey not in jur_keys:
            jur_keys.append(jkey)
            jmu.append(mu_j)
            jsig.append(sd_j * scn.fundamentals.vol_scale)
        jur_of[k] = jur_keys.index(jkey)
        b.mi[k, L.JUR] = jur_of[k]
        fr = scn.fundamentals
        if fr.price_output_corr != 0.0:
            rho[k] = fr.price_output_corr
            rwhere = sources.scenario("fundamentals.price_output_corr")
        elif m.id in fr.output_emissions_corr:
            rho[k] = fr.output_emissions_corr[m.id]
            rwhere = sources.scenario(f"fundamentals.output_emissions_corr.{m.id}")
        elif fund and jur in (fund.get("corr_output_emissions") or {}):
            rho[k] = float(fund["corr_output_emissions"][jur])
            rwhere = sources.calibration(fpath or "fundamentals.json",
                                         f"corr_output_emissions.{jur}")
        elif fund and m.jurisdiction is not None and m.jurisdiction not in fj:
            # a typo'd jurisdiction ('eu28') left the correlation at 0 without a word
            raise InputError(
                f"{m.jurisdiction!r} is not a jurisdiction of the fundamentals calibration "
                f"({', '.join(fj)}), so {m.id}'s correlation of output and emissions would be "
                f"0; give one of them, give fundamentals.output_emissions_corr.{m.id}, or drop "
                "jurisdiction", field=f"markets[{k}].jurisdiction")
        else:
            rwhere = sources.default()
        b.src.set(f"{key}.price_output_corr", float(rho[k]), rwhere)
    nj = len(jur_keys)
    ocorr = np.eye(nj)
    for a in range(nj):
        for c in range(a + 1, nj):
            ka, kb = jur_keys[a], jur_keys[c]
            if ka in fj and kb in fj:
                ia, ib = fvars.index(f"{ka}:dlog_output"), fvars.index(f"{kb}:dlog_output")
                ocorr[a, c] = ocorr[c, a] = fcov[ia, ib] / math.sqrt(fcov[ia, ia] * fcov[ib, ib])
    if nj > 1 and np.linalg.eigvalsh(ocorr).min() <= 1e-10:
        ocorr = nearest_correlation(ocorr)
        b.notes.append("fundamentals: output correlation repaired to nearest positive definite")
    return {"jur_keys": jur_keys, "jur_of": jur_of, "jmu": jmu, "jsig": jsig, "rho": rho,
            "emis_cv": emis_cv, "ocorr": ocorr}


def _price_process_step(b: _Build, k: int, copula: str, cnu: float | None, tab: np.ndarray,
                        comp: np.ndarray) -> float:
    """Market k's price process, innovation tables, start price and price level; returns the
    innovation table's error."""
    scn, m, mp, mi, cal = b.scn, b.scn.markets[k], b.mp, b.mi, b.cals[k]
    fld = f"markets[{k}]"
    key = f"markets.{m.id}"
    drift = scn.simulation.price_drift
    mp[k, L.COMP] = 1.0 if drift == "martingale" else 0.0
    scale = _price_limit_step(b, k, cal, fld, key)  # 1 unless a limit is simulated
    dist, nu, lam = _process(k, price_limit.scaled(cal, scale), drift != "fitted", mp, mi,
                             b.rg, fld)
    thin_trading.fill(k, cal, mp, f"{fld}.calibration", b.notes, m.id)
    mp[k, L.OMEGA_B] = mp[k, L.OMEGA]  # the fitted intercept a path's volatility level scales
    mp[k, L.VLS] = vol_level_sd(scn)
    mp[k, L.VLP] = _vol_level_persistence(scn)
    mode, lo, step, vals = build_table(dist, nu, lam, copula, cnu)
    guard = _guard(m, cal)  # H11c: the calibration's own guard unless the scenario sets one
    mp[k, L.MAXR] = guard if guard is not None else math.inf
    mp[k, L.MAXR_B] = mp[k, L.MAXR]  # the guard a path's volatility level scales
    mp[k, L.VLG] = 1.0
    mi[k, L.TAB_MODE] = mode
    mp[k, L.TAB_LO], mp[k, L.TAB_STEP] = lo, step
    tab[k] = vals
    mp[k, L.CMP_LO], mp[k, L.CMP_STEP], comp[k] = compensator_table(
        mode, lo, step, vals, copula, cnu, mp[k, L.MAXR])
    err = table_error(dist, nu, lam, copula, cnu)
    scale = b.fx_cal[k] / b.fx[k]  # proxy processes: converted into the market's currency
    if abs(scale - 1.0) > 1e-12:
        b.notes.append(f"{m.id}: process of {b.cal_cur[k]} prices converted by FX ({scale:.6g})")
    st_ = cal.get("state") or {}
    last = st_.get("last_price")
    if last is None or not float(last) > 0:
        raise InputError("state.last_price must be positive", field=f"{fld}.calibration")
    mp[k, L.LOGP0] = math.log(float(last) * scale)
    plevel = m.abatement.price_level
    pwhere = sources.scenario(f"{fld}.abatement.price_level")
    if plevel is None:
        pl = (cal.get("price_level") or {}).get("mean_last_year")
        plevel = float(pl) * scale if pl else float(last) * scale
        pwhere = _cal_src(cal, "price_level.mean_last_year" if pl else "state.last_price")
    mp[k, L.PLEVEL] = plevel
    model = cal.get("model") or {}
    b.src.set(f"{key}.process.model",
              f"{model.get('family', 'garch')} ({model.get('mean', 'constant')} mean, "
              f"{dist} innovations)", _cal_src(cal, "model"))
    b.src.set(f"{key}.process.params",
              {str(a): float(v) for a, v in sorted((cal.get("params") or {}).items())},
              _cal_src(cal, "params"))
    b.src.set(f"{key}.process.last_price", float(last) * scale, _cal_src(cal, "state.last_price"))
    tt = cal.get("thin_trading")
    if tt:
        b.src.set(f"{key}.process.thin_trading",
                  {n: tt[n] for n in ("p01", "p11", "zero_share", "kappa") if n in tt},
                  _cal_src(cal, "thin_trading"))
    b.src.given(f"{key}.process.drift", scn.simulation, "price_drift", "simulation")
    sd = vol_level_sd(scn)
    if scn.simulation.vol_level_sd is None:
        b.src.set(f"{key}.process.vol_level_sd", sd,
                  sources.default("riskmodel.sim.scenario.VOL_LEVEL_SD (pooled spread of the "
                                  "validation's one-year volatility-level errors at the end of "
                                  "the training data, docs/VALIDATION.md); 0 turns it off"))
    else:
        b.src.given(f"{key}.process.vol_level_sd", scn.simulation, "vol_level_sd", "simulation")
    if sd > 0.0:
        rho = float(mp[k, L.VLP])
        if scn.simulation.vol_level_persistence is None:
            b.src.set(f"{key}.process.vol_level_persistence", rho,
                      sources.default("riskmodel.sim.scenario.VOL_LEVEL_PERSISTENCE (pooled "
                                      "year-to-year correlation of the validation's "
                                      "volatility-level errors, docs/VALIDATION.md)"))
        else:
            b.src.given(f"{key}.process.vol_level_persistence", scn.simulation,
                        "vol_level_persistence", "simulation")
        if k == 0:
            b.notes.append(
                f"volatility-level uncertainty: each path draws each market's log-volatility "
                f"level from N(0, {sd:g}^2) (simulation.vol_level_sd"
                f"{'' if scn.simulation.vol_level_sd is not None else ', the default; 0 = off'})"
                "; the daily guard widens with a higher drawn level; from one compliance year "
                f"to the next it follows an AR(1) with persistence {rho:g} "
                "(simulation.vol_level_persistence; docs/VALIDATION.md)")
    if (cal.get("guard") or {}).get("max_daily_return") is not None and (
            "max_daily_return" not in m.model_fields_set):
        b.src.set(f"{key}.process.max_daily_return", guard, _cal_src(cal, "guard"))
    else:
        b.src.given(f"{key}.process.max_daily_return", m, "max_daily_return", fld)
    b.src.set(f"{key}.abatement.price_level", plevel, pwhere)
    return err


def _price_limit_step(b: _Build, k: int, cal: dict[str, Any], fld: str, key: str) -> float:
    """Market k's daily price limit (docs/PRICE_LIMITS.md): none unless the scenario's
    ``price_limit`` asks for the calibration's or gives one; returns the latent variance scale
    the process is simulated with (1 without a limit)."""
    m, mp = b.scn.markets[k], b.mp
    want = m.price_limit
    shown = price_limit.limit_of(cal, f"{fld}.calibration")  # a malformed block: refused
    if want is None or want == 0.0:
        if shown is not None:
            b.notes.append(
                f"{m.id}: its prices show a daily limit of +-{shown:.0%}, not simulated (set "
                f"markets[{k}].price_limit: calibration to simulate it; docs/PRICE_LIMITS.md)")
        if "price_limit" in m.model_fields_set:
            b.src.set(f"{key}.process.price_limit", None, sources.scenario(f"{fld}.price_limit"))
        else:
            b.src.set(f"{key}.process.price_limit", None,
                      sources.default("no limit unless markets[].price_limit asks for one"))
        return 1.0
    if want == "calibration":
        lim = price_limit.fill(k, cal, mp, f"{fld}.calibration", b.notes, m.id)
        if lim is None:
            raise InputError("the calibration shows no price limit (its price_limit block is "
                             "null): give a number or leave it out", field=f"{fld}.price_limit")
        b.src.set(f"{key}.process.price_limit", lim, _cal_src(cal, "price_limit.limit"))
    else:
        price_limit.fill(k, {"price_limit": {"limit": float(want)}}, mp, fld, b.notes, m.id)
        b.src.set(f"{key}.process.price_limit", float(want),
                  sources.scenario(f"{fld}.price_limit"))
    scale = price_limit.latent_scale(cal, f"{fld}.calibration")
    if scale != 1.0:  # the latent process of a market whose returns its limit censored
        b.src.set(f"{key}.process.latent_variance_scale", scale,
                  _cal_src(cal, "price_limit.latent_variance_scale"))
    return scale


def calibration_guard(cal: dict[str, Any]) -> float | None:
    """The calibration's own daily guard (``guard.max_daily_return``, % log return, written by
    riskmodel.fit.guard); None when it carries none."""
    g = (cal.get("guard") or {}).get("max_daily_return")
    return float(g) if g is not None and float(g) > 0 else None


def vol_level_sd(scn: Scenario) -> float:
    """The sd of the per-path log-volatility level: the scenario's, else ``VOL_LEVEL_SD``."""
    sd = scn.simulation.vol_level_sd
    return VOL_LEVEL_SD if sd is None else float(sd)


def _vol_level_persistence(scn: Scenario) -> float:
    """The AR(1) coefficient of the volatility-level scale across compliance years: the
    scenario's, else the pooled estimate ``VOL_LEVEL_PERSISTENCE`` (0 when the level is off)."""
    if vol_level_sd(scn) == 0.0:
        return 0.0
    rho = scn.simulation.vol_level_persistence
    return VOL_LEVEL_PERSISTENCE if rho is None else float(rho)


def _guard(m: Any, cal: dict[str, Any]) -> float | None:
    """The daily guard (% log return): the scenario's ``max_daily_return`` when it sets one
    (None: off), else the calibration's evidence-based guard, else the scenario default."""
    g = calibration_guard(cal)
    if "max_daily_return" in m.model_fields_set or g is None:
        return m.max_daily_return
    return g


def _cal_src(cal: dict[str, Any], fld: str) -> str:
    """Source of a calibration field (an inline process is the scenario's)."""
    where = str(cal.get("source", ""))
    if where.startswith("markets["):
        return sources.scenario(where)
    return sources.calibration(where, fld)


def _demand_step(b: _Build, k: int) -> None:
    """Market k's BAU emissions and abatement response a(p) = c p^eta."""
    scn, m, mp, cat = b.scn, b.scn.markets[k], b.mp, b.cats[k]
    fld, key = f"markets[{k}]", f"markets.{m.id}"
    began = _val(cat, "start_year")
    if began is not None and scn.horizon.start_year < int(began):
        raise InputError(f"{scn.horizon.start_year} is before {m.id} began ({int(began)}, "
                         f"{sources.catalogue_file(m.id)}: start_year): the catalogue's caps and "
                         "rules describe the market since then", field="horizon.start_year")
    plevel = mp[k, L.PLEVEL]
    share = m.abatement.share
    bau = m.bau_emissions or _val(cat, "coverage", "covered_emissions")
    where = (sources.scenario(f"{fld}.bau_emissions") if m.bau_emissions
             else sources.catalogue(m.id, "coverage.covered_emissions"))
    if bau is None and cat is not None and cat.cap.path:
        y0 = scn.horizon.start_year
        yr = min(cat.cap.path, key=lambda yy: (abs(yy - y0), -yy))
        qlast = cat.cap.path[yr].value
        if qlast:
            bau = float(qlast) / (1 - share)
            if bau > MAX_BAU:  # the bound the scenario's own bau_emissions has
                raise InputError(
                    f"{qlast:g} Mt gives BAU emissions {bau:.3g} Mt (cap / (1 - abatement share "
                    f"{share:g})), beyond {MAX_BAU:g} (a typo?); give {fld}.bau_emissions",
                    file=sources.catalogue_file(m.id), field=f"cap.path.{yr}.value")
            b.notes.append(f"{m.id}: BAU emissions = catalogue cap {yr} ({qlast:g} Mt, "
                           f"{cat.cap.path[yr].source}) / (1 - abatement share {share:g})")
            where = sources.derived(f"{sources.catalogue(m.id, f'cap.path.{yr}')} / "
                                    "(1 - abatement.share)")
    if bau is None:
        raise InputError("BAU emissions unknown (catalogue has none): give bau_emissions",
                         field=f"{fld}.bau_emissions")
    mp[k, L.BAU] = bau
    eta = m.abatement.exponent
    mp[k, L.ETA] = eta
    mp[k, L.C] = m.abatement.slope or share * bau / plevel**eta
    cut = mp[k, L.C] * plevel**eta  # abatement at the price level (share x BAU when derived)
    if m.abatement.slope and cut >= bau:
        # the observed price would already abate all of BAU: emissions below zero, whose
        # histograms (a range around BAU) then give infinite quantiles
        raise InputError(
            f"at its price level {plevel:g} per tonne the market would abate {cut:.4g} Mt "
            f"(slope {m.abatement.slope:g} x {plevel:g}^{eta:g}), {cut / bau:.3g} times its BAU "
            f"emissions {bau:g} Mt: give a slope below {bau / plevel**eta:.4g} (BAU / "
            "price_level^exponent)", field=f"{fld}.abatement.slope")
    mp[k, L.FX] = b.fx[k]
    b.src.set(f"{key}.bau_emissions", float(bau), where)
    ab = m.abatement
    b.src.given(f"{key}.abatement.share", ab, "share", f"{fld}.abatement")
    b.src.given(f"{key}.abatement.exponent", ab, "exponent", f"{fld}.abatement")
    b.src.set(f"{key}.abatement.slope", float(mp[k, L.C]),
              sources.scenario(f"{fld}.abatement.slope") if ab.slope
              else sources.derived("share x BAU / price_level^exponent"))


def _supply_step(b: _Build, k: int) -> None:
    """Market k's supply rules: the observed cap (the bridge's S_obs) and the counterfactual
    cap that runs (type/degree, first-year level, annual change -> the expected cap path)."""
    scn, m, mp, cat = b.scn, b.scn.markets[k], b.mp, b.cats[k]
    fld, key = f"markets[{k}]", f"markets.{m.id}"
    bau, share = mp[k, L.BAU], m.abatement.share
    lvl_default = sources.derived("BAU x (1 - abatement.share)")
    if m.observed_cap is not None:
        b_obs = m.observed_cap.effective_degree
        q0o = m.observed_cap.level or bau * (1 - share)
        go = m.observed_cap.annual_change
        obs_where = sources.scenario(f"{fld}.observed_cap")
    else:
        b_obs = 0.0
        obs_where = sources.default("absolute (synthetic market)")
        if cat is not None:
            b_obs = {"absolute": 0.0, "intensity": 1.0}.get(cat.cap.type,
                                                             cat.cap.degree or 0.0)
            obs_where = sources.catalogue(m.id, "cap.type" if cat.cap.type != "indexed"
                                          else "cap.degree")
        q0o, go = bau * (1 - share), 0.0
    if "cap" in m.model_fields_set:
        b_cf = m.cap.effective_degree
        q0c = m.cap.level or bau * (1 - share)
        gc = m.cap.annual_change
        ctype = m.cap.type
        cwhere = sources.scenario(f"{fld}.cap.type"
                                  + (" / degree" if m.cap.type == "indexed" else ""))
        lwhere = sources.scenario(f"{fld}.cap.level") if m.cap.level else lvl_default
        gwhere = (sources.scenario(f"{fld}.cap.annual_change")
                  if "annual_change" in m.cap.model_fields_set else sources.default())
    else:
        b_cf, q0c, gc = b_obs, q0o, go
        ctype = {0.0: "absolute", 1.0: "intensity"}.get(b_obs, "indexed")
        cwhere = obs_where
        lwhere = (sources.scenario(f"{fld}.observed_cap.level")
                  if m.observed_cap is not None and m.observed_cap.level else lvl_default)
        gwhere = (sources.scenario(f"{fld}.observed_cap.annual_change")
                  if m.observed_cap is not None else sources.default())
    mp[k, L.B_OBS], mp[k, L.B_CF] = b_obs, b_cf
    yy = np.arange(scn.horizon.years)
    b.qobs[k] = q0o * (1 + go) ** yy
    b.qcf[k] = q0c * (1 + gc) ** yy
    b.caps.append((q0o, go, q0c, gc))
    b.src.set(f"{key}.cap.type", ctype, cwhere)
    b.src.set(f"{key}.cap.degree", float(b_cf), cwhere)
    b.src.set(f"{key}.cap.level", float(q0c), lwhere)
    b.src.set(f"{key}.cap.annual_change", float(gc), gwhere)
    b.src.set(f"{key}.cap.path", {str(scn.horizon.start_year + i): float(q)
                                  for i, q in enumerate(b.qcf[k])},
              sources.derived("level x (1 + annual_change)^year"))
    b.src.set(f"{key}.observed_cap.degree", float(b_obs), obs_where)


def _collar_step(b: _Build, k: int) -> None:
    """Market k's collar and reserves (the scenario's collar replaces the catalogue's as a
    whole), then penalty and offsets onto the solver's one floor and one ceiling."""
    m, cat = b.scn.markets[k], b.cats[k]
    fld, key = f"markets[{k}]", f"markets.{m.id}"
    if "collar" in m.model_fields_set or cat is None:
        fl, ce = collar_in_market_currency(b.scn, k, b.currencies[k], b.fx[k], b.notes)
        rup, rdn = m.collar.reserve_up, m.collar.reserve_down
        for name, v in (("floor", fl), ("ceiling", ce), ("reserve_up", rup),
                        ("reserve_down", rdn)):
            where = (sources.scenario(f"{fld}.collar.{name}")
                     if name in m.collar.model_fields_set
                     else sources.default("none" if cat is None
                                          else f"none (the scenario's {fld}.collar replaces the "
                                          "catalogue's)"))
            b.src.set(f"{key}.collar.{name}", v, where)
    else:
        fl, ce = _val(cat, "collar", "floor"), _val(cat, "collar", "ceiling")
        rup, rdn = _val(cat, "collar", "reserve"), None
        rate = _catalogue_rate(b, k)
        if rate != 1.0 and (fl is not None or ce is not None):
            shown = ", ".join(f"{n} {v:g} {cat.currency} = {v * rate:.4g} {b.currencies[k]}"
                              for n, v in (("floor", fl), ("ceiling", ce)) if v is not None)
            b.notes.append(f"{m.id}: catalogue collar {shown} ({rate:.6g} "
                           f"{b.currencies[k]}/{cat.currency})")
            fl = None if fl is None else fl * rate
            ce = None if ce is None else ce * rate
        b.src.set(f"{key}.collar.floor", fl, sources.catalogue(m.id, "collar.floor"))
        b.src.set(f"{key}.collar.ceiling", ce, sources.catalogue(m.id, "collar.ceiling"))
        b.src.set(f"{key}.collar.reserve_up", rup, sources.catalogue(m.id, "collar.reserve"))
        b.src.set(f"{key}.collar.reserve_down", None, sources.default("none (unlimited)"))
    _collar(k, m, cat, fl, ce, rup, rdn, b.mp, b.notes, b.src,
            cat_rate=_catalogue_rate(b, k), currency=b.currencies[k])
    _abatement_at_floor(b, k)


def _catalogue_rate(b: _Build, k: int) -> float:
    """Market k's currency per unit of its catalogue's: the catalogue states its money amounts
    (collar, penalty) in the catalogue's currency, which a scenario's ``markets[].currency``
    may replace; they are then converted at the scenario's exchange rates, as the calibration's
    prices are."""
    cat = b.cats[k]
    if cat is None or str(cat.currency) == b.currencies[k]:
        return 1.0
    return float(_fx(b.scn, [str(cat.currency)], []).item()) / float(b.fx[k])


def _abatement_at_floor(b: _Build, k: int) -> None:
    """The abatement curve at the collar floor must leave emissions: a price level far below
    the floor (a synthetic market's last price of 0.01 under a floor of 10) calibrates a slope
    that abates many times BAU wherever the floor holds the price, and the emissions and their
    quantiles go negative and NaN."""
    m, mp = b.scn.markets[k], b.mp
    floor, c, eta, bau = mp[k, L.FLOOR], mp[k, L.C], mp[k, L.ETA], mp[k, L.BAU]
    if not floor > 0.0 or c * floor**eta < bau:
        return
    fld, cur = f"markets[{k}]", b.currencies[k]
    level = mp[k, L.PLEVEL]
    unit = f"{cur}/t" if eta == 1.0 else f"({cur}/t)^{eta:g}"
    if m.abatement.slope:
        field = f"{fld}.abatement.slope"
    elif m.abatement.price_level is not None:
        field = f"{fld}.abatement.price_level"
    elif m.process is not None:
        field = f"{fld}.process.last_price"
    else:
        field = f"{fld}.abatement.price_level"
    raise InputError(
        f"at the collar floor {floor:g} {cur}/t the abatement curve (slope {c:.4g} Mt per "
        f"{unit}, calibrated to the price level {level:g}) abates {c * floor**eta:.4g} "
        f"Mt, {c * floor**eta / bau:.3g} times BAU emissions {bau:g} Mt: emissions would be "
        "negative; give a price level near the market's prices (or a smaller slope)",
        field=field)


def _stabilisation_step(b: _Build, k: int) -> None:
    """Market k's EU MSR and K-ETS triggers (catalogue numbers, MODEL.md §3 defaults)."""
    m, cat, st, mi = b.scn.markets[k], b.cats[k], b.st, b.mi
    fld, key = f"markets[{k}]", f"markets.{m.id}"
    sb = m.stabilisation
    b.src.given(f"{key}.msr.on", sb, "msr", f"{fld}.stabilisation")
    b.src.given(f"{key}.kets.on", sb, "kets_triggers", f"{fld}.stabilisation")

    def pick(obj: Any, name: str, block: str, dflt: float, what: str) -> float:
        v = _val(obj, name)
        where = (sources.catalogue(m.id, f"stabilisation.{block}.{name}") if v
                 else sources.default("MODEL.md §3"))
        out = v or dflt
        b.src.set(f"{key}.{what}", out, where)
        return out

    for rule, what in (("msr", "MSR"), ("kets_triggers", "K-ETS price triggers")):
        described = getattr(getattr(cat, "stabilisation", None), rule, None)
        if getattr(sb, rule) and cat is not None and described is None:
            raise InputError(
                f"{sources.catalogue_file(m.id)} describes no {what} for {m.id} (no "
                f"stabilisation.{rule} block): the defaults are another market's figures",
                field=f"{fld}.stabilisation.{rule}")
    if sb.msr:
        c_msr = getattr(getattr(cat, "stabilisation", None), "msr", None)
        mi[k, L.MSR_ON] = 1
        st[k, L.MSR_RATE] = pick(c_msr, "intake_rate", "msr", MSR_DEFAULTS["rate"],
                                 "msr.intake_rate")
        st[k, L.MSR_IN] = pick(c_msr, "intake_threshold", "msr", MSR_DEFAULTS["in"],
                               "msr.intake_threshold")
        st[k, L.MSR_REL_AMT] = pick(c_msr, "release_amount", "msr", MSR_DEFAULTS["rel_amt"],
                                    "msr.release_amount")
        st[k, L.MSR_REL_TH] = pick(c_msr, "release_threshold", "msr", MSR_DEFAULTS["rel_th"],
                                   "msr.release_threshold")
        st[k, L.MSR_CANCEL] = pick(c_msr, "cancellation_threshold", "msr",
                                   MSR_DEFAULTS["cancel"], "msr.cancellation_threshold")
        st[k, L.MSR_TNAC0] = sb.tnac0 if sb.tnac0 is not None else st[k, L.MSR_IN]
        q0c = b.caps[k][2]  # the first year's counterfactual supply (_supply_step)
        intake = st[k, L.MSR_RATE] * max(0.0, st[k, L.MSR_TNAC0] - st[k, L.MSR_IN])
        if sb.tnac0 is not None and intake >= q0c:
            raise InputError(
                f"the MSR would take {intake:.6g} Mt in the first year ({st[k, L.MSR_RATE]:g} x "
                f"(TNAC {sb.tnac0:g} - intake threshold {st[k, L.MSR_IN]:g} Mt)), more than "
                f"the year's supply {q0c:.6g} Mt: supply would be negative; lower tnac0",
                field=f"{fld}.stabilisation.tnac0")
        b.src.set(f"{key}.msr.tnac0", st[k, L.MSR_TNAC0],
                  sources.scenario(f"{fld}.stabilisation.tnac0") if sb.tnac0 is not None
                  else sources.default("the intake threshold"))
        if sb.tnac0 is None:
            b.notes.append(f"{m.id}: MSR initial TNAC = the intake threshold (assumed; the "
                           "MSR takes nothing in in the first year): give stabilisation.tnac0")
        st[k, L.MSR_RES0] = sb.msr_reserve0
        b.src.given(f"{key}.msr.reserve0", sb, "msr_reserve0", f"{fld}.stabilisation")
    if sb.kets_triggers:
        dpy = b.scn.horizon.days_per_year
        if dpy < 12:  # the kernel's month is a twelfth of the year's days (kernel.run_paths)
            raise InputError(
                f"{dpy} trading days a year make no month, and {m.id}'s K-ETS price triggers "
                "compare monthly average prices (a month, a twelfth of the year, would be less "
                "than a day); give 12 days a year or more, or set "
                f"{fld}.stabilisation.kets_triggers: false", field="horizon.days_per_year")
        c_k = getattr(getattr(cat, "stabilisation", None), "kets_triggers", None)
        mi[k, L.KETS_ON] = 1
        st[k, L.K_HI_MULT] = pick(c_k, "high_price_multiple", "kets_triggers",
                                  KETS_DEFAULTS["hi"], "kets.high_price_multiple")
        st[k, L.K_HI_MONTHS] = pick(c_k, "high_price_months", "kets_triggers",
                                    KETS_DEFAULTS["months"], "kets.high_price_months")
        st[k, L.K_MID_MULT] = pick(c_k, "volume_price_multiple", "kets_triggers",
                                   KETS_DEFAULTS["mid"], "kets.volume_price_multiple")
        st[k, L.K_LO_MULT] = pick(c_k, "low_price_multiple", "kets_triggers",
                                  KETS_DEFAULTS["lo"], "kets.low_price_multiple")
        st[k, L.K_PROB] = sb.kets_probability
        kets_reserve(k, sb, c_k, st)
        st[k, L.K_AVG0] = b.mp[k, L.PLEVEL]
        b.src.given(f"{key}.kets.probability", sb, "kets_probability", f"{fld}.stabilisation")
        if sb.kets_release_share is not None:
            b.src.given(f"{key}.kets.release_share", sb, "kets_release_share",
                        f"{fld}.stabilisation")
        else:
            b.src.set(f"{key}.kets.reserve", float(st[k, L.K_RES0]),
                      sources.scenario(f"{fld}.stabilisation.kets_reserve")
                      if sb.kets_reserve is not None
                      else sources.catalogue(m.id, "stabilisation.kets_triggers.reserve"))
            b.src.set(f"{key}.kets.release", float(st[k, L.K_RELEASE]),
                      sources.scenario(f"{fld}.stabilisation.kets_release")
                      if sb.kets_release is not None
                      else sources.derived("catalogue reserve x reserve_auction_share"))


def _market_events_step(b: _Build, dpy: int) -> tuple[np.ndarray, np.ndarray]:
    """Exemption and intervention chains of each market (daily transition matrices)."""
    scn, mp, mi = b.scn, b.mp, b.mi
    n = len(b.ids)
    ev_ex = np.zeros((n, 2, 2))
    ev_int = np.zeros((n, 2, 2))
    mev = {ev.market: ev for ev in scn.events.markets}
    pos = {ev.market: i for i, ev in enumerate(scn.events.markets)}
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
            path = f"events.markets[{pos[m.id]}]"
            for name in ("exemption_on", "exemption_off", "exemption_share", "intervention_on",
                         "intervention_off", "intervention_floor",
                         "intervention_supply_share"):
                b.src.given(f"markets.{m.id}.events.{name}", ev, name, path)
    return ev_ex, ev_int


def collar_in_market_currency(scn: Scenario, k: int, currency: str, fx_k: float,
                              notes: list[str]) -> tuple[float | None, float | None]:
    """Market k's collar floor and ceiling in its own currency: a collar stated in another
    currency (``collar.currency``) is converted at the scenario's exchange rates."""
    c = scn.markets[k].collar
    if c.currency is None or c.currency == currency:
        return c.floor, c.ceiling
    rate = float(_fx(scn, [c.currency], []).item()) / fx_k  # market currency per collar unit
    fl = None if c.floor is None else c.floor * rate
    ce = None if c.ceiling is None else c.ceiling * rate
    shown = ", ".join(f"{n} {v:g} {c.currency} = {v * rate:.4g} {currency}"
                      for n, v in (("floor", c.floor), ("ceiling", c.ceiling)) if v is not None)
    notes.append(f"{scn.markets[k].id}: collar {shown} ({rate:.6g} {currency}/{c.currency})")
    return fl, ce


def kets_reserve(k: int, sb: Any, c_k: Any, st: np.ndarray) -> None:
    """K-ETS supply response: a share of the cap when ``kets_release_share`` is given, else
    auctions of ``kets_release`` Mt from a finite reserve (default: the catalogue's 14.3 M
    reserve, 25% of it per intervention)."""
    if sb.kets_release_share is not None:
        st[k, L.K_SHARE] = sb.kets_release_share
        return
    reserve = sb.kets_reserve if sb.kets_reserve is not None else (_val(c_k, "reserve") or 0.0)
    share = _val(c_k, "reserve_auction_share")
    release = sb.kets_release if sb.kets_release is not None else reserve * (share or 1.0)
    st[k, L.K_RES0], st[k, L.K_RELEASE] = reserve, release


def open_links(scn: Scenario) -> list[Any]:
    """The scenario's links that carry permits (``state: closed`` ones are left out)."""
    return [lk for lk in scn.all_links() if lk.state != "closed"]


def _collar(k: int, m: MarketSpec, cat: Any, fl: float | None, ce: float | None,
            rup: float | None, rdn: float | None, mp: np.ndarray, notes: list[str],
            src: Sources, *, cat_rate: float = 1.0, currency: str = "") -> None:
    """Map collar, penalty and offsets onto the solver's one floor and one ceiling."""
    fld = f"markets[{k}]"
    key = f"markets.{m.id}"
    inf = math.inf
    mp[k, L.COLLAR_F] = fl if fl else 0.0
    mp[k, L.COLLAR_K] = ce if ce is not None else inf
    mp[k, L.FLOOR] = fl if fl else 0.0
    mp[k, L.RES_DOWN] = rdn if (fl and rdn is not None) else inf
    mp[k, L.CEIL] = ce if ce is not None else inf
    mp[k, L.RES_UP] = rup if (ce is not None and rup is not None) else inf
    pen = m.penalty_cap
    pwhere = sources.scenario(f"{fld}.penalty_cap") if pen is not None else sources.default(
        "none (a penalty with make-good is no price cap)")
    if pen is None and cat is not None and cat.penalty.make_good.value is False:
        pen = _val(cat, "penalty", "amount")
        pwhere = sources.catalogue(m.id, "penalty.amount (make_good: false)")
        if pen and cat_rate != 1.0:  # stated in the catalogue's currency, not the market's
            notes.append(f"{m.id}: catalogue penalty {pen:g} {cat.currency} = "
                         f"{pen * cat_rate:.4g} {currency} ({cat_rate:.6g} "
                         f"{currency}/{cat.currency})")
            pen *= cat_rate
            pwhere = sources.catalogue(m.id, f"penalty.amount (make_good: false), converted "
                                             f"from {cat.currency}")
        if pen:
            notes.append(f"{m.id}: penalty {pen:g} without make-good acts as a price cap")
    src.set(f"{key}.penalty_cap", pen or None, pwhere)
    src.given(f"{key}.offsets.limit_share", m, "offset_limit_share", fld)
    src.given(f"{key}.offsets.price", m, "offset_price", fld)
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


def _links(scn: Scenario, ids: list[str], dpy: int, src: Sources | None = None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], np.ndarray]:
    """Scenario links -> the link solver's (ends, lpar), share quotas and start days, daily
    event matrices, names and permit conversion factors s."""
    from riskmodel.linking import Link, compile_topology

    links = open_links(scn)
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
        if src is not None:
            _link_sources(scn, q, lk, ev, src)
    names = [lk.name for lk in links]
    try:
        la = compile_topology(len(ids), out, ids)
    except InputError as exc:
        raise InputError(exc.reason, field=exc.field or "links") from None
    return la.ends, la.lpar, lk_f, ev_link, names, la.s


def _link_sources(scn: Scenario, q: int, lk: Any, ev: Any, src: Sources) -> None:
    """Record link q's design and its events' rates with their sources."""
    key = f"links.{lk.name}"
    explicit = q < len(scn.links)
    path = f"links[{q}]" if explicit else "topology"
    if not explicit:
        src.set(f"{key}.markets", list(lk.markets), sources.scenario(f"topology: {scn.topology}"))
    for name in ("direction", "fee", "exchange_rate", "start_year"):
        v = getattr(lk, name)
        if name == "start_year" and v is None:
            v = scn.horizon.start_year
        src.given(f"{key}.{name}", lk, name, path, value=v,
                  fallback=sources.default("horizon start") if name == "start_year"
                  else sources.default())
    quota = ("none (unlimited)" if lk.quota is None
             else f"{lk.quota.mt:g} Mt/yr" if lk.quota.mt is not None
             else f"{lk.quota.share:g} of the importer's obligation")
    src.set(f"{key}.quota", quota, sources.scenario(f"{path}.quota") if lk.quota is not None
            else sources.default())
    if ev is None:
        src.set(f"{key}.events", "none", sources.default())
        return
    epath = f"events.links[{scn.events.links.index(ev)}]"
    for name in ("active_to_restricted", "active_to_suspended", "restricted_to_active",
                 "restricted_to_suspended", "suspended_to_active", "terminal", "restricted_fee"):
        src.given(f"{key}.events.{name}", ev, name, epath)
    rq = ev.restricted_quota
    src.set(f"{key}.events.restricted_quota",
            None if rq is None else (f"{rq.mt:g} Mt/yr" if rq.mt is not None
                                     else f"{rq.share:g} of the importer's obligation"),
            sources.scenario(f"{epath}.restricted_quota") if rq is not None
            else sources.default())


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
