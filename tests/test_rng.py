"""The kernels' random streams (riskmodel.sim.rng): generator, ziggurat normals, gammas."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from riskmodel.sim import rng as R

MASK = (1 << 64) - 1


def _xoshiro_reference(state: list[int], n: int) -> list[int]:
    """xoshiro256++ written from the authors' C reference (prng.di.unimi.it), in Python."""
    s = list(state)
    out = []

    def rotl(x: int, k: int) -> int:
        return ((x << k) | (x >> (64 - k))) & MASK

    for _ in range(n):
        out.append((rotl((s[0] + s[3]) & MASK, 23) + s[0]) & MASK)
        t = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
    return out


def test_generator_matches_the_reference_algorithm():
    st = R.state_from_seed(np.random.SeedSequence(2024))
    ref = _xoshiro_reference([int(v) for v in st], 50)
    u = np.empty(50)
    R.fill_uniform(st, u)
    np.testing.assert_array_equal(u, [(v >> 11) * 2.0**-53 for v in ref])


def test_streams_come_from_the_seed_sequence():
    ss = np.random.SeedSequence(7)
    a, b = (R.state_from_seed(c) for c in ss.spawn(2))
    np.testing.assert_array_equal(R.state_from_seed(np.random.SeedSequence(7).spawn(2)[0]), a)
    ua, ub = np.empty(20_000), np.empty(20_000)
    R.fill_uniform(a, ua)
    R.fill_uniform(b, ub)
    assert abs(np.corrcoef(ua, ub)[0, 1]) < 4 / math.sqrt(ua.size)
    assert ua.min() >= 0.0 and ua.max() < 1.0


def test_ziggurat_layers_have_equal_areas():
    """Each of the 255 rectangles x_i (f(x_{i-1}) - f(x_i)) and the base strip (rectangle plus
    tail) hold the same area v: the identity the ziggurat's exactness rests on."""
    ki, wi, fi = R.ZT
    x = wi * 2.0**52
    f = np.exp(-0.5 * x * x)
    np.testing.assert_allclose(fi, np.r_[1.0, f[1:]], rtol=1e-14)
    areas = x[1:] * (np.r_[1.0, f[1:-1]] - f[1:])
    r = x[255]
    base = r * f[255] + math.sqrt(math.pi / 2) * math.erfc(r / math.sqrt(2))
    np.testing.assert_allclose(areas, R._V, rtol=1e-9)
    assert base == pytest.approx(R._V, rel=1e-9)
    assert x[1] < 0.25 and ki[1] == 0.0  # the top layer always goes to its wedge test


@pytest.mark.parametrize("block", [True, False])
def test_normals_have_the_normal_law(block):
    n = 400_000
    st = R.state_from_seed(np.random.SeedSequence(11))
    if block:
        z = np.empty(n)
        R.fill_normal(st, R.ZT, z, np.empty(2 * n + 2, dtype=np.int64))
    else:
        z = np.array([R.normal(st, R.ZT) for _ in range(n // 8)])
        n = z.size
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 4 / math.sqrt(n)
    assert abs(z.var() - 1.0) < 4 * math.sqrt(2.0 / n)
    # tails, including the base strip's edge R where the exact tail sampler takes over
    for c in (1.0, 2.0, 3.0, R._R, 4.0):
        p = 2 * stats.norm.sf(c)
        assert abs(np.mean(np.abs(z) > c) - p) < 4 * math.sqrt(p * (1 - p) / n)


def test_block_normals_are_reproducible():
    z1, z2 = np.empty(5000), np.empty(5000)
    pend = np.empty(10_002, dtype=np.int64)
    a = R.state_from_seed(np.random.SeedSequence(3))
    b = a.copy()
    R.fill_normal(a, R.ZT, z1, pend)
    R.fill_normal(b, R.ZT, z2, pend)
    np.testing.assert_array_equal(z1, z2)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("shape", [0.6, 2.5, 10.0])
def test_gammas_have_the_gamma_law(shape):
    g = np.empty(100_000)
    R.fill_gamma(R.state_from_seed(np.random.SeedSequence(5)), R.ZT, shape, g)
    assert stats.kstest(g, stats.gamma(shape).cdf).pvalue > 1e-3
    assert abs(g.mean() - shape) < 4 * math.sqrt(shape / g.size)
