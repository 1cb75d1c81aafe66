"""riskmodel: quantify the risks of linking carbon markets.

Data flows one way: ``data`` (loaders, cleaning, catalogue) -> ``fit`` (price processes,
dependence, calibrations) -> ``sim`` (Monte Carlo engine) with ``linking`` (the link solver
kernels) -> ``batch`` (scenario files, runs) -> ``firm`` (compliance-cost risk reports).
"""

__version__ = "0.1.0"

from riskmodel.numba_cache import configure as _configure_numba_cache

_configure_numba_cache()  # before any kernel is decorated: a cache folder per source version
