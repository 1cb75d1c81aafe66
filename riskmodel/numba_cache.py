"""Where numba keeps compiled kernels: one folder per version of the package's numba sources.

numba stamps a cached function with its own source file's time and size only. The engine's
kernel compiles the link solver and the price kernels into itself (``inline="always"``), so an
edit of ``linking/fast_paths.py`` — or a ``git pull`` that changes it — would leave the cached
kernel stale: old solver, no warning. The cache therefore lives in a subfolder named for a
fingerprint of every module of the package that uses numba; any change to one of them compiles
afresh (announced on stderr), and older folders are pruned. Set up once, when the package is
imported, before any kernel is decorated.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sys
from pathlib import Path

#: Environment variable numba reads (and the base folder riskmodel keys by source fingerprint).
ENV = "NUMBA_CACHE_DIR"
#: Subpackages whose every module counts (the kernel reads their constants and functions).
ENGINE_PACKAGES = ("sim", "linking", "banking")
#: Cache folders of other source versions kept beside the current one (newest first).
KEEP = 2
_PACKAGE = Path(__file__).resolve().parent


def fingerprint(package: Path = _PACKAGE) -> str:
    """Hash of the path and text of every module under ``package`` that imports numba, and of
    every module of the engine's packages (their constants are frozen into compiled code)."""
    h = hashlib.sha256()
    for f in sorted(package.rglob("*.py")):
        data = f.read_bytes()
        rel = f.relative_to(package)
        if rel.parts[0] in ENGINE_PACKAGES or b"import numba" in data or b"from numba" in data:
            h.update(f.relative_to(package).as_posix().encode())
            h.update(b"\0")
            h.update(data)
    return h.hexdigest()[:16]


def default_base() -> Path:
    """The checkout's ``.numba_cache`` when the package runs from a writable source tree, else
    the user's cache folder."""
    root = _PACKAGE.parent
    if (root / "pyproject.toml").is_file() and os.access(root, os.W_OK):
        return root / ".numba_cache"
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "riskmodel" / "numba"


def prune(base: Path, current: Path, keep: int = KEEP) -> None:
    """Remove fingerprint folders of ``base`` other than ``current`` and the ``keep`` newest."""
    try:
        others = [d for d in base.iterdir() if d.is_dir() and d != current
                  and d.name.startswith("src-")]
    except OSError:
        return
    others.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for d in others[keep:]:
        shutil.rmtree(d, ignore_errors=True)


def configure() -> Path:
    """Point numba's cache at ``<base>/src-<fingerprint>`` (base: ``$NUMBA_CACHE_DIR`` as the
    user set it, else :func:`default_base`) and return it. Idempotent: a process that already
    configured (or a worker that inherited the setting) keeps its folder."""
    set_ = os.environ.get(ENV)
    if set_ and Path(set_).name.startswith("src-"):
        return Path(set_)
    base = Path(set_) if set_ else default_base()
    target = base / f"src-{fingerprint()}"
    os.environ[ENV] = str(target)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:  # numba imported first: its config has read the old value
        numba_config.CACHE_DIR = str(target)
    if base.is_dir():
        prune(base, target)
    return target
