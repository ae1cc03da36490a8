"""The `onnx` workload: signature, dim binding, inputs, ORT CPU reference, flops and bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from bench.core.errors import ConfigError
from bench.core.workloads import Params, get, seeded_inputs
from kernels.onnx_inputs import InputSpec
from kernels.onnx_model import SPEC, signature
from tests.fixtures_onnx import build_tiny_lm, tiny_lm

TINY_LM = Path(__file__).resolve().parents[2] / "configs" / "models" / "tiny_lm.onnx"


def resolve(model: Path | str, **overrides: object) -> Params:
    return SPEC.resolve({"model": str(model), **overrides})


@pytest.fixture
def foo_model(tmp_path: Path) -> Path:
    """x: float32 [batch, foo] -> Relu -> y; 'foo' matches neither batch nor seq."""
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "foo",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "foo"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", "foo"])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)])
    model.ir_version = 8
    path = tmp_path / "foo.onnx"
    onnx.save_model(model, str(path))
    return path


def test_registered_under_onnx() -> None:
    assert get("onnx") is SPEC
    assert SPEC.compute is None
    assert [p.name for p in SPEC.params] == [
        "model",
        "batch",
        "seq",
        "dims",
        "int_high",
        "int_range",
        "inputs",
    ]


def test_shipped_example_matches_its_generator(tmp_path: Path) -> None:
    fresh = build_tiny_lm(tmp_path / "tiny_lm.onnx")
    assert fresh.read_bytes() == TINY_LM.read_bytes()
    assert TINY_LM.stat().st_size < 300_000


def test_signature_of_tiny_lm() -> None:
    assert signature(str(TINY_LM)) == [
        InputSpec("input_ids", "int64", ("batch", "seq"), TensorProto.INT64)
    ]


def test_make_inputs_binds_batch_and_seq_and_draws_ids_below_int_high() -> None:
    p = resolve(TINY_LM, batch=3, seq=40, int_high=50)
    x = seeded_inputs(SPEC, p, seed=0)
    ids = x["input_ids"]
    assert list(x) == ["input_ids"]
    assert ids.shape == (3, 40)
    assert ids.dtype == np.int64
    assert ids.min() >= 0 and ids.max() < 50
    np.testing.assert_array_equal(ids, seeded_inputs(SPEC, p, seed=0)["input_ids"])


def test_defaults_bind_batch_1_seq_128() -> None:
    x = seeded_inputs(SPEC, resolve(TINY_LM), seed=1)
    assert x["input_ids"].shape == (1, 128)


def test_reference_is_ort_cpu_output_with_logits_shape() -> None:
    p = resolve(TINY_LM, batch=2, seq=8)
    x = seeded_inputs(SPEC, p, seed=0)
    (logits,) = SPEC.reference(x, p)
    assert logits.shape == (2, 8, 1000)
    assert logits.dtype == np.float32
    # Recompute the tiny graph in numpy: the reference is the model's real output.
    weights = {t.name: onnx.numpy_helper.to_array(t) for t in tiny_lm().graph.initializer}
    h = np.maximum(weights["embed"][x["input_ids"]] @ weights["w1"], 0)
    np.testing.assert_allclose(logits, h @ weights["embed"].T, rtol=1e-4, atol=1e-5)


def test_flops_is_the_hand_count() -> None:
    p = resolve(TINY_LM, batch=2, seq=8)
    # Gather counts 0; MatMul (16x64)@(64x64), then (16x64)@(64x1000).
    assert SPEC.flops(p) == 2 * (16 * 64 * 64) + 2 * (16 * 64 * 1000)


def test_bytes_moved_counts_inputs_initializers_and_outputs() -> None:
    p = resolve(TINY_LM, batch=2, seq=8)
    ids, weights, logits = 2 * 8 * 8, (1000 * 64 + 64 * 64) * 4, 2 * 8 * 1000 * 4
    assert SPEC.bytes_moved(p) == ids + weights + logits


def test_unbound_symbolic_dim_names_it_and_the_dims_param(foo_model: Path) -> None:
    with pytest.raises(ConfigError, match=r"'foo'.*-p dims=foo=VALUE"):
        resolve(foo_model)


def test_dims_binds_other_symbolic_dims(foo_model: Path) -> None:
    p = resolve(foo_model, batch=2, dims="foo=3")
    x = seeded_inputs(SPEC, p, seed=0)
    assert x["x"].shape == (2, 3)
    assert x["x"].dtype == np.float32
    (y,) = SPEC.reference(x, p)
    np.testing.assert_array_equal(y, np.maximum(x["x"], 0))
    assert SPEC.flops(p) == 0
    assert SPEC.bytes_moved(p) == 2 * (2 * 3 * 4)


@pytest.mark.parametrize(
    ("dims", "message"),
    [("foo", "not name=value"), ("foo=x", "not name=value"), ("foo=3,bar=1", r"\['bar'\]")],
)
def test_bad_dims_are_config_errors(foo_model: Path, dims: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve(foo_model, dims=dims)


def test_model_is_required() -> None:
    with pytest.raises(ConfigError, match=r"parameter 'model' is required: -p model="):
        SPEC.resolve({})


def test_missing_model_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="model file not found"):
        resolve(tmp_path / "absent.onnx")
    raw = {p.name: p.default for p in SPEC.params} | {"model": str(tmp_path / "absent.onnx")}
    with pytest.raises(ConfigError, match="model file not found"):
        SPEC.make_inputs(raw, np.random.default_rng(0))


@pytest.mark.parametrize("content", [b"this is not a model\n", b""])
def test_non_onnx_file(tmp_path: Path, content: bytes) -> None:
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(content)
    with pytest.raises(ConfigError, match="not a valid ONNX model"):
        resolve(bad)
    raw = {p.name: p.default for p in SPEC.params} | {"model": str(bad)}
    with pytest.raises(ConfigError, match="not a valid ONNX model"):
        SPEC.make_inputs(raw, np.random.default_rng(0))


def test_npz_inputs_are_fed_as_given(tmp_path: Path) -> None:
    ids = np.arange(12, dtype=np.int32).reshape(3, 4)
    npz = tmp_path / "inputs.npz"
    np.savez(npz, input_ids=ids)
    p = resolve(TINY_LM, inputs=str(npz))
    x = SPEC.make_inputs(p, np.random.default_rng(0))
    assert x["input_ids"].dtype == np.int64  # cast to the model's dtype
    np.testing.assert_array_equal(x["input_ids"], ids)
    assert SPEC.reference(x, p)[0].shape == (3, 4, 1000)
    assert SPEC.flops(p) == 2 * (12 * 64 * 64) + 2 * (12 * 64 * 1000)


def test_npz_with_wrong_names_lists_both(tmp_path: Path) -> None:
    npz = tmp_path / "inputs.npz"
    np.savez(npz, tokens=np.zeros((1, 4), dtype=np.int64))
    with pytest.raises(ConfigError, match=r"\['tokens'\].*\['input_ids'\]"):
        resolve(TINY_LM, inputs=str(npz))


def test_missing_npz_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="inputs file not found"):
        resolve(TINY_LM, inputs=str(tmp_path / "absent.npz"))


def test_external_data_model(tmp_path: Path) -> None:
    path = tmp_path / "external.onnx"
    onnx.save_model(
        onnx.load(str(TINY_LM)),
        str(path),
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="external.onnx.data",
        size_threshold=0,
    )
    assert path.stat().st_size < 10_000  # the weights really live in the side file
    assert signature(str(path)) == signature(str(TINY_LM))
    p, p_inline = resolve(path, batch=2, seq=8), resolve(TINY_LM, batch=2, seq=8)
    assert SPEC.build_onnx is not None and SPEC.build_onnx(p) == str(path)
    assert SPEC.flops(p) == SPEC.flops(p_inline)
    assert SPEC.bytes_moved(p) == SPEC.bytes_moved(p_inline)
    x = seeded_inputs(SPEC, p, seed=0)
    np.testing.assert_array_equal(SPEC.reference(x, p)[0], SPEC.reference(x, p_inline)[0])
