"""Headless Chromium: render a report to PNG (screenshot) or PDF.

Chromium is optional (``apt-get install chromium``); without it these raise ``InputError`` with
the reason, and the tests that need a browser skip. The browser runs isolated: a throw-away
profile, no network services, no sandbox (it runs as root in containers).
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from riskmodel.errors import InputError
from riskmodel.io import atomic_write_bytes

CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--disable-dev-shm-usage")


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    for c in CANDIDATES:
        p = shutil.which(c)
        if p:
            return p
    return None


def _run(args: list[str], out: Path, timeout: float, field: str = "--pdf") -> bytes:
    exe = find_chromium()
    if exe is None:
        raise InputError("headless Chromium is not installed (apt-get install chromium)",
                         field=field)
    with tempfile.TemporaryDirectory(prefix="riskmodel-chromium-") as prof:
        target = Path(prof) / out.name
        cmd = [exe, *FLAGS, f"--user-data-dir={prof}", *[a.format(out=target) for a in args]]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if not target.is_file():
            tail = (r.stderr or r.stdout).strip().splitlines()[-3:]
            raise InputError(f"Chromium produced no output (exit {r.returncode}): "
                             f"{' | '.join(tail)}", file=out)
        return target.read_bytes()


def screenshot(html: str | Path, png: str | Path, *, width: int = 1200, height: int = 1500,
               timeout: float = 120.0) -> Path:
    """A PNG of the first ``width`` × ``height`` pixels of an HTML file."""
    url = Path(html).resolve().as_uri()
    data = _run([f"--window-size={width},{height}", "--screenshot={out}", url], Path(png),
                timeout, field="--screenshot")
    return atomic_write_bytes(png, data)


def print_pdf(html: str | Path, pdf: str | Path, *, timeout: float = 120.0) -> Path:
    """The HTML printed to PDF by Chromium (A4, no header or footer)."""
    url = Path(html).resolve().as_uri()
    data = _run(["--no-pdf-header-footer", "--print-to-pdf={out}", url], Path(pdf), timeout)
    return atomic_write_bytes(pdf, data)
