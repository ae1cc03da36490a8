"""What stored runs offer the claims: ceilings, remote endpoint speeds, decoder layer timings."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bench.claims.ceilings import Ceiling, ceilings_from_record, device_label, is_calibration
from bench.claims.projections import LayerTiming
from bench.core.records import CaseResult, RunRecord
from bench.remote.protocol import VENDORS, Vendor
from kernels import decoder

_SHAPE_KEYS = ("d_model", "n_heads", "n_kv_heads", "d_ff")
# Where a remote case may keep its figures; the remote records are not final, so this adapter
# is the one place that knows their names.
_TTFT_KEYS = ("ttft_s", "ttft_median_s", "median_ttft_s", "ttft")
_SPEED_KEYS = (
    "output_tokens_per_s",
    "output_speed_tokens_per_s",
    "median_output_tokens_per_s",
    "output_speed",
)
_SERVER_KEYS = ("server_ttft_s", "vendor_ttft_s")
_VENDOR_TIMING_KEYS = ("vendor_timings", "server_timings", "x_groq_usage", "time_info", "usage")


@dataclass(frozen=True)
class RemoteObservation:
    """One remote case's TTFT and output speed (after the first token), as measured."""

    vendor: Vendor
    backend: str
    model: str
    ttft_s: float | None
    output_tokens_per_s: float | None
    server_ttft_s: float | None  # the vendor's own queue + prompt time, when it reports one
    run_id: str
    case_id: str
    command: str
    concurrency: int = 1  # vendors quote single-stream speeds: only concurrency 1 compares


@dataclass(frozen=True)
class Evidence:
    runs: tuple[RunRecord, ...] = ()
    ceilings: tuple[Ceiling, ...] = ()
    remote: tuple[RemoteObservation, ...] = ()
    layers: tuple[LayerTiming, ...] = ()


def reproduce_command(record: RunRecord) -> str:
    """The command that made a record: stored when the CLI kept it, else rebuilt from config."""
    cfg = record.config
    if cfg.command:
        return cfg.command
    source = cfg.source
    quick = " --quick" if cfg.quick else ""
    if source and not source.startswith("-"):
        return f"accelbench run {source}{quick}"
    return f"accelbench run {source}{quick} (parameters as in results/{record.run_id}.json)"


def _median(value: Any) -> float | None:
    """A number, or the median of a nested summary such as {'median_s': ...}."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, Mapping):
        for key in ("median_s", "median", "p50_s", "p50", "value"):
            if isinstance(value.get(key), int | float):
                return float(value[key])
    return None


def _pick(sources: Iterable[Mapping[str, Any]], keys: Iterable[str]) -> float | None:
    for source in sources:
        for key in keys:
            found = _median(source.get(key))
            if found is not None:
                return found
    return None


def _server_ttft(details: Mapping[str, Any]) -> float | None:
    """Groq x_groq.usage / Cerebras time_info: queue_time + prompt_time (seconds)."""
    direct = _pick([details], _SERVER_KEYS)
    if direct is not None:
        return direct
    for key in _VENDOR_TIMING_KEYS:
        t = details.get(key)
        if isinstance(t, Mapping) and isinstance(t.get("prompt_time"), int | float):
            return float(t["prompt_time"]) + float(t.get("queue_time") or 0.0)
    return None


def vendor_of(record: RunRecord, case: CaseResult) -> Vendor | None:
    """The vendor the record's description of the case's backend names; None for local cases."""
    described = record.backends.get(case.backend)
    vendor = described.get("vendor") if isinstance(described, Mapping) else None
    if vendor is None:  # written before backends recorded their vendor: the backend's name
        vendor = case.backend
    return next((v for v in VENDORS if v == vendor), None)


def _median_of(values: Iterable[float]) -> float | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


def _from_stream(case: CaseResult) -> tuple[float | None, float | None, float | None, int]:
    """(TTFT, output speed, vendor server time, concurrency) from a streaming case's summary."""
    s = getattr(case, "stream", None)
    if s is None:
        return None, None, None, 1
    ttft = s.ttft.median_s if s.ttft is not None else None
    speed = _median(dict(s.output_speed_tokens_per_s or {}))
    server = _median_of(
        float(r.server_timings_s.get("queue_s", 0.0)) + float(r.server_timings_s["prompt_s"])
        for r in getattr(case, "requests", ())
        if r.status == "ok" and not r.warmup and "prompt_s" in r.server_timings_s
    )
    return ttft, speed, server, int(s.concurrency or 0)


def remote_observation(
    case: CaseResult, vendor: Vendor | None, run_id: str, command: str
) -> RemoteObservation | None:
    """The one adapter from a remote case to TTFT and output speed; None for other cases.

    It reads the streaming summary (`case.stream`) first, then figures kept in `details`.
    """
    if vendor is None or case.status != "ok":
        return None
    ttft, speed, server, concurrency = _from_stream(case)
    details = dict(case.details)
    sources = [details, *(v for v in details.values() if isinstance(v, Mapping))]
    ttft = ttft if ttft is not None else _pick(sources, _TTFT_KEYS)
    speed = speed if speed is not None else _pick(sources, _SPEED_KEYS)
    if ttft is None and speed is None:
        return None
    model = case.params.get("model") or case.options.get("model") or details.get("model") or ""
    server = server if server is not None else _server_ttft(details)
    return RemoteObservation(
        vendor,
        case.backend,
        str(model),
        ttft,
        speed,
        server,
        run_id,
        case.case_id,
        command,
        concurrency,
    )


def model_of_shape(params: Mapping[str, Any]) -> str | None:
    """The published model whose layer shape these decoder params have, if any."""
    for name in decoder.LAYERS:
        preset = decoder.PRESETS[name]
        if all(params.get(k) == preset[k] for k in _SHAPE_KEYS):
            return name
    return None


def layer_timing(record: RunRecord, case: CaseResult) -> LayerTiming | None:
    """A batch-1 decoder case at a published model's shape, with its median layer time."""
    if case.workload != decoder.SPEC.name or case.status != "ok" or case.stats is None:
        return None
    model = model_of_shape(case.params)
    batch = case.params.get(decoder.SPEC.batch_param or "", 1)
    if model is None or batch != 1 or not case.bytes_moved:
        return None
    return LayerTiming(
        model=model,
        backend=case.backend,
        device=device_label(record, case.backend),
        dtype=str(case.params.get("dtype", "float32")),
        layer_s=case.stats.median_s,
        layer_bytes=int(case.bytes_moved),
        kv_len=int(case.params.get("kv_len", 0)),
        run_id=record.run_id,
        case_id=case.case_id,
    )


def gather(records: Iterable[RunRecord]) -> Evidence:
    """Everything the claims table can use from these runs (calibrations give the ceilings)."""
    runs = tuple(records)
    ceilings: list[Ceiling] = []
    remote: list[RemoteObservation] = []
    layers: list[LayerTiming] = []
    for record in runs:
        if is_calibration(record):
            ceilings.extend(ceilings_from_record(record))
            continue
        command = reproduce_command(record)
        for case in record.cases:
            obs = remote_observation(case, vendor_of(record, case), record.run_id, command)
            remote.extend([obs] if obs else [])
            timing = layer_timing(record, case)
            layers.extend([timing] if timing else [])
    return Evidence(runs, tuple(ceilings), tuple(remote), tuple(layers))


_VERSION = re.compile(r"llama[-_ ]?(\d)")
_SIZE = re.compile(r"(\d+)b(?![a-z])")


def model_key(name: str) -> tuple[str, str]:
    """(major version, size) of a Llama model id: 'llama-3.3-70b-versatile' -> ('3', '70b')."""
    low = name.lower()
    version = _VERSION.search(low)
    size = _SIZE.search(low)
    return (version.group(1) if version else "", f"{size.group(1)}b" if size else "")


def same_model(a: str, b: str) -> bool:
    ka, kb = model_key(a), model_key(b)
    return bool(ka[1]) and ka == kb
