"""The floor kernel's own random streams: a frozen copy of the engine's generator
(xoshiro256++ seeded from a SeedSequence, 256-layer ziggurat normals, 53-bit uniforms), so a
later change of ``riskmodel.sim.rng`` never moves the benchmark's floor. Same algorithms and
costs as the engine's at the time of issue #14; see ``riskmodel/sim/rng.py`` for references.
"""

from __future__ import annotations

import math

import numpy as np
from numba import int64, njit, uint64

_R = 3.6541528853610088
_V = 0.00492867323399
_M1 = 2.0**52
_U53 = 1.0 / 9007199254740992.0


def ziggurat_table() -> np.ndarray:
    """``zt[3, 256]``: the ziggurat's (ki, wi, fi) as floats (Marsaglia & Tsang's zigset)."""
    ki = np.zeros(256)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = _R
    q = _V / math.exp(-0.5 * dn * dn)
    ki[0] = float(int((dn / q) * _M1))
    wi[0] = q / _M1
    wi[255] = dn / _M1
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(_V / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = float(int((dn / tn) * _M1))
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / _M1
    return np.stack([ki, wi, fi])


ZT = ziggurat_table()


def state_from_seed(ss: np.random.SeedSequence) -> np.ndarray:
    """A xoshiro256++ state (uint64[4]) from a SeedSequence."""
    s = ss.generate_state(4, np.uint64)
    if not s.any():  # pragma: no cover - probability 2^-256
        s[0] = np.uint64(0x9E3779B97F4A7C15)
    return s


@njit(inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(inline="always")
def _step(s0, s1, s2, s3):
    r = _rotl(s0 + s3, 23) + s0
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    return r, s0, s1, s2, _rotl(s3, 45)


@njit(inline="always")
def uniform(s: np.ndarray) -> float:
    """U[0, 1) with 53 random bits (advances the state in place)."""
    r, s[0], s[1], s[2], s[3] = _step(s[0], s[1], s[2], s[3])
    return float(int64(r >> uint64(11))) * _U53


@njit(inline="always")
def _candidate(r, zt):
    idx = np.intp(r & uint64(0xFF))
    r >>= uint64(8)
    rabs = float(int64((r >> uint64(1)) & uint64(0x000FFFFFFFFFFFFF)))
    x = rabs * zt[1, idx]
    if (r & uint64(1)) != uint64(0):
        x = -x
    return idx, rabs, x


@njit(cache=True)
def _normal_slow(s, zt, idx, x):
    while True:
        if idx == 0:
            while True:
                xx = -math.log1p(-uniform(s)) / _R
                yy = -math.log1p(-uniform(s))
                if yy + yy > xx * xx:
                    return -(_R + xx) if math.copysign(1.0, x) < 0.0 else _R + xx
        if (zt[2, idx - 1] - zt[2, idx]) * uniform(s) + zt[2, idx] < math.exp(-0.5 * x * x):
            return x
        r, s[0], s[1], s[2], s[3] = _step(s[0], s[1], s[2], s[3])
        idx, rabs, x = _candidate(r, zt)
        if rabs < zt[0, idx]:
            return x


@njit(cache=True)
def fill_normal(s: np.ndarray, zt: np.ndarray, out: np.ndarray, pend: np.ndarray) -> None:
    """Fill ``out`` with exact standard normals (block ziggurat; ``pend``: int64[2n + 2])."""
    n = out.shape[0]
    s0, s1, s2, s3 = s[0], s[1], s[2], s[3]
    npend = 0
    for k in range(n):
        r, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
        idx, rabs, x = _candidate(r, zt)
        out[k] = x
        pend[2 * npend] = k
        pend[2 * npend + 1] = idx
        npend += not rabs < zt[0, idx]
    s[0], s[1], s[2], s[3] = s0, s1, s2, s3
    for j in range(npend):
        k = pend[2 * j]
        out[k] = _normal_slow(s, zt, pend[2 * j + 1], out[k])
