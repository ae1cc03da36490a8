"""Config files from the command line: a gate-only file for compare, paths relative to the file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.cli import main
from tests.integration.test_ab import _stored

PROJECT = Path(__file__).resolve().parents[2]


def test_compare_accepts_a_gate_config_holding_only_a_gate_table(tmp_path: Path) -> None:
    base = _stored(tmp_path, "base", 1e-3, 1)
    slower = _stored(tmp_path, "new", 1.1e-3, 0)
    gate = tmp_path / "gate.toml"
    gate.write_text("[gate]\ntolerance = 0.2\neffect_floor = 0.15\n", encoding="utf-8")
    # --drift 0: the samples' own noise only, so 10% slower clears the default 5% tolerance
    args = ["compare", str(base), str(slower), "--format", "json", "--drift", "0"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1, result.output  # the default 5% tolerance: a regression
    result = CliRunner().invoke(main, [*args, "--gate-config", str(gate)])
    assert result.exit_code == 0, result.output  # 10% slower is within the file's 20%
    report = json.loads(result.output)
    assert report["policy"]["tolerance"] == 0.2 and report["policy"]["effect_floor"] == 0.15
    assert report["verdict"] == "PASS"


def test_compare_gate_config_typo_names_the_file_and_the_closest_key(tmp_path: Path) -> None:
    base = _stored(tmp_path, "base", 1e-3, 1)
    gate = tmp_path / "gate.toml"
    gate.write_text("[gate]\ntolerence = 0.2\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["compare", str(base), str(base), "--gate-config", str(gate)])
    assert result.exit_code == 2
    assert f"{gate}: [gate]: unknown key 'tolerence' (known: " in result.output
    assert "did you mean 'tolerance'?" in result.output


def test_ab_finds_the_onnx_model_relative_to_its_config_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "cfg"
    (folder / "models").mkdir(parents=True)
    model = (PROJECT / "configs" / "models" / "tiny_lm.onnx").read_bytes()
    (folder / "models" / "tiny.onnx").write_bytes(model)
    (folder / "suite.toml").write_text(
        "[backend_options]\nonnxruntime = { intra_op_threads = 1, inter_op_threads = 1 }\n"
        "[gate]\nmin_blocks = 2\nmax_blocks = 2\ntolerance = 0.9\neffect_floor = 0.5\n"
        "[ab]\nsample_time_s = 0.002\nwarmup_s = 0.001\n"
        '[[case]]\nworkload = "onnx"\nbackends = ["onnxruntime"]\n'
        'params = { model = "models/tiny.onnx", batch = 1, seq = 8 }\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = CliRunner().invoke(main, ["ab", "../cfg/suite.toml", "--format", "json"])
    assert result.exit_code in (0, 1, 3), result.output
    (case,) = json.loads(result.output)["cases"]
    assert case["case_id"].startswith("onnx[model=../cfg/models/tiny.onnx,batch=1,seq=8")
    assert case["estimate"]["n"] == 2
