"""Many firms from one run: one report per firm and a portfolio summary page.

The run's stored arrays are read once per sweep point (``riskmodel.batch.run_arrays``); every
firm is evaluated on the same paths, so the portfolio's cost is the path-by-path sum of the
firms' costs in one currency (the scenario's numeraire, at the scenario's fixed rates) and its
cost at risk includes the diversification between firms. ``<out>/portfolio.html``,
``portfolio.json``, ``portfolio.csv`` (with a unit column) and ``<out>/<firm>/`` per firm.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import errno
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from riskmodel.errors import InputError
from riskmodel.firm.cost import var_es
from riskmodel.firm.firm import Firm, load_firm
from riskmodel.io import atomic_write_bytes, atomic_write_json, atomic_write_text

SCHEMA = "riskmodel.firm_portfolio/1"
#: Columns of portfolio.csv, in order.
COLUMNS = ["rank", "firm", "name", "market", "currency", "unit", "expected_cost", "car95",
           "es975", "es975_unhedged", "net_short_mt", "portfolio_unit", "expected_cost_p",
           "car95_p", "es975_p", "car95_share_of_total"]


def firm_files(ref: str | Path) -> list[Path]:
    """Firm files from a folder (every ``*.yaml``) or a CSV with a ``firm`` column (paths, or
    names of files in ``data/firms/``, relative to the CSV's folder)."""
    from riskmodel import config

    if not str(ref).strip():
        raise InputError("empty; give a folder of firm YAML files or a CSV with a 'firm' column",
                         field="--firms")
    p = Path(ref)
    if p.is_dir():
        named = sorted(f for f in p.iterdir() if f.name.lower().endswith((".yaml", ".yml")))
        for f in named:  # skipped, one firm would be missing from the portfolio without a word
            if not f.is_file():
                raise InputError(f"not a regular file ({_not_a_file(f)}); remove it or fix it",
                                 file=f, field="--firms")
        out = named
        if not out:
            raise InputError("no firm files (*.yaml) in the folder", file=p, field="--firms")
        by_stem: dict[str, Path] = {}
        for f in out:  # a.yaml and a.yml: one report folder, one label (the first overwritten)
            if f.stem in by_stem:
                raise InputError(f"{by_stem[f.stem].name} and {f.name} would both be reported "
                                 f"as {f.stem!r}; rename one file", file=f, field="--firms")
            by_stem[f.stem] = f
        hidden = next((f for f in out if f.name.startswith(".")), None)
        if hidden is not None:  # its report folder would be hidden (rep/.yaml/)
            raise InputError("a firm file name starts with '.'; rename it (its report folder "
                             "is named after it)", file=hidden, field="--firms")
        return out
    if not p.is_file():
        raise InputError("no such firm list (a folder of firm YAML files or a CSV)", file=p,
                         field="--firms")
    if p.suffix.lower() in (".yaml", ".yml"):  # read as a CSV it gave a pandas tokenizer error
        raise InputError("a firm file, not a list of firms: give a folder of firm YAML files or "
                         "a CSV with a 'firm' column (report --firm takes one firm file)",
                         file=p, field="--firms")
    _check_row_widths(p)
    try:
        frame = pd.read_csv(p, dtype=str)
    except (ValueError, pd.errors.ParserError) as exc:
        raise InputError(f"unreadable CSV ({exc})", file=p, field="--firms") from None
    if "firm" not in frame.columns:
        near = next((str(c) for c in frame.columns if str(c).strip().lower() == "firm"), None)
        hint = (f"; {near!r} is not it: name the column firm, in lower case without spaces"
                if near is not None else "")
        raise InputError(f"needs a 'firm' column (has: "
                         f"{', '.join(repr(str(c)) for c in frame.columns)}){hint}", file=p,
                         field="firm")
    extra = [str(c) for c in frame.columns if c != "firm"]
    if extra:  # a weight or hedge column would be ignored; a second 'firm' reads as firm.1
        raise InputError(f"unknown column(s) {', '.join(extra)}: the list has one column, "
                         "'firm' (weights and hedges belong in the firm files)", file=p,
                         field=extra[0])
    out: list[Path] = []
    seen: dict[Path, int] = {}  # resolved file -> its row
    stems: dict[str, tuple[int, str]] = {}  # report folder -> (row, as listed)
    for k, ref_k in enumerate(frame["firm"].fillna("")):
        ref_k = ref_k.strip()
        cands = [p.parent / ref_k, Path(ref_k), config.FIRMS_DIR / f"{ref_k}.yaml"]
        hit = next((c for c in cands if ref_k and c.is_file()), None)
        if hit is None:
            raise InputError(f"row {k + 2}: no firm file {ref_k!r}", file=p, field="firm")
        if hit.suffix.lower() == ".csv":  # read as a firm file: "must be a mapping", of the row
            what = "this list itself" if hit.resolve() == p.resolve() else "a list of firms"
            raise InputError(f"row {k + 2}: {ref_k!r} is {what}, not a firm file; list firm "
                             "YAML files (a list does not take other lists)", file=p,
                             field="firm")
        # one firm twice would count twice in the portfolio total; two files of one stem would
        # share a report folder (the second overwrote the first) and a firm_results label
        if hit.resolve() in seen:
            raise InputError(f"row {k + 2} repeats row {seen[hit.resolve()]} ({ref_k}); list "
                             "each firm once", file=p, field="firm")
        if hit.stem in stems:
            row, first = stems[hit.stem]
            raise InputError(f"rows {row} and {k + 2} ({first}, {ref_k}) would both be "
                             f"reported as {hit.stem!r}; rename one file", file=p, field="firm")
        seen[hit.resolve()] = k + 2
        stems[hit.stem] = (k + 2, ref_k)
        out.append(hit)
    if not out:
        raise InputError("lists no firms", file=p, field="firm")
    return out


def _not_a_file(path: Path) -> str:
    """What a folder entry named like a firm file is, when it is not a regular file."""
    if path.is_dir():
        return "a folder"
    if path.exists():
        return "a device or a pipe"
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic-link loop"
    return "a broken symbolic link" if path.is_symlink() else "gone while the folder was read"


def _check_row_widths(p: Path) -> None:
    """No row with more fields than the header: pandas reads such a row's first field as the
    row's index, so ``fs/a.yaml,fs/b.yaml`` under ``firm`` would list b alone (firm a missing
    from the portfolio total without a word) and ``fs/a.yaml,2.0`` would name '2.0'. Text that
    is not UTF-8, or not CSV, is left to pandas' own reading to refuse."""
    try:
        text = p.read_text(encoding="utf-8-sig")
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except (UnicodeDecodeError, OSError, csv.Error):
        return
    # pandas skips blank (and whitespace-only) lines; rows are numbered as its index is (+2)
    rows = [r for r in rows if r and not (len(r) == 1 and not r[0].strip())]
    if not rows:
        return
    header = rows[0]
    for k, row in enumerate(rows[1:]):
        if len(row) > len(header):
            raise InputError(
                f"row {k + 2} has {len(row)} fields but the header has {len(header)} "
                f"({', '.join(repr(h) for h in header)}); list one firm per row",
                file=p, field="firm")


#: What the portfolio writes beside the firms' report folders (``<firm file stem>/``).
_PORTFOLIO_NAMES = {"portfolio.html", "portfolio.json", "portfolio.csv", "portfolio.pdf",
                    "figures"}


def _check_firm_file_names(loaded: list[tuple[Path, Firm]]) -> None:
    """No firm file named like a portfolio output (its report folder would take that name), and
    no two with one ``name``: most likely a copied file left unedited, which would count the
    firm twice in the portfolio total and show two rows no reader can tell apart."""
    first: dict[str, Path] = {}
    for path, firm in loaded:
        if path.stem.casefold() in _PORTFOLIO_NAMES:  # its report folder would be one of them
            raise InputError(f"a firm file may not be named {path.stem}.yaml: the portfolio "
                             f"writes {path.stem} beside the firms' report folders; rename it",
                             file=path, field="--firms")
        key = " ".join(firm.name.split()).casefold()
        if key in first:
            raise InputError(f"{firm.name!r} is also the name in {first[key].name}; each firm "
                             "once, with its own name", file=path, field="name")
        first[key] = path


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _chart(rows: list[dict[str, Any]], unit: str) -> bytes:
    fig = Figure(figsize=(7.0, 0.8 + 0.45 * len(rows)))
    ax = fig.add_subplot(1, 1, 1)
    y = np.arange(len(rows))
    ax.barh(y - 0.2, [r["expected_cost_p"] for r in rows], height=0.38, color="#4c72b0",
            label="expected cost")
    ax.barh(y + 0.2, [r["car95_p"] for r in rows], height=0.38, color="#c44e52",
            label="cost at risk 95 (VaR 95 − mean)")
    ax.set_yticks(y, [r["name"] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(unit)
    fmt = ax.xaxis.get_major_formatter()
    if hasattr(fmt, "set_scientific"):
        fmt.set_scientific(False)
        fmt.set_useOffset(False)
    ax.legend(fontsize=8)
    ax.set_title("Compliance cost over the horizon, with the firms' hedges", fontsize=10)
    return _png(fig)


def make_portfolio(run: str | Path, firms: str | Path, *, out: str | Path | None = None,
                   point: int = 0, pdf: bool = False) -> dict[str, Path]:
    """One report per firm and the portfolio page, from a run's stored arrays (no simulation)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    from riskmodel import __version__
    from riskmodel.batch.run_arrays import point_arrays
    from riskmodel.batch.runs import find_run
    from riskmodel.firm.inputs import (
        add_run_events,
        check_firm_fits,
        check_run_paths,
        fx_rate,
        inputs_from_arrays,
        market_currency,
    )
    from riskmodel.firm.report import build_report, report_unit, write_report
    from riskmodel.firm.units import money_scale

    d = find_run(run)
    files = firm_files(firms)
    loaded: list[tuple[Path, Firm]] = [(f, load_firm(f)) for f in files]
    _check_firm_file_names(loaded)

    def precheck(scn: Any) -> None:  # every firm fits the run before anything is read
        check_run_paths(scn, d)
        for f, firm in loaded:
            check_firm_fits(firm, scn, firm_file=f)

    scn, annual, kept = point_arrays(d, point, precheck=precheck)  # read once
    out = Path(out) if out is not None else d / "reports"
    num = scn.simulation.numeraire
    rows: list[dict[str, Any]] = []
    totals: list[np.ndarray] = []
    written: dict[str, Path] = {}
    main = ""
    reports = []  # every report built (and so every firm checked) before the first is written
    for path, firm in loaded:
        inputs = inputs_from_arrays(firm, scn, annual, kept,
                                    source=f"run {d.name} (stored arrays of sweep point {point})",
                                    firm_file=path)
        add_run_events(inputs, d, point)
        rep = build_report(firm, inputs)
        reports.append((path, rep))
        r = rep.risk
        # one state of the world for every firm: the scenario with its events (where events do
        # not move a firm's market, linked with events equals linked for it)
        main = next(v for v in ("linked_events", "linked", r.variants[0]) if v in r.variants)
        k = r.variants.index(main)
        u = report_unit(r)
        plain = firm.model_copy(update={"fx_rate": None})
        to_num = fx_rate(scn, plain, market_currency(scn, firm.market, file=path), num,
                         file=path) / r.fx
        totals.append(r.total[k] * to_num)
        rows.append({"firm": path.stem, "name": firm.name, "market": firm.market,
                     "currency": r.currency, "unit": u.name,
                     "expected_cost": r.value(main, "mean") / u.scale,
                     "car95": r.value(main, "car95") / u.scale,
                     "es975": r.value(main, "es975") / u.scale,
                     "es975_unhedged": r.value(main, "es975_unhedged") / u.scale,
                     "net_short_mt": r.value(main, "bought_mean"),
                     "_mean": float(r.total[k].mean() * to_num),
                     "_car": float(var_es(r.total[k] * to_num)["var95"]
                                   - (r.total[k] * to_num).mean()),
                     "_es": float(var_es(r.total[k] * to_num)["es975"])})
    if not rows:
        raise InputError("no firms to report", field="--firms")
    total = np.sum(totals, axis=0)
    te = var_es(total)
    t_mean, t_car = float(total.mean()), float(te["var95"] - total.mean())
    scale, punit = money_scale(max(abs(t_mean), abs(t_car)), num)
    for row in rows:
        row["portfolio_unit"] = punit
        row["expected_cost_p"] = row.pop("_mean") / scale
        row["car95_p"] = row.pop("_car") / scale
        row["es975_p"] = row.pop("_es") / scale
        row["car95_share_of_total"] = row["car95_p"] * scale / t_car if t_car else float("nan")
    rows.sort(key=lambda x: -x["car95_p"])
    for i, row in enumerate(rows, 1):
        row["rank"] = i
    total_row = {"expected_cost_p": t_mean / scale, "car95_p": t_car / scale,
                 "es975_p": float(te["es975"]) / scale,
                 "sum_car95_p": sum(r["car95_p"] for r in rows)}
    total_row["diversification_p"] = total_row["sum_car95_p"] - total_row["car95_p"]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    png = _chart(rows, punit)
    generated = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    for path, rep in reports:
        written[path.stem] = write_report(rep, out / path.stem, pdf=pdf)["html"]
    env = Environment(loader=PackageLoader("riskmodel.firm", "templates"), autoescape=True,
                      undefined=StrictUndefined)
    page = env.get_template("portfolio.html.j2").render(
        run=d.name, scenario=scn.name, paths=f"{scn.simulation.paths:,}", variant=main,
        rows=rows, total=total_row, unit=punit, numeraire=num,
        chart=base64.b64encode(png).decode("ascii"), generated=generated,
        version=__version__, point=point)
    data = {"schema": SCHEMA, "run": d.name, "scenario": scn.name, "sweep_point": point,
            "paths": scn.simulation.paths, "variant": main, "unit": punit,
            "unit_in_millions": scale, "firms": rows, "total": total_row,
            "generated": generated, "version": __version__}
    written["portfolio.html"] = atomic_write_text(out / "portfolio.html", page)
    written["portfolio.json"] = atomic_write_json(out / "portfolio.json", data)
    written["portfolio.csv"] = atomic_write_text(out / "portfolio.csv", frame.to_csv(index=False))
    written["portfolio.png"] = atomic_write_bytes(out / "figures" / "portfolio.png", png)
    return written
