"""The `onnx` workload's inputs: dims by position, id ranges, .npz batch, errors before any run."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from bench.core.errors import ConfigError
from bench.core.workloads import seeded_inputs
from kernels.onnx_model import SPEC

I64 = TensorProto.INT64


def save(tmp_path: Path, inputs: list, outputs: list, nodes: list, name: str = "m.onnx", **kw):
    graph = helper.make_graph(nodes, "g", inputs, outputs, kw.get("inits", []))
    opsets = [helper.make_opsetid("", 18), *kw.get("opsets", [])]
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    path = tmp_path / name
    onnx.save_model(model, str(path), **kw.get("save", {}))
    return str(path)


def vi(name: str, shape: list | None, elem: int = TensorProto.FLOAT) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, elem, shape)


@pytest.fixture
def question_dims(tmp_path: Path) -> str:
    """x: [?, ?] -> Relu; both dims carry the same symbolic name, as some exporters write."""
    return save(tmp_path, [vi("x", ["?", "?"])], [vi("y", ["?", "?"])], [relu()])


def relu() -> onnx.NodeProto:
    return helper.make_node("Relu", ["x"], ["y"])


def test_dims_bind_by_position_when_names_repeat(question_dims: str) -> None:
    p = SPEC.resolve({"model": question_dims, "dims": "x:0=2,x:1=5"})
    assert seeded_inputs(SPEC, p, 0)["x"].shape == (2, 5)
    # By name, '?' binds both dims at once; a position still wins over the name.
    p = SPEC.resolve({"model": question_dims, "dims": "?=3,x:1=7"})
    assert seeded_inputs(SPEC, p, 0)["x"].shape == (3, 7)


def test_unbound_dim_message_offers_the_position(tmp_path: Path) -> None:
    path = save(tmp_path, [vi("x", [2, "w"])], [vi("y", None)], [relu()])
    with pytest.raises(ConfigError, match=r"-p dims=w=VALUE or by position -p dims=x:1=VALUE"):
        SPEC.resolve({"model": path})


@pytest.mark.parametrize(
    ("dims", "message"),
    [("x:0=4", "that dim is fixed at 2"), ("x:5=4", "'x' has rank 2")],
)
def test_bad_positions_are_config_errors(tmp_path: Path, dims: str, message: str) -> None:
    path = save(tmp_path, [vi("x", [2, "w"])], [vi("y", None)], [relu()])
    with pytest.raises(ConfigError, match=message):
        SPEC.resolve({"model": path, "dims": dims})


@pytest.fixture
def bert_like(tmp_path: Path) -> str:
    """Three int64 inputs named as in a BERT export, summed after a Cast."""
    names = ("input_ids", "attention_mask", "token_type_ids")
    nodes = [helper.make_node("Cast", [n], [f"{n}_f"], to=TensorProto.FLOAT) for n in names]
    nodes.append(helper.make_node("Sum", [f"{n}_f" for n in names], ["y"]))
    ins = [vi(n, ["batch", "seq"], I64) for n in names]
    return save(tmp_path, ins, [vi("y", None)], nodes)


def test_integer_inputs_get_ranges_by_name(bert_like: str) -> None:
    p = SPEC.resolve({"model": bert_like, "batch": 4, "seq": 64, "int_high": 30522})
    x = seeded_inputs(SPEC, p, 0)
    assert set(np.unique(x["attention_mask"])) == {0, 1}
    assert set(np.unique(x["token_type_ids"])) == {0, 1}
    assert x["input_ids"].min() >= 0 and x["input_ids"].max() <= 30521
    assert x["input_ids"].max() > 1000  # ids span the vocabulary, not just 0/1


def test_int_range_overrides_per_input_inclusive(bert_like: str) -> None:
    p = SPEC.resolve({"model": bert_like, "int_range": "input_ids:5:7,attention_mask:1:1"})
    x = seeded_inputs(SPEC, p, 0)
    assert set(np.unique(x["input_ids"])) == {5, 6, 7}
    assert set(np.unique(x["attention_mask"])) == {1}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("input_ids:9:1", "not name:low:high"),
        ("input_ids:a:3", "not name:low:high"),
        ("nope:0:1", r"names 'nope', which is not an integer input \(integer inputs: attention"),
    ],
)
def test_bad_int_range_is_a_config_error(bert_like: str, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SPEC.resolve({"model": bert_like, "int_range": text})


def test_npz_batch_is_what_one_call_processes(bert_like: str, tmp_path: Path) -> None:
    arrays = {
        n: np.ones((8, 16), np.int64) for n in ("input_ids", "attention_mask", "token_type_ids")
    }
    np.savez(tmp_path / "in.npz", **arrays)
    p = SPEC.resolve({"model": bert_like, "inputs": str(tmp_path / "in.npz")})
    assert p["batch"] == 1
    assert SPEC.samples_per_call(p) == 8
    assert SPEC.samples_per_call(SPEC.resolve({"model": bert_like, "batch": 3})) == 3


def test_corrupt_npz_is_a_config_error(bert_like: str, tmp_path: Path) -> None:
    arrays = {
        n: np.ones((2, 4), np.int64) for n in ("input_ids", "attention_mask", "token_type_ids")
    }
    good = tmp_path / "in.npz"
    np.savez(good, **arrays)
    bad = tmp_path / "bad.npz"
    data = good.read_bytes()
    bad.write_bytes(data[: len(data) // 2])  # truncated: the zip directory is gone
    with pytest.raises(ConfigError, match=r"bad.npz' cannot be read \(BadZipFile"):
        SPEC.resolve({"model": bert_like, "inputs": str(bad)})


def test_bfloat16_input_is_a_config_error_naming_the_fix(tmp_path: Path) -> None:
    path = save(tmp_path, [vi("x", [2], TensorProto.BFLOAT16)], [vi("y", [2])], [
        helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    ])  # fmt: skip
    with pytest.raises(ConfigError, match=r"input 'x' is bfloat16, .*cannot feed.*Cast inside"):
        SPEC.resolve({"model": path})


def test_string_output_is_a_config_error(tmp_path: Path) -> None:
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.STRING)
    path = save(tmp_path, [vi("x", [2])], [vi("y", [2], TensorProto.STRING)], [node])
    with pytest.raises(ConfigError, match=r"output 'y' is a string tensor"):
        SPEC.resolve({"model": path})


def test_zipmap_output_is_a_config_error(tmp_path: Path) -> None:
    node = helper.make_node("ZipMap", ["x"], ["y"], domain="ai.onnx.ml", classlabels_int64s=[0, 1])
    seq_map = helper.make_sequence_type_proto(
        helper.make_map_type_proto(I64, helper.make_tensor_type_proto(TensorProto.FLOAT, []))
    )
    out = helper.make_value_info("y", seq_map)
    ml = [helper.make_opsetid("ai.onnx.ml", 3)]
    path = save(tmp_path, [vi("x", [3, 2])], [out], [node], opsets=ml)
    with pytest.raises(ConfigError, match=r"output 'y' is a sequence_type.*zipmap=False"):
        SPEC.resolve({"model": path})


def test_missing_external_data_is_a_config_error(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    node = helper.make_node("MatMul", ["x", "w"], ["y"])
    save_kw = {"save_as_external_data": True, "location": "w.bin", "size_threshold": 0}
    path = save(tmp_path, [vi("x", [2, 64])], [vi("y", None)], [node], inits=[w], save=save_kw)
    assert SPEC.flops(SPEC.resolve({"model": path})) == 2 * 2 * 64 * 64
    (tmp_path / "w.bin").unlink()
    with pytest.raises(ConfigError, match=r"initializer 'w' keeps its data in 'w.bin'"):
        SPEC.resolve({"model": path})


def test_unknown_custom_op_is_a_config_error(tmp_path: Path) -> None:
    node = helper.make_node("Mystery", ["x"], ["y"], domain="my.ops")
    opsets = [helper.make_opsetid("my.ops", 1)]
    path = save(tmp_path, [vi("x", [2])], [vi("y", [2])], [node], opsets=opsets)
    with pytest.raises(ConfigError, match=r"cannot load the model .*domains \['my.ops'\]"):
        SPEC.resolve({"model": path})
