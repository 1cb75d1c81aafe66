"""Exceptions that name what was wrong and where.

Every error a user can cause (a bad file, a bad field, bad data) is a ``RiskmodelError``;
the command line prints its message on one line and exits with status 2.
"""

from __future__ import annotations

from pathlib import Path


class RiskmodelError(Exception):
    """Base class of every error caused by input rather than by a bug."""


class InputError(RiskmodelError):
    """Bad input: names the file (if any), the field (if any) and what is wrong.

    >>> str(InputError("cap.path.2021 must be positive", file="eu_ets.yaml", field="cap.path"))
    'eu_ets.yaml: cap.path: cap.path.2021 must be positive'
    """

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        self.reason = message
        parts = [p for p in (self.file, field) if p]
        super().__init__(": ".join([*parts, message]))


class DataError(InputError):
    """Real data that cannot be used as asked (missing column, non-positive price, too short)."""


class FitError(RiskmodelError):
    """An estimation failed (did not converge, singular Hessian) and no fallback applied."""


class RunFailed(RiskmodelError):
    """A run that started and failed part-way; its folder is kept, marked failed (exit 1).

    Not an input error, but named the same way: the run folder and what to do next."""

    def __init__(self, message: str, *, file: str | Path | None = None, field: str | None = None):
        self.file = str(file) if file is not None else None
        self.field = field
        self.reason = message
        super().__init__(": ".join([p for p in (self.file, field) if p] + [message]))
