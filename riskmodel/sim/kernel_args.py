"""The kernel's inputs and outputs as named structures that mirror the model.

``kernel.run_paths`` takes eight of them (numba passes named tuples of arrays and scalars as
one argument each, at no cost: their fields are plain local arrays in the compiled kernel):

- :class:`Chunk`: which paths and how long (path count and index, years, days per year);
- :class:`Processes`: each market's fitted price process (parameters, regimes, innovation and
  compensator tables);
- :class:`Dependence`: the copula of the daily innovations and the output indices;
- :class:`Designs`: caps and supply of the observed and counterfactual designs, stabilisation
  and banking parameters;
- :class:`Links`: the link solver's network (ends, parameters, dynamic quota shares, start);
- :class:`Events`: the regulatory event chains;
- :class:`Streams`: the chunk's random streams;
- :class:`Accumulators`: the chunk's statistics sums, histograms and kept paths (written);
- :class:`Workspace`: the link solver's scratch arrays.

Arrays are indexed by market ``i`` (``N`` markets, scenario order), jurisdiction ``j``
(``J`` output indices), link ``q`` (``NL`` links), variant ``v`` (``layout.VARIANTS``: 0
autarky, 1 linked, 2 linked with events), compliance year ``y`` (``Y`` years; index ``Y`` of a
statistics axis is the horizon) and day ``t``. Column layouts are the constants of
:mod:`riskmodel.sim.layout`. :func:`kernel_inputs` builds them from a resolved scenario and
:func:`accumulators` allocates the outputs of a chunk.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from riskmodel.sim import layout as L
from riskmodel.sim.resolve import Resolved
from riskmodel.sim.rng import ZT

#: Per-path annual arrays (``simulation.keep_annual``; first axis of ``Accumulators.annual``).
#: bank (end of year), noncompliance and reserve (sold at the ceiling minus withheld at the
#: floor), delink_transfer (banked permits moved at a delink) and uncovered (emissions an
#: exemption takes out of the cap) in Mt of a banking market; price_observed: the fitted price
#: on the compliance date.
ANNUAL_NAMES = (
    "price",
    "bau",
    "supply",
    "emissions",
    "flow",
    "output",
    "price_autarky",
    "bank",
    "noncompliance",
    "reserve",
    "price_observed",
    "delink_transfer",
    "uncovered",
)


class Chunk(NamedTuple):
    """Which paths the kernel simulates, over how many days."""

    #: Paths of this chunk.
    n_paths: int
    #: Global index of the chunk's first path (paths below ``Accumulators.keep_paths`` are kept).
    first_path: int
    #: Compliance years Y of the horizon.
    years: int
    #: Trading days per year (the last one is the compliance date).
    dpy: int
    #: Variants simulated: 3 with regulatory events, else 2 (linked_events = linked).
    n_variants: int


class Processes(NamedTuple):
    """Each market's fitted price process (docs/ENGINE.md "Prices"; ``price_kernels``)."""

    #: [N, layout.NPF] float parameters: GARCH/EGARCH coefficients (``MU`` .. ``BETA``), the
    #: starting state (``H0`` .. ``LOGP0``), the bridge (``C`` slope Mt per currency unit,
    #: ``ETA``, ``FX`` numeraire per currency unit, ``BAU`` Mt, ``B_OBS``/``B_CF`` cap indexing
    #: degree), collars (``FLOOR`` .. ``COLLAR_K``, own currency / Mt), table grids, thin trading.
    param: np.ndarray
    #: [N, layout.NPI] integer parameters: family (``layout.F_*``), AR order, regimes K,
    #: innovation-table mode, jurisdiction (row of the output index), event/MSR/K-ETS switches.
    iparam: np.ndarray
    #: [N, KMAX] per-regime drift (percent log return per day) of the regime-switching families.
    regime_mu: np.ndarray
    #: [N, KMAX] per-regime GARCH omega (or the variance of a plain Markov-switching regime).
    regime_omega: np.ndarray
    #: [N, KMAX] per-regime GARCH alpha.
    regime_alpha: np.ndarray
    #: [N, KMAX] per-regime GARCH beta.
    regime_beta: np.ndarray
    #: [N, KMAX, KMAX] cumulative transition probabilities (row: from-regime).
    regime_cum: np.ndarray
    #: [N, KMAX] starting conditional variance per regime.
    regime_h0: np.ndarray
    #: [N, KMAX] cumulative starting regime probabilities.
    regime_p0cum: np.ndarray
    #: [N, TABLE_SIZE] standardised innovation table (copula uniform -> innovation; grid
    #: ``param[:, TAB_LO]``, ``TAB_STEP``; mode ``iparam[:, TAB_MODE]``).
    innov_table: np.ndarray
    #: [N, COMP_GRID] martingale compensator kappa(h) on a grid of log variance
    #: (``param[:, CMP_LO]``, ``CMP_STEP``; percent units).
    compensator: np.ndarray


class Dependence(NamedTuple):
    """The joint law of the day's innovations: N price innovations then J output shocks."""

    #: True: t copula (normals scaled by a shared chi-square mixing variable), else Gaussian.
    copula_t: bool
    #: Degrees of freedom of the t copula (0 when Gaussian).
    copula_nu: float
    #: [N + J, N + J] lower Cholesky factor of the joint correlation (prices, then outputs).
    chol: np.ndarray
    #: [J] daily drift of each log output index (annual drift / dpy).
    output_drift: np.ndarray
    #: [J] daily volatility of each log output index (annual / sqrt(dpy)).
    output_sd: np.ndarray
    #: [J] daily normalisation (mu + sigma^2 / 2) / dpy: the index exp(logY - t norm) has mean 1.
    output_norm: np.ndarray


class Designs(NamedTuple):
    """Caps and supply of the observed and counterfactual designs (MODEL.md §2-§3), the
    stabilisation mechanisms and the banking parameters."""

    #: [N, Y] observed design's supply per year (Mt, before output indexing).
    cap_obs: np.ndarray
    #: [N, Y] counterfactual (scenario) design's supply per year (Mt, before indexing).
    cap_cf: np.ndarray
    #: [N] permit units: tonnes of the link's common unit per own permit (1.0 = same unit).
    unit_conv: np.ndarray
    #: [N, layout.NST] EU MSR and K-ETS market-stabilisation parameters (``MSR_*``, ``K_*``).
    stab: np.ndarray
    #: [N, layout.bk_offsets(...)[-1]] banking parameters (``BK_*`` then per-year blocks;
    #: zero rows: no market banks, the static bridge); read by ``banking_step``.
    bank: np.ndarray


class Links(NamedTuple):
    """The link network as the link solver (``riskmodel.linking``) reads it."""

    #: [NL, 2] market indices (a, b) of each link.
    ends: np.ndarray
    #: [NL, 8] link parameters (``linking.L_*``): quota caps (Mt, inf = none) and fees, normal
    #: state in columns 0-3, restricted state in 4-7.
    param: np.ndarray
    #: [NL, layout.NLF] quota as a share of supply (``Q_SHARE``, ``RQ_SHARE``; < 0: fixed or
    #: none) and the first linked day (``START_DAY``).
    dynamic: np.ndarray


class Events(NamedTuple):
    """Regulatory events (MODEL.md §5): daily Markov chains, drawn from their own stream."""

    #: True when the scenario has events (the linked_events variant differs from linked).
    on: bool
    #: [NL, 3, 3] cumulative daily transitions of each link's state (0 normal, 1 restricted,
    #: 2 suspended).
    link_chain: np.ndarray
    #: [N, 2, 2] cumulative daily transitions of each market's exemption (0 off, 1 on).
    exemption_chain: np.ndarray
    #: [N, 2, 2] cumulative daily transitions of each market's intervention (0 off, 1 on).
    intervention_chain: np.ndarray


class Streams(NamedTuple):
    """The chunk's xoshiro256++ states (``riskmodel.sim.rng``; advanced in place)."""

    #: Prices, outputs and regime draws.
    main: np.ndarray
    #: Event chains.
    events: np.ndarray
    #: K-ETS discretion.
    kets: np.ndarray
    #: Ziggurat table of the normal draws (``rng.ZT``).
    zt: np.ndarray


class Accumulators(NamedTuple):
    """What the kernel adds to (``stats.ChunkStats``): sums over paths of every statistic,
    histograms, kept paths and annual arrays."""

    #: [3, N + 1, Y + 1, NSTAT] sums of each statistic (row N: all markets; year Y: horizon).
    s1: np.ndarray
    #: Same shape: sums of squares.
    s2: np.ndarray
    #: [N + 1, Y + 1, NSTAT] cross sums linked x linked_events.
    s12: np.ndarray
    #: [3, N, Y + 1, NBINS + 2] compliance-price histograms (log price; under/overflow bins).
    price_hist: np.ndarray
    #: [3, N + 1, Y + 1, NBINS + 2] emissions histograms (Mt).
    emis_hist: np.ndarray
    #: [N] lower edge of the log-price histogram.
    price_lo: np.ndarray
    #: [N] bin width of the log-price histogram.
    price_step: np.ndarray
    #: [N + 1] lower edge of the annual emissions histogram (Mt; x Y for the horizon).
    emis_lo: np.ndarray
    #: [N + 1] bin width of the annual emissions histogram (Mt; x Y for the horizon).
    emis_step: np.ndarray
    #: Global path index below which daily paths are kept.
    keep_paths: int
    #: [3, kept paths of the chunk, N, T] daily prices (own currency).
    keep_price: np.ndarray
    #: [kept paths, N, T] daily BAU emissions (Mt per year, at an annual rate).
    keep_bau: np.ndarray
    #: [len(ANNUAL_NAMES), 3, n_paths or 0, N, Y] per-path annual arrays.
    annual: np.ndarray
    #: Whether ``annual`` is filled.
    annual_on: bool


class Workspace(NamedTuple):
    """The link solver's scratch (``linking.workspace``), reused by every call."""

    fwork: np.ndarray
    iwork: np.ndarray


def kernel_inputs(
    rs: Resolved, s_main: np.ndarray, s_ev: np.ndarray, s_kets: np.ndarray
) -> tuple[Processes, Dependence, Designs, Links, Events, Streams]:
    """The kernel's read-only inputs of a resolved scenario and the chunk's three streams."""
    proc = Processes(
        rs.mp, rs.mi, rs.rmu, rs.rom, rs.ral, rs.rbe, rs.rcum, rs.rh0, rs.rp0cum, rs.tab, rs.comp
    )
    dep = Dependence(rs.copula_t, rs.cnu, rs.chol, rs.jdrift, rs.jsd, rs.jcorr)
    des = Designs(rs.qobs, rs.qcf, rs.s_conv, rs.st, rs.bk)
    links = Links(rs.ends, rs.lpar, rs.lk_f)
    events = Events(rs.has_events, rs.ev_link, rs.ev_ex, rs.ev_int)
    streams = Streams(s_main, s_ev, s_kets, ZT)
    return proc, dep, des, links, events, streams


def accumulators(
    rs: Resolved, n_paths: int, n_keep: int, keep_paths: int, annual_on: bool
) -> Accumulators:
    """Zeroed outputs of a chunk of ``n_paths`` paths whose first ``n_keep`` are kept."""
    n, Y = rs.n, rs.years
    T = Y * rs.dpy
    s1 = np.zeros((3, n + 1, Y + 1, L.NSTAT))
    return Accumulators(
        s1=s1,
        s2=np.zeros_like(s1),
        s12=np.zeros((n + 1, Y + 1, L.NSTAT)),
        price_hist=np.zeros((3, n, Y + 1, L.NBINS + 2), dtype=np.int64),
        emis_hist=np.zeros((3, n + 1, Y + 1, L.NBINS + 2), dtype=np.int64),
        price_lo=rs.plo,
        price_step=rs.pstep,
        emis_lo=rs.elo,
        emis_step=rs.estep,
        keep_paths=keep_paths,
        keep_price=np.zeros((3, n_keep, n, T)),
        keep_bau=np.zeros((n_keep, n, T)),
        annual=np.zeros((len(ANNUAL_NAMES), 3, n_paths if annual_on else 0, n, Y)),
        annual_on=annual_on,
    )
