"""One error path for the command line: every failure becomes one line on stderr.

``error: <file>: <field>: <what is wrong and what is allowed>``; exit status ``EXIT_INPUT`` (2)
for usage and input errors, ``EXIT_RUN`` (1) for a run that failed part-way or an unexpected
failure. The command-line library's usage exceptions are recognised by their attributes, not by
class, because typer ships its own vendored copy of click (``typer._click``) whose exceptions
are not ``click.ClickException``; both are handled the same way.
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path
from typing import Any

from riskmodel.errors import InputError, RiskmodelError, RunFailed

#: Exit status of a usage or input error (a bad argument, file, field or run folder).
EXIT_INPUT = 2
#: Exit status of a run that failed part-way, or of an unexpected internal failure.
EXIT_RUN = 1
#: Exit status after Ctrl-C.
EXIT_ABORT = 130


def is_usage_error(exc: BaseException) -> bool:
    """A click/typer usage error (from either click or typer's vendored copy)."""
    names = {c.__name__ for c in type(exc).__mro__}
    return "UsageError" in names and hasattr(exc, "format_message")


def is_click_exception(exc: BaseException) -> bool:
    """Any click/typer exception that knows how to show itself (usage or file errors)."""
    names = {c.__name__ for c in type(exc).__mro__}
    return "ClickException" in names and hasattr(exc, "format_message")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


#: C0 and C1 control characters, DEL, and the Unicode line separators and bidirectional
#: overrides that would let an echoed name rewrite the terminal (ESC[2J clears it) or the line.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_ESCAPES = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def escape_controls(text: str) -> str:
    r"""Control characters written as Python escapes (``\x1b``, ``\t``, ``\u202e``): an echoed
    file name or value cannot move the cursor, clear the screen or break the line.

    >>> escape_controls("x\x1b[2J\tb")
    'x\\x1b[2J\\tb'
    """
    def one(m: re.Match[str]) -> str:
        c = m.group(0)
        return _ESCAPES.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")

    return _CONTROL.sub(one, text)


#: A line longer than this has its over-long tokens shortened (a 5,000-digit ``--seed``).
MAX_LINE = 300
#: Tokens (no spaces) shortened when the line is too long: a number of more than 100 digits,
#: or anything else of more than 1,000 characters (a pasted value). A file path up to that
#: length is kept whole: the user needs it to find the file.
_LONG_TOKEN = re.compile(r"[(\[{'\"]*[+-]?\d{101,}\S*|\S{1001,}")


def _shorten(m: re.Match[str]) -> str:
    token = m.group(0)
    lead = re.match(r"[(\[{'\"]*", token).group(0)  # type: ignore[union-attr]
    rest = token[len(lead):]
    core = rest.rstrip("'\")]},;:.")
    close = re.match(r"['\")\]}]*", rest[len(core):]).group(0)  # type: ignore[union-attr]
    tail = rest[len(core) + len(close):]
    if core.lstrip("+-").isdigit():
        short, size = f"{core[:20]}\u2026", f"{len(core.lstrip('+-'))} digits"
    else:
        short, size = f"{core[:30]}\u2026{core[-30:]}", f"{len(core)} characters"
    return f"{lead}{short}{close} ({size}){tail}"


def clean_line(line: str) -> str:
    """The final stderr line: one line, control characters escaped, and when it is longer
    than ``MAX_LINE`` its over-long tokens (a huge number, a long pasted value) shortened to
    their start and their size."""
    line = escape_controls(_one_line(line))
    if len(line) > MAX_LINE:
        line = _LONG_TOKEN.sub(_shorten, line)
    return line


def _param_field(exc: Any) -> str | None:
    """``--paths`` for an option, ``SCENARIO`` for an argument, else the option named."""
    param = getattr(exc, "param", None)
    if param is not None:
        opts = [o for o in (getattr(param, "opts", None) or []) if o.startswith("--")]
        if opts and getattr(param, "param_type_name", "") == "option":
            return opts[0]
        meta = getattr(param, "metavar", None) or getattr(param, "name", None)
        return str(meta).upper() if meta else None
    hint = getattr(exc, "param_hint", None)
    if hint:
        return hint if isinstance(hint, str) else " / ".join(hint)
    name = getattr(exc, "option_name", None)
    return str(name) if name else None


#: Wording for the commonest type errors of an option value (pydantic error types).
_TYPE_WORDS = {
    "int_parsing": "is not a valid integer",
    "int_parsing_size": "is not a valid integer (far too many digits)",
    "int_from_float": "is not a whole number",
    "float_parsing": "is not a valid number",
    "bool_parsing": "is not true or false",
}


def _bad_value(exc: Any) -> tuple[Any, str | None]:
    """The value the user gave and the error type, when the library kept them."""
    errors = getattr(exc.__cause__, "errors", None)
    if callable(errors):
        try:
            first = errors()[0]
            return first.get("input"), first.get("type")
        except Exception:  # noqa: BLE001 - best effort only
            return None, None
    return None, None


def given_path(value: str, option: str, what: str) -> Path:
    """An option's path as given; an empty one is refused (``Path('')`` is the working
    folder, which the command would then use in its place)."""
    if not value.strip():
        raise InputError(f"empty; give {what}", field=option)
    return Path(value)


def _parent_with_option(ctx: Any, opt: Any) -> tuple[str, str] | None:
    """(command path, its subcommand on the line) of the nearest enclosing command that has
    option ``opt`` (``riskmodel runs``, ``show``), if any."""
    child, parent = ctx, getattr(ctx, "parent", None)
    while parent is not None and isinstance(opt, str):
        for param in getattr(parent.command, "params", []):
            if opt in (getattr(param, "opts", None) or []):
                return str(parent.command_path), str(child.info_name)
        child, parent = parent, parent.parent
    return None


def usage_line(exc: Any, fallback: str = "riskmodel") -> str:
    """``<command>: <field>: <message>`` for a click/typer usage error."""
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None) or fallback
    cls = {c.__name__ for c in type(exc).__mro__}
    message = str(getattr(exc, "message", "") or "")
    field = _param_field(exc)
    if "NoSuchOption" in cls:
        opt = getattr(exc, "option_name", field)
        found = _parent_with_option(ctx, opt)
        if found is not None:  # `runs show X --out D`: an option of `runs`, given too late
            owner, sub = found
            return (f"{command}: {opt}: an option of '{owner}', not of '{ctx.info_name}'; give "
                    f"it before '{sub}' ({owner} {opt} ... {sub} ...)")
        allowed = sorted(getattr(exc, "possibilities", None) or [])
        more = f" (did you mean {' or '.join(allowed)}?)" if allowed else ""
        return f"{command}: {opt}: no such option{more}; see '{command} --help' for the options"
    if "MissingParameter" in cls:
        kind = getattr(getattr(exc, "param", None), "param_type_name", "parameter")
        return f"{command}: {field or 'arguments'}: missing {kind}; see '{command} --help'"
    if "BadParameter" in cls:
        value, kind = _bad_value(exc)
        msg = message[:1].lower() + message[1:] if message else "invalid value"
        if value is not None and kind in _TYPE_WORDS:
            return f"{command}: {field or 'arguments'}: {value!r} {_TYPE_WORDS[kind]}"
        got = f"{value!r} is not valid: " if value is not None else ""
        return f"{command}: {field or 'arguments'}: {got}{msg}"
    text = _one_line(message or exc.format_message())
    if text.startswith("Option '") and text.endswith("requires an argument."):
        return f"{command}: {getattr(exc, 'option_name', field)}: requires a value (none given)"
    if text.startswith("No such command"):
        cmd_ctx = getattr(ctx, "command", None)
        names = []
        if cmd_ctx is not None and hasattr(cmd_ctx, "list_commands"):
            try:
                names = sorted(cmd_ctx.list_commands(ctx))
            except Exception:  # noqa: BLE001
                names = []
        allowed = f" (commands: {', '.join(names)})" if names else ""
        return f"{command}: COMMAND: {text[:1].lower()}{text[1:].rstrip('.')}{allowed}"
    return f"{command}: {field or 'arguments'}: {text[:1].lower()}{text[1:]}"


def os_error_line(exc: OSError) -> str:
    """``<file>: <what the system said>`` for an I/O error (a file where a folder is needed...)."""
    name = exc.filename if exc.filename is not None else "riskmodel"
    what = exc.strerror or str(exc)
    hint = {
        errno.ENOTDIR: "a path component is a file, not a folder",
        errno.EISDIR: "expected a file, got a folder",
        errno.EACCES: "permission denied",
        errno.ENAMETOOLONG: "a file name is too long",
        errno.ENOSPC: "no space left on the device",
    }.get(exc.errno or -1)
    if hint and hint.lower() != what.lower():
        what = f"{what} ({hint})"
    return f"{escape_controls(os.fsdecode(name))}: {what}"


def error_line(exc: BaseException, command: str = "riskmodel") -> tuple[str, int]:
    """The one stderr line and the exit status for an exception reaching the entry point.

    ``command`` (e.g. ``riskmodel run``) stands in for the file of an error that names none
    (a bad option value), so every line reads ``error: <file or command>: <field>: <what>``.
    """
    if isinstance(exc, RiskmodelError):
        line, code = _riskmodel_error_line(exc, command)
        return clean_line(line), code
    if is_usage_error(exc):
        return clean_line(f"error: {usage_line(exc, command)}"), EXIT_INPUT
    if is_click_exception(exc):
        return clean_line(f"error: {exc.format_message()}"), EXIT_INPUT  # type: ignore[attr-defined]
    if isinstance(exc, UnicodeDecodeError):
        return f"error: input: not UTF-8 text ({exc.reason})", EXIT_INPUT
    if isinstance(exc, OSError):
        return clean_line(f"error: {os_error_line(exc)}"), EXIT_INPUT
    what = _one_line(f"{type(exc).__name__}: {exc}")
    return (
        clean_line(f"error: riskmodel: internal: {what} (a bug; rerun with --debug for the "
                   "traceback)"),
        EXIT_RUN,
    )


def _riskmodel_error_line(exc: RiskmodelError, command: str) -> tuple[str, int]:
    """``error: <file>: <field>: <reason>``: the file and field (names the user gave) with
    every control character escaped, a tab or newline included; of a reason that lists several
    problems, one per line (the catalogue lists all), the first, counted."""
    reason = getattr(exc, "reason", None)
    if reason is not None:
        names = [escape_controls(str(p)) for p in (exc.file, exc.field)  # type: ignore[attr-defined]
                 if p]
        body = str(reason)
    else:
        names, body = [], str(exc)
    first, *more = body.splitlines() or [""]
    text = ": ".join([*names, _one_line(first)])
    if more:
        text += f" (+{len(more)} more problem{'s' if len(more) > 1 else ''})"
    if getattr(exc, "file", None) is None:
        text = f"{command}: {text}"
    return f"error: {text}", EXIT_RUN if isinstance(exc, RunFailed) else EXIT_INPUT


def command_path(args: list[str], group: Any) -> str:
    """``riskmodel run`` / ``riskmodel runs show`` from the argument list (best effort)."""
    words = ["riskmodel"]
    cmd = next((a for a in args if a in getattr(group, "lazy_names", ())), None)
    if cmd is None:
        return "riskmodel"
    words.append(cmd)
    try:
        sub = group.get_command(None, cmd)
        names = set(getattr(sub, "commands", {}) or {})
    except Exception:  # noqa: BLE001 - the path is only a label
        names = set()
    rest = args[args.index(cmd) + 1 :]
    nxt = next((a for a in rest if a in names), None)
    if nxt is not None:
        words.append(nxt)
    return " ".join(words)
