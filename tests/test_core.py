"""The foundation: data directory resolution, atomic writes, error messages, the CLI shell."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from riskmodel import config, io
from riskmodel.errors import InputError


def test_input_error_names_file_and_field():
    err = InputError("must be positive", file="a/b.yaml", field="cap.path")
    assert str(err) == "a/b.yaml: cap.path: must be positive"
    assert err.file == "a/b.yaml" and err.field == "cap.path"


def test_data_dir_env_and_override(tmp_path, monkeypatch):
    monkeypatch.setenv(config.ENV_DATA, str(tmp_path))
    config.set_data_dir(None)
    assert config.data_dir() == tmp_path.resolve()
    other = tmp_path / "x"
    other.mkdir()
    config.set_data_dir(other)
    try:
        assert config.data_dir() == other.resolve()
    finally:
        config.set_data_dir(None)


def test_data_dir_missing_is_clear(tmp_path):
    with pytest.raises(InputError, match="RISKMODEL_DATA"):
        config.data_dir(tmp_path / "nope")


def test_atomic_write_leaves_no_partial_file(tmp_path):
    target = tmp_path / "out.json"
    io.atomic_write_json(target, {"a": 1})

    class Boom:
        pass

    with pytest.raises(TypeError):
        io.atomic_write_json(target, {"a": Boom()})
    assert io.read_yaml(target) == {"a": 1}  # the old content survives a failed write
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]  # no temp file left behind


def test_json_nan_becomes_null(tmp_path):
    import numpy as np

    p = io.atomic_write_json(tmp_path / "n.json", {"x": np.float64("nan"), "y": np.arange(2)})
    assert p.read_text().count("null") == 1


def test_read_yaml_syntax_error_names_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(InputError, match="bad.yaml"):
        io.read_yaml(bad)


def test_cli_help_lists_subcommands():
    out = subprocess.run(
        [sys.executable, "-m", "riskmodel", "--help"], capture_output=True, text=True, check=True,
        env={**os.environ, "COLUMNS": "120"},
    ).stdout
    for cmd in ("data", "fit", "run", "runs", "report", "validate"):
        assert cmd in out
