"""A/B in alternating blocks (ABBA...): two configurations in-process, or a fresh process per side."""

from __future__ import annotations

import dataclasses
import gc
import math
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from bench import backends as registry
from bench.backends.base import Case
from bench.core import store
from bench.core.config import Planned
from bench.core.errors import BackendError, BenchError, ConfigError, UnsupportedCase
from bench.core.policy import Policy
from bench.core.records import CaseResult, RunRecord, as_scenario
from bench.gate import decide as gate
from bench.gate import interop
from bench.runner.boundary import adapter_call
from bench.runner.clock import Clock, perf_ns
from bench.runner.local import LocalSession, Matched, check, matched_inputs, outcome
from bench.runner.measure import Fence, calibrate, timed_sample, warm_up

# Tables a gate config may add to a suite config; the suite parser never sees them.
OUT_PLACEHOLDER = "{out}"


@dataclass(frozen=True)
class Side:
    """One side of an A/B: overrides applied to every planned case of the suite."""

    label: str
    backend: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)
    params: Mapping[str, Any] = field(default_factory=dict)

    def apply(
        self, p: Planned, suite_options: Mapping[str, Mapping[str, Any]] | None = None
    ) -> Planned:
        """The case on this side; another backend starts from the suite's options for it."""
        # a param only some workloads have (an ONNX model file) applies where it exists
        own = {k: v for k, v in self.params.items() if p.spec.accepts(k)}
        params = p.spec.resolve({**p.params, **own}, owner=f"side {self.label}: '{p.spec.name}'")
        backend = self.backend or p.backend
        same = backend == p.backend
        base = dict(p.options) if same else dict((suite_options or {}).get(backend, {}))
        return Planned(p.spec, params, backend, {**base, **self.options}, p.scenario)

    def describe(self) -> str:
        parts = [f"backend={self.backend}"] if self.backend else []
        parts += [f"{k}={v}" for k, v in {**self.options, **self.params}.items()]
        return f"{self.label} ({', '.join(parts) or 'suite as configured'})"


def pair_plan(
    planned: Sequence[Planned],
    a: Side,
    b: Side,
    suite_options: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[tuple[Planned, Planned]]:
    """(A, B) per planned case, without duplicates (a side's backend may merge cases)."""
    pairs: dict[tuple[str, str], tuple[Planned, Planned]] = {}
    for p in planned:
        pa, pb = a.apply(p, suite_options), b.apply(p, suite_options)
        pairs.setdefault((pa.case_id, pb.case_id), (pa, pb))
    return list(pairs.values())


def check_available(pairs: Sequence[tuple[Planned, Planned]]) -> None:
    """Every backend either side needs must be available here (a usage error otherwise)."""
    for name in sorted({p.backend for pair in pairs for p in pair}):
        avail = registry.create(name).probe()
        if not avail.ok:
            raise ConfigError(f"backend '{name}' is not available here: {avail.reason}")


@dataclass(frozen=True)
class BlockSettings:
    """How each side of each case is sampled inside one block."""

    sample_time_s: float = 0.1
    min_samples: int = 5
    warmup_s: float = 0.01
    min_sample_s: float = 2e-4

    def policy(self, loops: int) -> Policy:
        return Policy(
            warmup_s=self.warmup_s,
            min_sample_s=self.min_sample_s,
            min_samples=self.min_samples,
            min_time_s=self.sample_time_s,
            max_time_s=max(1.0, 20 * self.sample_time_s),
            loops=loops,
        )


@dataclass(frozen=True)
class Block:
    """One block: each case measured on both sides, in `order`; results pair by index."""

    index: int
    order: str
    a: tuple[CaseResult, ...]
    b: tuple[CaseResult, ...]
    wall_ns_a: int
    wall_ns_b: int


class BlockSource(Protocol):
    labels: tuple[str, str]
    case_ids: list[str]

    def block(self) -> Block: ...
    def notes(self) -> list[str]: ...
    def fingerprints(self) -> tuple[dict[str, Any], dict[str, Any]] | None: ...
    def close(self) -> None: ...


def _failed(p: Planned, reason: str) -> CaseResult:
    return outcome(p, p.options, "failed", reason)


def _missing(case_id: str, reason: str) -> CaseResult:
    """A stand-in for a case a side's results file lacks; its scenario is read off the id."""
    tail = case_id.rpartition("/")[2]
    scenario = as_scenario(tail) if tail in ("latency", "throughput") else "latency"
    return CaseResult(case_id, "?", {}, "?", {}, scenario, "failed", reason=reason)


@dataclass(frozen=True)
class Ready:
    """One side of one case, prepared and checked (untimed), ready to sample."""

    run: Callable[[], Any]
    fence: Fence | None
    result: CaseResult
    setup_ns: int


def prepare_side(backend: Any, p: Planned, matched: Matched, clock: Clock) -> Ready | CaseResult:
    """run_case's first half: prepare, then check against the reference; failures recorded."""
    t0 = clock()
    case = Case(p.spec, p.params, p.backend, backend.options, p.scenario, matched.input_sets)
    try:
        with adapter_call("prepare"):
            prepared = backend.prepare(case)
        error, tolerance = check(prepared, backend, matched, p)
    except UnsupportedCase as exc:
        return dataclasses.replace(_failed(p, str(exc)), status="unsupported")
    except BenchError as exc:  # BackendError too: what the adapter raised, wrapped
        return _failed(p, str(exc))
    except MemoryError as exc:  # as run_case: a shape too large for this machine
        return _failed(p, f"MemoryError: {exc}")
    fence = None if prepared.synchronous else Fence(backend.sync, p.scenario == "latency")
    ok = dataclasses.replace(
        _failed(p, ""), status="ok", options=dict(backend.options), rel_error=error,
        tolerance=tolerance,
    )  # fmt: skip
    return Ready(prepared.run, fence, ok, clock() - t0)


def interleaved(
    sides: Mapping[str, Ready], first: str, loops: int, settings: BlockSettings, clock: Clock
) -> dict[str, list[int]]:
    """Warm both sides, then samples in ABBA (or BAAB) order until each side has
    min_samples and sample_time_s: a burst of load lands on both sides alike."""
    policy = settings.policy(loops)
    for side in first:
        warm_up(sides[side].run, sides[side].fence, policy, clock)
    samples: dict[str, list[int]] = {"A": [], "B": []}
    pattern = first + first[::-1]
    budget, cap = settings.sample_time_s * 1e9, policy.max_time_s * 1e9
    start, gc_was_enabled = clock(), gc.isenabled()
    try:
        while True:
            for side in pattern:
                if policy.disable_gc:
                    gc.disable()  # as measure() does: a collection is not the call's cost
                run, fence = sides[side].run, sides[side].fence
                samples[side].append(timed_sample(run, fence, loops, clock))
                if gc_was_enabled:
                    gc.enable()
            least = min(len(samples["A"]), len(samples["B"]))
            spent = min(sum(samples["A"]), sum(samples["B"]))
            if (least >= settings.min_samples and spent >= budget) or clock() - start > cap:
                return samples
    finally:
        if gc_was_enabled:
            gc.enable()


class InProcessBlocks:
    """Both configurations in this process. Each block re-prepares every case on each side
    (allocation and layout effects vary between blocks instead of biasing one side), then
    samples A and B interleaved; blocks alternate which side goes first (AB, BA, ...)."""

    def __init__(
        self,
        pairs: Sequence[tuple[Planned, Planned]],
        settings: BlockSettings = BlockSettings(),
        seed: int = 0,
        input_sets: int = 1,
        labels: tuple[str, str] = ("A", "B"),
        clock: Clock = perf_ns,
    ) -> None:
        self.pairs, self.settings, self.labels, self._clock = list(pairs), settings, labels, clock
        self.case_ids = [a.case_id for a, _ in self.pairs]
        self._seed, self._input_sets = seed, input_sets
        self._session = LocalSession(settings.policy(0), seed, input_sets)
        self._matched: dict[Any, Matched | str] = {}
        self._count = 0
        self.loops = [self._calibrate(a, b) for a, b in self.pairs]

    def _inputs(self, p: Planned) -> Matched | str:
        key = (p.spec.name, tuple(p.params.items()))
        if key not in self._matched:
            try:
                self._matched[key] = matched_inputs(p, self._seed, self._input_sets)
            except MemoryError as exc:  # a huge shape: the case fails (a kernel bug crashes)
                self._matched[key] = f"inputs or reference failed: MemoryError: {exc}"
        return self._matched[key]

    def _prepare(self, p: Planned) -> Ready | CaseResult:
        matched = self._inputs(p)
        if isinstance(matched, str):
            return _failed(p, matched)
        backend = self._session.backend(p.backend, p.options)
        return prepare_side(backend, p, matched, self._clock)

    def _calibrate(self, a: Planned, b: Planned) -> int:
        """The larger of the two sides' loop counts, fixed for every block (calibrated once)."""
        policy = self.settings.policy(0)
        found = []
        for p in (a, b):
            ready = self._prepare(p)
            if isinstance(ready, Ready):
                warm_up(ready.run, ready.fence, policy, self._clock)
                found.append(calibrate(ready.run, ready.fence, policy, self._clock))
        return max(found, default=1)

    def _pair(self, pa: Planned, pb: Planned, loops: int, first: str) -> dict[str, Any]:
        """Both sides of one case in one block: (CaseResult, wall ns) per side."""
        sides = {s: self._prepare(pa if s == "A" else pb) for s in first}
        failed = {s: r for s, r in sides.items() if isinstance(r, CaseResult)}
        if failed:
            return {
                s: (failed.get(s, _failed(pa if s == "A" else pb, "other side failed")), 0)
                for s in "AB"
            }
        ready = {s: r for s, r in sides.items() if isinstance(r, Ready)}
        try:
            samples = interleaved(ready, first, loops, self.settings, self._clock)
        except BackendError as exc:  # a call that raises mid-sampling fails the pair, not the run
            reason = f"while sampling: {exc}"
            return {
                s: (dataclasses.replace(r.result, status="failed", reason=reason), 0)
                for s, r in ready.items()
            }
        return {
            s: (
                dataclasses.replace(
                    r.result, loops=loops, sample_ns=tuple(samples[s]), stopped_by="min_time"
                ),
                r.setup_ns + sum(samples[s]),
            )
            for s, r in ready.items()
        }

    def block(self) -> Block:
        index, self._count = self._count, self._count + 1
        first = "AB" if index % 2 == 0 else "BA"  # AB BA AB BA...: linear drift cancels
        pairs = [
            self._pair(pa, pb, n, first) for (pa, pb), n in zip(self.pairs, self.loops, strict=True)
        ]
        return Block(
            index,
            first,
            tuple(p["A"][0] for p in pairs),
            tuple(p["B"][0] for p in pairs),
            sum(p["A"][1] for p in pairs),
            sum(p["B"][1] for p in pairs),
        )

    def notes(self) -> list[str]:
        same = all(pa == pb for pa, pb in self.pairs)
        return ["A and B are the same configuration: an A/A run"] if same else []

    def fingerprints(self) -> None:
        return None  # one process, one environment: nothing can differ

    def close(self) -> None:
        self._session.close()


def command_template(cmd: str, flag: str) -> list[str]:
    """argv with an {out} placeholder (appended as `--out {out}` when the command has none)."""
    try:
        argv = shlex.split(cmd)
    except ValueError as exc:
        raise ConfigError(f"{flag} {cmd!r}: cannot split into arguments ({exc})") from None
    if not argv:
        raise ConfigError(f"{flag}: empty command")
    if not any(OUT_PLACEHOLDER in arg for arg in argv):
        argv += ["--out", OUT_PLACEHOLDER]
    return argv


class SubprocessBlocks:
    """Each side of each block is a fresh process running its own accelbench, which must
    write one results file into the folder given as {out}; cases pair by case id."""

    def __init__(
        self,
        a_cmd: str,
        b_cmd: str,
        workdir: Path,
        timeout_s: float = 600.0,
        labels: tuple[str, str] = ("A", "B"),
        clock: Clock = perf_ns,
    ) -> None:
        self.labels, self._clock, self._timeout = labels, clock, timeout_s
        self._argv = {
            "A": command_template(a_cmd, "--a-cmd"),
            "B": command_template(b_cmd, "--b-cmd"),
        }
        self._workdir = store.prepare_dir(Path(workdir))
        self._count = 0
        self.case_ids: list[str] = []
        self._last: dict[str, RunRecord] = {}
        self._loops_differ: set[str] = set()

    def _run(self, side: str, index: int) -> tuple[RunRecord, int]:
        out = self._workdir / f"block{index:03d}-{side}"
        out.mkdir(parents=True, exist_ok=True)
        argv = [arg.replace(OUT_PLACEHOLDER, str(out)) for arg in self._argv[side]]
        flag = f"--{side.lower()}-cmd"
        t0 = self._clock()
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=self._timeout)
        except FileNotFoundError:
            raise ConfigError(f"{flag}: command not found: {argv[0]}") from None
        except subprocess.TimeoutExpired:
            raise BenchError(f"{flag} ran past {self._timeout:g} s in block {index}") from None
        wall = self._clock() - t0
        files = sorted(out.glob("*.json"))
        if not files:  # no results at all is an error, never a regression
            tail = (proc.stderr or proc.stdout).strip()[-500:]
            raise BenchError(
                f"{flag} wrote no results file into {out} (exit {proc.returncode}): {tail}"
            )
        return interop.load_any(files[-1]), wall  # ours, or a pytest-benchmark --benchmark-json

    def _paired(self, record: RunRecord, side: str) -> tuple[CaseResult, ...]:
        by_id = {c.case_id: c for c in record.cases}
        missing = f"missing from {side}'s results file (its run stopped early or differs)"
        return tuple(by_id.get(cid) or _missing(cid, missing) for cid in self.case_ids)

    def block(self) -> Block:
        index, self._count = self._count, self._count + 1
        order = "AB" if index % 2 == 0 else "BA"
        runs = {side: self._run(side, index) for side in order}
        if not self.case_ids:
            self.case_ids = [c.case_id for c in runs["A"][0].cases]
        self._last = {side: rec for side, (rec, _) in runs.items()}
        a, b = self._paired(runs["A"][0], "A"), self._paired(runs["B"][0], "B")
        for ca, cb in zip(a, b, strict=True):
            if ca.status == cb.status == "ok" and ca.loops != cb.loops:
                self._loops_differ.add(f"{ca.case_id} (A {ca.loops}, B {cb.loops})")
        return Block(index, order, a, b, runs["A"][1], runs["B"][1])

    def notes(self) -> list[str]:
        if not self._loops_differ:
            return []
        shown = "; ".join(sorted(self._loops_differ)[:3])
        return [f"loop counts differ between A and B: {shown}; set [policy] loops in the config"]

    def fingerprints(self) -> tuple[dict[str, Any], dict[str, Any]] | None:
        if len(self._last) < 2:
            return None
        a, b = self._last["A"], self._last["B"]
        return (
            {**a.fingerprint, "backends": dict(a.backends)},
            {**b.fingerprint, "backends": dict(b.backends)},
        )

    def close(self) -> None:
        return None


def median_per_call_s(case: CaseResult) -> float:
    return float(np.median(case.sample_ns)) / case.loops / 1e9


def log_ratio_series(
    blocks: Sequence[Block], case_ids: Sequence[str]
) -> dict[str, list[float] | str]:
    """Per case, log(median B / median A) per block; a failed side makes the case an error."""
    series: dict[str, list[float] | str] = {}
    for i, cid in enumerate(case_ids):
        values: list[float] = []
        for blk in blocks:
            sides = (blk.a[i], blk.b[i])
            bad = next(
                (c for c in sides if c.status != "ok" or not c.loops or not c.sample_ns), None
            )
            if bad is not None:
                side = "A" if bad is blk.a[i] else "B"
                series[cid] = f"block {blk.index}, side {side}: {bad.status}: {bad.reason}"
                break
            values.append(math.log(median_per_call_s(blk.b[i]) / median_per_call_s(blk.a[i])))
        else:
            series[cid] = values
    return series


@dataclass(frozen=True)
class AbOutcome:
    """The gate's answer and every block behind it (raw samples included)."""

    result: gate.GateResult
    blocks: tuple[Block, ...]
    looks: int

    @property
    def wall_ns(self) -> int:
        return sum(b.wall_ns_a + b.wall_ns_b for b in self.blocks)


def _decided(cases: Sequence[gate.CaseVerdict], stop_at_regression: bool) -> bool:
    verdicts = [c.verdict for c in cases]
    if stop_at_regression and gate.Verdict.REGRESSION in verdicts:
        return True  # the suite fails whatever the other cases say: save CI the time
    return gate.Verdict.INCONCLUSIVE not in verdicts


def run_ab(
    source: BlockSource,
    policy: gate.GatePolicy,
    on_block: Callable[[Block], None] | None = None,
    stop_at_regression: bool = True,
) -> AbOutcome:
    """Blocks until min_blocks, then judge; INCONCLUSIVE adds block_step blocks, up to
    max_blocks. Each look spends alpha / looks, so stopping early cannot inflate errors.
    Without stop_at_regression every case is judged to the end (per-case power studies)."""
    blocks: list[Block] = []
    target, looks = policy.min_blocks, policy.looks
    while True:
        while len(blocks) < target:
            blocks.append(source.block())
            if on_block is not None:
                on_block(blocks[-1])
        series = log_ratio_series(blocks, source.case_ids)
        cases, geo = gate.judge_paired(series, policy, looks)
        if _decided(cases, stop_at_regression) or target >= policy.max_blocks:
            break
        target = min(target + policy.block_step, policy.max_blocks)
    return AbOutcome(_result(source, policy, cases, geo, len(blocks), looks), tuple(blocks), looks)


def _result(
    source: BlockSource,
    policy: gate.GatePolicy,
    cases: list[gate.CaseVerdict],
    geo: gate.CaseVerdict | None,
    blocks: int,
    looks: int,
) -> gate.GateResult:
    fps = source.fingerprints()
    return gate.GateResult(
        mode="ab",
        cases=tuple(cases),
        geomean=geo,
        verdict=gate.overall([c.verdict for c in cases]),
        policy=policy,
        confidence=1 - 2 * policy.tail(looks),
        base_label=source.labels[0],
        new_label=source.labels[1],
        blocks=blocks,
        fingerprint=tuple(gate.fingerprint_diff(*fps)) if fps else (),
        notes=tuple(source.notes()),
    )
