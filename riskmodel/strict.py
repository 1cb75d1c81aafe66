"""Rules every input schema shares: no NaN or infinity, no YAML booleans where numbers belong.

pydantic's lax mode turns ``true`` into 1 and accepts ``.nan`` / ``.inf`` for floats; an input
file that says ``paths: true`` or ``bau_emissions: .inf`` is a mistake, never a request. The
scenario, firm and catalogue schemas use :data:`STRICT_NUMBERS` in their ``model_config`` and
call :func:`reject_bool_numbers` from a ``mode="before"`` model validator.
"""

from __future__ import annotations

import types
import typing
from typing import Any

#: ``model_config`` entries: NaN and infinity are refused for every float field.
STRICT_NUMBERS: dict[str, Any] = {"allow_inf_nan": False}


def _allows_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any:
        return True
    return any(_allows_bool(a) for a in typing.get_args(annotation))


def bool_where_number(value: Any, annotation: Any) -> bool:
    """True when a boolean sits where the annotation wants a number (also inside lists/dicts)."""
    if isinstance(value, bool):
        return not _allows_bool(annotation)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return bool_where_number(value, args[0])
    if origin in (typing.Union, types.UnionType):
        return any(bool_where_number(value, a) for a in args)
    if origin is list and isinstance(value, list) and args:
        return any(bool_where_number(v, args[0]) for v in value)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        return any(bool_where_number(v, args[1]) for v in value.values())
    return False


def reject_bool_numbers(model: Any, data: Any) -> Any:
    """For a ``mode="before"`` validator: refuse ``field: true`` where the field is numeric."""
    if isinstance(data, dict):
        for name, fld in model.model_fields.items():
            if name in data and bool_where_number(data[name], fld.annotation):
                raise ValueError(
                    f"{name}: must be a number, not the boolean {data[name]!r} "
                    "(YAML reads true/false/yes/no/on/off as booleans)"
                )
    return data
