"""File formats and atomic writes.

Every file riskmodel writes goes through here: written to a temporary file in the same folder
and renamed into place, so a run that is killed leaves either the old file or the new one,
never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import yaml


def _atomic(path: str | Path, write: Callable[[Path], None]) -> Path:
    path = Path(path)
    if path.is_dir():  # os.replace would fail on a temporary file's name, not this one
        from riskmodel.errors import InputError

        raise InputError("is a folder; give the path of a file to write", file=path)
    if path.exists() and not path.is_file():  # a device (/dev/null), a pipe: os.replace would
        from riskmodel.errors import InputError  # put a plain file in its place

        raise InputError("not a regular file (a device or a pipe); give the path of a file to "
                         "write", file=path)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:  # named by the file asked for, not by a temporary name never made
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp makes 0600; give the file ordinary permissions
    try:
        write(tmp_path)
        with open(tmp_path, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp_path, path)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise
    return path


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write bytes atomically."""
    return _atomic(path, lambda p: p.write_bytes(data))


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write text (UTF-8) atomically."""
    return _atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return None if not np.isfinite(obj) else float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "model_dump"):
        return obj.model_dump(mode="json")
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """JSON text with numpy scalars/arrays, dates and pydantic models handled; NaN -> null."""
    return json.dumps(_clean_nan(obj), default=_json_default, indent=2, sort_keys=False) + "\n"


def _clean_nan(obj: Any) -> Any:
    if isinstance(obj, float) and not np.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {str(k): _clean_nan(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean_nan(v) for v in obj]
    return obj


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write an object as indented JSON, atomically."""
    return atomic_write_text(path, to_json(obj))


def atomic_write_yaml(path: str | Path, obj: Any) -> Path:
    """Write an object as block-style YAML, atomically (round-trips through JSON types)."""
    plain = json.loads(to_json(obj))
    return atomic_write_text(path, yaml.safe_dump(plain, sort_keys=False, allow_unicode=True))


def atomic_write_parquet(path: str | Path, frame: Any) -> Path:
    """Write a pandas DataFrame as Parquet (pyarrow), atomically."""
    return _atomic(path, lambda p: frame.to_parquet(p, index=False, engine="pyarrow"))


class _StrictLoader(yaml.SafeLoader):
    """A SafeLoader that refuses a key given twice in one mapping (PyYAML keeps the last)."""


class _ValidButRefused(yaml.constructor.ConstructorError):
    """Valid YAML the strict loader refuses (reported without "not valid YAML")."""


def _strict_mapping(loader: _StrictLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    # only the keys written in this mapping: a key merged in (``<<: *base``) and written again
    # is YAML's override, not a duplicate
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(key_node, deep=deep)
        try:
            if key in seen:
                raise _ValidButRefused(
                    None, None, f"duplicate key {key!r} (first given on line {seen[key]}); "
                    "each key may appear once", key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        except TypeError:  # an unhashable key: let the ordinary constructor report it
            continue
    loader.flatten_mapping(node)
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _strict_mapping)


def _no_binary(loader: _StrictLoader, node: yaml.Node) -> Any:
    raise yaml.constructor.ConstructorError(
        None, None, "a !!binary value (bytes) where text or numbers belong", node.start_mark)


_StrictLoader.add_constructor("tag:yaml.org,2002:binary", _no_binary)


def _surprising_number(node: yaml.Node, value: Any, *, integer: bool = True) -> None:
    """YAML 1.1 reads ``010`` as octal 8 and ``1:30`` as base 60 (90): forms nobody writes in
    a scenario on purpose, which would silently change the number meant."""
    text = str(node.value).replace("_", "")
    digits = text.lstrip("+-")
    problem = None
    if ":" in text:
        problem = (f"{node.value} is read by YAML as a base-60 number ({value:g}); write the "
                   "number itself")
    elif integer and len(digits) > 1 and digits[0] == "0" and digits[1].isdigit():
        sign = text[0] if text[0] in "+-" else ""
        problem = (f"{node.value} is read by YAML as the octal number {value}; write it without "
                   f"the leading zero ({sign}{digits.lstrip('0') or '0'}) or as {value}")
    if problem is not None:
        raise _ValidButRefused(None, None, problem, node.start_mark)


def _bounded_float(loader: _StrictLoader, node: yaml.Node) -> Any:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    _surprising_number(node, value, integer=False)
    return value


_StrictLoader.add_constructor("tag:yaml.org,2002:float", _bounded_float)

_HUGE_NUMBER = "a number with thousands of digits; no input value needs more than a few"


def _bounded_int(loader: _StrictLoader, node: yaml.Node) -> Any:
    try:
        value = yaml.SafeLoader.construct_yaml_int(loader, node)
    except ValueError:  # over sys.get_int_max_str_digits() digits
        raise _ValidButRefused(None, None, _HUGE_NUMBER, node.start_mark) from None
    _surprising_number(node, value)
    return value


_StrictLoader.add_constructor("tag:yaml.org,2002:int", _bounded_int)

#: Largest YAML input file read (bytes): scenario, firm and catalogue files are a few KB.
MAX_YAML_BYTES = 5_000_000
#: Largest JSON input file read (bytes): calibration files are at most a few hundred KB.
MAX_JSON_BYTES = 50_000_000


_TOO_DEEP = ("nested too deeply to be a riskmodel input (lists or mappings inside each other "
             "hundreds of levels down)")


#: Most values an input may hold once YAML aliases are expanded (a scenario holds hundreds; a
#: calibration's selection table thousands): a few lines of aliases ("billion laughs") expand
#: to gigabytes when the input is copied into a manifest.
MAX_INPUT_VALUES = 1_000_000
#: Deepest nesting of lists and mappings an input may have (riskmodel's go about 6 deep;
#: pydantic's serialiser gives up near 255 and json's decoder near 1,000).
MAX_INPUT_DEPTH = 100
#: Integers from here on do not fit a float (about 1.8e308): an input number never needs them.
_BIG_INT = 2**1024


class InputShapeError(Exception):
    """An input value too large, too deep or with aliases that expand too far: ``where`` is
    its path in the input (``markets[0].process.state``), ``problem`` what is wrong."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}")
        self.where, self.problem = where, problem


def _shape_walk(o: Any, depth: int, memo: dict[int, tuple[int, int]]) -> tuple[int, int]:
    """(values, height) of ``o``, each shared list or mapping counted at every reference but
    walked once (so that an alias bomb costs the walk of its few distinct nodes)."""
    if isinstance(o, bool) or not isinstance(o, (int, dict, list)):
        return 1, 0
    if isinstance(o, int):
        if abs(o) >= _BIG_INT:
            raise InputShapeError("", f"a number of about {int(o.bit_length() * 0.30103) + 1} "
                                  "digits; no input value needs more than a few")
        return 1, 0
    if depth > MAX_INPUT_DEPTH:
        raise InputShapeError("", _TOO_DEEP)
    key = id(o)
    if key in memo:
        n, h = memo[key]
        if depth + h > MAX_INPUT_DEPTH:
            raise InputShapeError("", _TOO_DEEP)
        return n, h
    n, h = 1, 0
    items = o.items() if isinstance(o, dict) else enumerate(o)
    for k, v in items:
        try:
            vn, vh = _shape_walk(v, depth + 1, memo)
        except InputShapeError as exc:
            step = f"[{k}]" if isinstance(k, int) else f".{k}"
            raise InputShapeError(step + exc.where, exc.problem) from None
        n += vn
        h = max(h, vh + 1)
        if n > MAX_INPUT_VALUES:
            raise InputShapeError("", f"holds more than {MAX_INPUT_VALUES:,} values once its "
                                  "YAML aliases are expanded; no riskmodel input needs that "
                                  "many: write the values out")
    memo[key] = (n, h)
    return n, h


def check_shape(obj: Any) -> None:
    """Refuse an input that nests deeper than MAX_INPUT_DEPTH, holds more than
    MAX_INPUT_VALUES values with its aliases expanded, or a number beyond a float's range:
    :class:`InputShapeError` naming where. Linear in the input's distinct nodes."""
    try:
        _shape_walk(obj, 0, {})
    except InputShapeError as exc:
        where = exc.where.removeprefix(".")
        if len(where) > 60:  # a path hundreds of levels down: its start says where
            where = where[:60] + "…"
        raise InputShapeError(where, exc.problem) from None
    except RecursionError:
        raise InputShapeError("", _TOO_DEEP) from None


def _input_bytes(path: Path, kind: str, limit: int, field: str | None = None) -> bytes:
    """The bytes of a YAML or JSON input file (``kind``), refused in one line when it is a
    folder, a device or a pipe (reading might never end), missing, unreadable or larger than
    ``limit`` (checked before it is read into memory, and again after)."""
    from riskmodel.errors import InputError

    if path.is_dir():
        raise InputError(f"expected a {kind} file, got a folder", file=path, field=field)
    if path.exists() and not path.is_file():
        raise InputError("not a regular file (a device or a pipe)", file=path, field=field)
    try:
        size = path.stat().st_size
        if size <= limit:
            raw = path.read_bytes()
            size = len(raw)
    except FileNotFoundError:
        raise InputError("file not found", file=path, field=field) from None
    except OSError as exc:
        raise InputError(f"cannot read ({exc.strerror})", file=path, field=field) from None
    if size > limit:
        raise InputError(f"{size:,} bytes is larger than a {kind} input file may be ({limit:,})",
                         file=path, field=field)
    return raw


def read_yaml(path: str | Path) -> Any:
    """Read a YAML input file strictly: UTF-8 text, no duplicate keys; errors name file and line."""
    from riskmodel.errors import InputError

    path = Path(path)
    raw = _input_bytes(path, "YAML", MAX_YAML_BYTES)
    if b"\x00" in raw:
        raise InputError("a binary file, not YAML text", file=path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise InputError(f"not UTF-8 text (byte 0x{raw[exc.start]:02x} at line {line}); save the "
                         "file as UTF-8", file=path, field=f"line {line}") from None
    lf = text.replace("\r\n", "\n")
    lone = lf.find("\r")
    if lone >= 0 and "\n" in lf:  # a CR inside a line of a file with newlines: editors
        line = lf.count("\n", 0, lone) + 1  # show one line
        raise InputError("a lone carriage return (CR), which YAML reads as a line break where "
                         "editors show none; use a plain newline", file=path,
                         field=f"line {line}")
    for sep, name in (("\u2028", "a Unicode line separator (U+2028)"),
                      ("\u2029", "a Unicode paragraph separator (U+2029)"),
                      ("\x85", "a next-line character (U+0085)")):
        at = text.find(sep)
        if at >= 0:  # YAML reads it as a line break where editors show none (inside a comment)
            line = text.count("\n", 0, at) + 1
            raise InputError(f"{name}, which YAML reads as a line break where editors show "
                             "none; use a plain newline", file=path, field=f"line {line}")
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (DEL, C0 codes)
        line = text.count("\n", 0, max(exc.position, 0)) + 1
        ch = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or "?")
        raise InputError(f"a control character (0x{ch:02x}) that YAML does not allow; remove "
                         "it", file=path, field=f"line {line}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "YAML"
        problem = getattr(exc, "problem", None)
        msg = f"not valid YAML ({problem or exc.__class__.__name__})"
        if problem and isinstance(exc, _ValidButRefused):
            msg = problem
        elif problem and "but got '['" in problem and "'}'" in problem:
            msg += (" (a field path with [ ] inside { } must be quoted: "
                    "{\"links[0].fee\": 1.0})")
        raise InputError(msg, file=path, field=where) from None
    except RecursionError:
        raise InputError(_TOO_DEEP, file=path) from None
    try:
        check_shape(data)
    except InputShapeError as exc:
        raise InputError(exc.problem, file=path, field=exc.where or None) from None
    return data


class _DuplicateKey(Exception):
    """A JSON object gave a key twice (raised by :func:`_unique_keys`)."""


class DuplicateKeyError(Exception):
    """A JSON object gave ``key`` twice (at ``line``, first at ``first``)."""

    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(f"duplicate key {key!r} (first given on line {first}); each key may "
                         "appear once")
        self.key, self.line, self.first = key, line, first


def loads_unique(text: str) -> Any:
    """``json.loads`` that refuses a key given twice in one object (json keeps the last
    silently): :class:`DuplicateKeyError` with its line."""
    try:
        return json.loads(text, object_pairs_hook=_unique_keys)
    except _DuplicateKey:
        dup = _duplicate_key_lines(text)
        key, line, first = dup if dup is not None else ("?", 0, 0)
        raise DuplicateKeyError(key, line, first) from None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` of :func:`read_json`: json keeps the last of a repeated key."""
    out = dict(pairs)
    if len(out) != len(pairs):
        raise _DuplicateKey
    return out


_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[{}\[\]:,]|[^\s{}\[\]:,"]+')


def _duplicate_key_lines(text: str) -> tuple[str, int, int] | None:
    """The first key given twice in one object of valid JSON ``text``, in reading order:
    (key, its line, the line of its first occurrence); None if there is none."""
    stack: list[dict[str, int] | None] = []  # per open bracket: keys seen (objects) or None
    expect_key = False
    line, pos = 1, 0
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok in "{[":
            stack.append({} if tok == "{" else None)
            expect_key = tok == "{"
        elif tok in "}]":
            stack.pop()
            expect_key = False
        elif tok == ",":
            expect_key = bool(stack) and stack[-1] is not None
        elif expect_key and tok[0] == '"':
            expect_key = False
            seen = stack[-1]
            line, pos = line + text.count("\n", pos, m.start()), m.start()
            key = json.loads(tok)
            if seen is not None and key in seen:
                return key, line, seen[key]
            if seen is not None:
                seen[key] = line
    return None


def read_json(path: str | Path, *, field: str | None = None) -> Any:
    """Read a JSON input file (a calibration): errors name the file (and ``field``, the input's
    key that pointed to it) and say what is wrong, never a traceback. A key given twice in one
    object is refused with its line (json would keep the last silently), as in YAML input."""
    from riskmodel.errors import InputError

    path = Path(path)
    raw = _input_bytes(path, "JSON", MAX_JSON_BYTES, field)
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a BOM, as YAML inputs allow
        data = loads_unique(text)
        check_shape(data)
        return data
    except InputShapeError as exc:
        raise InputError(exc.problem, file=path, field=exc.where or field) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 JSON text", file=path, field=field) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON (line {exc.lineno})", file=path, field=field) from None
    except RecursionError:  # the decoder's own limit: say where the nesting passes ours
        raise InputError(_TOO_DEEP, file=path, field=_deep_line(text) or field) from None
    except ValueError as exc:  # json's integer of over sys.get_int_max_str_digits() digits
        if "digits" not in str(exc):
            raise
        m = re.search(r"\d{4301,}", text)
        where = f"line {text.count(chr(10), 0, m.start()) + 1}" if m else field
        raise InputError("a number with thousands of digits; no input value needs more than a "
                         "few", file=path, field=where) from None
    except DuplicateKeyError as exc:
        raise InputError(str(exc), file=path, field=f"line {exc.line}") from None


def _deep_line(text: str) -> str | None:
    """``line N`` where JSON ``text`` first nests deeper than MAX_INPUT_DEPTH (strings
    skipped), or None."""
    depth, line, in_str, esc = 0, 1, False, False
    for ch in text:
        if in_str:
            esc, in_str = (False, True) if esc else (ch == "\\", ch != '"')
            continue
        if ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_INPUT_DEPTH:
                return f"line {line}"
        elif ch in "]}":
            depth -= 1
        elif ch == "\n":
            line += 1
    return None


def sha256_bytes(data: bytes) -> str:
    """Hex SHA-256 of bytes."""
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path) -> str:
    """Hex SHA-256 of a file's contents."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def hash_series(values: Any) -> str:
    """Stable hash of a pandas Series/DataFrame (index and values), for calibration provenance."""
    import pandas as pd

    if isinstance(values, pd.Series | pd.DataFrame):
        h = pd.util.hash_pandas_object(values, index=True).to_numpy()
        return sha256_bytes(h.tobytes())
    return sha256_bytes(np.ascontiguousarray(values).tobytes())
