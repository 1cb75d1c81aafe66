"""The package as of a git revision, for benchmarks that compare whole versions in child
processes (``bench_solve_step.py --ab``, ``kernel_profile.py --ab-tree``)."""

from __future__ import annotations

import subprocess
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: Environment variable naming a tree whose ``riskmodel/`` a child imports first.
ENV = "RISKMODEL_AB_TREE"


def export(rev: str) -> Path:
    """``riskmodel/`` as of git revision ``rev`` in a temporary folder (reused)."""
    sha = subprocess.run(
        ["git", "rev-parse", rev], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.strip()
    dest = Path(tempfile.gettempdir()) / f"riskmodel_rev_{sha[:12]}"
    if not (dest / "riskmodel").is_dir():
        blob = subprocess.run(
            ["git", "archive", sha, "riskmodel"], cwd=ROOT, check=True, capture_output=True
        ).stdout
        dest.mkdir(parents=True, exist_ok=True)
        with tarfile.open(fileobj=BytesIO(blob)) as tf:
            tf.extractall(dest, filter="data")
    return dest
