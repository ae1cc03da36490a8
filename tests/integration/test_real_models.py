"""Real ONNX models from PyPI wheels through `accelbench run`: checked, timed, FLOPs and bytes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.core import digest
from bench.core.workloads import get, seeded_inputs
from tests.real_models import REAL_MODELS, RealModel, independent_bytes, independent_flops


def case_of(out: Path) -> dict:
    (path,) = out.glob("*.json")
    (case,) = json.loads(path.read_text())["cases"]
    return case


def need(model: RealModel) -> Path:
    path = model.path()
    if path is None:
        pytest.skip(f"{model.package} is not installed (pip install 'accelbench[test]')")
    return path


@pytest.mark.parametrize("model", REAL_MODELS, ids=lambda m: m.name)
def test_real_model_runs_checked_with_independent_flops_and_bytes(
    model: RealModel, tmp_path: Path
) -> None:
    path = need(model)
    args = ["run", "-w", "onnx", *model.cli_params(), "-b", "onnxruntime", "--min-time", "0.05"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    case = case_of(tmp_path)
    assert case["status"] == "ok", case.get("reason")
    assert case["rel_error"] <= case["tolerance"]
    spec = get("onnx")
    p = spec.resolve({"model": str(path), **dict(model.params)})
    x = seeded_inputs(spec, p, 0)
    assert case["flops"] == independent_flops(path, x) > 0
    assert case["bytes_moved"] == independent_bytes(path, x, spec.reference(x, p))
    assert case["gflops_per_s"] == pytest.approx(case["flops"] / case["stats"]["median_s"] / 1e9)
    named = path.name.encode() + b"\0" + path.read_bytes()
    assert case["details"]["model_sha256"] == hashlib.sha256(named).hexdigest()
    assert case["details"]["inputs_sha256"] == digest.arrays_sha256([x])


def test_npz_batch_sets_throughput(tmp_path: Path) -> None:
    model = REAL_MODELS[2]  # PP-OCR cls: small enough for a batch of 8
    need(model)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "x.npz", x=rng.standard_normal((8, 3, 80, 160)).astype(np.float32))
    args = [
        "run",
        "-w",
        "onnx",
        "-p",
        f"model={model.path()}",
        "-p",
        f"inputs={tmp_path / 'x.npz'}",
    ]
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, [*args, "-b", "onnxruntime", "--min-time", "0.05", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    case = case_of(out)
    assert case["status"] == "ok", case.get("reason")
    assert case["batch"] == 8
    assert case["throughput_per_s"] == pytest.approx(8 / case["stats"]["median_s"])


def test_load_failure_exits_2_before_any_case(tmp_path: Path) -> None:
    import onnx
    from onnx import helper

    node = helper.make_node("Mystery", ["x"], ["y"], domain="my.ops")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2])],
    )
    opsets = [helper.make_opsetid("", 18), helper.make_opsetid("my.ops", 1)]
    m = helper.make_model(graph, opset_imports=opsets)
    m.ir_version = 8
    onnx.save_model(m, str(tmp_path / "custom.onnx"))
    args = ["run", "-w", "onnx", "-p", f"model={tmp_path / 'custom.onnx'}", "-b", "onnxruntime"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "domains ['my.ops'], which need a custom-op library" in result.output
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("*.json"))
