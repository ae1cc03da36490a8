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
    bytes_per_param: float = 2.0  # 16-bit weights and KV cache: an assumption for every fleet
    utilization: float = 1.0  # share of peak FLOP/s sustained: 1.0 makes an upper bound
    user_tokens_per_s: float = 50.0  # the output speed one concurrent user is served at
    gpu_device: str = "h100-sxm"  # the Grenoble GPU model is undisclosed
    # The G42 article gives a cost, not a count; the cluster is publicly described as nine
    # Condor Galaxy supercomputers of 64 systems each (Cerebras and G42, July 2023).
    cerebras_systems: int = 9 * 64
    context_tokens: int = 8192  # KV cache held per concurrent user (prompt + output)


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
    peak_precision: str = ""  # of peak_flops, as the datasheet states it
    bandwidth_tier: str = "off-chip DRAM/HBM"  # or "on-chip SRAM": compared within a tier only


@dataclass(frozen=True)
class Limit:
    """One bound on concurrent users: 'memory', 'compute' or 'bandwidth'; None when unknown."""

    name: str
    users: float | None
    basis: str


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
    kv_bytes_per_user: float = 0.0
    weights_only_devices: int | None = None  # devices the weights alone fill
    limits: tuple[Limit, ...] = ()
    users_low: float | None = None  # every copy serving one stream (batch 1)
    users_high: float | None = None  # the tightest of the limits
    limited_by: str = ""
    why_none: str = ""  # why no user count exists (the hardware cannot hold the model)


def compute_tokens_per_s(flops: float, parameters: int, utilization: float) -> float:
    """Decode costs ~2 FLOP per parameter per token: the compute ceiling on tokens/s."""
    return flops * utilization / (2.0 * parameters)


def replica_layout(
    count: int, memory_bytes: float | None, model_bytes: float, kv_bytes: float = 0.0
) -> tuple[int, int]:
    """(devices per replica, replicas) when the weights, plus `kv_bytes` of KV cache for one
    user, must fit in device memory."""
    if not memory_bytes:
        return 0, 0
    per = max(1, math.ceil((model_bytes + kv_bytes) / memory_bytes))
    return per, count // per


def kv_bytes_per_token(shape: ModelShape, bytes_per_value: float) -> float:
    """K and V for every layer: 2 x layers x kv heads x head dim values per token."""
    return 2 * shape.layers * shape.n_kv_heads * (shape.d_model // shape.n_heads) * bytes_per_value


def _users_left(total_bytes: float, model_bytes: float, kv_per_user: float) -> float:
    """Users whose KV cache fits once one copy of the weights is held (never below 0)."""
    return max(0.0, (total_bytes - model_bytes) // kv_per_user)


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
    kv = kv_bytes_per_token(shape, a.bytes_per_param) * a.context_tokens
    per, replicas = replica_layout(count, dev.memory_bytes, model_bytes, kv)
    floor, basis = _floor(dev, per, replicas, model_bytes)
    limits = user_limits(count, dev, a, params, model_bytes, kv)
    low, high, limited_by, why = user_range(count, dev, a, model_bytes, replicas, limits)
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
        kv_bytes_per_user=kv,
        weights_only_devices=math.ceil(model_bytes / dev.memory_bytes)
        if dev.memory_bytes
        else None,
        limits=limits,
        users_low=low,
        users_high=high,
        limited_by=limited_by,
        why_none=why,
    )


def user_limits(
    count: int, dev: DeviceFigures, a: CapacityAssumptions, params: int, model_bytes: float,
    kv: float,
) -> tuple[Limit, ...]:  # fmt: skip
    """Concurrent users at the user speed, bounded by memory, compute and bandwidth in turn."""
    ctx = f"{a.context_tokens:,}-token context, {kv / 1e9:.3g} GB of KV cache per user"
    memory = Limit("memory", None, f"{dev.name}: no memory figure")
    if dev.memory_bytes:
        total = count * dev.memory_bytes
        memory = Limit(
            "memory",
            _users_left(total, model_bytes, kv),
            f"(memory - weights) / KV per user; {ctx}",
        )
    compute = Limit("compute", None, "no dense 16-bit peak stated for the device")
    if dev.peak_flops:
        tps = compute_tokens_per_s(count * dev.peak_flops, params, a.utilization)
        compute = Limit(
            "compute",
            tps / a.user_tokens_per_s,
            f"{count:,} x {dev.peak_origin} x utilization {a.utilization:g} / (2 x parameters)",
        )
    bandwidth = Limit("bandwidth", None, f"{dev.name}: no bandwidth figure")
    if dev.bandwidth_per_s:
        # each decode step reads the weights once and every user's KV cache: users x speed x
        # (weights + users x KV) <= fleet bandwidth, with perfect parallelism
        fleet = count * dev.bandwidth_per_s
        users = _users_left(fleet / a.user_tokens_per_s, model_bytes, kv)
        bandwidth = Limit(
            "bandwidth",
            users,
            f"(fleet bandwidth / user speed - weights) / KV per user ({dev.bandwidth_origin})",
        )
    return (memory, compute, bandwidth)


def user_range(
    count: int, dev: DeviceFigures, a: CapacityAssumptions, model_bytes: float, replicas: int,
    limits: tuple[Limit, ...],
) -> tuple[float | None, float | None, str, str]:  # fmt: skip
    """(lowest, highest users, the limit that sets the highest, why there is no count)."""
    if dev.memory_bytes and not replicas:
        held = count * dev.memory_bytes
        return None, None, "memory", (
            f"{count:,} x {dev.name} hold {held / 1e9:,.4g} GB: not the {model_bytes / 1e9:,.4g} GB"
            f" of {a.model}'s weights plus one user's KV cache"
        )  # fmt: skip
    known = [x for x in limits if x.users is not None]
    if not known:
        return None, None, "", "no memory, compute or bandwidth figure for the device"
    tight = min(known, key=lambda x: x.users or 0.0)
    low = float(replicas) if replicas else None
    high = tight.users
    return (min(low, high) if low is not None and high is not None else low), high, tight.name, ""


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
