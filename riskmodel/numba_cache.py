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

import atexit
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

#: Environment variable numba reads (and the base folder riskmodel keys by source fingerprint).
ENV = "NUMBA_CACHE_DIR"
#: Subpackages whose every module counts (the kernel reads their constants and functions).
ENGINE_PACKAGES = ("sim", "linking", "banking")
#: Cache folders of other source versions kept beside the current one (newest first).
KEEP = 2
_PACKAGE = Path(__file__).resolve().parent
#: (folder asked for, why numba cannot keep kernels there) when :func:`configure` fell back to a
#: temporary folder for this process (and its workers); None when the folder asked for is used.
UNUSABLE: tuple[Path, str] | None = None


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


def unusable(folder: Path) -> str | None:
    """None when numba can keep kernels in ``folder`` (made when missing), else why not (as
    numba itself checks it: the folder made, a file written in it)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        what = exc.strerror or type(exc).__name__
        if isinstance(exc, FileExistsError | NotADirectoryError):
            what = "a file is in the way"
        return what
    return None


def configure() -> Path:
    """Point numba's cache at ``<base>/src-<fingerprint>`` (base: ``$NUMBA_CACHE_DIR`` as the
    user set it, else :func:`default_base`) and return it. Idempotent: a process that already
    configured (or a worker that inherited the setting) keeps its folder."""
    global UNUSABLE
    set_ = os.environ.get(ENV)
    inherited = bool(set_) and Path(str(set_)).name.startswith("src-")
    if inherited:
        base, target = Path(str(set_)).parent, Path(str(set_))
    else:
        base = Path(set_) if set_ else default_base()
        target = base / f"src-{fingerprint()}"
    why = unusable(target)
    if why is not None:  # else numba would quietly keep kernels beside the sources (__pycache__,
        # not keyed by the fingerprint: a stale kernel after an edit of the link solver) or, with
        # no writable folder at all, fail at import with a traceback
        try:
            tmp = Path(tempfile.mkdtemp(prefix="riskmodel-numba-"))
            (tmp / target.name).mkdir()
        except OSError:  # no temporary folder either: numba's own fallbacks, as before
            pass
        else:
            UNUSABLE = (Path(set_) if set_ else base, why)
            atexit.register(shutil.rmtree, tmp, True)
            base, target = tmp, tmp / target.name
    os.environ[ENV] = str(target)
    numba_config = sys.modules.get("numba.core.config")
    if numba_config is not None:  # numba imported first: its config has read the old value
        numba_config.CACHE_DIR = str(target)
    if base.is_dir() and not inherited and UNUSABLE is None:
        prune(base, target)
    return target
