"""The numba cache is keyed by the package's numba sources: an edit of a module the kernel
inlines (the link solver) must not leave a stale compiled kernel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import riskmodel
from riskmodel import numba_cache

PKG = Path(riskmodel.__file__).resolve().parent


def _copy(tmp: Path) -> Path:
    dst = tmp / "riskmodel"
    shutil.copytree(PKG, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def test_fingerprint_follows_numba_sources_only(tmp_path: Path) -> None:
    pkg = _copy(tmp_path)
    before = numba_cache.fingerprint(pkg)
    assert before == numba_cache.fingerprint(PKG)
    cli = pkg / "cli.py"
    assert b"import numba" not in cli.read_bytes() and b"from numba" not in cli.read_bytes()
    cli.write_text(cli.read_text() + "\n# edited\n")
    assert numba_cache.fingerprint(pkg) == before  # no kernel changed: the cache stays valid
    solver = pkg / "linking" / "fast_paths.py"
    solver.write_text(solver.read_text() + "\n# edited\n")
    assert numba_cache.fingerprint(pkg) != before  # inlined into the kernel: a new cache


def test_prune_keeps_the_current_and_the_newest_others(tmp_path: Path) -> None:
    dirs = []
    for k in range(5):
        d = tmp_path / f"src-{k}"
        d.mkdir()
        os.utime(d, (time.time() - 100 + k, time.time() - 100 + k))
        dirs.append(d)
    (tmp_path / "other").mkdir()  # not ours: left alone
    numba_cache.prune(tmp_path, dirs[0], keep=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["other", "src-0", "src-3", "src-4"]


def test_kernel_cache_lives_in_the_fingerprint_folder(tmp_path: Path) -> None:
    code = ("import riskmodel, os; from riskmodel.sim import kernel; "
            "print(os.environ['NUMBA_CACHE_DIR']); print(kernel.run_paths._cache._cache_path)")
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True).stdout.split("\n")
    want = tmp_path / f"src-{numba_cache.fingerprint()}"
    assert Path(out[0]) == want
    assert Path(out[1]).is_relative_to(want)
