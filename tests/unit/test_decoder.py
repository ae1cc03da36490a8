"""The decoder-layer workload: numpy, ONNX and a hand-written loop agree; counts match by hand."""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import onnxruntime as ort
import pytest

from bench.core.errors import ConfigError
from bench.core.workloads import Params, relative_error, seeded_inputs
from kernels import decoder
from kernels.decoder import SPEC

# batch 1, d_model 8, n_heads 2 (head_dim 4), one KV head, d_ff 16, 3 cached tokens.
HAND = {"batch": 1, "d_model": 8, "n_heads": 2, "n_kv_heads": 1, "d_ff": 16, "kv_len": 3}


def _case(overrides: dict[str, object]) -> tuple[Params, dict[str, np.ndarray]]:
    p = SPEC.resolve(overrides)
    return p, seeded_inputs(SPEC, p, seed=0)


@pytest.mark.parametrize(
    "overrides",
    [
        {"preset": "tiny"},
        {"d_model": 64, "n_heads": 4, "n_kv_heads": 4, "d_ff": 96, "kv_len": 9, "batch": 2},
        {"d_model": 64, "n_heads": 4, "n_kv_heads": 1, "d_ff": 96, "kv_len": 9, "batch": 2},
    ],
    ids=["tiny", "mha", "mqa"],
)
def test_numpy_float32_matches_reference(overrides: dict[str, object]) -> None:
    p, x = _case(overrides)
    out = decoder.compute(np, x, p)
    ref = decoder.reference(x, p)
    assert out.dtype == np.float32
    assert out.shape == (p["batch"], 1, p["d_model"])
    err = relative_error(out, ref)
    assert err < SPEC.tolerance_for("float32")
    assert err > 0.0  # float32 really ran in float32, not silently in float64


@pytest.mark.parametrize(
    "overrides",
    [{"preset": "tiny"}, {"d_model": 64, "n_heads": 4, "n_kv_heads": 1, "d_ff": 96, "batch": 2}],
    ids=["tiny", "mqa-batch2"],
)
def test_onnx_graph_matches_reference(overrides: dict[str, object]) -> None:
    p, x = _case(overrides)
    session = ort.InferenceSession(
        decoder.build_onnx(p).SerializeToString(), providers=["CPUExecutionProvider"]
    )
    (out,) = session.run(["out"], x)
    assert out.shape == (p["batch"], 1, p["d_model"])
    assert relative_error(out, decoder.reference(x, p)) < SPEC.tolerance_for("float32")


def _rms(v: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return v / math.sqrt(sum(e * e for e in v) / len(v) + eps) * w


def _rotate(v: np.ndarray, pos: int, theta: float) -> np.ndarray:
    half, out = len(v) // 2, np.empty_like(v)
    for i in range(half):
        angle = pos * theta ** (-2.0 * i / len(v))
        out[i] = v[i] * math.cos(angle) - v[i + half] * math.sin(angle)
        out[i + half] = v[i + half] * math.cos(angle) + v[i] * math.sin(angle)
    return out


def _attend(q: np.ndarray, keys: list[np.ndarray], values: list[np.ndarray]) -> np.ndarray:
    scores = [float(q @ k) / math.sqrt(len(q)) for k in keys]
    weights = [math.exp(s - max(scores)) for s in scores]
    return sum(w * v for w, v in zip(weights, values, strict=True)) / sum(weights)


def _loop_decoder(x: dict[str, np.ndarray], p: Params) -> np.ndarray:
    """One token, one head at a time, rotary angles recomputed from rope_theta."""
    a = {k: v.astype(np.float64) for k, v in x.items()}
    hd, pos, group = p["d_model"] // p["n_heads"], p["kv_len"], p["n_heads"] // p["n_kv_heads"]
    tok = a["x"][0, 0]
    xn = _rms(tok, a["w_attn_norm"], p["eps"])
    q_all, k_all, v_all = xn @ a["wq"], xn @ a["wk"], xn @ a["wv"]
    heads = []
    for h in range(p["n_heads"]):
        j = h // group  # the KV head this query head shares
        q = _rotate(q_all[h * hd : (h + 1) * hd], pos, p["rope_theta"])
        keys = [a["k_cache"][0, j, t] for t in range(pos)]
        keys.append(_rotate(k_all[j * hd : (j + 1) * hd], pos, p["rope_theta"]))
        values = [a["v_cache"][0, j, t] for t in range(pos)] + [v_all[j * hd : (j + 1) * hd]]
        heads.append(_attend(q, keys, values))
    hidden = tok + np.concatenate(heads) @ a["wo"]
    hn = _rms(hidden, a["w_ffn_norm"], p["eps"])
    gate = hn @ a["w_gate"]
    silu = np.array([g / (1.0 + math.exp(-g)) for g in gate])
    return (hidden + (silu * (hn @ a["w_up"])) @ a["w_down"]).reshape(1, 1, -1)


def test_reference_matches_hand_written_loop() -> None:
    # float64 so the cos/sin tables are exact and the loop's own angles must agree to 1e-12.
    p, x = _case({**HAND, "dtype": "float64"})
    expected = _loop_decoder(x, p)
    np.testing.assert_allclose(decoder.reference(x, p), expected, rtol=1e-12, atol=1e-12)
    # The attention branch matters: dropping it would move the output well past tolerance.
    assert np.linalg.norm(expected - x["x"]) > 0.1 * np.linalg.norm(expected)


def test_rope_tables_are_at_position_kv_len() -> None:
    p, x = _case(HAND)
    # head_dim 4 -> frequencies theta^0 and theta^(-1/2); position 3.
    angles = np.array([3.0, 3.0 / math.sqrt(500000.0)])
    np.testing.assert_allclose(x["cos"][0], np.cos(angles), rtol=1e-6)
    np.testing.assert_allclose(x["sin"][0], np.sin(angles), rtol=1e-6)


def test_flops_and_bytes_by_hand() -> None:
    p = SPEC.resolve(HAND)
    # q 2*8*8=128, k 2*8*4=64, v 64, scores 2*2*4*4=64, probs@v 64, wo 128,
    # gate 2*8*16=256, up 256, down 256
    assert decoder.flops(p) == 1280
    # weights 2*8 + 64 + 2*32 + 64 + 3*128 = 592; x 8; caches 2*3*4 = 24; cos+sin 4; out 8
    assert decoder.weight_bytes(p) == 4 * 592
    assert decoder.bytes_moved(p) == 4 * (592 + 8 + 24 + 4 + 8) == 2544
    assert decoder.bytes_moved(SPEC.resolve({**HAND, "dtype": "float16"})) == 2 * 636


def test_weight_bytes_of_llama_presets() -> None:
    p8 = SPEC.resolve({"preset": "llama-3.1-8b"})
    p70 = SPEC.resolve({"preset": "llama-3.1-70b"})
    assert decoder.weight_bytes(p8) == 4 * (
        2 * 4096 + 4096 * 4096 + 2 * 4096 * 1024 + 4096 * 4096 + 3 * 4096 * 14336
    )
    assert decoder.weight_bytes(p8) == 872_448_000
    assert decoder.weight_bytes(p70) == 4 * (
        2 * 8192 + 8192 * 8192 + 2 * 8192 * 1024 + 8192 * 8192 + 3 * 8192 * 28672
    )
    assert decoder.weight_bytes(p70) == 3_422_617_600
    assert decoder.weight_bytes(p70) > 2**31
    assert decoder.LAYERS == {"llama-3.1-8b": 32, "llama-3.1-70b": 80}
    assert decoder.VOCAB == 128256


def test_llama_70b_graph_is_small_and_allocates_no_weights() -> None:
    p = SPEC.resolve({"preset": "llama-3.1-70b"})
    tracemalloc.start()
    try:
        model = decoder.build_onnx(p)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 2**20
    assert model.ByteSize() < 2**20
    inputs = {
        i.name: [d.dim_value for d in i.type.tensor_type.shape.dim] for i in model.graph.input
    }
    assert inputs["w_gate"] == [8192, 28672]
    assert inputs["wk"] == [8192, 1024]
    assert inputs["k_cache"] == [1, 8, 1024, 128]
    assert max(int(np.prod(t.dims)) for t in model.graph.initializer) <= 4


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"d_model": 250, "n_heads": 4}, "d_model 250 is not divisible by n_heads 4"),
        ({"n_heads": 4, "n_kv_heads": 3}, "n_heads 4 is not divisible by n_kv_heads 3"),
        ({"d_model": 12, "n_heads": 4, "n_kv_heads": 1}, "head_dim 3"),
    ],
)
def test_check_rejects_impossible_shapes(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        SPEC.resolve(overrides)


def test_defaults_are_the_tiny_preset() -> None:
    assert SPEC.resolve() == SPEC.resolve({"preset": "tiny"})
    assert SPEC.batch_param == "batch"


def test_single_stream_decoding_is_memory_bound() -> None:
    for preset in ("tiny", *decoder.LAYERS):  # each weight is read once per token: ~1 FLOP per byte
        p = SPEC.resolve({"preset": preset})
        assert SPEC.flops(p) / SPEC.bytes_moved(p) < 10, preset
    assert SPEC.bound == "memory" and not SPEC.measures_peak
