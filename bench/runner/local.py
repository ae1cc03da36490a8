"""Runs planned cases on local backends: inputs once per workload, check, then time."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bench import backends as registry
from bench.backends.base import Case, Prepared
from bench.core import workloads
from bench.core.config import Planned
from bench.core.errors import BenchError, CorrectnessError, UnsupportedCase
from bench.core.policy import Policy
from bench.core.records import CaseResult, Status, as_scenario
from bench.core.stats import summarize, warnings_for
from bench.runner.boundary import adapter_call
from bench.runner.clock import Clock, perf_ns, wall_iso
from bench.runner.measure import Fence, Measurement, measure


@dataclass(frozen=True)
class Matched:
    """The inputs and float64 reference every backend of one (workload, params) shares."""

    input_sets: tuple[dict[str, Any], ...]
    reference: Any


def matched_inputs(p: Planned, seed: int, count: int) -> Matched:
    sets = tuple(workloads.seeded_inputs(p.spec, p.params, seed + i) for i in range(count))
    return Matched(sets, p.spec.reference(sets[0], p.params))


def check(prepared: Prepared, backend: Any, matched: Matched, p: Planned) -> tuple[float, float]:
    """One untimed call on input set 0, compared with the reference: (error, tolerance)."""
    with adapter_call("the checked call"):
        out = prepared.run()
        backend.sync()
        host = prepared.to_host(out)
    outputs = workloads.as_outputs(host)
    error = workloads.relative_error(outputs, matched.reference)
    # The output's own dtype picks the tolerance: it is what a bring-your-own model produces.
    dtype = str(outputs[0].dtype) if outputs else "float32"
    # A backend whose arithmetic is looser (TF32, fp16 engines) states its own floor.
    tolerance = max(p.spec.tolerance_for(dtype), prepared.tolerance or 0.0)
    if not error <= tolerance:  # NaN never passes
        # Random data can drive a real model where rounding differences grow.
        hint = (
            "; random inputs may be unrealistic for this model: feed real ones with"
            " -p inputs=file.npz"
            if p.spec.accepts("inputs") and not p.params.get("inputs")
            else ""
        )
        raise CorrectnessError(
            f"output differs from the reference: relative error {error:.3g}"
            f" exceeds the {dtype} tolerance {tolerance:.1g}{hint}"
        )
    return error, tolerance


def measured(
    base: CaseResult, p: Planned, m: Measurement, prepared: Prepared, error: float, tolerance: float
) -> CaseResult:
    """A checked case with its samples, statistics and the figures the workload's own model
    gives (FLOP/s, GB/s, intensity)."""
    stats = summarize([ns / m.loops / 1e9 for ns in m.sample_ns])
    flops, moved = p.spec.flops(p.params), p.spec.bytes_moved(p.params)
    batch = p.spec.samples_per_call(p.params)
    t = stats.median_s
    return dataclasses.replace(
        base,
        status="ok",
        rel_error=error,
        tolerance=tolerance,
        loops=m.loops,
        sample_ns=m.sample_ns,
        warmup_calls=m.warmup_calls,
        stopped_by=m.stopped_by,
        stats=stats,
        flops=flops,
        bytes_moved=moved,
        batch=batch,
        throughput_per_s=batch / t if t > 0 else None,
        gflops_per_s=flops / t / 1e9 if flops and t > 0 else None,
        gb_per_s=moved / t / 1e9 if moved and t > 0 else None,
        intensity_flop_per_byte=flops / moved if flops and moved else None,
        warnings=tuple(warnings_for(stats)),
        threads=dict(prepared.threads),
        details=dict(prepared.details),
    )


def outcome(
    p: Planned, options: Mapping[str, Any], status: Status, reason: str, input_sets: int = 1,
    started: str = "",
) -> CaseResult:  # fmt: skip
    """A case's identity and how it ended; a measured case adds its figures to this."""
    return CaseResult(
        case_id=p.case_id,
        workload=p.spec.name,
        params=dict(p.params),
        backend=p.backend,
        options=dict(options),
        scenario=as_scenario(p.scenario),
        status=status,
        reason=reason,
        input_sets=input_sets,
        started_at=started,
    )


def run_case(
    backend: Any, p: Planned, matched: Matched, policy: Policy, clock: Clock = perf_ns
) -> CaseResult:
    """Prepare (untimed), check against the reference, then measure; failures are recorded."""
    started, sets = wall_iso(), len(matched.input_sets)
    case = Case(p.spec, p.params, p.backend, backend.options, p.scenario, matched.input_sets)
    try:
        with adapter_call("prepare"):
            prepared = backend.prepare(case)
        error, tolerance = check(prepared, backend, matched, p)
        # Synchronous (CPU) calls need no fence; device calls are fenced per call for latency
        # and once per sample for throughput, so queued calls overlap as they would in service.
        fence = None if prepared.synchronous else Fence(backend.sync, p.scenario == "latency")
        m = measure(prepared.run, fence, policy, clock)
    except UnsupportedCase as exc:
        return outcome(p, backend.options, "unsupported", str(exc), sets, started)
    except BenchError as exc:  # BackendError too: what the adapter raised, wrapped
        return outcome(p, backend.options, "failed", str(exc), sets, started)
    except MemoryError as exc:  # a shape too large for this machine: the run goes on
        reason = f"MemoryError: {exc}"
        return outcome(p, backend.options, "failed", reason, sets, started)
    base = outcome(p, backend.options, "ok", "", sets, started)
    return measured(base, p, m, prepared, error, tolerance)


class LocalSession:
    """Owns backend instances for a run; yields one CaseResult per planned case."""

    def __init__(self, policy: Policy, seed: int = 0, input_sets: int = 1) -> None:
        self.policy, self.seed, self.input_sets = policy, seed, input_sets
        self._backends: dict[tuple[str, str], Any] = {}

    def backend(self, name: str, options: Any) -> Any:
        key = (name, repr(sorted(dict(options).items())))
        if key not in self._backends:
            self._backends[key] = registry.create(name, dict(options))
        return self._backends[key]

    def run(self, planned: Sequence[Planned]) -> Iterator[CaseResult]:
        cache_key: Any = None
        matched: Matched | str = ""
        for p in planned:
            key = (p.spec.name, tuple(p.params.items()))
            if key != cache_key:  # planned cases come grouped: one input set per group
                cache_key = key
                try:
                    matched = matched_inputs(p, self.seed, self.input_sets)
                except MemoryError as exc:  # a huge shape: the run goes on (a kernel bug crashes)
                    matched = f"inputs or reference failed: MemoryError: {exc}"
            if isinstance(matched, str):
                yield outcome(p, p.options, "failed", matched)
                continue
            yield run_case(self.backend(p.backend, p.options), p, matched, self.policy)

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        self._backends.clear()
