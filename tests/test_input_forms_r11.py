"""Run-folder damage of the eleventh hunt that the corpus (tests/bad_inputs/cases_r11.yaml)
cannot check by its stderr line alone: a zip bomb in a run's array file (a small annual.npz
that decompresses to hundreds of megabytes of zeros) must be refused from its header, before
any of it is allocated or decompressed; and the arrays of the other sweep points are not read
at all."""

from __future__ import annotations

import io
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest
from numpy.lib import format as npf
from test_bad_inputs import case_dir, invoke, materialise  # noqa: F401 - case_dir: a fixture

#: The base run (tests/bad_inputs/bases/manifest.json): 3 variants, 100 paths, 2 markets, 3 years.
SHAPE = (3, 100, 2, 3)


def _member(z: zipfile.ZipFile, name: str, shape: tuple[int, ...], fill: float = 0.0) -> None:
    """An .npy member of ``shape`` (float64), streamed: its bytes are never all in memory."""
    with z.open(f"{name}.npy", "w", force_zip64=True) as w:
        npf.write_array_header_1_0(w, {"descr": "<f8", "fortran_order": False, "shape": shape})
        row = np.full(shape[-1], fill).tobytes()
        for _ in range(int(np.prod(shape[:-1]))):
            w.write(row)


def _bomb(path: Path, bomb_key: str) -> None:
    """annual.npz with point 0's price and bau as the run stores them, and ``bomb_key`` a
    400 MB array of zeros (a file of about 400 kB)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        _member(z, "p0000__bau", SHAPE, 100.0)
        _member(z, "p0000__price", SHAPE, 30.0)
        _member(z, bomb_key, (1, 50_000, 1000))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buf.getvalue())
    assert path.stat().st_size < 2_000_000


def _report(capsys: pytest.CaptureFixture[str]) -> tuple[int, str, int]:
    """``report --run runs/r1``: (exit status, stderr, peak bytes allocated meanwhile)."""
    tracemalloc.start()
    try:
        code, out, err = invoke(["report", "--run", "runs/r1", "--firm", "f.yaml", "--out",
                                 "rep"], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "Traceback" not in out + err
    return code, err, peak


def test_zip_bomb_in_annual_is_refused_before_it_is_read(
        case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    materialise({"base": "firm.yaml"}, case_dir / "f.yaml")
    materialise({"base": "manifest.json"}, case_dir / "runs/r1/manifest.json")
    _bomb(case_dir / "runs/r1/annual.npz", "p0000__output")
    code, err, peak = _report(capsys)
    assert code == 2
    assert err == ("error: runs/r1/annual.npz: annual.output: its header claims a float64 array "
                   "shaped (1, 50000, 1000) (400.0 MB), more than this run can have stored (at "
                   "most 14.4 kB); delete the run and run it again (reports read these arrays "
                   "and never re-simulate)\n")
    assert peak < 100_000_000, f"{peak / 1e6:.0f} MB allocated before the bomb was refused"
    assert not (case_dir / "rep").exists()


def test_other_points_arrays_are_not_read(
        case_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    """A bomb under another sweep point's key is never opened by a report of point 0 (which
    reads its own price, bau and output only)."""
    materialise({"base": "firm.yaml"}, case_dir / "f.yaml")
    materialise({"base": "manifest.json"}, case_dir / "runs/r1/manifest.json")
    _bomb(case_dir / "runs/r1/annual.npz", "p0001__price")
    code, err, peak = _report(capsys)
    assert peak < 100_000_000, f"{peak / 1e6:.0f} MB allocated: another point's arrays were read"
    assert (code, err) == (0, ""), err
