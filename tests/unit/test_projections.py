"""Capacity, equivalence and decoder projection arithmetic, checked by hand."""

from __future__ import annotations

import pytest

from bench.claims import projections as P
from bench.core.errors import ConfigError

# Llama 3.1 8B by hand: per layer 2 norms + wq + wk + wv + wo + 3 FFN matrices.
LAYER_8B = 2 * 4096 + 4096 * 4096 + 2 * 4096 * 1024 + 4096 * 4096 + 3 * 4096 * 14336
PARAMS_8B = 32 * LAYER_8B + 4096 + 2 * 128256 * 4096
LAYER_70B = 2 * 8192 + 8192 * 8192 + 2 * 8192 * 1024 + 8192 * 8192 + 3 * 8192 * 28672
PARAMS_70B = 80 * LAYER_70B + 8192 + 2 * 128256 * 8192


def test_model_parameters_match_the_published_sizes():
    assert P.model_parameters(P.model_shape("llama-3.1-8b")) == PARAMS_8B
    assert P.model_parameters(P.model_shape("llama-3.1-70b")) == PARAMS_70B
    assert abs(PARAMS_8B / 8.03e9 - 1) < 1e-3
    assert abs(PARAMS_70B / 70.55e9 - 1) < 1e-3
    with pytest.raises(ConfigError, match="no published layer count"):
        P.model_shape("tiny")


def test_weight_bytes_per_token_skips_all_but_one_embedding_row():
    shape = P.model_shape("llama-3.1-8b")
    per_token = P.weight_bytes_per_token(shape, 2)
    assert per_token == 2 * (PARAMS_8B - 128256 * 4096 + 4096)


def test_compute_ceiling_and_users():
    shape = P.model_shape("llama-3.1-8b")
    dev = P.DeviceFigures("X", 1e15, "x-peak", memory_bytes=80e9, stream_tokens_per_s=100.0)
    a = P.CapacityAssumptions(model="llama-3.1-8b", user_tokens_per_s=50.0)
    c = P.capacity("fleet", 10, dev, a)
    assert c.parameters == P.model_parameters(shape)
    assert c.aggregate_flops == 1e16
    assert c.compute_tokens_per_s == pytest.approx(1e16 / (2 * PARAMS_8B))
    assert c.users_at_speed == pytest.approx(c.compute_tokens_per_s / 50)
    # 16 GB of weights fit one 80 GB device: 10 replicas x 100 tokens/s
    assert (c.devices_per_replica, c.replicas) == (1, 10)
    assert c.floor_tokens_per_s == 1000.0


def test_utilization_scales_the_ceiling():
    dev = P.DeviceFigures("X", 1e15, "x")
    full = P.capacity("f", 4, dev, P.CapacityAssumptions(utilization=1.0))
    half = P.capacity("f", 4, dev, P.CapacityAssumptions(utilization=0.5))
    assert half.compute_tokens_per_s == pytest.approx(full.compute_tokens_per_s / 2)
    assert full.replicas is None and full.floor_tokens_per_s is None


def test_replica_layout_rounds_devices_up():
    assert P.replica_layout(18000, 230e6, 141e9) == (614, 29)
    assert P.replica_layout(3, 80e9, 141e9) == (2, 1)
    assert P.replica_layout(1, 44e9, 141e9) == (4, 0)
    assert P.replica_layout(5, None, 1e9) == (0, 0)


def test_floor_from_bandwidth_when_no_speed_is_known():
    a = P.CapacityAssumptions(model="llama-3.1-70b", bytes_per_param=2.0)
    dev = P.DeviceFigures("G", 989e12, "g", memory_bytes=80e9, bandwidth_per_s=3.35e12)
    c = P.capacity("gpus", 8500, dev, a)
    model_bytes = PARAMS_70B * 2
    assert c.devices_per_replica == 2 and c.replicas == 4250
    assert c.floor_tokens_per_s == pytest.approx(4250 * 2 * 3.35e12 / model_bytes)
    assert "perfect tensor parallelism" in c.floor_basis


def test_equivalence():
    q = P.equivalence("gemm peak", "FLOP/s", 18000 * 188e12, 100e9, "cpu")
    assert q.equivalent_devices == pytest.approx(18000 * 1880)
    with pytest.raises(ValueError, match="positive"):
        P.equivalent_devices(1.0, 0.0)


def test_decoder_projection_by_hand():
    layer_bytes = 1_000_000_000
    t = P.LayerTiming("llama-3.1-8b", "numpy", "cpu", "float32", 0.1, layer_bytes, 1024, "r", "c")
    p = P.project_decoder(t, bandwidth_per_s=20e9, bandwidth_origin="calibrated copy")
    head_bytes = 128256 * 4096 * 4
    assert p.head_s == pytest.approx(head_bytes / (layer_bytes / 0.1))
    assert p.token_s == pytest.approx(32 * 0.1 + p.head_s)
    assert p.tokens_per_s == pytest.approx(1 / p.token_s)
    assert p.bytes_per_token == P.weight_bytes_per_token(p.shape, 4)
    assert p.roofline_tokens_per_s == pytest.approx(20e9 / p.bytes_per_token)
    assert p.roofline_16bit_tokens_per_s == pytest.approx(2 * p.roofline_tokens_per_s)
    assert p.fraction_of_roofline == pytest.approx(p.tokens_per_s / p.roofline_tokens_per_s)


def test_decoder_projection_without_bandwidth():
    t = P.LayerTiming("llama-3.1-70b", "numpy", "cpu", "float16", 0.2, 10**9, 1024, "r", "c")
    p = P.project_decoder(t)
    assert p.roofline_tokens_per_s is None and p.fraction_of_roofline is None
    assert p.token_s == pytest.approx(80 * 0.2 + p.head_s)
