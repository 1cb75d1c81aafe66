"""Competitive storage of permits in one market: the precautionary-banking oracle.

One market over a phase of T years, linear abatement a = c p, carry r, no borrowing, banks worth
nothing after the phase (year-end bank >= 0, terminal bank 0). Required abatement
n_t = n̄_t + z_t with z a Markov chain (Rouwenhorst, so E[z'|z] = ρ z exactly). State at the start
of year t: availability W = B_t - n_t and z_t. Competitive storage (Williams & Wright 1991;
Deaton & Laroque 1992):

    p = max{ -W / c , q_t(B', z) },   q_t(b, z) = E[P_{t+1}(b - n_{t+1}, z') | z] / (1+r),
    B' = W + c p >= 0,                 P_{T-1}(W) = max(0, -W) / c.

Solved by time iteration backwards with endogenous grid points (Carroll 2006): for each
end-of-year bank b, W = b - c q_t(b, z). With linear abatement and a discrete shock every P_t is
piecewise linear in W, and taking as b-grid all kinks of q_t (the next year's kinks shifted by
each n_{t+1}) makes the solution exact up to rounding: the Euler residuals are ~1e-12 anywhere,
not only at grid points. The grid grows by the number of shock nodes a year, so keep T and the
node count small (T <= 8, <= 5 nodes).

The rolling rule (``hotelling.price_map`` on expected n, to the phase end) is the same model
under certainty equivalence; the gap between the two is precautionary banking.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from riskmodel.banking.hotelling import price_map


def rouwenhorst(nz: int, rho: float, sigma: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and transition matrix of an AR(1) z' = ρ z + σ ε (Rouwenhorst 1995)."""
    p = (1.0 + rho) / 2.0
    mat = np.array([[1.0]])
    for k in range(2, nz + 1):
        big = np.zeros((k, k))
        big[:-1, :-1] += p * mat
        big[:-1, 1:] += (1 - p) * mat
        big[1:, :-1] += (1 - p) * mat
        big[1:, 1:] += p * mat
        big[1:-1] /= 2.0
        mat = big
    sd = sigma / np.sqrt(1.0 - rho**2) if rho < 1 else sigma
    psi = np.sqrt(nz - 1.0) * sd
    return np.linspace(-psi, psi, nz), mat


@dataclass
class StorageSolution:
    """P_t(W, z_i) as piecewise-linear pieces: grid w[t][i] (ascending), prices p[t][i]."""

    w: list[list[np.ndarray]]
    p: list[list[np.ndarray]]
    z: np.ndarray
    trans: np.ndarray
    nbar: np.ndarray
    c: float
    r: float

    def price(self, t: int, i: int, avail: np.ndarray | float) -> np.ndarray:
        """P_t(W, z_i): the corner -W/c left of the grid, 0 right of it, linear in between."""
        wg, pg = self.w[t][i], self.p[t][i]
        av = np.asarray(avail, dtype=float)
        return np.where(av < wg[0], -av / self.c, np.interp(av, wg, pg))

    def expected_next(self, t: int, i: int, b: np.ndarray | float) -> np.ndarray:
        """q_t(b, z_i): the discounted expected price next year given end-of-year bank b."""
        b = np.asarray(b, dtype=float)
        tot = np.zeros_like(b)
        for j, zj in enumerate(self.z):
            if self.trans[i, j] > 0:
                tot = tot + self.trans[i, j] * self.price(t + 1, j, b - self.nbar[t + 1] - zj)
        return tot / (1.0 + self.r)

    def euler_residuals(self, t: int, i: int, avail: np.ndarray) -> np.ndarray:
        """Euler residual at the states (W, z_i), in currency units.

        p - q_t(B') where the bank is carried (B' > 0); where it is exhausted (B' = 0 up to
        rounding) only p >= q_t(0) is required, so the residual is min(p - q, 0).
        """
        avail = np.asarray(avail, dtype=float)
        p = self.price(t, i, avail)
        bnext = avail + self.c * p
        q = self.expected_next(t, i, bnext)
        carried = bnext > 1e-10 * (1.0 + np.abs(avail))
        return np.where(carried, p - q, np.minimum(p - q, 0.0))


def solve_storage(
    nbar: np.ndarray, c: float, r: float, rho: float, sigma: float, nz: int = 5
) -> StorageSolution:
    """Solve the phase backwards; ``nbar`` is the expected required abatement per year (tonnes)."""
    nbar = np.asarray(nbar, dtype=float)
    t_n = len(nbar)
    z, trans = rouwenhorst(nz, rho, sigma)
    w: list[list[np.ndarray]] = [[] for _ in range(t_n)]
    p: list[list[np.ndarray]] = [[] for _ in range(t_n)]
    w[-1] = [np.array([0.0]) for _ in range(nz)]
    p[-1] = [np.array([0.0]) for _ in range(nz)]
    sol = StorageSolution(w, p, z, trans, nbar, c, r)
    for t in range(t_n - 2, -1, -1):
        kinks = [w[t + 1][j] + nbar[t + 1] + z[j] for j in range(nz)]
        b = np.unique(np.concatenate([np.zeros(1), *kinks]))
        b = b[b >= 0.0]
        for i in range(nz):
            q = sol.expected_next(t, i, b)
            w[t].append(b - c * q)
            p[t].append(q)
    return sol


def simulate_both(
    sol: StorageSolution, bank0: float, paths: int, seed: int
) -> dict[str, np.ndarray]:
    """Oracle and certainty-equivalent rolling rule on the same shock paths.

    Returns prices and start-of-year banks, shape (paths, T) and (paths, T+1), for each rule.
    """
    rng = np.random.default_rng(seed)
    t_n, nz = len(sol.nbar), len(sol.z)
    # stationary start: draw z_0 from the chain's long-run distribution
    vals, vecs = np.linalg.eig(sol.trans.T)
    stat = np.real(vecs[:, np.argmin(np.abs(vals - 1.0))])
    stat = stat / stat.sum()
    idx = np.empty((paths, t_n), dtype=int)
    idx[:, 0] = rng.choice(nz, size=paths, p=stat)
    cum = np.cumsum(sol.trans, axis=1)
    for t in range(1, t_n):
        u = rng.random(paths)
        idx[:, t] = np.minimum((u[:, None] > cum[idx[:, t - 1]]).sum(axis=1), nz - 1)
    powers = [np.linalg.matrix_power(sol.trans, j) @ sol.z for j in range(t_n)]
    out = {k: np.zeros((paths, t_n)) for k in ("p_oracle", "p_rolling")}
    out |= {k: np.zeros((paths, t_n + 1)) for k in ("b_oracle", "b_rolling")}
    out["b_oracle"][:, 0] = bank0
    out["b_rolling"][:, 0] = bank0
    zero = np.zeros(t_n)
    for s in range(paths):
        for t in range(t_n):
            i = idx[s, t]
            n_t = sol.nbar[t] + sol.z[i]
            bo = out["b_oracle"][s, t]
            po = float(sol.price(t, i, bo - n_t))
            out["p_oracle"][s, t] = po
            out["b_oracle"][s, t + 1] = bo - n_t + sol.c * po
            br = out["b_rolling"][s, t]
            nexp = sol.nbar[t:] + np.array([powers[j][i] for j in range(t_n - t)])
            pr, _ = price_map(br, nexp, zero[: t_n - t], sol.c, sol.r)
            out["p_rolling"][s, t] = pr
            out["b_rolling"][s, t + 1] = br - n_t + sol.c * pr
    return out
