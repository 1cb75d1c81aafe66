"""A short first run: ``riskmodel --help`` and ``riskmodel run --help`` import no arch,
statsmodels, scipy.stats or numba, and the static subcommand list matches the real commands."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import pytest
import typer

from riskmodel.cli import SHORT_HELP, SUBCOMMANDS

HEAVY = ("arch", "statsmodels", "scipy.stats", "numba")
PROBE = (
    "import json, sys\n"
    "sys.argv = ['riskmodel', *sys.argv[1:]]\n"
    "from riskmodel.cli import run\n"
    "try:\n    run()\nexcept SystemExit:\n    pass\n"
    f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))\n"
)


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["runs", "--help"]])
def test_help_imports_no_heavy_module(args):
    out = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                         check=True, env={"COLUMNS": "200", "PATH": ""}).stdout
    assert json.loads(out.strip().splitlines()[-1]) == []
    if args == ["--help"]:
        for name, text in SHORT_HELP.items():
            assert name in out and text[:40] in out


def test_short_help_is_the_commands_own():
    assert set(SHORT_HELP) == set(SUBCOMMANDS)
    for name, (module, attr, group) in SUBCOMMANDS.items():
        obj = getattr(importlib.import_module(module), attr)
        if group:
            doc = typer.main.get_group(obj).help or ""
        else:
            doc = obj.__doc__ or ""
        first = " ".join(doc.strip().split("\n\n")[0].split())
        assert first == SHORT_HELP[name], name
