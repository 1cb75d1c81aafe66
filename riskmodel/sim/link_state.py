"""Today's links inside the kernel: each link's caps and fees in its state, and the connected
groups of markets they form.

Shared by the kernel's closed form for plain pools (``kernel.py``) and banking across links
(``banking_step.py``): the union-find root, whether a link restricts in a state, and a link's
caps where a quota is a share of the importer's supply (``layout.Q_SHARE`` / ``RQ_SHARE``). The
kernel's day loop writes the same caps out inline (see the comment there: a call costs
reference counting on that path).
Row layout: ``linking.topology`` (``L_CAP_AB, L_CAP_BA, L_FEE_AB, L_FEE_BA`` for the normal
state, the same four from column 4 for the restricted state).
"""

from __future__ import annotations

import math

from numba import njit

from riskmodel.sim import layout as L


@njit(cache=True, inline="always")
def root(par, a: int) -> int:
    """The representative of market a in the union-find array ``par``."""
    while par[a] != a:
        a = par[a]
    return a


@njit(cache=True, inline="always")
def state_caps(lpar, lk_f, s_conv, sv, v: int, ends, q: int, state: int
               ) -> tuple[float, float]:
    """Link q's caps (a -> b, b -> a; common units) in ``state`` (0 normal, 1 restricted): the
    fixed caps of ``lpar``, lowered to a share of the importer's supply in variant v
    (``sv[v]``, read by element: a row view would be built on every call of the day loop)
    where the link's quota is a share (inf: no cap)."""
    off = 0 if state == 0 else 4
    a = ends[q, 0]
    b = ends[q, 1]
    sh = lk_f[q, L.Q_SHARE] if state == 0 else lk_f[q, L.RQ_SHARE]
    if sh >= 0.0:
        return (min(lpar[q, off], sh * sv[v, b] * s_conv[b]),
                min(lpar[q, off + 1], sh * sv[v, a] * s_conv[a]))
    return lpar[q, off], lpar[q, off + 1]


@njit(cache=True, inline="always")
def restricts(lw, q: int, state: int) -> bool:
    """Whether link q in ``state`` carries a cap or a fee (today's row ``lw``)."""
    off = 0 if state == 0 else 4
    return (lw[q, off] != math.inf or lw[q, off + 1] != math.inf or lw[q, off + 2] != 0.0
            or lw[q, off + 3] != 0.0)
