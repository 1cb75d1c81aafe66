"""The shared calibration files validated on load: dependence, fundamentals and FX.

Like a market calibration (``calibration_schema``), a corrupted ``dependence.json``,
``fundamentals.json`` or ``fx.json`` must never reach the engine: every number finite,
correlation matrices square, symmetric, with unit diagonal and entries in [-1, 1], covariance
matrices square and symmetric with non-negative variances, exchange rates positive, copula
degrees of freedom above 2 and the copula one the engine simulates (gaussian or t), market ids
given once; the fundamentals' jurisdictions each with an output and an intensity variable, a
positive output variance and an output-emissions correlation in [-1, 1]. Errors name the file
and the field.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import numpy as np

from riskmodel.errors import InputError
from riskmodel.strict import short_repr

_TOL = 1e-8
#: Copulas the engine simulates (``riskmodel.sim.innovations``).
COPULAS = ("gaussian", "t")
#: The two variables of each jurisdiction (``riskmodel.fit.fundamentals.VARS``).
FUNDAMENTAL_VARS = ("dlog_output", "dlog_intensity")


def _matrix(d: dict[str, Any], key: str, n: int | None, file: str | Path | None) -> np.ndarray:
    raw = d.get(key)
    try:
        a = np.asarray(raw, dtype=float)
    except (TypeError, ValueError):
        raise InputError("must be a matrix of numbers", file=file, field=key) from None
    if a.ndim != 2 or a.shape[0] != a.shape[1] or (n is not None and a.shape[0] != n):
        want = f"{n}x{n}" if n is not None else "square"
        raise InputError(f"must be {want} (got shape {a.shape})", file=file, field=key)
    if not np.all(np.isfinite(a)):
        i, j = np.argwhere(~np.isfinite(a))[0]
        raise InputError(f"entry [{i}][{j}] is not a finite number", file=file, field=key)
    if not np.allclose(a, a.T, atol=_TOL):
        raise InputError("must be symmetric", file=file, field=key)
    return a


def optional_file(path: Path, *, field: str, without: str) -> bool:
    """Whether an optional shared calibration file (carry.json, fundamentals.json) is there to
    be read. Absent: False (the caller's default applies). A folder, a device or a broken or
    looping link in its place is refused, not read as "no file" (it silently put the default
    in place of the measured figure)."""
    if not (path.exists() or path.is_symlink()):
        return False
    if not path.is_file():
        raise InputError(f"not a JSON file (a folder, a device or a broken link); remove it to "
                         f"{without}", file=path, field=field)
    return True


def validate_dependence(d: Any, *, file: str | Path | None = None) -> None:
    """``dependence.json``: market list, correlation matrix, optional copula nu."""
    if not isinstance(d, dict):
        raise InputError("a dependence calibration must be a JSON object", file=file)
    _known_keys(d, DEPENDENCE_KEYS, "dependence", file)
    names = _id_list(d, "markets", "market ids", file, "; each market has one row of corr")
    copula = d.get("copula", "gaussian")
    if copula not in COPULAS:
        raise InputError(f"must be {' or '.join(map(repr, COPULAS))} (got {short_repr(copula)})",
                         file=file, field="copula")
    c = _matrix(d, "corr", len(names), file)
    if not np.allclose(np.diag(c), 1.0, atol=_TOL):
        raise InputError("must have a unit diagonal", file=file, field="corr")
    if np.any(np.abs(c) > 1 + _TOL):
        raise InputError("an entry lies outside [-1, 1]", file=file, field="corr")
    nu = d.get("nu")
    if nu is not None and (
        isinstance(nu, bool) or not isinstance(nu, int | float) or not math.isfinite(nu) or nu <= 2
    ):
        raise InputError(
            f"copula nu must be a finite number > 2 (got {nu!r})", file=file, field="nu"
        )
    if copula == "t" and nu is None:  # the engine put its default of 8 in the fit's place
        raise InputError(f"{'null' if 'nu' in d else 'missing'}, but the copula is t, whose "
                         "degrees of freedom it gives; give nu > 2 (or copula: gaussian)",
                         file=file, field="nu")


#: Largest |mean| and sd of a fundamental's annual log change (output, intensity): the bounds of
#: a scenario's own output_growth and output_vol (a 65% rise or 40% fall in a year).
MAX_LOG_GROWTH = 0.5


#: Keys of the shared calibration files (what ``riskmodel fit`` writes): any other key is a
#: misspelling whose setting would be ignored (``copla: t`` left the copula Gaussian).
DEPENDENCE_KEYS = frozenset({
    "schema", "markets", "corr", "copula", "nu", "copula_fit", "dcc", "loglik", "low_overlap",
    "method", "nobs", "overlap", "repair_note", "repaired", "sample", "versions"})
FUNDAMENTALS_KEYS = frozenset({
    "schema", "jurisdictions", "variables", "mean", "cov", "corr", "corr_output_emissions",
    "cross_corr_emissions", "cross_corr_output", "data_hash", "model", "nobs", "repair_note",
    "repaired", "report", "sources", "stats", "units", "var1", "versions", "years"})


def _known_keys(d: dict[str, Any], keys: frozenset[str], kind: str,
                file: str | Path | None, *, schema_kind: bool = True) -> None:
    """Only ``keys`` (a misspelt key would be ignored); with ``schema_kind``, a ``schema`` of
    another kind of calibration or another version refused."""
    schema = d.get("schema")
    if schema_kind and isinstance(schema, str) and schema.startswith("riskmodel.") and \
            not schema.startswith(f"riskmodel.{kind}/"):
        other = schema.removeprefix("riskmodel.").split("/")[0]
        other = "a market's price-process" if other == "calibration" else f"a {other}"
        raise InputError(f"{other} calibration ({schema}), not a {kind} calibration",
                         file=file, field="schema")
    odd = sorted(str(k) for k in set(d) - keys)
    if odd:
        where = f" in a {kind} calibration" if schema_kind else ""
        raise InputError(f"unknown key{where} (keys: {', '.join(sorted(keys))})", file=file,
                         field=odd[0])
    if schema_kind and schema is not None and schema != f"riskmodel.{kind}/1":
        raise InputError(f"this version reads riskmodel.{kind}/1 (got {short_repr(schema)})",
                         file=file, field="schema")


def _id_list(d: dict[str, Any], key: str, what: str, file: str | Path | None,
             hint: str = "") -> list[str]:
    """``d[key]``: a list of ids, each given once."""
    ids = d.get(key)
    if not isinstance(ids, list) or not all(isinstance(x, str) for x in ids):
        raise InputError(f"must be a list of {what}", file=file, field=key)
    for i, name in enumerate(ids):
        if name in ids[:i]:
            raise InputError(f"{name!r} given twice ({key}[{ids.index(name)}] and {key}[{i}])"
                             f"{hint}", file=file, field=f"{key}[{i}]")
    return ids


def validate_fundamentals(d: Any, *, file: str | Path | None = None) -> None:
    """``fundamentals.json``: mean vector and covariance matrix over ``variables``."""
    if not isinstance(d, dict):
        raise InputError("a fundamentals calibration must be a JSON object", file=file)
    _known_keys(d, FUNDAMENTALS_KEYS, "fundamentals", file)
    jurs = _id_list(d, "jurisdictions", "jurisdiction ids", file)
    variables = d.get("variables")
    if not isinstance(variables, list) or not all(isinstance(v, str) for v in variables):
        raise InputError("must be a list of variable names", file=file, field="variables")
    for j in jurs:
        for v in FUNDAMENTAL_VARS:
            if f"{j}:{v}" not in variables:
                raise InputError(f"no {f'{j}:{v}'!r} for jurisdiction {j} (each jurisdiction "
                                 f"has {' and '.join(f'<id>:{x}' for x in FUNDAMENTAL_VARS)})",
                                 file=file, field="variables")
    n = len(variables)
    try:
        mean = np.asarray(d.get("mean"), dtype=float)
    except (TypeError, ValueError):
        raise InputError("must be a list of numbers", file=file, field="mean") from None
    if mean.shape != (n,):
        raise InputError(f"must have {n} entries, one per variable", file=file, field="mean")
    if not np.all(np.isfinite(mean)):
        raise InputError(
            f"entry [{int(np.argmin(np.isfinite(mean)))}] is not a finite number",
            file=file,
            field="mean",
        )
    # the scenario's own bounds on annual log growth and its sd (scenario.MarketSpec
    # output_growth / output_vol): beyond them the growth paths overflow into NaN statistics
    big = np.abs(mean) > MAX_LOG_GROWTH
    if big.any():
        i = int(np.argmax(big))
        raise InputError(f"{variables[i]}: a mean annual log change of {mean[i]:g}; it must lie "
                         f"in [-{MAX_LOG_GROWTH:g}, {MAX_LOG_GROWTH:g}]", file=file, field="mean")
    cov = _matrix(d, "cov", n, file)
    if np.any(np.diag(cov) < 0):
        raise InputError("a variance (diagonal entry) is negative", file=file, field="cov")
    if np.any(np.diag(cov) > MAX_LOG_GROWTH**2):
        i = int(np.argmax(np.diag(cov)))
        raise InputError(f"{variables[i]}: a variance of {cov[i, i]:g} (an sd of annual log "
                         f"change above {MAX_LOG_GROWTH:g}); it must be at most "
                         f"{MAX_LOG_GROWTH**2:g}", file=file, field="cov")
    for j in jurs:  # the engine divides by the output sd (correlation across jurisdictions)
        i = variables.index(f"{j}:dlog_output")
        if not cov[i, i] > 0:
            raise InputError(f"the variance of {j}:dlog_output is {cov[i, i]:g}; it must be > 0 "
                             "(output growth that never varies has no correlation)",
                             file=file, field="cov")
    sd = np.sqrt(np.clip(np.diag(cov), 0.0, None))
    if not np.allclose(cov, cov.T, rtol=1e-9, atol=1e-12):
        raise InputError("must be symmetric", file=file, field="cov")
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = cov / np.outer(sd, sd)
    bad = np.argwhere(np.isfinite(corr) & (np.abs(corr) > 1.0 + _TOL))
    if len(bad):  # no covariance matrix has one; a near-PD estimate is repaired, this is not
        i, j = (int(x) for x in bad[0])
        raise InputError(f"{variables[i]} / {variables[j]}: a covariance implying the "
                         f"correlation {corr[i, j]:.3g}, outside [-1, 1]", file=file, field="cov")
    if "corr_output_emissions" not in d:  # the engine used 0 for every market
        raise InputError("missing: each jurisdiction's correlation of output and emissions, "
                         "which the fit writes (every market would run with 0); restore it or "
                         "refit", file=file, field="corr_output_emissions")
    corr_oe = d["corr_output_emissions"]
    if not isinstance(corr_oe, dict):
        raise InputError("must be a mapping of jurisdiction id to a correlation", file=file,
                         field="corr_output_emissions")
    gone = [j for j in jurs if j not in corr_oe]
    if gone:  # that jurisdiction's markets ran with 0 in place of its measured correlation
        raise InputError(f"no entry for {gone[0]!r}, whose markets would run with 0; give one "
                         f"per jurisdiction of the file ({', '.join(jurs)})", file=file,
                         field="corr_output_emissions")
    for j, r in corr_oe.items():
        if j not in jurs:
            raise InputError(f"{j!r} is not one of the file's jurisdictions ({', '.join(jurs)})",
                             file=file, field=f"corr_output_emissions.{j}")
        if isinstance(r, bool) or not isinstance(r, int | float) or not -1.0 <= r <= 1.0:
            raise InputError(f"must be a correlation, a finite number in [-1, 1] (got "
                             f"{short_repr(r)})", file=file, field=f"corr_output_emissions.{j}")


#: Keys of ``fx.json`` and ``carry.json`` (what ``riskmodel fit`` writes).
FX_KEYS = frozenset({"numeraire", "rates", "source", "year"})
CARRY_KEYS = frozenset({"schema", "unit", "years", "rates", "days", "default", "source"})
#: Range of an exchange rate (numeraire per unit): the scenario's bound on a link's rate; a
#: rate of 1e300 or 1e-300 ran the cost statistics into inf and NaN.
FX_RANGE = (1e-5, 1e5)


def validate_fx(d: Any, *, file: str | Path | None = None) -> None:
    """``fx.json``: numeraire per unit of each listed currency, finite, positive, bounded;
    the numeraire's own rate 1."""
    from riskmodel.sim.scenario import CURRENCIES

    if not isinstance(d, dict) or not isinstance(d.get("rates", {}), dict):
        raise InputError("must be a JSON object with a 'rates' mapping", file=file, field="rates")
    _known_keys(d, FX_KEYS, "fx", file, schema_kind=False)
    num = d.get("numeraire", "EUR")
    if num not in CURRENCIES:
        raise InputError(f"must be one of {', '.join(CURRENCIES)} (got {short_repr(num)})",
                         file=file, field="numeraire")
    lo, hi = FX_RANGE
    for ccy, rate in (d.get("rates") or {}).items():
        if ccy not in CURRENCIES:
            raise InputError(f"unknown currency (known: {', '.join(CURRENCIES)})", file=file,
                             field=f"rates.{ccy}")
        if (
            isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or not math.isfinite(rate)
            or rate <= 0
        ):
            raise InputError(
                f"must be a finite number > 0 (got {rate!r})", file=file, field=f"rates.{ccy}"
            )
        if not lo <= rate <= hi:
            raise InputError(f"{rate:g} {num} per {ccy} is outside [{lo:g}, {hi:g}] (a typo?)",
                             file=file, field=f"rates.{ccy}")
        if ccy == num and rate != 1.0:
            raise InputError(f"the numeraire's own rate must be 1 (got {rate:g})", file=file,
                             field=f"rates.{ccy}")
    year = d.get("year")
    if year is not None and (isinstance(year, bool) or not isinstance(year, int)):
        raise InputError(f"must be a whole year (got {short_repr(year)})", file=file,
                         field="year")


def fx_rates(d: dict[str, Any], numeraire: str) -> dict[str, float]:
    """Numeraire per unit of each currency from a validated ``fx.json`` (its own numeraire at
    1); empty when the file does not price ``numeraire``."""
    r = {str(a): float(b) for a, b in (d.get("rates") or {}).items()}
    r[str(d.get("numeraire", "EUR"))] = 1.0
    return {c: v / r[numeraire] for c, v in r.items()} if numeraire in r else {}


def _rate(v: Any, file: str | Path | None, field: str) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v) \
            or not 0.0 <= v <= 0.2:
        raise InputError(f"must be a finite rate in [0, 0.2] per year (got {v!r})",
                         file=file, field=field)


def validate_carry(d: Any, *, file: str | Path | None = None) -> None:
    """``carry.json``: the banking rate r per market and a default, each a finite rate in
    [0, 0.2] per year (the scenario's own bound on ``banking.carry``)."""
    if not isinstance(d, dict) or not isinstance(d.get("rates"), dict):
        raise InputError("must be a JSON object with a 'rates' mapping", file=file, field="rates")
    _known_keys(d, CARRY_KEYS, "carry", file)
    for mid, r in d["rates"].items():
        if not isinstance(mid, str) or not re.fullmatch(r"[a-z][a-z0-9_]*", mid):
            raise InputError("not a market id (lower-case letters, digits, _)", file=file,
                             field=f"rates.{mid}")
        _rate(r, file, f"rates.{mid}")
    _rate(d.get("default"), file, "default")
    days = d.get("days") or {}
    if not isinstance(days, dict):
        raise InputError("must be a mapping of market id to a number of days", file=file,
                         field="days")
    for mid, n in days.items():
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InputError(f"must be a whole number of days >= 0 (got {short_repr(n)})",
                             file=file, field=f"days.{mid}")
