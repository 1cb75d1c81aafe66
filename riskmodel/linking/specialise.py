"""Copies of plain Python functions with some globals rebound, for numba to compile as distinct
functions (one source, several specialisations: a kernel without the general solver, a fast
path without the exact pool root, helpers inlined at numba's IR level)."""

from __future__ import annotations

import types
from collections.abc import Callable
from typing import Any

from numba import njit


def respecialise(func: Callable[..., Any], name: str, **replace: Any) -> Callable[..., Any]:
    """A copy of the plain Python function ``func`` named ``name`` whose globals ``replace``
    rebinds (same code, same constants). numba keys its on-disk cache by qualified name, so the
    copy has its own cache entry beside the original's."""
    g = dict(func.__globals__)
    g.update(replace)
    f = types.FunctionType(func.__code__, g, name, func.__defaults__, func.__closure__)
    f.__qualname__ = name
    f.__module__ = func.__module__
    f.__doc__ = func.__doc__
    f.__kwdefaults__ = func.__kwdefaults__
    return f


def inlined(dispatcher: Any, **replace: Any) -> Any:
    """The numba function ``dispatcher`` compiled anew with ``inline="always"`` (numba copies
    its IR into each caller: no call, so no error-status exit after it) and the globals
    ``replace`` rebound (e.g. to inlined copies of its own callees)."""
    fn = respecialise(dispatcher.py_func, dispatcher.py_func.__name__ + "_inl", **replace)
    return njit(error_model="numpy", inline="always")(fn)
