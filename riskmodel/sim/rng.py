"""Random streams for the numba kernels: xoshiro256++ seeded from a ``SeedSequence``.

Why not numpy's ``Generator`` inside the kernels: numba reaches its bit generator through a
function pointer per draw, which costs 3.6 ns per normal and 5.8 ns per uniform on the
benchmark machine; the kernels draw 10-20 numbers per path-step. Here the generator is a
4-word state array advanced inline (0.9 ns per uniform), and normals come from the 256-layer
ziggurat of Marsaglia & Tsang (2000) with the layout numpy uses (8 bits layer, 1 bit sign, 52
bits abscissa per 64-bit draw; the exact wedge and tail tests), so one draw costs about one
uniform 99% of the time.

Streams: ``state_from_seed(ss)`` fills the four words from ``ss.generate_state`` (the
SeedSequence of a chunk, or a child of it), so the chunk/stream design of the engine is
unchanged: the same seed and chunk index give the same numbers whatever the worker.

- xoshiro256++: Blackman & Vigna, "Scrambled linear pseudorandom number generators", ACM TOMS
  47 (2021); period 2^256 - 1, passes BigCrush; streams from distinct SeedSequence states.
- uniform: the top 53 bits, ``(x >> 11) * 2^-53`` in [0, 1).
- gamma: Marsaglia & Tsang (2000) squeeze for shape >= 1, ``G(a + 1) U^(1/a)`` below 1.
"""

from __future__ import annotations

import math

import numpy as np
from numba import int64, njit, uint64

#: What the engine's random numbers are, recorded in every run's manifest: a run started with
#: other streams (before this module, numpy's PCG64 ``Generator``) must not be resumed with these,
#: or its finished and new chunks would come from two different samplers. Change it whenever a
#: change alters the numbers a seed gives (generator, seeding, draw order in the kernel).
STREAMS = "xoshiro256++ from SeedSequence.generate_state(4); ziggurat-256 normals; yearly blocks"

_R = 3.6541528853610088  # right edge of the base layer
_V = 0.00492867323399  # area of each of the 256 layers
_M1 = 2.0**52
_U53 = 1.0 / 9007199254740992.0  # 2^-53


def _ziggurat_tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ki, wi, fi) of the 256-layer normal ziggurat (Marsaglia & Tsang's ``zigset``)."""
    ki = np.zeros(256, dtype=np.uint64)
    wi = np.zeros(256)
    fi = np.zeros(256)
    dn = tn = _R
    q = _V / math.exp(-0.5 * dn * dn)
    ki[0] = np.uint64(int((dn / q) * _M1))
    ki[1] = np.uint64(0)
    wi[0] = q / _M1
    wi[255] = dn / _M1
    fi[0] = 1.0
    fi[255] = math.exp(-0.5 * dn * dn)
    for i in range(254, 0, -1):
        dn = math.sqrt(-2.0 * math.log(_V / dn + math.exp(-0.5 * dn * dn)))
        ki[i + 1] = np.uint64(int((dn / tn) * _M1))
        tn = dn
        fi[i] = math.exp(-0.5 * dn * dn)
        wi[i] = dn / _M1
    return ki, wi, fi


def ziggurat_table() -> np.ndarray:
    """The tables as one float array ``zt[3, 256]`` (ki, wi, fi) to pass to the kernels.

    Passed as an argument rather than read as module globals: numba re-materialises a global
    array at every use, which tripled the cost of a draw. ``ki`` < 2^53 is exact as a float.
    """
    ki, wi, fi = _ziggurat_tables()
    return np.stack([ki.astype(np.float64), wi, fi])


ZT = ziggurat_table()


def state_from_seed(ss: np.random.SeedSequence) -> np.ndarray:
    """A fresh xoshiro256++ state (uint64[4]) from a SeedSequence (never all zero)."""
    s = ss.generate_state(4, np.uint64)
    if not s.any():  # pragma: no cover - probability 2^-256
        s[0] = np.uint64(0x9E3779B97F4A7C15)
    return s


@njit(inline="always")
def _rotl(x, k):
    return (x << uint64(k)) | (x >> uint64(64 - k))


@njit(inline="always")
def _step(s0, s1, s2, s3):
    """One xoshiro256++ step on the state words: ``(output, s0', s1', s2', s3')``."""
    r = _rotl(s0 + s3, 23) + s0
    t = s1 << uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    return r, s0, s1, s2, _rotl(s3, 45)


@njit(inline="always")
def next_u64(s: np.ndarray) -> np.uint64:
    """Next 64-bit output of xoshiro256++ (advances the state in place)."""
    r, s[0], s[1], s[2], s[3] = _step(s[0], s[1], s[2], s[3])
    return r


@njit(inline="always")
def uniform(s: np.ndarray) -> float:
    """U[0, 1) with 53 random bits."""
    return float(int64(next_u64(s) >> uint64(11))) * _U53


@njit(inline="always")
def _candidate(r, zt: np.ndarray):
    """Split a 64-bit draw into the ziggurat's layer (8 bits), sign (1) and abscissa (52):
    ``(layer, abscissa as a float, signed candidate x)``."""
    idx = np.intp(r & uint64(0xFF))
    r >>= uint64(8)
    rabs = float(int64((r >> uint64(1)) & uint64(0x000FFFFFFFFFFFFF)))
    x = rabs * zt[1, idx]
    if (r & uint64(1)) != uint64(0):
        x = -x
    return idx, rabs, x


@njit(cache=True)
def normal(s: np.ndarray, zt: np.ndarray) -> float:
    """One standard normal by the 256-layer ziggurat (exact: wedge and tail by rejection);
    ``zt`` is :data:`ZT`. For many draws :func:`fill_normal` is 2-4x faster."""
    idx, rabs, x = _candidate(next_u64(s), zt)
    if rabs < zt[0, idx]:
        return x
    return _normal_slow(s, zt, idx, x)


@njit(cache=True)
def _normal_slow(s: np.ndarray, zt: np.ndarray, idx: int, x: float) -> float:
    """The ziggurat's rejection branches for a candidate ``x`` of layer ``idx`` that fell
    outside the layer's core: the wedge test, the tail beyond R, and fresh draws until one is
    accepted."""
    while True:
        if idx == 0:  # the tail beyond R (Marsaglia 1964); the sign is the candidate's
            while True:
                xx = -math.log1p(-uniform(s)) / _R
                yy = -math.log1p(-uniform(s))
                if yy + yy > xx * xx:
                    return -(_R + xx) if math.copysign(1.0, x) < 0.0 else _R + xx
        if (zt[2, idx - 1] - zt[2, idx]) * uniform(s) + zt[2, idx] < math.exp(-0.5 * x * x):
            return x
        idx, rabs, x = _candidate(next_u64(s), zt)
        if rabs < zt[0, idx]:
            return x


@njit(cache=True)
def fill_normal(s: np.ndarray, zt: np.ndarray, out: np.ndarray, pend: np.ndarray) -> None:
    """Fill ``out`` (1-D) with standard normals; ``pend`` is int64 work of ``2 * len(out) + 2``.

    One 64-bit draw per entry in a loop with no calls (the state stays in registers); the ~1%
    of candidates outside their layer's core are finished afterwards by the exact rejection
    steps, in index order, from the same stream. Every value is an exact normal, independent of
    the others (each uses its own disjoint draws); the sequence is a fixed function of the state.
    """
    n = out.shape[0]
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    npend = 0
    for k in range(n):
        r, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
        idx, rabs, x = _candidate(r, zt)
        out[k] = x
        # a branch taken ~1% of the time (well predicted) rather than branch-free bookkeeping
        # with two stores per draw: 2.45 -> 2.2 ns a normal (AMD EPYC, session 14)
        if not rabs < zt[0, idx]:
            pend[2 * npend] = k
            pend[2 * npend + 1] = idx
            npend += 1
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3
    for j in range(npend):
        k = pend[2 * j]
        out[k] = _normal_slow(s, zt, pend[2 * j + 1], out[k])


@njit(cache=True)
def gamma(s: np.ndarray, zt: np.ndarray, shape: float) -> float:
    """Gamma(shape, 1) by Marsaglia & Tsang (2000); shape < 1 via G(shape + 1) U^(1/shape)."""
    a = shape
    boost = 1.0
    if a < 1.0:
        boost = uniform(s) ** (1.0 / a)
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / math.sqrt(9.0 * d)
    while True:
        x = normal(s, zt)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(s)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2 or math.log(u) < 0.5 * x2 + d * (1.0 - v + math.log(v)):
            return d * v * boost


@njit(cache=True)
def fill_uniform(s: np.ndarray, out: np.ndarray) -> None:
    """Fill a 1-D array with U[0, 1) draws: the sequence of ``uniform`` calls, with the state
    kept in registers for the loop (calling ``uniform`` per entry reloads and stores the four
    words each time: 1.25 against 0.6 ns a draw on the benchmark machine)."""
    s0 = s[0]
    s1 = s[1]
    s2 = s[2]
    s3 = s[3]
    for k in range(out.shape[0]):
        r, s0, s1, s2, s3 = _step(s0, s1, s2, s3)
        out[k] = float(int64(r >> uint64(11))) * _U53
    s[0] = s0
    s[1] = s1
    s[2] = s2
    s[3] = s3


@njit(cache=True)
def fill_gamma(s: np.ndarray, zt: np.ndarray, shape: float, out: np.ndarray) -> None:
    """Fill a 1-D array with Gamma(shape, 1) draws."""
    for k in range(out.shape[0]):
        out[k] = gamma(s, zt, shape)
