"""The section profiler's copy of the kernel (``benchmarks/kernel_profile.py``): every section
marker is found in today's ``kernel.py``, each section is wrapped once, and the copy holds the
kernel's code unchanged and in order (so a profile measures the shipped kernel)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import kernel_profile as kp  # noqa: E402


def test_every_section_wrapped_once() -> None:
    src = kp.sectioned_source()
    ast.parse(src)
    for name, *_ in kp.SECTIONS:
        guard = f"if _SKIP_{name.upper()} == 0 or p == 0:"
        assert src.count(guard) == 1, name
        assert f"\n_SKIP_{name.upper()} = 0\n" in src
    assert src.count("if (_SKIP_SOLVER == 0 or p == 0) else 0)") == 1
    assert "\n_SKIP_SOLVER = 0\n" in src


def test_copy_keeps_the_kernel_code_in_order() -> None:
    kernel = [ln.strip() for ln in kp.KERNEL.read_text().splitlines() if ln.strip()]
    copy = [ln.strip() for ln in kp.sectioned_source().splitlines() if ln.strip()]
    added = [ln for ln in copy if ln.startswith("if _SKIP_") or ln.startswith("_SKIP_")]
    assert len(added) == 2 * len(kp.SECTIONS) + 1  # guards and flags (the solver's: a flag)
    rest = [ln for ln in copy if ln not in added]
    solver_line = kp.SOLVER[2]
    rest = [kp.SOLVER[2] if ln == kp.SOLVER[3] else ln for ln in rest]
    assert rest == kernel
    assert sum(solver_line in ln for ln in kernel) == 1


def test_sections_follow_the_day_loop() -> None:
    """Each section starts after the previous one (markers searched in order), inside the
    path loop: the guard's ``p`` is the path index."""
    lines = kp.sectioned_source().splitlines()
    t_loop = next(k for k, ln in enumerate(lines) if ln.strip() == "for t in range(T):")
    p_loop = next(k for k, ln in enumerate(lines) if ln.strip() == "for p in range(n_paths):")
    pos = [next(k for k, ln in enumerate(lines) if f"_SKIP_{n.upper()} == 0" in ln)
           for n, *_ in kp.SECTIONS]
    assert p_loop < t_loop < pos[0]
    assert pos == sorted(pos)
