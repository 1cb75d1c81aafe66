"""Rules every input schema shares: no NaN or infinity, no YAML booleans where numbers belong.

pydantic's lax mode turns ``true`` into 1 and accepts ``.nan`` / ``.inf`` for floats; an input
file that says ``paths: true`` or ``bau_emissions: .inf`` is a mistake, never a request. The
scenario, firm and catalogue schemas use :data:`STRICT_NUMBERS` in their ``model_config`` and
call :func:`reject_bool_numbers` from a ``mode="before"`` model validator.
"""

from __future__ import annotations

import datetime
import math
import re
import reprlib
import types
import typing
from pathlib import PurePath
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


#: ``1e6``, ``1.5e3``: YAML 1.1 (PyYAML) reads an exponent without a decimal point, or without
#: a sign, as text, unquoted (``1.5e+3`` is a number).
_YAML_TEXT_EXPONENT = re.compile(r"^[-+]?([0-9]+[eE][-+]?[0-9]+|[0-9]*\.[0-9]*[eE][0-9]+)$")


def text_number_message(value: str) -> str:
    """The one wording for a quoted number or a word where a number belongs."""
    try:
        x = float(value)
    except ValueError:  # a word: quotes are not the problem
        return f"must be a number, not text ({short_repr(value)})"
    if not math.isfinite(x):  # 'nan', 'Infinity': float() reads words YAML leaves as text
        return f"must be a finite number, not text ({short_repr(value)})"
    if not value.strip().isascii():  # Arabic-Indic or fullwidth digits: float() reads them
        ascii_form = repr(x).removesuffix(".0") if x.is_integer() else repr(x)
        return (f"must be a number, not text ({short_repr(value)}): write it in ASCII digits "
                f"({ascii_form})")
    if _YAML_TEXT_EXPONENT.match(value.strip()):
        mant, _, exp = value.strip().lower().partition("e")
        exp = exp if exp[0] in "+-" else f"+{exp}"
        mant = mant if "." in mant else f"{mant}.0"
        return (f"must be a number, not text ({short_repr(value)}): YAML reads an exponent "
                f"without a decimal point and sign as text; write {mant}e{exp}")
    return f"must be a number, not text ({short_repr(value)}); drop the quotes"


def _takes_text(annotation: Any) -> bool:
    """The annotation accepts some text (``str``, a literal word, a path, ``Any``)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _takes_text(typing.get_args(annotation)[0])
    if origin is typing.Literal:
        return any(isinstance(a, str) for a in typing.get_args(annotation))
    if annotation is Any:
        return True
    return isinstance(annotation, type) and issubclass(annotation, (str, PurePath))


def _number_kinds(annotation: Any) -> set[type] | None:
    """``{int}``, ``{float}`` or ``{int, float}`` when the annotation takes numbers only (None
    allowed besides), else None (text, a model, a literal or a container also fits)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _number_kinds(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        kinds: set[type] = set()
        for a in typing.get_args(annotation):
            if a is type(None):
                continue
            k = _number_kinds(a)
            if k is None:
                return None
            kinds |= k
        return kinds or None
    return {annotation} if annotation in (int, float) else None


def text_where_number(value: Any, annotation: Any, where: str = "") -> tuple[str, str] | None:
    """Where text sits where the annotation takes numbers only (``'4.08'``), or a fractional
    float where it takes whole numbers only (a year ``2024.0``, a dict key included), with
    what is wrong; None when nothing is."""
    kinds = _number_kinds(annotation)
    if kinds is not None:
        if isinstance(value, str):
            return where, text_number_message(value)
        if isinstance(value, float) and kinds == {int}:
            if value.is_integer():
                return where, f"must be an integer: write {int(value)}, not {value!r}"
            return where, f"must be an integer, not {short_repr(value)}"
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return text_where_number(value, args[0], where)
    if origin in (typing.Union, types.UnionType):
        if isinstance(value, str) and any(_takes_text(a) for a in args):
            return None  # ``price_limit: calibration``: the field's own check reads words
        hits = [text_where_number(value, a, where) for a in args if a is not type(None)]
        return next((h for h in hits if h is not None), None)
    if origin is list and isinstance(value, list) and args:
        hits = [text_where_number(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
        return next((h for h in hits if h is not None), None)
    if origin is dict and isinstance(value, dict) and len(args) == 2:
        for k, v in value.items():
            key = text_where_number(k, args[0], f"{where}.{k}")
            if key is not None:
                return key[0], f"a key {key[1]}"
            hit = text_where_number(v, args[1], f"{where}.{k}")
            if hit is not None:
                return hit
    return None


def reject_bool_numbers(model: Any, data: Any, *, text: bool = False) -> Any:
    """For a ``mode="before"`` validator: refuse ``field: true`` where the field is numeric;
    with ``text``, also a quoted number (``'8.0'``) there and a float where a whole number
    belongs (``year: 2024.0``)."""
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
            hit = text_where_number(data[name], fld.annotation) if text else None
            if hit is not None:
                raise ValueError(f"{name}{hit[0]}: {hit[1]}")
            if _bool_only(fld.annotation) and data[name] is not None \
                    and not isinstance(data[name], bool):  # pydantic reads 1, 'yes', 'no'
                raise ValueError(f"{name}: must be true or false (got {short_repr(data[name])})")
    return data


def _bool_only(annotation: Any) -> bool:
    """The annotation is ``bool`` (or ``bool | None``): nothing but true or false fits."""
    if annotation is bool:
        return True
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _bool_only(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return len(args) == 1 and _bool_only(args[0])
    return False


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 40


def short_repr(value: Any) -> str:
    """A bounded repr of a bad value for a one-line error (never walks a huge input)."""
    if isinstance(value, datetime.date):  # YAML reads 2001-12-14 as a date: show it so
        return f"the date {value.isoformat()}"
    return _SHORT.repr(value)
