"""Tell the user when numba compiles: the first run on a clean checkout compiles the kernels
(tens of seconds) and writes them to the on-disk cache (``NUMBA_CACHE_DIR``); later runs load
them. Without a word the first run looks hung."""

from __future__ import annotations

import sys
from typing import Any

MESSAGE = "compiling kernels (once; later runs load them from the numba cache) ..."

_announced = False


def message() -> str:
    """``MESSAGE``, or, where ``NUMBA_CACHE_DIR`` could not be used (a file, a read-only
    folder: ``numba_cache.UNUSABLE``), a notice that the kernels are kept for this run only."""
    from riskmodel import numba_cache

    if numba_cache.UNUSABLE is None:
        return MESSAGE
    folder, why = numba_cache.UNUSABLE
    return (f"compiling kernels for this run only (the numba cache folder {folder} cannot be "
            f"used: {why}; later runs compile again: set NUMBA_CACHE_DIR to a writable "
            "folder) ...")


def cache_is_cold(dispatcher: Any) -> bool:
    """True when ``dispatcher`` has nothing compiled in this process and its on-disk cache has
    no entry valid for the current source (numba's index is stamped with the source file's
    modification time and size). False when unsure (numba internals changed, or not a numba
    dispatcher: a test's wrapper)."""
    try:
        if dispatcher.signatures:
            return False
        return not dispatcher._cache._cache_file._load_index()
    except Exception:  # noqa: BLE001 - private numba API: never fail a run over a message
        return False


def announce_compile(dispatcher: Any) -> bool:
    """Print ``MESSAGE`` on stderr (once per process) when ``dispatcher`` will compile."""
    global _announced
    if _announced or not cache_is_cold(dispatcher):
        return False
    _announced = True
    print(message(), file=sys.stderr, flush=True)
    return True
