"""How volatile is the latent price of a market with a daily price limit? (issue #11, Fujian)

The engine's limit model (docs/PRICE_LIMITS.md) moves the traded price towards a latent price by
at most the limit a traded day, the excess carrying over. The committed calibrations fit the
*observed* returns and scale the latent variance to match their mean square; the estimator the
model asks for is the censored likelihood with the carried gap as a hidden state. This study
computes it for the simplest latent process, i.i.d. normal daily log returns r* ~ N(mu, s^2) on
traded days (no-trade days move nothing), on the traded days of the window the limit detector
read (``price_limit.window``: the last 730 days of the fitted sample, or all of it):

* after a day that closed inside the limit the gap is 0 (the traded price caught up);
* on a day at the limit the gap g' = g + r* - L is positive (negative at the lower limit), its
  density carried on a grid (step 0.5 percentage points, up to 250);
* a day inside the limit after a gap g has density f(r - g), integrated over g.

It reports mu, s, the log-likelihood, and the share of latent days beyond the market's daily
guard (its calibration's, 25% by default), P(|r*| > guard). Run:
``.venv/bin/python benchmarks/study_limit_latent.py [MARKET ...]`` (default fujian) -> prints
a markdown table and writes ``benchmarks/results/limit_latent.md``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.stats import norm

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache"))

from riskmodel.data.series import load_series  # noqa: E402
from riskmodel.fit.calibration import load_calibration  # noqa: E402
from riskmodel.io import atomic_write_text  # noqa: E402
from riskmodel.sim.thin_trading import simulate_market  # noqa: E402

GRID_STEP = 0.5  # gap grid, percentage points of log price
GRID_MAX = 250.0
TOL = 0.006  # a simple return within 0.6 points of +-L is a limit day (the detector's band)
GUARD = 25.0


def day_types(returns: np.ndarray, limit: float) -> np.ndarray:
    """+1 / -1 at the upper / lower limit, 0 inside (percent log returns of traded days)."""
    s = np.expm1(returns / 100.0)
    return np.where(np.abs(s - limit) < TOL, 1, np.where(np.abs(s + limit) < TOL, -1, 0))


def loglik(mu: float, sd: float, r: np.ndarray, typ: np.ndarray, up: float, dn: float) -> float:
    """Censored log-likelihood of the traded days (module docstring)."""
    g = np.arange(GRID_STEP / 2, GRID_MAX, GRID_STEP)
    # the gap's law: a point mass w0 at 0 and a density on +g (up) or -g (down)
    w0, dens, side = 1.0, np.zeros_like(g), 0
    ll = 0.0
    kern_up = norm.pdf(g[:, None] + up - g[None, :], mu, sd) * GRID_STEP  # g' from g, same side
    kern_dn = norm.pdf(-g[:, None] + dn + g[None, :], mu, sd) * GRID_STEP
    for x, t in zip(r, typ, strict=True):
        gv = side * g  # current gap values where dens lives
        if t == 0:
            lik = w0 * norm.pdf(x, mu, sd) + float(dens @ norm.pdf(x - gv, mu, sd)) * GRID_STEP
            w0, dens, side = 1.0, np.zeros_like(g), 0
        else:
            lim = up if t > 0 else dn
            gp = t * g
            new = w0 * norm.pdf(gp + lim, mu, sd)
            if side == t:  # carried further the same way
                new = new + (kern_up if t > 0 else kern_dn) @ dens
            elif side == -t:  # from the other side of the band
                new = new + norm.pdf(gp[:, None] + lim - gv[None, :], mu, sd) @ dens * GRID_STEP
            lik = float(new.sum()) * GRID_STEP
            w0, dens, side = 0.0, new / max(lik, 1e-300), t
        ll += math.log(max(lik, 1e-300))
    return ll


def mle(x: np.ndarray, typ: np.ndarray, up: float, dn: float) -> tuple[float, float, float]:
    """(mu, sd, log-likelihood) maximising :func:`loglik`."""
    ls = math.log(max(float(np.std(x)), 1.0))
    res = minimize(lambda th: -loglik(th[0], math.exp(th[1]), x, typ, up, dn), [0.0, ls],
                   method="Nelder-Mead",
                   options={"xatol": 1e-4, "fatol": 1e-4, "maxiter": 600,
                            "initial_simplex": [[0.0, ls], [0.5, ls], [0.0, ls + 0.3]]})
    return float(res.x[0]), math.exp(float(res.x[1])), -float(res.fun)


def check(sd: float = 10.0, limit: float = 0.1, n: int = 2000) -> dict[str, float]:
    """Recovery on the engine's own paths (``thin_trading.simulate_market`` with the limit: a
    constant-variance normal latent price, martingale, the traded price catching up by at most
    the limit a day): the estimator's sd against the true one."""
    up, dn = 100.0 * math.log1p(limit), 100.0 * math.log1p(-limit)
    cal = {"model": {"family": "garch", "mean": "constant", "dist": "normal", "k_regimes": 1},
           "params": {"mu": 0.0, "omega": sd * sd, "alpha": 0.0, "beta": 0.0},
           "state": {"last_variance": sd * sd, "last_resid": 0.0, "last_return": 0.0},
           "price_limit": {"limit": limit, "up_pct": up, "down_pct": dn}}
    x = simulate_market(cal, days=n, paths=1, seed=11, price_limits=True)["returns"][0]
    mu, s, _ = mle(x, day_types(x, limit), up, dn)
    return {"true_sd": sd, "sd": s, "mu": mu, "observed_sd": float(np.std(x)),
            "limit_share": float(np.mean(day_types(x, limit) != 0))}


def fit(market: str) -> dict[str, float]:
    cal = load_calibration(market).to_dict()
    pl = cal.get("price_limit")
    if not pl:
        raise SystemExit(f"{market}: no price limit in its calibration")
    r = load_series(market).returns.loc[cal["sample"]["start"]: cal["sample"]["end"]]
    if str(pl.get("window", "")).startswith("last 730"):
        r = r.loc[r.index > r.index[-1] - np.timedelta64(730, "D")]
    guard = float((cal.get("guard") or {}).get("max_daily_return") or GUARD)
    x = r.to_numpy()
    x = x[x != 0.0]
    typ = day_types(x, float(pl["limit"]))
    up, dn = float(pl["up_pct"]), float(pl["down_pct"])
    mu, sd, ll = mle(x, typ, up, dn)
    return {"n": len(x), "limit_share": float(np.mean(typ != 0)), "mu": mu, "sd": sd,
            "loglik": ll, "guard": guard,
            "guard_share": float(norm.sf(guard, mu, sd) + norm.cdf(-guard, mu, sd)),
            "observed_sd": float(np.std(x))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("markets", nargs="*", default=["fujian"])
    a = ap.parse_args()
    rows = ["| market | traded days | at the limit | observed sd (%) | latent mu (%) "
            "| latent sd (%) | log-likelihood | guard (%) | latent days beyond it |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    c = check()
    head = (f"Recovery on the engine's paths (latent sd {c['true_sd']:.0f}%, martingale drift "
            f"-sd^2/2, 10% limit, 2,000 days, "
            f"{c['limit_share']:.0%} at the limit, observed sd {c['observed_sd']:.2f}%): "
            f"estimated sd {c['sd']:.2f}%, mu {c['mu']:.2f}%.")
    print(head, flush=True)
    for m in a.markets:
        f = fit(m)
        rows.append(f"| {m} | {f['n']} | {f['limit_share']:.1%} | {f['observed_sd']:.2f} | "
                    f"{f['mu']:.3f} | {f['sd']:.2f} | {f['loglik']:.1f} | {f['guard']:.1f} | "
                    f"{f['guard_share']:.1e} |")
        print(rows[-1], flush=True)
    text = ("# The latent price of limit markets (censored likelihood)\n\n"
            "`benchmarks/study_limit_latent.py`: i.i.d. normal latent daily log returns on traded "
            "days, the traded price catching up by at most the limit a day (docs/PRICE_LIMITS.md), "
            "fitted by the censored likelihood with the carried gap as a hidden state on the "
            "traded days of the limit detector's window (the last 730 days of the fitted sample)."
            "\n\n" + head + "\n\n" + "\n".join(rows) + "\n")
    atomic_write_text(ROOT / "benchmarks" / "results" / "limit_latent.md", text)


if __name__ == "__main__":
    main()
