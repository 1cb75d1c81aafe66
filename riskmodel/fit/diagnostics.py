"""Diagnostics of a fitted price process: residual tests, persistence, half-life, annualised vol.

Tests on the standardised residuals z_t (statsmodels): Ljung–Box on z and z^2 at lags 10 and 20
(no degrees-of-freedom correction for the fitted parameters: the p-values are slightly
conservative-to-liberal approximations, as is usual), Engle's ARCH-LM (10 lags), Engle–Ng (1993)
sign and size bias test, Jarque–Bera. Model quantities: persistence (alpha + beta + gamma
E[z^2 1{z<0}] for GARCH/GJR — gamma/2 under symmetric innovations; beta for EGARCH), half-life
ln(0.5)/ln(persistence) in trading days, and the unconditional annualised volatility in percent,
sqrt(252 * E[s2]).

EGARCH: with g(z) = alpha(|z| - sqrt(2/pi)) + gamma z, E[s2] = exp(omega/(1-beta)) prod_i
E[exp(beta^i g(z))] (Nelson 1991). Under normal innovations every factor has a closed form and the
product converges. Under Student-t or skew-t innovations E[exp(c|z|)] is infinite for any c > 0,
so the unconditional variance does not exist; the figure reported then is the volatility at the
mean log-variance, sqrt(252 exp(E[ln s2])) with E[ln s2] = (omega + alpha(E|z| - sqrt(2/pi))) /
(1 - beta) (a "typical" level, below the mean), and ``annualised_vol_method`` says so.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.stats.diagnostic import acorr_ljungbox, het_arch
from statsmodels.stats.stattools import jarque_bera

from riskmodel.fit.garch import dist_parameters, innovation_distribution, persistence

TRADING_DAYS = 252
LB_LAGS = (10, 20)
ARCH_LM_LAGS = 10
SQRT_2_PI = math.sqrt(2.0 / math.pi)


def half_life(pers: float) -> float:
    """Days for a variance shock to halve: ln(0.5)/ln(persistence); inf when not in (0, 1)."""
    if not (0.0 < pers < 1.0):
        return math.inf
    return math.log(0.5) / math.log(pers)


def ljung_box(x: np.ndarray, lags: tuple[int, ...] = LB_LAGS) -> dict[int, tuple[float, float]]:
    """Ljung–Box statistic and p-value at each lag (statsmodels)."""
    df = acorr_ljungbox(np.asarray(x, dtype=float), lags=list(lags), return_df=True)
    return {
        int(lag): (float(df.loc[lag, "lb_stat"]), float(df.loc[lag, "lb_pvalue"])) for lag in lags
    }


def sign_bias_test(z: np.ndarray) -> dict[str, float]:
    """Engle–Ng (1993): regress z_t^2 on 1, S-_{t-1}, S-_{t-1} z_{t-1}, S+_{t-1} z_{t-1}.

    Returns the t-statistics of the sign bias, negative size bias and positive size bias terms
    and the joint LM test n R^2 ~ chi2(3) with its p-value. A significant result means the
    variance model misses an asymmetry of the news impact.
    """
    z = np.asarray(z, dtype=float)
    y = z[1:] ** 2
    lag = z[:-1]
    neg = (lag < 0).astype(float)
    X = sm.add_constant(np.column_stack([neg, neg * lag, (1.0 - neg) * lag]))
    res = sm.OLS(y, X).fit()
    lm = float(len(y) * res.rsquared)
    return {
        "sign_bias_t": float(res.tvalues[1]),
        "negative_size_bias_t": float(res.tvalues[2]),
        "positive_size_bias_t": float(res.tvalues[3]),
        "joint_lm": lm,
        "joint_p": float(stats.chi2.sf(lm, 3)),
    }


def residual_tests(std_resid: Any) -> dict[str, Any]:
    """Ljung–Box on z and z^2, ARCH-LM, sign bias and Jarque–Bera on standardised residuals."""
    z = np.asarray(pd.Series(std_resid).dropna(), dtype=float)
    out: dict[str, Any] = {"n_resid": len(z)}
    for name, x in (("z", z), ("z2", z**2)):
        for lag, (stat, p) in ljung_box(x).items():
            out[f"lb_{name}_{lag}_stat"] = stat
            out[f"lb_{name}_{lag}_p"] = p
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # statsmodels' tuple-vs-object notice
        lm, lm_p, _, _ = het_arch(z, nlags=ARCH_LM_LAGS)
    out[f"arch_lm_{ARCH_LM_LAGS}_stat"] = float(lm)
    out[f"arch_lm_{ARCH_LM_LAGS}_p"] = float(lm_p)
    out.update({f"engle_ng_{k}": v for k, v in sign_bias_test(z).items()})
    jb, jb_p, skew, kurt = jarque_bera(z)
    out.update(
        {
            "jarque_bera_stat": float(jb),
            "jarque_bera_p": float(jb_p),
            "resid_skew": float(skew),
            "resid_kurtosis": float(kurt),
        }
    )
    return out


def egarch_unconditional_variance(params: dict[str, float], dist: str) -> float:
    """E[s2] of an EGARCH(1,1,1) with normal innovations (Nelson's product, closed-form factors).

    E[exp(w g(z))] = exp(-w alpha sqrt(2/pi)) [exp(w^2 (alpha+gamma)^2 / 2) Phi(w (alpha+gamma))
    + exp(w^2 (alpha-gamma)^2 / 2) Phi(w (alpha-gamma))]; infinite for fat-tailed laws.
    """
    if dist != "normal":
        return math.inf
    alpha, gamma, beta = params["alpha"], params.get("gamma", 0.0), params["beta"]
    if not (abs(beta) < 1.0):
        return math.inf
    log_m = params["omega"] / (1.0 - beta)
    w = 1.0
    for _ in range(100_000):
        if abs(w) < 1e-14:
            break
        up, down = w * (alpha + gamma), w * (alpha - gamma)
        terms = [0.5 * up * up + stats.norm.logcdf(up), 0.5 * down * down + stats.norm.logcdf(down)]
        log_m += -w * alpha * SQRT_2_PI + float(np.logaddexp(*terms))
        w *= beta
    return float(math.exp(log_m)) if log_m < 700 else math.inf


def egarch_log_variance_mean(params: dict[str, float], dist: str) -> float:
    """E[ln s2] = (omega + alpha (E|z| - sqrt(2/pi))) / (1 - beta) (E z = 0 for every law)."""
    law = innovation_distribution(dist)
    abs_mean = -2.0 * float(law.partial_moment(1, 0.0, dist_parameters(params, dist)))
    num = params["omega"] + params["alpha"] * (abs_mean - SQRT_2_PI)
    return num / (1.0 - params["beta"]) if abs(params["beta"]) < 1.0 else math.inf


def unconditional_variance(family: str, params: dict[str, float], dist: str) -> float:
    """Unconditional daily variance (percent^2); inf when the process is not stationary."""
    if family == "egarch":
        return egarch_unconditional_variance(params, dist)
    pers = persistence_of(family, params, dist)
    return params["omega"] / (1.0 - pers) if pers < 1.0 else math.inf


def persistence_of(family: str, params: dict[str, float], dist: str) -> float:
    """Persistence for a family name and law (see ``garch.persistence``)."""
    from riskmodel.fit.garch import ModelSpec

    return persistence(ModelSpec("constant", family, dist), params)


def model_quantities(family: str, params: dict[str, float], dist: str) -> dict[str, Any]:
    """Persistence, half-life (days) and unconditional annualised volatility (percent)."""
    pers = persistence_of(family, params, dist)
    var = unconditional_variance(family, params, dist)
    out: dict[str, Any] = {
        "persistence": pers,
        "half_life_days": half_life(pers),
        "unconditional_variance": var,
        "annualised_vol_pct": math.sqrt(TRADING_DAYS * var) if math.isfinite(var) else math.inf,
    }
    if family == "egarch":
        if dist == "normal":
            out["annualised_vol_method"] = "sqrt(252 E[s2]), Nelson's product formula"
        else:
            m = egarch_log_variance_mean(params, dist)
            out["annualised_vol_pct"] = (
                math.sqrt(TRADING_DAYS * math.exp(m)) if m < 700 else math.inf
            )
            out["annualised_vol_method"] = (
                "sqrt(252 exp(E[ln s2])): E[s2] is infinite for EGARCH with fat-tailed "
                "innovations (Nelson 1991), so the volatility at the mean log-variance is given"
            )
    return out


def _family(fit: Any) -> str:
    """Contract-2 family of a fit (``.family`` or, for regime results, ``.model["family"]``)."""
    return str(getattr(fit, "family", None) or getattr(fit, "model", {}).get("family", "garch"))


def diagnose(fit: Any) -> dict[str, Any]:
    """All diagnostics of a fitted model (``GarchFit`` or a regime result) as a flat dict."""
    out = residual_tests(fit.std_resid)
    family = _family(fit)
    if family in ("garch", "gjr", "egarch"):
        out.update(model_quantities(family, fit.params, fit.spec.dist))
    else:
        out.update(regime_quantities(fit))
    rets = getattr(fit, "returns", None)
    out["sample_annualised_vol_pct"] = (
        float(np.std(np.asarray(rets, dtype=float), ddof=1) * math.sqrt(TRADING_DAYS))
        if rets is not None
        else None
    )
    return out


def regime_quantities(fit: Any) -> dict[str, Any]:
    """Persistence / volatility figures for regime models (ergodic mixture where defined)."""
    p = fit.params
    k = int(getattr(fit, "k_regimes", 0) or sum(1 for key in p if key.startswith("p_")) ** 0.5)
    P = np.array([[p[f"p_{i}{j}"] for j in range(k)] for i in range(k)])
    evals, evecs = np.linalg.eig(P.T)
    pi = np.real(evecs[:, np.argmin(np.abs(evals - 1.0))])
    pi = pi / pi.sum()
    out: dict[str, Any] = {"ergodic_probs": pi.tolist()}
    out["expected_durations_days"] = [
        (1.0 / (1.0 - P[i, i]) if P[i, i] < 1 else math.inf) for i in range(k)
    ]
    if _family(fit) == "ms":
        mu = np.array([p[f"mu_{i}"] for i in range(k)])
        s2 = np.array([p[f"sigma2_{i}"] for i in range(k)])
        var = float(pi @ (s2 + mu**2) - (pi @ mu) ** 2)
        # regime persistence: the second-largest eigenvalue of P drives the decay of shocks
        pers = float(sorted(np.abs(evals))[-2]) if k > 1 else 0.0
    else:
        pers_k = np.array([p[f"alpha_{i}"] + p[f"beta_{i}"] for i in range(k)])
        s2_k = np.array(
            [p[f"omega_{i}"] / (1 - pers_k[i]) if pers_k[i] < 1 else math.inf for i in range(k)]
        )
        var = float(pi @ s2_k)
        pers = float(pi @ pers_k)
        out["regime_persistence"] = pers_k.tolist()
        out["annualised_vol_method"] = "ergodic mixture of per-regime GARCH unconditional variances"
    out.update(
        {
            "persistence": pers,
            "half_life_days": half_life(pers),
            "unconditional_variance": var,
            "annualised_vol_pct": math.sqrt(TRADING_DAYS * var) if math.isfinite(var) else math.inf,
        }
    )
    return out
