"""Run folders checked on read: manifest, results and array files, with what to do next.

A run folder can be damaged after the fact (a disk filled up, a file truncated by a copy, a
manifest edited by hand). Every reader of a run folder (``runs list/show/compare``,
``report --run``, ``run --resume``) goes through these checks, so a damaged folder is answered
with one line naming the file and saying what to do (resume, or delete the folder), and
``runs list`` shows it as broken instead of hiding it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from riskmodel.errors import DataError, InputError
from riskmodel.strict import short_repr

#: Keys a manifest cannot be read without (``runner.create_run`` writes many more).
MANIFEST_KEYS = ("schema", "plan")
#: Columns every ``results.parquet`` has (``runner.finalize``).
RESULTS_COLUMNS = ("sweep_point", "variant", "market", "statistic", "value")


class _Part(BaseModel):
    """A part of the manifest: the keys the readers use are typed, the others kept as they are."""

    model_config = ConfigDict(extra="allow", strict=True)


class SeedShape(_Part):
    """``seeds[k]``: seed and chunk layout of sweep point k (``runner.seed_info``)."""

    seed: Annotated[int, Field(ge=0)]
    entropy: str | None = None
    paths: Annotated[int, Field(ge=1)]
    paths_per_chunk: Annotated[int, Field(ge=1)]
    n_chunks: Annotated[int, Field(ge=1)]


class SessionShape(_Part):
    """``sessions[i]``: one session of the run (``runner._execute``)."""

    session: Annotated[int, Field(ge=0)] | None = None
    seconds: Annotated[float, Field(ge=0)] | None = None
    n_jobs_note: str | None = None


class LedgerEntryShape(_Part):
    """``ledger.entries[i]``: a finished chunk and the sha256 of its file (``runner.finalize``);
    a resume checks each chunk file against it."""

    point: Annotated[int, Field(ge=0)]
    chunk: Annotated[int, Field(ge=0)]
    first_path: Annotated[int, Field(ge=0)] | None = None
    n_paths: Annotated[int, Field(ge=1)] | None = None
    session: Annotated[int, Field(ge=0)] | None = None
    finished: str | None = None
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]


class LedgerShape(_Part):
    """``ledger``: every chunk the last merge read."""

    chunks: Annotated[int, Field(ge=0)] | None = None
    entries: list[LedgerEntryShape] = []


class PlanShape(_Part):
    """``plan``: the scenario in the user's words (``ScenarioPlan.to_json``)."""

    file: str | None = None
    form: str | None = None
    scenario: dict[str, Any]
    sweep: dict[str, Any] | None = None
    #: What the command line set (``--paths``, ``--seed``): simulation field -> value.
    overrides: dict[str, int] = {}
    points: list[dict[str, Any]] = [{}]


class ProductsShape(BaseModel):
    """``products``: what the run wrote besides its results (firm files of ``--firms``)."""

    model_config = ConfigDict(extra="allow", strict=True)

    #: ``--keep-events``: a resume writes the single-event arrays when true
    events: bool = False
    firms: list[str] = []


class ManifestShape(BaseModel):
    """The types of the manifest keys the readers use (``runner.create_run`` writes them): a
    hand-edited or damaged manifest is refused here, before any reader trips over it."""

    model_config = ConfigDict(extra="allow", strict=True)

    schema_: str = Field(alias="schema")
    run_id: str | None = None
    status: Literal["running", "complete", "failed"] | None = None
    started: str | None = None
    finished: str | None = None
    plan_hash: str | None = None
    engine: str | None = None
    streams: str | None = None
    plan: PlanShape
    seeds: list[SeedShape] = []
    sessions: list[SessionShape] = []
    ledger: LedgerShape | None = None
    outputs: dict[str, Any] | None = None
    products: ProductsShape = ProductsShape()
    calibrations: dict[str, str] = {}
    catalogue: dict[str, str] = {}
    #: file name -> sha256 of what the run wrote after its chunks (:func:`record_digests`)
    digests: dict[str, Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]] = {}

    @field_validator("ledger", mode="before")
    @classmethod
    def _ledger(cls, v: Any) -> Any:
        if v is not None and not isinstance(v, dict):
            raise ValueError("input should be a valid dictionary")
        return v

    @field_validator("schema_")
    @classmethod
    def _schema(cls, v: str) -> str:
        from riskmodel.batch.runner import OLD_SCHEMAS, SCHEMA

        if v not in (SCHEMA, *OLD_SCHEMAS):
            raise ValueError(f"a run schema this version does not know (it reads {SCHEMA})")
        return v

    @field_validator("engine")
    @classmethod
    def _engine(cls, v: str | None) -> str | None:
        """Resuming imports the engine module the manifest names: only riskmodel's own (or a
        stand-in engine this process already runs: tests, ``RISKMODEL_ENGINE``)."""
        import os
        import sys

        loaded = sys.modules.get(v or "")
        if v is not None and not (v == "riskmodel.sim.engine"
                                  or v == os.environ.get("RISKMODEL_ENGINE")
                                  or hasattr(loaded, "simulate_chunk")):
            raise ValueError("not an engine of riskmodel (riskmodel.sim.engine)")
        return v


def _what_next(run_dir: Path) -> str:
    return f"resume it (riskmodel run --resume {run_dir}) or delete the folder"


def rebuild_advice(run_dir: Path) -> str:
    """What to do with a damaged file of the merge's (results, arrays, summary)."""
    return (
        f"delete it and run riskmodel run --resume {run_dir} to rebuild it from the "
        "chunks (or delete the run folder)"
    )


#: The manifest's key holding the sha256 of each file the run wrote after its chunks: the
#: merge's results, arrays and summary, then the single-event arrays and firm results.
DIGESTS = "digests"


def record_digests(manifest: dict[str, Any], run_dir: Path, names: Any) -> None:
    """Put the sha256 of each written file ``names`` into ``manifest[DIGESTS]`` (the caller
    writes the manifest)."""
    from riskmodel.io import sha256_file

    digests = manifest.setdefault(DIGESTS, {})
    for name in names:
        digests[name] = sha256_file(run_dir / name)


def check_digest(path: Path, manifest: dict[str, Any] | None, *, field: str,
                 what_next: str) -> None:
    """A file of a run folder must be the one the run wrote, where its manifest recorded a
    digest (runs before the digests were recorded are read as they are): a file edited,
    copied from another run or damaged without becoming unreadable (a Parquet or zip file
    keeps no checksum of its values) would otherwise be read as the run's numbers. Called
    after a reader's own checks, which say more precisely what is wrong where they can."""
    want = ((manifest or {}).get(DIGESTS) or {}).get(path.name)
    if want is None:
        return
    from riskmodel.io import sha256_file

    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, st.st_ino, want)
    if key in _VERIFIED:  # (the firms of a portfolio read the same large arrays: hashed once)
        return
    if sha256_file(path) != want:
        raise DataError(f"changed since the run wrote it (its sha256 is not the one the run's "
                        f"manifest recorded); {what_next}", file=path, field=field)
    if st.st_size >= _MEMO_BYTES:
        _VERIFIED.add(key)


#: Large files this process found equal to their digest, with the size and time they had
#: then (small ones are hashed again: cheap, and immune to a rewrite within one clock tick).
_VERIFIED: set[tuple[str, int, int, int, str]] = set()
_MEMO_BYTES = 64_000_000


def check_out_folder(out: str | Path, *, field: str = "--out", what: str = "run folders"
                     ) -> Path:
    """``--out`` must be a folder (or not exist yet), never a file, nor an empty path (which
    ``Path`` reads as the working folder), nor inside a run folder's ``chunks/`` (which a
    resume and the merge read as the run's own); ``what`` it holds is named in messages."""
    if isinstance(out, str) and not out.strip():
        raise InputError(f"give a folder (got an empty path {out!r})", field=field)
    out = Path(out)
    if out.is_symlink() and not out.exists():
        raise InputError(f"{out} is a broken symbolic link (to {os.readlink(out)}); give a "
                         "folder", field=field)
    if out.exists() and not out.is_dir():
        raise InputError(f"{out} is a file; give a folder for {what}", field=field)
    for parent in out.parents:
        if parent.exists() and not parent.is_dir():
            raise InputError(f"{parent} is a file; give a folder for {what}", field=field)
    from riskmodel.batch.runner import CHUNKS, MANIFEST

    for folder in (out, *out.parents):
        if folder.name == CHUNKS and (folder.parent / MANIFEST).is_file():
            where = "is" if folder == out else "is inside"
            raise InputError(f"{out} {where} the chunks folder of the run {folder.parent} "
                             f"(its finished chunks); give a folder for {what} outside it",
                             field=field)
    return out


def parse_manifest(path: Path) -> dict[str, Any]:
    """A manifest's JSON object, checked for the keys a run folder needs."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise DataError(
            "not UTF-8 text; the folder cannot be resumed: delete it and run the scenario again",
            file=path,
            field="manifest",
        ) from None
    from riskmodel.io import DuplicateKeyError, InputShapeError, check_shape, loads_unique

    try:
        m = loads_unique(text)
        check_shape(m)
    except InputShapeError as exc:
        raise DataError(f"{exc.problem}; the folder cannot be resumed: delete it and run the "
                        "scenario again", file=path, field=exc.where or "manifest") from None
    except DuplicateKeyError as exc:  # json would keep the last ('running' then 'complete')
        raise DataError(f"{exc}; the folder cannot be resumed: delete it and run the scenario "
                        "again", file=path, field=f"line {exc.line}") from None
    except RecursionError:
        raise DataError("nested too deeply to be a manifest; the folder cannot be resumed: "
                        "delete it and run the scenario again", file=path,
                        field="manifest") from None
    except json.JSONDecodeError as exc:  # (a ValueError: before the digits' one below)
        raise DataError(
            f"not valid JSON ({exc.msg}, line {exc.lineno}); the folder cannot be resumed: "
            "delete it and run the scenario again",
            file=path,
            field="manifest",
        ) from None
    except ValueError as exc:  # json's integer of over sys.get_int_max_str_digits() digits
        if "digits" not in str(exc):
            raise
        raise DataError("a number with thousands of digits; the folder cannot be resumed: "
                        "delete it and run the scenario again", file=path,
                        field="manifest") from None
    if not isinstance(m, dict):
        raise DataError(
            "not a JSON object; the folder cannot be resumed: delete it and run the scenario again",
            file=path,
            field="manifest",
        )
    missing = [k for k in MANIFEST_KEYS if k not in m]
    if missing:
        raise DataError(
            "missing from the manifest; the folder cannot be resumed: delete it and run "
            "the scenario again",
            file=path,
            field=missing[0],
        )
    plan = m.get("plan")
    if not isinstance(plan, dict) or not isinstance(plan.get("scenario"), dict):
        raise DataError(
            "manifest has no scenario under 'plan'; delete the folder and run the scenario again",
            file=path,
            field="plan.scenario",
        )
    if not isinstance(m.get("seeds", []), list):
        raise DataError(
            "must be a list; delete the folder and run the scenario again", file=path, field="seeds"
        )
    try:
        ManifestShape.model_validate(m)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = "".join(f"[{p}]" if isinstance(p, int) else f".{p}"
                        for p in err["loc"]).lstrip(".") or "manifest"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "model_type":  # not the model's class name: what the file lacks
            msg = "input should be a valid dictionary"
        got = "" if err["type"] == "missing" else f" (got {short_repr(err.get('input'))})"
        raise DataError(f"{msg[:1].lower()}{msg[1:]}{got}; the manifest is damaged: delete the "
                        "folder and run the scenario again", file=path, field=field) from None
    return m


def _written_rows(manifest: dict[str, Any] | None, name: str) -> int | None:
    """How many rows the run's merge wrote into ``name`` (its manifest's ``outputs``), if
    recorded."""
    entry = ((manifest or {}).get("outputs") or {}).get(name)
    rows = entry.get("rows") if isinstance(entry, dict) else None
    return rows if isinstance(rows, int) and not isinstance(rows, bool) else None


#: Columns that identify one row of ``results.parquet``: whole numbers, and text.
_KEY_INTEGERS = ("sweep_point", "year")
_KEY_TEXT = ("variant", "market", "statistic")


def check_results(run_dir: Path, name: str = "results.parquet", *,
                  manifest: dict[str, Any] | None = None, digest: bool = True) -> None:
    """``results.parquet`` must be a readable Parquet file with the expected columns and
    column types, as many rows as the run's ``manifest`` says its merge wrote and (``digest``)
    the digest it recorded."""
    import pyarrow.parquet as pq

    fix = rebuild_advice(run_dir)

    path = run_dir / name
    if not path.is_file():
        raise DataError(f"missing; {_what_next(run_dir)}", file=path, field="results")
    try:
        meta = pq.read_metadata(path)
        schema = meta.schema.to_arrow_schema()
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for bad files
        raise DataError(
            f"not a readable Parquet file ({type(exc).__name__}); {fix}",
            file=path,
            field="results",
        ) from None
    missing = [c for c in (*RESULTS_COLUMNS, "year", "mcse") if c not in schema.names]
    if missing:
        raise DataError(
            f"lacks column(s) {', '.join(missing)}; {fix}", file=path, field="results"
        )
    import pyarrow as pa

    for col in ("value", "mcse"):
        kind = schema.field(col).type
        if not (pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_null(kind)):
            raise DataError(f"not numbers ({kind}); {fix}", file=path, field=col)
    # the columns rows are matched on (runs compare): another type fails the merge, or pairs
    # nothing
    for col in _KEY_INTEGERS:
        kind = schema.field(col).type
        if not pa.types.is_integer(kind):
            raise DataError(f"not whole numbers ({kind}); {fix}", file=path,
                            field=col)
    for col in _KEY_TEXT:
        kind = schema.field(col).type
        if pa.types.is_dictionary(kind):  # (a pandas category)
            kind = kind.value_type
        if not (pa.types.is_string(kind) or pa.types.is_large_string(kind)
                or pa.types.is_string_view(kind)):
            raise DataError(f"not text ({kind}); {fix}", file=path, field=col)
    rows = _written_rows(manifest, name)
    if rows is not None and meta.num_rows != rows:
        raise DataError(f"holds {meta.num_rows} row(s), but the run wrote {rows} (its manifest's "
                        f"outputs); {fix}", file=path, field="results")
    if digest:
        check_digest(path, manifest, field="results", what_next=fix)


def read_results(run_dir: Path, name: str = "results.parquet", *,
                 manifest: dict[str, Any] | None = None) -> Any:
    """A run's results as a DataFrame, after :func:`check_results`; refused when a row lacks
    a key or repeats another's (a merge on them would pair rows twice, or drop them), then
    checked against the manifest's digest."""
    import pandas as pd

    fix = rebuild_advice(run_dir)
    check_results(run_dir, name, manifest=manifest, digest=False)
    path = run_dir / name
    try:
        frame = pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001
        raise DataError(
            f"unreadable ({type(exc).__name__}); {fix}", file=path, field="results"
        ) from None
    keys = [*_KEY_INTEGERS, *_KEY_TEXT, *(["period"] if "period" in frame.columns else [])]
    for col in keys:
        n = int(frame[col].isna().sum())
        if n:
            raise DataError(f"{n} row(s) without one; {fix}", file=path, field=col)
    n = int(frame.duplicated(keys).sum())
    if n:
        raise DataError(f"{n} row(s) repeat another row's {', '.join(keys)}; "
                        f"{fix}", file=path, field="results")
    check_digest(path, manifest, field="results", what_next=fix)
    return frame


_AGAIN = "delete the run and run it again (reports read these arrays and never re-simulate)"


def _size(n: int) -> str:
    """A byte count for a message: '5.8 kB', '4.0 GB'."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


def _check_member(zf: Any, member: str, path: Path, field: str, max_bytes: int | None) -> None:
    """An array of an ``.npz`` file, judged by its header before a byte of it is read: numbers
    (no pickled Python objects), no larger than ``max_bytes`` (what the run can have stored: a
    header claiming an enormous shape, or a zip bomb of zeros, would otherwise be allocated and
    decompressed in full), and exactly as long as its header says."""
    import numpy as np
    from numpy.lib import format as npf

    with zf.open(member) as fh:
        version = npf.read_magic(fh)  # ValueError: not an array (raw bytes would be returned)
        if version == (1, 0):
            shape, _, dtype = npf.read_array_header_1_0(fh)
        elif version == (2, 0):
            shape, _, dtype = npf.read_array_header_2_0(fh)
        else:
            raise ValueError(f"array format version {version}")
        start = fh.tell()
    if dtype.hasobject:
        raise DataError(f"an array of Python objects (pickled), where the engine stores numbers; "
                        f"{_AGAIN}", file=path, field=field)
    nbytes = int(np.prod(shape, dtype=object)) * dtype.itemsize
    if max_bytes is not None and nbytes > max_bytes:
        raise DataError(f"its header claims a {dtype} array shaped {tuple(shape)} "
                        f"({_size(nbytes)}), more than this run can have stored (at most "
                        f"{_size(max_bytes)}); {_AGAIN}", file=path, field=field)
    held = zf.getinfo(member).file_size - start
    if held != nbytes:
        raise DataError(f"its header claims {_size(nbytes)} of data, the file holds "
                        f"{_size(max(held, 0))}; {_AGAIN}", file=path, field=field)


def load_npz(path: Path, *, prefix: str = "", names: tuple[str, ...] | None = None,
             max_bytes: int | None = None, label: str | None = None) -> dict[str, Any]:
    """Arrays of an ``.npz`` file of a run folder whose key starts with ``prefix`` (and, with
    ``names``, is ``prefix + name`` for one of them): only those are read, each after its
    header is checked (:func:`_check_member`, against ``max_bytes``). A damaged file is one
    line; ``label`` names the arrays in it (``annual.``: ``annual.price``)."""
    import numpy as np

    label = f"{path.stem}." if label is None else label
    try:
        with open(path, "rb") as fh:  # a bare .npy file would be read whole by np.load
            if fh.read(4) not in (b"PK\x03\x04", b"PK\x05\x06"):  # (an empty archive)
                raise ValueError("not an .npz (zip) archive")
        with np.load(path, allow_pickle=False) as z:
            members = set(z.zip.namelist())
            keys = [k for k in z.files if k.startswith(prefix)
                    and (names is None or k[len(prefix):] in names)]
            for k in keys:
                _check_member(z.zip, f"{k}.npy" if f"{k}.npy" in members else k, path,
                              f"{label}{k[len(prefix):]}", max_bytes)
            return {k: z[k] for k in keys}
    except DataError:
        raise
    except Exception as exc:  # noqa: BLE001 - zipfile/numpy raise several types
        raise DataError(f"unreadable array file ({type(exc).__name__}); {_AGAIN}", file=path,
                        field=path.stem) from None


def manifest_damage(path: Path) -> str | None:
    """What stands where a run's manifest.json belongs when it is no file: 'a folder', 'a
    broken symbolic link (or a loop)', ...; None when nothing is there (no run folder)."""
    if path.is_file() or not (path.exists() or path.is_symlink()):
        return None
    if path.is_symlink() and not path.exists():
        return "a broken symbolic link (or a loop)"
    return "a folder" if path.is_dir() else "not a regular file"


def check_manifest_not_damaged(run_dir: Path) -> None:
    """InputError naming the manifest when something other than a file stands in its place
    (the run folder is damaged, not 'no run folder')."""
    from riskmodel.batch.runner import MANIFEST

    damage = manifest_damage(run_dir / MANIFEST)
    if damage:
        raise InputError(f"{damage} where the run's manifest belongs: the run folder is "
                         "damaged; delete it and run the scenario again",
                         file=run_dir / MANIFEST, field="manifest")


def problem(run_dir: Path) -> str | None:
    """What is wrong with a run folder, or None (for ``runs list``)."""
    from riskmodel.batch.runner import MANIFEST, RESULTS

    path = run_dir / MANIFEST
    if not path.is_file():
        damage = manifest_damage(path)
        return f"manifest.json is {damage}" if damage else "no manifest.json"
    try:
        m = parse_manifest(path)
        if m.get("status") == "complete":
            check_results(run_dir, RESULTS, manifest=m)
    except InputError as exc:
        what = exc.reason.split(";")[0]
        # a field of the manifest (seeds[0].n_chunks) says where; the file's own label not
        return what if exc.field in (None, "manifest", "results") else f"{exc.field}: {what}"
    return None
