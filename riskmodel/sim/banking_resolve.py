"""Resolve each market's banking block into the kernel's banking array ``bk`` (layout ``BK_*``).

Per market (docs/BANKING.md §3-§4): the window H (default 10, capped by the phase end or permit
expiry through :func:`riskmodel.banking.rules.window_bounds`), the carry r, the opening bank, the
borrowing share, the hedging floor and terminal bank, the persistence of news; the reference
path n̄_y = BAU - S^o_y (the kernel's BAU emissions have no trend: output enters as a mean-one
index) and the abatement slope c solved so that Φ(B_0, n̄) equals the price level
(:func:`riskmodel.banking.rules.calibrate_slope`). Every value is recorded with its source.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from typing import Any

import numpy as np

from riskmodel import config
from riskmodel.banking.rules import BankRules, calibrate_slope, rules_from_catalogue, window_bounds
from riskmodel.errors import InputError
from riskmodel.fit.shared_calibrations import optional_file, validate_carry
from riskmodel.sim import layout as L
from riskmodel.sim import sources

#: Default window (years) where banking is unrestricted (NZUpy uses 10; BANKING.md §4).
DEFAULT_HORIZON = 10
#: Carry where ``calibrations/carry.json`` is absent: about the median of the measured futures
#: carries (EUA, CCA, RGGI, NZU; BANKING.md §4).
DEFAULT_CARRY = 0.03
#: The measured carry per market (``python -m riskmodel.banking.carry``).
CARRY_FILE = "carry.json"
#: Default persistence of price news (a level shift of required abatement).
DEFAULT_PERSISTENCE = 1.0


def _linked_partners(b: Any, market_id: str) -> list[str]:
    """The other markets of market_id's component of the scenario's open links (any state)."""
    from riskmodel.sim.resolve import open_links

    comp = {market_id}
    grew = True
    while grew:
        grew = False
        for lk in open_links(b.scn):
            ids = set(lk.markets)
            if ids & comp and not ids <= comp:
                comp |= ids
                grew = True
    return sorted(comp - {market_id})


@functools.lru_cache(maxsize=4)
def _read_carry(path: str, mtime_ns: int) -> dict[str, Any]:
    """``carry.json`` read and validated once per file version (every banking market of every
    resolve asks for it)."""
    from riskmodel.io import read_json

    d = read_json(path)  # one line for bad bytes, deep nesting, huge numbers, duplicate keys
    validate_carry(d, file=path)
    return d


def carry_default(b: Any, market_id: str) -> tuple[float, str]:
    """The banking rate r a market takes when the scenario gives none, with its source: its
    measured futures carry from ``calibrations/carry.json``; for a market without futures,
    the median measured carry of the markets it is linked with (linked permits are one asset,
    so they carry at one rate: Switzerland with the EU), else that file's default (the median
    of the measured markets); ``DEFAULT_CARRY`` without the file."""
    path = config.CALIBRATIONS_DIR / CARRY_FILE
    if not optional_file(path, field="rates", without="use the default carry"):
        return DEFAULT_CARRY, sources.default("3 %/yr: no calibrations/carry.json (BANKING.md §4)")
    d = _read_carry(str(path), path.stat().st_mtime_ns)
    rates = d["rates"]
    if market_id in rates:
        return float(rates[market_id]), sources.calibration(path, f"rates.{market_id}")
    measured = [p for p in _linked_partners(b, market_id) if p in rates]
    if measured:
        r = float(np.median([rates[p] for p in measured]))
        where = ", ".join(f"rates.{p}" for p in measured)
        return r, sources.calibration(path, where) + " (a linked partner's carry: one asset)"
    return float(d["default"]), sources.calibration(path, "default")


def _pick(b: Any, k: int, name: str, fallback: Any, fallback_src: str) -> tuple[Any, str]:
    """Market k's banking ``name`` from the scenario (market, then scenario block) or the
    fallback, with its source."""
    where = b.scn.banking_field(k, name)
    spec = b.scn.banking_of(k)
    if where is not None and getattr(spec, name) is not None:
        return getattr(spec, name), sources.scenario(where)
    return fallback, fallback_src


def banking_array(b: Any) -> np.ndarray:
    """The ``bk`` array of the scenario (shape (0, 0) when no market banks)."""
    scn = b.scn
    n, n_years, y0 = len(b.ids), scn.horizon.years, scn.horizon.start_year
    per: list[dict[str, Any] | None] = [_market(b, k) for k in range(n)]
    if all(p is None for p in per):
        return np.zeros((0, 0))
    hm = max(p["hm"] for p in per if p is not None)
    o_nbar, o_dq, o_m1, o_ell, width = L.bk_offsets(n_years, hm)
    bk = np.zeros((n, width))
    bk[:, L.BK_HM] = hm
    bk[:, L.BK_YEAR0] = y0
    bk[:, L.BK_ORIGIN] = 1.0 if _origin(b) else 0.0
    for k, p in enumerate(per):
        if p is None:
            for y in range(n_years):
                bk[k, o_m1 + y] = 1.0
            continue
        bk[k, L.BK_ON] = 1.0
        for name, col in (("r", L.BK_R), ("phi", L.BK_PHI), ("b0", L.BK_B0), ("msr", L.BK_MSR),
                          ("hold0", L.BK_HOLD0), ("auc0", L.BK_AUC0),
                          ("tnac_before", L.BK_TNAC_BEFORE), ("penalty", L.BK_PENALTY)):
            bk[k, col] = p[name]
        nyh = n_years + hm
        bk[k, o_nbar:o_nbar + nyh] = p["nbar"][:nyh]
        bk[k, o_dq:o_dq + nyh] = p["dq"][:nyh]
        for y, ell in enumerate(p["ells"]):
            bk[k, o_m1 + y] = len(ell)
            bk[k, o_ell + y * hm:o_ell + y * hm + len(ell)] = ell
    return bk


def _origin(b: Any) -> bool:
    """The scenario's delinking convention is 'origin' (checked: bilateral links only)."""
    from riskmodel.sim.resolve import open_links

    top = b.scn.banking
    conv = (top.delink_convention if top is not None else None) or "holder"
    where = (sources.scenario("banking.delink_convention") if top is not None
             and top.delink_convention is not None else sources.default("holder"))
    for mid in b.ids:
        b.src.set(f"markets.{mid}.banking.delink_convention", conv, where)
    if top is not None and top.delink_convention is not None and not b.scn.all_links():
        raise InputError("applies when a link can be suspended; the scenario has no link",
                         field="banking.delink_convention")
    if conv != "origin":
        return False
    count: dict[str, int] = {}
    for lk in open_links(b.scn):
        for mid in lk.markets:
            count[mid] = count.get(mid, 0) + 1
            if count[mid] > 1:
                raise InputError(f"the 'origin' convention needs bilateral links: market {mid!r} "
                                 "is in more than one link (the origin of its imports is not "
                                 "tracked)", field="banking.delink_convention")
    return True


def _market(b: Any, k: int) -> dict[str, Any] | None:
    """Market k's banking facts, or None when it runs the static bridge."""
    scn, m, cat, mp = b.scn, b.scn.markets[k], b.cats[k], b.mp
    spec = scn.banking_of(k)
    key, fld = f"markets.{m.id}.banking", f"markets[{k}].banking"
    if spec is None:
        b.src.set(f"{key}.on", False, sources.default("no banking block: the static bridge"))
        return None
    n_years, y0 = scn.horizon.years, scn.horizon.start_year
    h, h_src = _pick(b, k, "horizon", DEFAULT_HORIZON, sources.default("10 (BANKING.md §4)"))
    r, r_src = _pick(b, k, "carry", *carry_default(b, m.id))
    phi, phi_src = _pick(b, k, "persistence", DEFAULT_PERSISTENCE, sources.default())
    cat_bank = None if cat is None or cat.banking.initial_bank is None else \
        cat.banking.initial_bank.value
    if m.stabilisation.tnac0 is not None:  # the EU bank is the TNAC the scenario states
        b0_dflt, b0_dsrc = m.stabilisation.tnac0, sources.scenario(
            f"markets[{k}].stabilisation.tnac0")
    elif cat_bank is not None:
        b0_dflt, b0_dsrc = float(cat_bank), sources.catalogue(m.id, "banking.initial_bank")
        yr = cat.banking.initial_bank.year
        if yr is not None and yr != y0 - 1 and scn.banking_field(k, "initial_bank") is None:
            b.notes.append(f"{m.id}: opening bank {b0_dflt:g} Mt is the catalogue's for the "
                           f"end of {yr}, used as the bank at the start of {y0}")
    else:
        b0_dflt, b0_dsrc = 0.0, sources.default("0: no published bank (BANKING.md §2)")
    b0, b0_src = _pick(b, k, "initial_bank", b0_dflt, b0_dsrc)
    bmin, bmin_src = _pick(b, k, "min_bank", 0.0, sources.default())
    bend, bend_src = _pick(b, k, "terminal_bank", None, sources.default("min_bank"))
    share_set = scn.banking_field(k, "borrowing_share") is not None
    years = range(y0, y0 + n_years + h + 1)
    if cat is not None:
        rules = rules_from_catalogue(cat, years, min_bank=float(bmin),
                                     borrowing_share=spec.borrowing_share if share_set else None)
        l_src = (sources.scenario(scn.banking_field(k, "borrowing_share") or "") if share_set
                 else sources.catalogue(m.id, "borrowing.limit_share" if rules.borrowing_share
                                        else "borrowing.allowed"))
        if share_set and rules.borrowing_share > 0 and not cat.borrowing.allowed.value:
            said = ("allows no borrowing" if cat.borrowing.allowed.value is False
                    else "does not say whether borrowing is allowed")
            b.notes.append(f"{m.id}: borrows up to {rules.borrowing_share:g} of each year's "
                           f"allocation, as the scenario asks, although the catalogue {said} "
                           "(borrowing.allowed)")
    else:
        rules = BankRules(borrowing_share=float(spec.borrowing_share or 0.0),
                          min_bank=float(bmin))
        l_src = (sources.scenario(scn.banking_field(k, "borrowing_share") or "") if share_set
                 else sources.default("no borrowing"))
    rules = dataclasses.replace(rules, terminal_bank=None if bend is None else float(bend))
    on_src = sources.scenario(fld if m.banking is not None else "banking")
    if cat is not None and cat.banking.allowed.value is None:
        # the seeds are silent: the scenario's banking block decides (noted)
        rules = dataclasses.replace(rules, banking=True)
        on_src += " (the catalogue's banking.allowed is unknown)"
        b.notes.append(f"{m.id}: the catalogue does not say whether banking is allowed; it "
                       "banks because the scenario's banking block asks for it")
    for name, v, src in (("horizon", h, h_src), ("carry", r, r_src),
                         ("initial_bank", b0, b0_src), ("borrowing_share", rules.borrowing_share,
                                                         l_src),
                         ("min_bank", bmin, bmin_src), ("terminal_bank", bend, bend_src),
                         ("persistence", phi, phi_src)):
        b.src.set(f"{key}.{name}", v, src)
    if not rules.banking:
        b.src.set(f"{key}.on", False, sources.catalogue(m.id, "banking.allowed"))
        b.notes.append(f"{m.id}: the catalogue allows no banking; the static bridge runs")
        return None
    if h == 1 and b0 == 0.0:
        b.src.set(f"{key}.on", False, sources.derived("horizon 1 without a bank is the static "
                                                      "bridge"))
        return None
    if mp[k, L.ETA] != 1.0:
        raise InputError("banking needs linear abatement (exponent 1): the price map is "
                         "solved in closed form for a = c p",
                         field=f"markets[{k}].abatement.exponent")
    b.src.set(f"{key}.on", True, on_src)
    q0o, go, q0c, gc = b.caps[k]
    jj = np.arange(n_years + h + 1)
    qobs = q0o * (1.0 + go) ** jj
    qcf = q0c * (1.0 + gc) ** jj
    nbar = mp[k, L.BAU] - qobs
    ells = [window_bounds(rules, y0 + y, int(h), qobs[y:y + h]) for y in range(n_years)]
    hm = max(len(e) for e in ells)
    plevel = mp[k, L.PLEVEL]
    m1 = len(ells[0])
    _bank_within_reach(b, k, b0, qobs[:m1], ells[0], has_terminal=bend is not None)
    try:
        c, kstar = calibrate_slope(b0, nbar[:m1], ells[0], r, plevel)
    except ValueError:
        msg = (f"the opening bank ({b0:g} Mt) covers every year's required abatement in the "
               f"first {m1}-year window: no positive price level is consistent with it")
        if b0_src == b0_dsrc and cat_bank is not None and m.stabilisation.tnac0 is None:
            # the catalogue's value, not a field the scenario wrote: name the catalogue file
            raise InputError(f"{msg}; lower it, lengthen horizon, or override it with "
                             f"{fld}.initial_bank", file=sources.catalogue_file(m.id),
                             field="banking.initial_bank.value") from None
        raise InputError(f"{msg}; lower initial_bank or lengthen horizon",
                         field=f"{fld}.initial_bank") from None
    slope_src = sources.derived("Φ(initial_bank, nbar) = price_level (rules.calibrate_slope)")
    if m.abatement.slope:
        c = mp[k, L.C]
        slope_src = sources.scenario(f"markets[{k}].abatement.slope")
    mp[k, L.C] = c
    b.src.set(f"markets.{m.id}.abatement.slope", float(c), slope_src)
    b.src.set(f"{key}.window_first_year", m1, sources.derived(
        "min(horizon, years to the phase end or permit expiry)"))
    b.src.set(f"{key}.exhaustion_year", y0 + kstar, sources.derived("argmax of Φ(initial_bank, "
                                                                    "nbar) in the first window"))
    b.notes.append(
        f"{m.id}: banking on, window {m1} yr from {y0} (horizon {h}), carry {r:g}/yr, opening "
        f"bank {b0:g} Mt; slope c = {c:.6g} Mt per {b.currencies[k]}/t (implied abatement "
        f"share {c * plevel / mp[k, L.BAU]:.3g} of BAU), expected exhaustion year k* = "
        f"{y0 + kstar}")
    pen = (b.src.items.get(f"markets.{m.id}.penalty_cap") or {}).get("value")
    out: dict[str, Any] = {"hm": hm, "r": r, "phi": phi, "b0": b0, "nbar": nbar,
                           "dq": qobs - qcf, "ells": ells, "msr": 0.0, "hold0": 0.0,
                           "auc0": 0.0, "tnac_before": b0,
                           "penalty": 1.0 if pen and mp[k, L.CEIL] == pen else 0.0}
    if b.mi[k, L.MSR_ON]:
        _msr(b, k, out)
    return out


def _bank_within_reach(b: Any, k: int, b0: float, supply: np.ndarray, ell: np.ndarray, *,
                       has_terminal: bool) -> None:
    """The bank the rules require at the end of each year of the first window (``min_bank``,
    ``terminal_bank``) cannot exceed the opening bank plus every permit issued by then: holding
    more needs negative emissions (the simulated emissions then leave the range of their
    statistics: -inf and NaN)."""
    reach = b0 + np.cumsum(supply)
    over = np.nonzero(ell > reach * (1.0 + 1e-12))[0]
    if not len(over):
        return
    j = int(over[0])
    name = "terminal_bank" if j == len(ell) - 1 and has_terminal else "min_bank"
    y = b.scn.horizon.start_year + j
    raise InputError(f"{b.scn.markets[k].id}: a bank of {ell[j]:g} Mt at the end of {y} is more "
                     f"than its opening bank and every permit it issues by then "
                     f"({reach[j]:.6g} Mt): holding it would need negative emissions; lower "
                     f"{name}",
                     field=b.scn.banking_field(k, name) or f"markets[{k}].banking.{name}")


def _msr(b: Any, k: int, out: dict[str, Any]) -> None:
    """The EU MSR reads the bank as its TNAC (rules of :mod:`riskmodel.banking.msr`)."""
    m, cat = b.scn.markets[k], b.cats[k]
    key = f"markets.{m.id}.banking.msr"
    c_msr = getattr(getattr(cat, "stabilisation", None), "msr", None)
    sb = m.stabilisation

    def fact(name: str) -> float | None:
        v = getattr(c_msr, name, None)
        v = getattr(v, "value", None)
        return None if v is None else float(v)

    hold = fact("holdings")
    if "msr_reserve0" in sb.model_fields_set or hold is None:
        hold, h_src = sb.msr_reserve0, sources.scenario(f"markets[{k}].stabilisation.msr_reserve0")
    else:
        h_src = sources.catalogue(m.id, "stabilisation.msr.holdings")
    auc = fact("auction_volume")
    a_src = sources.catalogue(m.id, "stabilisation.msr.auction_volume")
    if auc is None:
        auc, a_src = float(b.qcf[k, 0]), sources.derived("the first year's supply")
    out.update(msr=1.0, hold0=float(hold), auc0=float(auc))
    b.src.set(f"{key}.holdings0", float(hold), h_src)
    b.src.set(f"{key}.auction_volume", float(auc), a_src)
    b.src.set(f"{key}.tnac", "the bank", sources.derived(
        "TNAC = the bank; intake bands, lag and invalidation of banking/msr.py"))
    b.notes.append(f"{m.id}: the MSR reads the bank as its TNAC (bands 833/1,096 M, 24 %, "
                   "intake lag 4/12 + 8/12, invalidation); the TNAC a year before the start is "
                   "taken equal to the opening bank; the catalogue's thresholds are the rules' "
                   "own")
    if not math.isfinite(hold):
        raise InputError("MSR holdings must be finite", field=f"markets[{k}].stabilisation")
