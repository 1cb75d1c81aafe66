"""Pictures of a calibration: conditional volatility over prices, regime probabilities, QQ plot.

Drawn with matplotlib's object API on the Agg canvas (no pyplot global state, no display) and
written atomically as PNG next to the calibration: ``<market>_volatility.png``,
``<market>_regimes.png`` (regime models only) and ``<market>_qq.png``.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from riskmodel.fit.garch import dist_parameters, innovation_distribution
from riskmodel.io import atomic_write_bytes

TRADING_DAYS = 252
DPI = 100


def _save(fig: Figure, path: str | Path) -> Path:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, bbox_inches="tight")
    return atomic_write_bytes(path, buf.getvalue())


def volatility_figure(
    prices: pd.Series | None, conditional_volatility: pd.Series, title: str
) -> Figure:
    """Prices (top) and annualised conditional volatility sqrt(252) s_t in percent (bottom)."""
    fig = Figure(figsize=(10, 6))
    axes = fig.subplots(2, 1, sharex=True) if prices is not None else [None, fig.subplots()]
    if prices is not None:
        axes[0].plot(prices.index, prices.to_numpy(), lw=0.8, color="black")
        axes[0].set_ylabel("price")
        axes[0].set_title(title)
    vol = conditional_volatility * math.sqrt(TRADING_DAYS)
    axes[1].plot(vol.index, vol.to_numpy(), lw=0.8, color="tab:red")
    axes[1].set_ylabel("annualised cond. vol (%)")
    if prices is None:
        axes[1].set_title(title)
    fig.align_ylabels()
    return fig


def regimes_figure(smoothed: pd.DataFrame, title: str) -> Figure:
    """Smoothed regime probabilities P(s_t = k | F_T), stacked."""
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    ax.stackplot(
        smoothed.index,
        *[smoothed[c].to_numpy() for c in smoothed.columns],
        labels=list(smoothed.columns),
        alpha=0.8,
    )
    ax.set_ylim(0, 1)
    ax.set_ylabel("smoothed probability")
    ax.set_title(title)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def qq_figure(std_resid: pd.Series, dist: str, params: dict[str, float], title: str) -> Figure:
    """Sorted standardised residuals against the fitted innovation law's quantiles."""
    z = np.sort(np.asarray(pd.Series(std_resid).dropna(), dtype=float))
    n = z.size
    u = (np.arange(1, n + 1) - 0.5) / n
    theo = np.asarray(innovation_distribution(dist).ppf(u, dist_parameters(params, dist)))
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    ax.scatter(theo, z, s=4, color="tab:blue")
    lim = [min(theo.min(), z.min()), max(theo.max(), z.max())]
    ax.plot(lim, lim, color="black", lw=0.8)
    ax.set_xlabel(f"{dist} quantiles")
    ax.set_ylabel("standardised residuals")
    ax.set_title(title)
    return fig


def write_plots(
    calibration: Any,
    applied: Any,
    prices: pd.Series | None,
    directory: str | Path,
    *,
    regimes: pd.DataFrame | None = None,
    regimes_label: str | None = None,
) -> list[Path]:
    """Write the PNGs of a calibration (``applied`` = ``calibration.apply`` on its sample).

    Regime probabilities come from ``applied`` for regime calibrations; for a single-regime
    calibration ``regimes`` (e.g. a 2-state Markov-switching fit, ``regimes_label``) may be
    given to draw them for illustration.
    """
    directory = Path(directory)
    market = calibration.market
    name = f"{market}: {calibration.model_name}"
    paths = [
        _save(
            volatility_figure(prices, applied.conditional_volatility, name),
            directory / f"{market}_volatility.png",
        )
    ]
    probs = applied.smoothed_probs if applied.smoothed_probs is not None else regimes
    if probs is not None:
        title = name if applied.smoothed_probs is not None else f"{market}: {regimes_label}"
        paths.append(_save(regimes_figure(probs, title), directory / f"{market}_regimes.png"))
    paths.append(
        _save(
            qq_figure(applied.std_resid, calibration.dist, calibration.params, name),
            directory / f"{market}_qq.png",
        )
    )
    return paths
