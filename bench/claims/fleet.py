"""Fleet capacity from the registry: per-device figures, users as a bounded range, equivalences."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bench.claims.ceilings import Ceiling
from bench.claims.evidence import Evidence, same_model
from bench.claims.projections import (
    Capacity,
    DecoderProjection,
    DeviceFigures,
    Equivalence,
    capacity,
    equivalence,
)
from bench.claims.registry import NOT_TESTABLE, Entry, Registry
from bench.claims.rows import Context, Row, make_row
from bench.remote.protocol import Vendor


def _published_speed(
    reg: Registry, device_id: str, model: str, ev: Evidence, vendor: Vendor | None
) -> tuple[float | None, str]:
    measured = [
        o
        for o in ev.remote
        if o.vendor == vendor
        and same_model(o.model, model)
        and o.output_tokens_per_s
        and o.concurrency <= 1
    ]
    if measured:
        o = measured[0]
        return o.output_tokens_per_s, f"measured {o.model} (run {o.run_id})"
    for f in reg.figures_of(device_id, "output_speed"):
        if same_model(f.model, model):
            return f.si(), f"published {f.id}"
    return None, ""


def _first_si(
    reg: Registry, device_id: str, metric: str, precisions: Sequence[str] = ()
) -> tuple[float | None, str]:
    for f in reg.figures_of(device_id, metric):
        if f.sparsity != "sparse" and (not precisions or f.precision in precisions):
            return f.si(), f.id
    return None, ""


# The registry's devices whose vendor runs an endpoint (registry device id -> vendor id).
VENDOR_OF_DEVICE: Mapping[str, Vendor] = {"groq-lpu": "groq", "cerebras-wse-3": "cerebras"}


def device_figures(reg: Registry, device_id: str, model: str, ev: Evidence) -> DeviceFigures:
    """A device's 16-bit dense peak, memory, bandwidth and per-stream speed for `model`."""
    peak_flops, peak_id = _first_si(reg, device_id, "matrix_throughput", ("bf16/fp16", "fp16"))
    memory, memory_id = _first_si(reg, device_id, "memory_capacity")
    bandwidth, bandwidth_id = _first_si(reg, device_id, "memory_bandwidth")
    notes = [f.note for f in reg.figures_of(device_id, "memory_bandwidth") if f.id == bandwidth_id]
    vendor = VENDOR_OF_DEVICE.get(device_id)
    speed, speed_origin = _published_speed(reg, device_id, model, ev, vendor)
    return DeviceFigures(
        name=reg.device(device_id).name,
        peak_flops=peak_flops or 0.0,
        peak_origin=peak_id,
        memory_bytes=memory,
        memory_origin=memory_id,
        bandwidth_per_s=bandwidth,
        bandwidth_origin=bandwidth_id,
        stream_tokens_per_s=speed,
        stream_origin=speed_origin,
        peak_precision=reg.figure(peak_id).precision if peak_id else "",
        bandwidth_tier=notes[0] if notes and "SRAM" in notes[0] else OFF_CHIP,
    )


def fleets(ctx: Context) -> list[tuple[str, int, str]]:
    """(claim id, device count, device id) for each fleet the articles describe."""
    a = ctx.assumptions.capacity
    out = []
    for e in ctx.reg.claims:
        if e.test == "capacity" and e.value is not None:
            out.append((e.id, int(e.value), e.device or a.gpu_device))
        elif e.device == "cerebras-wse-3":
            out.append((e.id, a.cerebras_systems, e.device))
    return out


def capacities(ctx: Context) -> list[Capacity]:
    a = ctx.assumptions.capacity
    return [
        capacity(label, count, device_figures(ctx.reg, dev, a.model, ctx.evidence), a)
        for label, count, dev in fleets(ctx)
    ]


def capacity_row(e: Entry, ctx: Context) -> Row:
    """A device count cannot be measured: its implied users, as a bounded range, are derived."""
    found = [c for c in capacities(ctx) if c.label == e.id]
    if not found:
        return make_row(e, NOT_TESTABLE, note=e.reason)
    c = found[0]
    d = c.device
    evidence = f"{c.count:,} x {d.name}: {', '.join(x for x in (d.peak_origin, d.memory_origin, d.bandwidth_origin) if x)}"
    note = "; ".join(x for x in (weights_note(c), e.reason) if x)
    return make_row(
        e, NOT_TESTABLE, measured="derived: " + users_words(c), evidence=evidence, note=note,
        evidence_type="derived",
    )  # fmt: skip


def users_words(c: Capacity) -> str:
    """'28-1,489 concurrent users at 50 tokens/s (llama-3.1-70b, limited by memory)'."""
    a = c.assumptions
    if c.why_none:
        return f"no user count: {c.why_none}"
    low = "0" if c.users_low is None else f"{c.users_low:,.0f}"
    high = "?" if c.users_high is None else f"{c.users_high:,.0f}"
    return (
        f"{low}-{high} concurrent users at {a.user_tokens_per_s:g} tokens/s ({a.model},"
        f" {a.context_tokens:,}-token context; limited by {c.limited_by})"
    )


def weights_note(c: Capacity) -> str:
    """How many devices the weights alone fill, and what that leaves for the KV cache."""
    n, mem = c.weights_only_devices, c.device.memory_bytes
    if not n or not mem or n <= 1:
        return ""
    left = n * mem - c.model_bytes
    held = f"{n:,} x {_bytes(mem)} hold the {_bytes(c.model_bytes)} of weights alone, leaving {_bytes(left)}"
    if left >= c.kv_bytes_per_user:
        return f"{held} for KV cache"
    return (
        f"{held}: no room for one user's {_bytes(c.kv_bytes_per_user)} KV cache;"
        f" {c.devices_per_replica:,} per copy with one"
    )


def _bytes(n: float) -> str:
    return f"{n / 1e9:,.4g} GB" if n >= 1e9 else f"{n / 1e6:,.4g} MB"


def _best(ceilings: Sequence[Ceiling], kind: str) -> Ceiling | None:
    return max((x for x in ceilings if x.kind == kind), key=lambda x: x.per_s, default=None)


def equivalences(
    c: Capacity, ev: Evidence, projections: Sequence[DecoderProjection]
) -> list[Equivalence]:
    """The fleet as a count of the measured device, like with like only: a GEMM of the fleet
    peak's precision, a copy/triad of the same memory tier, a decoder of the same model."""
    out = []
    m = _best(
        [x for x in ev.ceilings if _same_precision(x.dtype, c.device.peak_precision)], "matrix"
    )
    b = _best(ev.ceilings, "memory")
    if m and c.aggregate_flops:
        label = f"{m.backend} {m.dtype} GEMM on {m.device}"
        out.append(equivalence("gemm peak", "FLOP/s", c.aggregate_flops, m.per_s, label))
    if b and c.device.bandwidth_per_s and c.device.bandwidth_tier == OFF_CHIP:
        label = f"{b.backend} {b.workload} on {b.device}"
        fleet = c.count * c.device.bandwidth_per_s
        out.append(equivalence("memory bandwidth", "B/s", fleet, b.per_s, label))
    for p in projections:
        if p.timing.model == c.assumptions.model and c.floor_tokens_per_s:
            t = p.timing
            label = f"{t.backend} {t.dtype} decoder on {t.device}, single stream"
            floor = c.floor_tokens_per_s
            out.append(
                equivalence("decoder, batch-1 floor", "tokens/s", floor, p.tokens_per_s, label)
            )
    return out


def unmatched(c: Capacity, ev: Evidence) -> list[str]:
    """The comparisons left out because the two sides are not alike, in words."""
    out = []
    gemms = sorted({x.dtype for x in ev.ceilings if x.kind == "matrix"})
    if (
        c.aggregate_flops
        and gemms
        and not any(_same_precision(d, c.device.peak_precision) for d in gemms)
    ):
        out.append(
            f"{c.label}: {c.device.peak_precision} peak not compared with {', '.join(gemms)} GEMM"
        )
    if c.device.bandwidth_tier != OFF_CHIP and any(x.kind == "memory" for x in ev.ceilings):
        out.append(
            f"{c.label}: {c.device.bandwidth_tier} bandwidth not compared with a DRAM/HBM copy"
        )
    return out


OFF_CHIP = "off-chip DRAM/HBM"
_PRECISION_OF = {"float16": "16-bit", "bfloat16": "16-bit", "fp16": "16-bit", "bf16/fp16": "16-bit"}


def _same_precision(dtype: str, precision: str) -> bool:
    return bool(precision) and _PRECISION_OF.get(dtype) == _PRECISION_OF.get(precision, precision)
