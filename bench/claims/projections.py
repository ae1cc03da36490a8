"""Pure projection arithmetic: fleet capacity from device counts, decode speed from one layer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from bench.core.errors import ConfigError
from kernels import decoder


@dataclass(frozen=True)
class ModelShape:
    """A Llama-style model: the decoder preset's layer shape, its layer count and vocabulary."""

    name: str
    layers: int
    d_model: int
    n_heads: int
    n_kv_heads: int
    d_ff: int
    vocab: int

    def layer_params(self) -> Mapping[str, object]:
        p = decoder.PRESETS[self.name]
        return {**p, "batch": 1, "dtype": "float32"}


def model_shape(name: str) -> ModelShape:
    if name not in decoder.LAYERS:
        known = ", ".join(decoder.LAYERS)
        raise ConfigError(f"no published layer count for model '{name}' (known: {known})")
    p = decoder.PRESETS[name]
    return ModelShape(
        name,
        decoder.LAYERS[name],
        int(p["d_model"]),
        int(p["n_heads"]),
        int(p["n_kv_heads"]),
        int(p["d_ff"]),
        decoder.VOCAB,
    )


def layer_weight_elements(shape: ModelShape) -> int:
    # weight_bytes at float32 divided by 4: one formula for the kernel and the projection.
    return decoder.weight_bytes(shape.layer_params()) // 4


def model_parameters(shape: ModelShape) -> int:
    """Layers, the final norm, the token embedding and the untied output head."""
    return (
        shape.layers * layer_weight_elements(shape)
        + shape.d_model
        + 2 * shape.vocab * shape.d_model
    )


def weight_bytes_per_token(shape: ModelShape, bytes_per_param: float) -> float:
    """Weights a batch-1 decode step reads: every layer, the final norm, the head, one embedding row."""
    elems = shape.layers * layer_weight_elements(shape) + shape.d_model
    elems += shape.vocab * shape.d_model + shape.d_model
    return elems * bytes_per_param


# --- decoder projection ---


@dataclass(frozen=True)
class LayerTiming:
    """One measured decoder layer (batch 1) at a published model's shape."""

    model: str
    backend: str
    device: str
    dtype: str
    layer_s: float
    layer_bytes: int
    kv_len: int
    run_id: str
    case_id: str


@dataclass(frozen=True)
class DecoderProjection:
    timing: LayerTiming
    shape: ModelShape
    head_s: float
    token_s: float
    tokens_per_s: float
    bytes_per_token: float
    bandwidth_per_s: float | None
    bandwidth_origin: str
    roofline_tokens_per_s: float | None
    fraction_of_roofline: float | None
    roofline_16bit_tokens_per_s: float | None


def project_decoder(
    t: LayerTiming, bandwidth_per_s: float | None = None, bandwidth_origin: str = ""
) -> DecoderProjection:
    """tokens/s = 1 / (layers x layer time + head time), beside weight bytes / bandwidth.

    The output head (vocab x d_model) is not measured: it is assumed to stream its weights at
    the rate the measured layer achieved (layer bytes / layer time), as a batch-1 GEMV does.
    """
    shape = model_shape(t.model)
    item = np.dtype(t.dtype).itemsize
    head_s = shape.vocab * shape.d_model * item * t.layer_s / t.layer_bytes
    token_s = shape.layers * t.layer_s + head_s
    per_token = weight_bytes_per_token(shape, item)
    roof = bandwidth_per_s / per_token if bandwidth_per_s else None
    roof16 = bandwidth_per_s / weight_bytes_per_token(shape, 2) if bandwidth_per_s else None
    return DecoderProjection(
        timing=t,
        shape=shape,
        head_s=head_s,
        token_s=token_s,
        tokens_per_s=1.0 / token_s,
        bytes_per_token=per_token,
        bandwidth_per_s=bandwidth_per_s,
        bandwidth_origin=bandwidth_origin,
        roofline_tokens_per_s=roof,
        fraction_of_roofline=(1.0 / token_s) / roof if roof else None,
        roofline_16bit_tokens_per_s=roof16,
    )


# --- capacity ---


@dataclass(frozen=True)
class CapacityAssumptions:
    """Every number a capacity projection rests on that no source states; all are printed."""

    model: str = "llama-3.1-70b"
    bytes_per_param: float = 2.0  # 16-bit weights, as Cerebras's published speeds state
    utilization: float = 1.0  # share of peak FLOP/s sustained: 1.0 makes an upper bound
    user_tokens_per_s: float = 50.0  # the output speed one concurrent user is served at
    gpu_device: str = "h100-sxm"  # the Grenoble GPU model is undisclosed
    cerebras_systems: int = 1  # the G42 article gives a cost, not a system count


@dataclass(frozen=True)
class DeviceFigures:
    """Per-device rates a projection multiplies, each with where it came from."""

    name: str
    peak_flops: float
    peak_origin: str
    memory_bytes: float | None = None
    memory_origin: str = ""
    bandwidth_per_s: float | None = None
    bandwidth_origin: str = ""
    stream_tokens_per_s: float | None = None  # one stream's output speed, published or measured
    stream_origin: str = ""


@dataclass(frozen=True)
class Capacity:
    label: str
    count: int
    device: DeviceFigures
    assumptions: CapacityAssumptions
    parameters: int
    model_bytes: float
    aggregate_flops: float
    compute_tokens_per_s: float
    users_at_speed: float
    devices_per_replica: int | None
    replicas: int | None
    floor_tokens_per_s: float | None
    floor_basis: str


def compute_tokens_per_s(flops: float, parameters: int, utilization: float) -> float:
    """Decode costs ~2 FLOP per parameter per token: the compute ceiling on tokens/s."""
    return flops * utilization / (2.0 * parameters)


def replica_layout(count: int, memory_bytes: float | None, model_bytes: float) -> tuple[int, int]:
    """(devices per replica, replicas) when the weights must fit in device memory."""
    if not memory_bytes:
        return 0, 0
    per = max(1, math.ceil(model_bytes / memory_bytes))
    return per, count // per


def _floor(
    dev: DeviceFigures, per: int, replicas: int, model_bytes: float
) -> tuple[float | None, str]:
    """Batch-1 floor: every replica serves one stream at a time."""
    if not replicas:
        return None, "weights do not fit: no replica"
    if dev.stream_tokens_per_s:
        speed, basis = dev.stream_tokens_per_s, f"{dev.stream_origin} per stream"
    elif dev.bandwidth_per_s:
        speed = per * dev.bandwidth_per_s / model_bytes
        basis = (
            f"{per} device(s) x bandwidth / weight bytes per stream (perfect tensor parallelism)"
        )
    else:
        return None, "no per-stream speed or bandwidth known"
    return replicas * speed, f"{replicas:,} replicas x {speed:,.0f} tokens/s ({basis})"


def capacity(label: str, count: int, dev: DeviceFigures, a: CapacityAssumptions) -> Capacity:
    """count x per-device figures: the compute ceiling and the batch-1 replica floor."""
    shape = model_shape(a.model)
    params = model_parameters(shape)
    model_bytes = params * a.bytes_per_param
    aggregate = count * dev.peak_flops
    ceiling = compute_tokens_per_s(aggregate, params, a.utilization)
    per, replicas = replica_layout(count, dev.memory_bytes, model_bytes)
    floor, basis = _floor(dev, per, replicas, model_bytes)
    return Capacity(
        label=label,
        count=count,
        device=dev,
        assumptions=a,
        parameters=params,
        model_bytes=model_bytes,
        aggregate_flops=aggregate,
        compute_tokens_per_s=ceiling,
        users_at_speed=ceiling / a.user_tokens_per_s,
        devices_per_replica=per or None,
        replicas=replicas if dev.memory_bytes else None,
        floor_tokens_per_s=floor,
        floor_basis=basis,
    )


@dataclass(frozen=True)
class Equivalence:
    """'count devices ~ N measured devices on a workload', from one rate on each side."""

    workload: str
    unit: str  # of both rates: FLOP/s, B/s or tokens/s
    fleet_rate: float
    measured_rate: float
    measured_label: str
    equivalent_devices: float


def equivalent_devices(fleet_rate: float, measured_rate: float) -> float:
    if measured_rate <= 0:
        raise ValueError("a measured rate must be positive to compare a fleet with it")
    return fleet_rate / measured_rate


def equivalence(
    workload: str, unit: str, fleet_rate: float, measured_rate: float, label: str
) -> Equivalence:
    """'the fleet ~ N of the measured device on `workload`', N = fleet rate / measured rate."""
    n = equivalent_devices(fleet_rate, measured_rate)
    return Equivalence(workload, unit, fleet_rate, measured_rate, label, n)
