"""Calibration files validated on load: a corrupted calibration can never produce a run.

Contract 2 (docs/ARCHITECTURE.md) fixes the keys; this module fixes what their values may be:
every number finite; GARCH/GJR ``omega > 0``, ``alpha, beta >= 0`` and persistence
``alpha + gamma/2 + beta < 1`` (finite unconditional variance); EGARCH ``|beta| < 1``; MS and
MS-GARCH per regime (``sigma2_k > 0``; ``omega_k > 0``, ``alpha_k, beta_k >= 0``,
``alpha_k + beta_k < 1``), transition rows probabilities summing to 1 and no parameter of a
regime beyond ``k_regimes``; Student-t / skew-t ``nu > 2`` (finite variance), skew-t ``nu`` in
arch's [2.05, 300] and ``|lambda| < 1``; an EGARCH's log variance reverting to a mean, with a
stationary sd, within ``+-MAX_EGARCH_LOG_VARIANCE``; ``state.last_price > 0``, variances > 0,
regime probabilities in [0, 1] summing to 1; the optional ``thin_trading`` block (Markov
zero-return model) with probabilities in [0, 1] and ``last_state`` 0 or 1; the ``guard``
(``max_daily_return`` in [MIN_GUARD, MAX_GUARD]), ``price_level.mean_last_year`` (a price) and
``diagnostics.guard_share_1y`` (a share), which the engine reads too.

Errors are ``InputError`` naming the calibration file (not the scenario that uses it) and the
dotted field.
"""

from __future__ import annotations

import difflib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from riskmodel.errors import InputError
from riskmodel.strict import short_repr, text_number_message, text_where_number

#: Tolerance on a row of transition probabilities summing to one.
ROW_TOL = 1e-6
#: Largest number of regimes a calibration may have.
MAX_REGIMES = 4
#: Largest mean daily return (percent log return) a fit may carry: 10 % a day is no fit, and
#: with ``price_drift: fitted`` it overflows the simulated prices within a few years.
MAX_MEAN = 10.0
#: Largest mean daily return of one regime: a short-lived regime of limit-up days carries a
#: large mean (Chongqing's ms2 fits put 13-18%/day on one in its 20%-limit era), which is a
#: fit, not a typo, as long as the regimes' long-run mean stays within ``MAX_MEAN``.
MAX_REGIME_MEAN = 50.0
#: Largest daily variance (percent^2, a daily sd of 100 %): a GARCH/GJR omega (one day's floor
#: of the variance), a regime's variance or omega, and every variance of the state.
MAX_VARIANCE = 1e4
#: Largest price a simulation may start from, in any currency per tonne.
MAX_PRICE = 1e7
#: Smallest price a calibration may carry (a thousandth of a currency unit a tonne: below any
#: carbon price in any listed currency; 1e-300 ran the price statistics into inf and NaN).
MIN_PRICE = 1e-3
#: Largest daily return or residual of the state, percent log return.
MAX_RETURN = 1e4
#: Largest |omega|, |alpha|, |gamma| of an EGARCH: beyond it the log variance moves by more
#: than a factor e^10 in a day.
MAX_EGARCH_COEF = 10.0
#: Bound on an EGARCH's stationary log variance, ln(MAX_RETURN^2): |beta| < 1 alone lets omega /
#: (1 - beta) reach 1e7 (beta near 1), a variance e^(1e7) that overflows, and alpha at its limit
#: with beta near 1 swings the log variance by thousands. Both the mean the log variance reverts
#: to, (omega + alpha (E|z| - sqrt(2/pi))) / (1 - beta) (the kernel centres |z| by the normal
#: sqrt(2/pi); E|z| is that for normal innovations, in [0, 1] for any unit-variance law), and its
#: stationary sd, at most (|alpha| + |gamma|) / sqrt(1 - beta^2), must lie within it: a variance
#: between 1 / MAX_RETURN^2 and MAX_RETURN^2 (a daily sd of MAX_RETURN %, the largest return a
#: state may hold). The shipped fits have a mean of 2.1 to 3.5 and an sd below 1.2; real-data
#: refits on expanding windows (a Shenzhen EGARCH-normal: mean 10.3; pilots' t fits with nu at
#: 2.05: sd up to 11.5) stay inside.
MAX_EGARCH_LOG_VARIANCE = 2.0 * math.log(MAX_RETURN)
#: The skew-t shape nu must lie in arch's bounds for its skew-t law (``SkewStudent.bounds``):
#: its quantile function, which builds the engine's innovation table, refuses any other nu.
SKEWT_NU_MIN, SKEWT_NU_MAX = 2.05, 300.0
#: Range of the daily guard ``guard.max_daily_return`` (percent log return). The guard is the
#: engine's safety net against an exploding variance: it clips a day's residual to +-R and caps the
#: variance at R^2. A fitted guard is 1.25 x the largest daily move in the market's own data or 6
#: times its daily sd, at least 25 (``riskmodel.fit.guard``; the largest shipped is Shenzhen's
#: 245.5 %). 1000 % is a price multiplied or divided by e^10 (about 22,000) in one day, a move no
#: market's data shows; a guard above it guards nothing (at 1e300 its square is inf, no cap at all,
#: and an explosive process runs to inf and NaN prices). Below 0.1 % it clips ordinary days and the
#: price hardly moves. The scenario's ``markets[].max_daily_return`` has the same range.
MIN_GUARD, MAX_GUARD = 0.1, 1000.0
#: The calibration schema this version reads.
SCHEMA = "riskmodel.calibration/1"
Return = Annotated[float, Field(ge=-MAX_RETURN, le=MAX_RETURN)]
#: Parameter keys of single-regime models (Contract 2).
SINGLE_KEYS = frozenset({"mu", "phi", "omega", "alpha", "gamma", "beta", "nu", "lambda"})
_REGIME_KEY = re.compile(r"(mu|sigma2|omega|alpha|beta)_(\d)|p_(\d)(\d)")

Prob = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="allow", allow_inf_nan=False, strict=False)

    @field_validator("*", mode="before")
    @classmethod
    def _no_bool(cls, v: Any, info: ValidationInfo) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"must be a number, not the boolean {v!r}")
        fld = cls.model_fields.get(info.field_name or "")
        hit = text_where_number(v, fld.annotation) if fld is not None else None
        if hit is not None:  # a quoted number ("4.08"): JSON spells a number without quotes
            raise ValueError(f"{hit[0]}: {hit[1]}" if hit[0] else hit[1])
        return v


class ModelSpec(_Strict):
    """``model``: the process family, mean, innovation law and number of regimes."""

    family: Literal["garch", "gjr", "egarch", "ms", "msgarch"]
    mean: Literal["constant", "ar1"] = "constant"
    dist: Literal["normal", "t", "skewt"] = "normal"
    k_regimes: Annotated[int, Field(ge=1, le=MAX_REGIMES)] | None = None


#: Largest thin-trading gap scaling a calibration may carry (``thin_trading.kappa``).
MAX_KAPPA = 10.0


class ThinTrading(_Strict):
    """``thin_trading``: a two-state Markov chain of zero-return (no-trade) days."""

    model: Literal["markov"]
    #: P(no trade | trade) and P(no trade | no trade): below 1, or the chain never trades again
    p01: Annotated[float, Field(ge=0, lt=1)]
    p11: Annotated[float, Field(ge=0, lt=1)]
    zero_share: Prob
    last_state: Literal[0, 1] = 0
    #: Gap scaling: the first return after k no-trade days is sqrt(1 + kappa k) times the
    #: fitted step (docs/THIN_TRADING.md); the fit profiles 0-2, and beyond 10 a day's idle
    #: spell would carry more news than ten days of trading.
    kappa: Annotated[float, Field(ge=0, le=MAX_KAPPA)] = 0.0
    #: No-trade days in the run the sample ends in (0 when it ends on a traded day).
    last_gap: Annotated[int, Field(ge=0, le=100_000)] = 0


class GuardSpec(_Strict):
    """``guard``: the engine's daily guard for this market (``riskmodel.fit.guard``)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    max_daily_return: Annotated[float, Field(ge=MIN_GUARD, le=MAX_GUARD)]
    # the evidence the fit recorded (``fit.guard.evidence_guard``); any other key is a typo
    unit: str | None = None
    largest_move_pct: float | None = None
    largest_move_date: str | None = None
    share_days_above_default: Annotated[float, Field(ge=0, le=1)] | None = None
    margin: float | None = None
    daily_sd_pct: Annotated[float, Field(ge=0)] | None = None
    sd_multiple: Annotated[float, Field(gt=0)] | None = None
    rule: str | None = None


class PriceLevelSpec(_Strict):
    """``price_level``: the mean price of the sample's last year, the abatement curve's level."""

    mean_last_year: Annotated[float, Field(ge=MIN_PRICE, le=MAX_PRICE)] | None = None


class DiagnosticsSpec(_Strict):
    """``diagnostics``: the fit's checks; the engine reads only the guard's measured share."""

    #: Share of market-days on which the guard binds in a one-year run of the calibration.
    guard_share_1y: Prob | None = None


class PriceLimitSpec(_Strict):
    """``price_limit``: the exchange's daily price limit (``riskmodel.data.price_limits``)."""

    limit: Annotated[float, Field(gt=0, lt=1)]
    up_pct: Annotated[float, Field(gt=0)]
    down_pct: Annotated[float, Field(lt=0)]
    #: lambda, the latent variance over the traded one (docs/PRICE_LIMITS.md: 1.05-2.45 in the
    #: committed calibrations); beyond [0.1, 10] no fit of traded returns implies it.
    latent_variance_scale: Annotated[float, Field(ge=0.1, le=10.0)] | None = None
    #: Shares of the fitted sample's traded days that ended at the limit (data, engine).
    share_at_limit: Prob | None = None
    simulated_share_at_limit: Prob | None = None

    @field_validator("up_pct", "down_pct")
    @classmethod
    def _matches_limit(cls, v: float, info: Any) -> float:
        lim = info.data.get("limit")
        sign = 1.0 if info.field_name == "up_pct" else -1.0
        if lim is not None and abs(v - 100.0 * math.log1p(sign * lim)) > 1e-6:
            raise ValueError(f"must be 100 log(1 {'+' if sign > 0 else '-'} limit) = "
                             f"{100.0 * math.log1p(sign * lim):.6g} (got {v!r})")
        return v


class StateSpec(_Strict):
    """``state``: the end-of-sample values the simulation starts from."""

    last_price: Annotated[float, Field(ge=MIN_PRICE, le=MAX_PRICE)] | None = None
    last_variance: Annotated[float, Field(gt=0, le=MAX_VARIANCE)] | None = None
    variance_T: Annotated[float, Field(gt=0, le=MAX_VARIANCE)] | None = None  # noqa: N815
    last_resid: Return | None = None
    last_std_resid: Return | None = None
    last_return: Return | None = None
    regime_probs: list[Prob] | None = None
    regime_variances: list[Annotated[float, Field(gt=0, le=MAX_VARIANCE)]] | None = None


class ProxySpec(_Strict):
    """``proxy``: a market without a fit of its own takes another market's process
    (``of``), converted at ``fx_rate`` (``fx``: the pair, or 'level' for a price-level proxy)."""

    of: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=40)]
    fx: str | None = None
    fx_rate: Annotated[float, Field(ge=1e-5, le=1e5)] | None = None


class CalibrationSpec(_Strict):
    """The parts of a calibration file the engine reads."""

    schema_: Literal["riskmodel.calibration/1"] | None = Field(default=None, alias="schema")
    model: ModelSpec
    params: dict[str, float]
    state: StateSpec | None = None
    thin_trading: ThinTrading | None = None
    guard: GuardSpec | None = None
    price_limit: PriceLimitSpec | None = None
    price_level: PriceLevelSpec | None = None
    diagnostics: DiagnosticsSpec | None = None
    proxy: ProxySpec | None = None

    @field_validator("params", mode="before")
    @classmethod
    def _no_bool_params(cls, v: Any) -> Any:
        if isinstance(v, dict):
            for key, val in v.items():
                if isinstance(val, bool):
                    raise ValueError(f"{key}: must be a number, not the boolean {val!r}")
                if isinstance(val, str):
                    raise ValueError(f"{key}: {text_number_message(val)}")
        return v


#: What a validator's message may start with to name the key or list item it refused.
_KEY_PATH = re.compile(r"[A-Za-z_]\w*|\[\d+\]")


def _fail(msg: str, field: str, file: str | Path | None) -> InputError:
    return InputError(msg, file=file, field=field)


def _loc(err: dict[str, Any]) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else str(p) for p in err.get("loc", ())]
    return ".".join(parts).replace(".[", "[")


def _format(exc: ValidationError, file: str | Path | None) -> InputError:
    err = exc.errors()[0]
    msg = str(err.get("msg", "invalid")).removeprefix("Value error, ")
    loc = _loc(err) or "calibration"
    head, sep, tail = msg.partition(": ")
    if err.get("type") == "value_error" and sep and _KEY_PATH.fullmatch(head):
        # a validator naming the key (or list item) it refused
        return _fail(tail, f"{loc}{head}" if head.startswith("[") else f"{loc}.{head}", file)
    if err.get("type") == "extra_forbidden":
        return _fail("unknown key (a typo?)", loc, file)
    if "input" in err and err.get("type") not in ("missing", "value_error"):
        msg = f"{msg} (got {short_repr(err['input'])})"
    return _fail(msg, loc, file)


def _need(params: dict[str, float], key: str, family: str, file: str | Path | None) -> float:
    if key not in params:
        raise _fail(f"missing parameter {key!r} for a {family} model", f"params.{key}", file)
    return params[key]


def _check_keys(spec: CalibrationSpec, file: str | Path | None) -> None:
    """Every parameter is one the model reads (a misspelt key is never silently ignored); the
    means are bounded and an AR(1) mean has its ``phi`` with ``|phi| < 1``."""
    fam, p = spec.model.family, spec.params
    single = fam in ("garch", "gjr", "egarch")
    if single and (spec.model.k_regimes or 1) != 1:
        raise _fail(f"a {fam} model has one regime (got {spec.model.k_regimes}); use ms or "
                    "msgarch for several", "model.k_regimes", file)
    for key, val in p.items():
        known = key in SINGLE_KEYS if single else (
            _REGIME_KEY.fullmatch(key) is not None or key in ("mu", "phi", "nu", "lambda"))
        if fam == "msgarch" and key.startswith("sigma2_"):  # its regimes are GARCH recursions
            known = False
        if fam == "ms" and (key.startswith(("omega_", "alpha_", "beta_")) or key == "mu"):
            known = False  # its regimes are a mean and a variance each
        if not known:
            allowed = ", ".join(sorted(SINGLE_KEYS)) if single else (
                "mu_k, sigma2_k, p_ij" if fam == "ms"
                else "mu, nu, lambda, omega_k, alpha_k, beta_k, p_ij")
            raise _fail(f"unknown parameter {key!r} for a {fam} model (parameters: {allowed})",
                        f"params.{key}", file)
        if key == "mu" and not abs(val) <= MAX_MEAN:
            raise _fail(f"a mean daily return must lie in [-{MAX_MEAN:g}, {MAX_MEAN:g}] percent "
                        f"(got {val:g})", f"params.{key}", file)
        if key.startswith("mu_") and not abs(val) <= MAX_REGIME_MEAN:
            raise _fail(f"a regime's mean daily return must lie in [-{MAX_REGIME_MEAN:g}, "
                        f"{MAX_REGIME_MEAN:g}] percent (got {val:g})", f"params.{key}", file)
    dist = spec.model.dist
    if fam == "ms" and dist != "normal":
        raise _fail(f"a ms model has normal innovations (got {dist!r})", "model.dist", file)
    for key, needs in (("nu", ("t", "skewt")), ("lambda", ("skewt",))):
        if key in p and dist not in needs:
            raise _fail(f"applies to a {' or '.join(needs)} model only (dist is {dist!r})",
                        f"params.{key}", file)
    if fam == "garch" and p.get("gamma", 0.0) != 0.0:
        raise _fail(f"a garch model has no asymmetry (got {p['gamma']:g}); use gjr or egarch",
                    "params.gamma", file)
    if fam == "egarch":
        for key in ("omega", "alpha", "gamma"):
            if key in p and not abs(p[key]) <= MAX_EGARCH_COEF:
                raise _fail(f"an EGARCH {key} must lie in [-{MAX_EGARCH_COEF:g}, "
                            f"{MAX_EGARCH_COEF:g}] (got {p[key]:g})", f"params.{key}", file)
    if spec.model.mean == "ar1" and fam in ("ms", "msgarch"):
        raise _fail(f"a {fam} model has a constant mean (its regimes carry the dynamics); the "
                    "engine simulates no AR(1) term for it (got 'ar1')", "model.mean", file)
    if spec.model.mean != "ar1" and "phi" in p:  # the engine reads phi for ar1 means only
        raise _fail(f"applies to an AR(1) mean only, and the mean is {spec.model.mean!r}, so "
                    "the engine never reads it; set model.mean: ar1 (single-regime models) or "
                    "drop phi", "params.phi", file)
    if spec.model.mean == "ar1":
        phi = _need(p, "phi", f"{fam} (ar1)", file)
        if not abs(phi) < 1:
            raise _fail(f"|phi| must be < 1 for a stationary AR(1) mean (got {phi:g})",
                        "params.phi", file)


def _check_variance(value: float, field: str, file: str | Path | None) -> None:
    if not value <= MAX_VARIANCE:
        raise _fail(f"{value:g} is more than {MAX_VARIANCE:g} (percent^2, a daily sd of 100 %)",
                    field, file)


def _check_egarch(omega: float, alpha: float, gamma: float, beta: float, dist: str,
                  file: str | Path | None) -> None:
    """A stationary EGARCH whose log variance stays within ``+-MAX_EGARCH_LOG_VARIANCE``."""
    if not abs(beta) < 1:
        raise _fail(
            f"|beta| must be < 1 for a stationary EGARCH (got {beta:g})", "params.beta", file
        )
    bound = MAX_EGARCH_LOG_VARIANCE
    c = math.sqrt(2.0 / math.pi)
    # alpha (E|z| - c): exact for normal innovations, for others its range over E|z| in [0, 1]
    shift = sorted(alpha * (e - c) for e in ((c, c) if dist == "normal" else (0.0, 1.0)))
    lo, hi = ((omega + a) / (1.0 - beta) for a in shift)
    if lo > bound or hi < -bound:
        level = lo if lo > bound else hi
        how = "" if dist == "normal" else f" at best, E|z| in [0, 1] for {dist} innovations"
        raise _fail(
            f"the log variance this EGARCH reverts to, (omega + alpha (E|z| - sqrt(2/pi))) / "
            f"(1 - beta), is {level:.4g}{how}; it must lie in [-{bound:.4g}, {bound:.4g}] (a "
            f"variance between {MAX_RETURN**-2:g} and {MAX_RETURN**2:g} percent^2): the "
            "simulated variance would overflow", "params.omega", file)
    spread = (abs(alpha) + abs(gamma)) / math.sqrt(1.0 - beta * beta)
    if not spread <= bound:
        raise _fail(
            f"the stationary sd of the log variance, up to (|alpha| + |gamma|) / "
            f"sqrt(1 - beta^2) = {spread:.4g}, must be <= {bound:.4g}: with alpha this large and "
            "beta this near 1 the simulated variance explodes", "params.beta", file)


def _check_single(fam: str, p: dict[str, float], file: str | Path | None,
                  dist: str = "normal") -> None:
    omega, alpha, beta = (_need(p, k, fam, file) for k in ("omega", "alpha", "beta"))
    gamma = p.get("gamma", 0.0)
    if fam == "egarch":  # log-variance recursion: omega, alpha, gamma any finite number
        _check_egarch(omega, alpha, gamma, beta, dist, file)
        return
    if not omega > 0:
        raise _fail(f"omega must be > 0 (got {omega:g})", "params.omega", file)
    for key, val in (("alpha", alpha), ("beta", beta)):
        if val < 0:
            raise _fail(f"{key} must be >= 0 (got {val:g})", f"params.{key}", file)
    if fam == "gjr" and alpha + gamma < 0:
        raise _fail(f"alpha + gamma must be >= 0 (got {alpha + gamma:g})", "params.gamma", file)
    pers = alpha + (0.5 * gamma if fam == "gjr" else 0.0) + beta
    if not pers < 1:
        rule = "alpha + gamma/2 + beta" if fam == "gjr" else "alpha + beta"
        raise _fail(
            f"persistence {rule} = {pers:g} must be < 1 (finite variance)", "params.beta", file
        )
    _check_variance(omega, "params.omega", file)


def _n_regimes(spec: CalibrationSpec, file: str | Path | None) -> int:
    k = spec.model.k_regimes or 0
    if k == 0:
        k = int(round(math.sqrt(sum(1 for key in spec.params if key.startswith("p_")))))
    if not 1 <= k <= MAX_REGIMES:
        raise _fail(f"must be 1..{MAX_REGIMES} (got {k})", "model.k_regimes", file)
    return k


def _check_long_run_mean(p: dict[str, float], k: int, file: str | Path | None) -> None:
    """The regime means weighted by the chain's stationary law stay within ``MAX_MEAN``."""
    mus = [p.get(f"mu_{i}") for i in range(k)]
    if any(m is None for m in mus):
        return
    P = np.array([[p[f"p_{i}{j}"] for j in range(k)] for i in range(k)])
    w, v = np.linalg.eig(P.T)
    pi = np.abs(np.real(v[:, int(np.argmin(np.abs(w - 1.0)))]))
    if not pi.sum() > 0:
        return
    mean = float(pi @ np.array(mus, dtype=float) / pi.sum())
    if not abs(mean) <= MAX_MEAN:
        raise _fail(f"the regimes' long-run mean daily return {mean:.4g} percent lies beyond "
                    f"[-{MAX_MEAN:g}, {MAX_MEAN:g}]", "params.mu_0", file)


def _check_regimes(spec: CalibrationSpec, file: str | Path | None) -> None:
    fam, p = spec.model.family, spec.params
    k = _n_regimes(spec, file)
    for key in p:  # a regime the model does not have: its parameters would be ignored
        m = _REGIME_KEY.fullmatch(key)
        regime = max(int(g) for g in m.groups() if g is not None and g.isdigit()) if m else 0
        if regime >= k:
            raise _fail(f"regime {regime} does not exist (k_regimes is {k}: regimes 0 to "
                        f"{k - 1})", f"params.{key}", file)
    for i in range(k):
        row = [_need(p, f"p_{i}{j}", fam, file) for j in range(k)]
        for j, v in enumerate(row):
            if not 0 <= v <= 1:
                raise _fail(
                    f"a transition probability must lie in [0, 1] (got {v:g})",
                    f"params.p_{i}{j}",
                    file,
                )
        if abs(sum(row) - 1) > ROW_TOL:
            raise _fail(
                f"row {i} of the transition matrix sums to {sum(row):.6g}, not 1",
                f"params.p_{i}0",
                file,
            )
        if fam == "ms" and i == k - 1:
            _check_long_run_mean(p, k, file)
        if fam == "ms":
            _need(p, f"mu_{i}", fam, file)
            s2 = _need(p, f"sigma2_{i}", fam, file)
            if not s2 > 0:
                raise _fail(
                    f"a regime variance must be > 0 (got {s2:g})", f"params.sigma2_{i}", file
                )
            _check_variance(s2, f"params.sigma2_{i}", file)
            continue
        om, al, be = (_need(p, f"{n}_{i}", fam, file) for n in ("omega", "alpha", "beta"))
        if not om > 0:
            raise _fail(f"omega must be > 0 (got {om:g})", f"params.omega_{i}", file)
        for name, val in ((f"alpha_{i}", al), (f"beta_{i}", be)):
            if val < 0:
                raise _fail(f"{name} must be >= 0 (got {val:g})", f"params.{name}", file)
        if not al + be < 1:
            raise _fail(
                f"persistence alpha_{i} + beta_{i} = {al + be:g} must be < 1 in each regime",
                f"params.beta_{i}",
                file,
            )
        _check_variance(om, f"params.omega_{i}", file)
    st = spec.state
    if st is not None and st.regime_probs is not None:
        if len(st.regime_probs) != k:
            raise _fail(
                f"must have {k} entries (got {len(st.regime_probs)})", "state.regime_probs", file
            )
        if abs(sum(st.regime_probs) - 1) > ROW_TOL:
            raise _fail(
                f"must sum to 1 (got {sum(st.regime_probs):.6g})", "state.regime_probs", file
            )
    if st is not None and st.regime_variances is not None and len(st.regime_variances) != k:
        raise _fail(
            f"must have {k} entries (got {len(st.regime_variances)})",
            "state.regime_variances",
            file,
        )


def _check_dist(spec: CalibrationSpec, file: str | Path | None) -> None:
    dist, p = spec.model.dist, spec.params
    if spec.model.family == "ms" or dist == "normal":
        return
    nu = _need(p, "nu", f"{dist} ({spec.model.family})", file)
    if not nu > 2:
        raise _fail(f"nu must be > 2 for a finite variance (got {nu:g})", "params.nu", file)
    if dist == "skewt" and not SKEWT_NU_MIN <= nu <= SKEWT_NU_MAX:
        raise _fail(f"a skew-t nu must lie in [{SKEWT_NU_MIN:g}, {SKEWT_NU_MAX:g}], the range "
                    f"of arch's skew-t law the engine draws from (got {nu:g})", "params.nu", file)
    if dist == "skewt":
        lam = _need(p, "lambda", f"skewt ({spec.model.family})", file)
        if not -1 < lam < 1:
            raise _fail(f"lambda must lie in (-1, 1) (got {lam:g})", "params.lambda", file)


def _check_thin_flag(spec: CalibrationSpec, file: str | Path | None) -> None:
    """``model.thin_trading`` (the fit's record that its parameters are of traded days'
    returns) agrees with the ``thin_trading`` block the engine simulates: without the block a
    thin-trading fit ran as a market trading every day, and with the flag false the block
    still ran."""
    flag = (spec.model.model_extra or {}).get("thin_trading")
    if flag is None:
        return
    if not isinstance(flag, bool):
        raise _fail(f"must be true or false (got {short_repr(flag)})", "model.thin_trading",
                    file)
    if flag and spec.thin_trading is None:
        raise _fail("missing, but model.thin_trading is true: the parameters are of the traded "
                    "days' returns and the no-trade chain they need is gone; restore the "
                    "block (or refit the market)", "thin_trading", file)
    if not flag and spec.thin_trading is not None:
        raise _fail("is false, but the file has a thin_trading block, which the engine "
                    "simulates; set it true or drop the block", "model.thin_trading", file)


#: A single-regime fit's ``model.name`` (``zgarch-t-vt1``, ``ar1-egarch-normal``): thin trading,
#: mean, variance family and innovation law (suffixes after them are the fit's options).
_MODEL_NAME = re.compile(r"(z)?(ar1-)?(garch|gjr|egarch)-(normal|t|skewt)(?:-[a-z0-9.]+)*")


def _check_name(spec: CalibrationSpec, file: str | Path | None) -> None:
    """``model.name`` (the fit's record of its model) agrees with the family, mean and law the
    engine simulates: a family edited to another one (garch -> egarch) read the parameters of
    one model as those of another."""
    name = (spec.model.model_extra or {}).get("name")
    m = _MODEL_NAME.fullmatch(name.strip().lower()) if isinstance(name, str) else None
    if m is None:
        return
    said = {"model.family": m.group(3), "model.mean": "ar1" if m.group(2) else "constant",
            "model.dist": m.group(4)}
    has = {"model.family": spec.model.family, "model.mean": spec.model.mean,
           "model.dist": spec.model.dist}
    for key, want in said.items():
        if has[key] != want:
            raise _fail(f"{has[key]!r}, but model.name {name!r} says {want!r}: the parameters "
                        f"are of the named model; restore {key} {want!r} (or refit the market)",
                        key, file)


#: Keys a fit writes that the engine does not read (the record of the fit), per block ("": the
#: top level): any other key near one the engine reads is that key misspelt.
_RECORD_KEYS = {
    "": {"market", "series_id", "instrument", "currency", "std_errors", "loglik", "aic", "bic",
         "nobs", "sample", "data_hash", "versions", "fit", "selection", "backtest", "source"},
    "state": {"last_date", "last_price_date", "next_mean"},
    "model": {"variance_target", "variance_target_years", "window_years"},
    "price_level": {"last", "n_prices"},
    "diagnostics": set(),
    "thin_trading": {"counts", "empirical_share", "kappa_profile", "loglik_chain", "source",
                     "variance_target"},
    "price_limit": {"carry_over", "fitted_mean_square_pct2", "n_days", "next_mean_pct",
                    "next_same_limit_share", "pile_p", "rule", "scale_rule", "share_beyond",
                    "share_inside_band", "traded_mean_square_pct2", "unit", "window"},
    "proxy": {"auction_prices", "fx_source", "link_start", "reason"},
}


def _read_keys(prefix: str) -> set[str]:
    """The keys of a block (``prefix``; "" the top level) that the engine reads."""
    if prefix == "":
        return {f.alias or n for n, f in CalibrationSpec.model_fields.items()}
    if prefix == "model":  # and the flags read from its extra keys
        return set(ModelSpec.model_fields) | {"thin_trading", "name"}
    spec = CalibrationSpec.model_fields[prefix].annotation
    model = next(a for a in getattr(spec, "__args__", (spec,)) if a is not type(None))
    return set(model.model_fields)


def _check_misspelt_blocks(d: dict[str, Any], file: str | Path | None) -> None:
    """A key near one the engine reads (``gaurd``, ``price_level ``) is that key misspelt: it
    would be kept as a record and the engine would put its default in place of the block (the
    fitted guard replaced by the default 25 %, the abatement price level by the last price)."""
    where = [("", d)] + [(b, d[b]) for b in _RECORD_KEYS if b and isinstance(d.get(b), dict)]
    for prefix, block in where:
        read = _read_keys(prefix)
        for key in block:
            if not isinstance(key, str) or key in read or key in _RECORD_KEYS[prefix]:
                continue
            norm = key.strip().lower().replace(" ", "_").replace("-", "_")
            near = norm if norm in read else next(
                iter(difflib.get_close_matches(norm, sorted(read), n=1, cutoff=0.8)), None)
            if near is None:
                continue
            why = ("it has a space (or a tab) at its start or end, so it is not the key "
                   f"{near!r}" if key.strip() == near else f"it looks like {near!r}")
            raise _fail(f"unknown key {key!r}: {why}, which the engine reads (without it the "
                        f"engine puts a default in its place); write {near!r}",
                        f"{prefix}.{near}" if prefix else near, file)


def validate_calibration(
    d: Any, *, file: str | Path | None = None, need_price: bool = False
) -> CalibrationSpec:
    """Check a loaded calibration mapping; raise ``InputError`` naming ``file`` and the field.

    ``need_price``: the simulation starts from ``state.last_price``, so it must be there.
    """
    if not isinstance(d, dict):
        raise _fail("a calibration must be a JSON object", "calibration", file)
    _check_misspelt_blocks(d, file)
    try:
        spec = CalibrationSpec.model_validate(d)
    except ValidationError as exc:
        raise _format(exc, file) from None
    _check_keys(spec, file)
    _check_thin_flag(spec, file)
    own = d.get("market")
    if spec.proxy is not None and spec.proxy.of == own:
        raise _fail(f"{own!r} is the calibration's own market (its 'market'): a proxy takes the "
                    "process of another market, the one it is linked to; name that market (or "
                    "drop the proxy block and fit the market itself)", "proxy.of", file)
    if spec.model.family in ("garch", "gjr", "egarch"):
        _check_single(spec.model.family, spec.params, file, spec.model.dist)
    else:
        _check_regimes(spec, file)
    _check_dist(spec, file)
    _check_name(spec, file)  # after the parameters' own checks, which say more
    if need_price and (spec.state is None or spec.state.last_price is None):
        raise _fail(
            "missing; the simulation starts from the last observed price", "state.last_price", file
        )
    return spec
