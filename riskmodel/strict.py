"""Rules every input schema shares: no NaN or infinity, no YAML booleans where numbers belong.

pydantic's lax mode turns ``true`` into 1 and accepts ``.nan`` / ``.inf`` for floats; an input
file that says ``paths: true`` or ``bau_emissions: .inf`` is a mistake, never a request. The
scenario, firm and catalogue schemas use :data:`STRICT_NUMBERS` in their ``model_config`` and
call :func:`reject_bool_numbers` from a ``mode="before"`` model validator.
"""

from __future__ import annotations

import reprlib
import types
import typing
from typing import Any

#: ``model_config`` entries: NaN and infinity are refused for every float field.
STRICT_NUMBERS: dict[str, Any] = {"allow_inf_nan": False}


def _allows_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    return any(_allows_bool(a) for a in typing.get_args(annotation))


def bool_where_number(value: Any, annotation: Any, where: str = "") -> str | None:
    """Where a boolean sits where the annotation wants a number (``""`` for the value itself,
    ``.key`` / ``[i]`` inside mappings and lists), or None."""
    if isinstance(value, bool):
        return None if _allows_bool(annotation) else where
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return bool_where_number(value, args[0], where)
    if origin in (typing.Union, types.UnionType):
        hits = [bool_where_number(value, a, where) for a in args]
        return next((h for h in hits if h is not None), None)
    if origin is list and isinstance(value, list) and args:
        hits = [bool_where_number(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
        return next((h for h in hits if h is not None), None)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        hits = [bool_where_number(v, args[1], f"{where}.{k}") for k, v in value.items()]
        return next((h for h in hits if h is not None), None)
    return None


def reject_bool_numbers(model: Any, data: Any) -> Any:
    """For a ``mode="before"`` validator: refuse ``field: true`` where the field is numeric."""
    if isinstance(data, dict):
        for name, fld in model.model_fields.items():
            if name not in data:
                continue
            where = bool_where_number(data[name], fld.annotation)
            if where is not None:
                raise ValueError(
                    f"{name}{where}: must be a number, not a boolean "
                    "(YAML reads true/false/yes/no/on/off as booleans)"
                )
    return data


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 40


def short_repr(value: Any) -> str:
    """A bounded repr of a bad value for a one-line error (never walks a huge input)."""
    return _SHORT.repr(value)
