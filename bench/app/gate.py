"""Orchestration of the gate commands: the policy from config and flags, compare, A/B blocks."""

from __future__ import annotations

import dataclasses
import math
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.app import runs
from bench.app.flags import last_values
from bench.core import config as configmod
from bench.core import resources
from bench.core.errors import ConfigError

POLICY_KEYS = (
    "tolerance", "effect_floor", "alpha", "resamples", "seed",
    "min_blocks", "max_blocks", "block_step", "method", "on_inconclusive",
)  # fmt: skip


def gate_tables(path: Path | None) -> dict[str, dict[str, Any]]:
    """The [gate] and [ab] tables of a TOML file (a suite or a file with only [gate])."""
    if path is None:
        return {"gate": {}, "ab": {}}
    from bench.runner import ab_config

    return ab_config.load_gate_tables(path)


def gate_policy(table: Mapping[str, Any], where: str, flags: Mapping[str, Any]) -> Any:
    """The config's [gate] table, then each flag given on the command line over it."""
    from bench.gate import decide

    base = decide.make_policy(dict(table), where)
    given = {k: v for k, v in flags.items() if v is not None}
    return decide.make_policy(given, "command line", base)


def history_files(folder: Path | None) -> list[Path]:
    """The *.json results files of a --history folder, oldest name first."""
    if folder is None:
        return []
    if not folder.is_dir():
        raise ConfigError(f"--history {folder}: no such folder")
    found = sorted(folder.glob("*.json"))
    if not found:
        raise ConfigError(f"--history {folder}: holds no *.json results files")
    return found


def compare(
    bases: Sequence[Path], results: Path, gate_config: Path | None, flags: Mapping[str, Any]
) -> Any:
    """RESULTS against one or more stored BASE runs (accelbench or pytest-benchmark JSON)."""
    from bench.gate import interop
    from bench.gate import runs as gate_runs

    if not bases:
        raise ConfigError("give at least one BASE run (or --history DIR) before RESULTS")
    policy = gate_policy(gate_tables(gate_config)["gate"], f"{gate_config}: [gate]", flags)

    def load(path: Path) -> Any:
        return gate_runs.check_timings(interop.load_any(path), str(path))

    return gate_runs.compare_runs([load(p) for p in bases], load(results), policy)


@dataclass(frozen=True)
class AbRequest:
    config: Path | None
    sides: Mapping[str, Any]  # a_backend, b_backend, a_opt, b_opt, a_param, b_param
    a_cmd: str | None
    b_cmd: str | None
    workdir: Path | None
    workload: str | None
    quick: bool
    sample_time: float | None
    gate_config: Path | None
    policy_flags: Mapping[str, Any]


def _side(label: str, prefix: str, sides: Mapping[str, Any]) -> Any:
    from bench.runner import ab

    options = last_values(sides[f"{prefix}_opt"], f"--{prefix}-opt")
    params = last_values(sides[f"{prefix}_param"], f"--{prefix}-param")
    return ab.Side(label, sides[f"{prefix}_backend"], options, params)


def _in_process(req: AbRequest, extra: Mapping[str, Any]) -> Any:
    from bench.runner import ab, ab_config

    if req.config is None:
        raise ConfigError("give a CONFIG suite (two configurations) or --a-cmd and --b-cmd")
    suite, _ = ab_config.load_gate_config(req.config)
    a, b = _side("A", "a", req.sides), _side("B", "b", req.sides)
    named = [n for n in (a.backend, b.backend) if n]
    chosen = [a.backend] if a.backend else runs.select_backends(())
    planned = configmod.expand(suite, chosen or named, req.quick)
    planned = [p for p in planned if req.workload in (None, p.spec.name)]
    if not planned:
        raise ConfigError(f"{req.config}: no case to run (workload filter {req.workload!r})")
    pairs = ab.pair_plan(planned, a, b, suite.backend_options)
    ab.check_available(pairs)
    settings = ab_config.block_settings(extra["ab"], f"{req.config}: [ab]")
    if req.sample_time is not None:
        if req.sample_time <= 0:
            raise ConfigError(f"--sample-time {req.sample_time}: must be a positive number")
        settings = dataclasses.replace(settings, sample_time_s=req.sample_time)
    described = (a.describe(), b.describe())
    return ab.InProcessBlocks(pairs, settings, suite.seed, suite.input_sets, described)


def ab_source(req: AbRequest, extra: Mapping[str, Any]) -> Any:
    """Subprocess blocks for --a-cmd/--b-cmd, else two configurations of CONFIG's suite."""
    from bench.runner import ab

    if req.a_cmd or req.b_cmd:
        if not (req.a_cmd and req.b_cmd):
            raise ConfigError("--a-cmd and --b-cmd go together: give both commands")
        workdir = req.workdir or Path("results") / f"ab-{uuid.uuid4().hex[:8]}"
        return ab.SubprocessBlocks(req.a_cmd, req.b_cmd, workdir)
    return _in_process(req, extra)


def run_ab(req: AbRequest, on_block: Callable[[Any], None]) -> Any:
    """A and B in alternating blocks until the policy decides; the outcome's gate result."""
    from bench.runner import ab

    extra = gate_tables(req.config)
    table = gate_tables(req.gate_config)["gate"] if req.gate_config else extra["gate"]
    where = f"{req.gate_config or req.config}: [gate]"
    policy = gate_policy(table, where, {k: req.policy_flags.get(k) for k in POLICY_KEYS})
    source = ab_source(req, extra)
    try:
        return ab.run_ab(source, policy, on_block).result
    finally:
        source.close()


def gate_eval_settings(
    config: Path | None, counts: Mapping[str, int | None]
) -> tuple[Sequence[Any], Any, Any, Any]:
    """The gate-eval experiment (default: the shipped gate-eval.toml): planned cases,
    policy, block settings, decision counts."""
    from bench.app import gate_eval

    planned, policy, blocks, settings = gate_eval.load(config or resources.shipped("gate-eval.toml"))
    aa, slow = counts.get("aa_decisions"), counts.get("slow_decisions")
    for flag, value in (("--aa", aa), ("--slow", slow)):
        if value is not None and value < 1:
            raise ConfigError(f"{flag} {value}: must be at least 1")
    settings = dataclasses.replace(
        settings,
        aa_decisions=settings.aa_decisions if aa is None else aa,
        slow_decisions=settings.slow_decisions if slow is None else slow,
    )
    return planned, policy, blocks, settings


def power(experiments: Sequence[Any], policy: Any, trials: int = 200) -> tuple[float, list[Any]]:
    """The A/A block noise gate-eval measured and the power curve simulated at it."""
    from bench.app import gate_eval
    from bench.gate import power as gate_power

    noise = gate_eval.measured_noise(experiments)
    points = [] if math.isnan(noise) else gate_power.power_curve(noise, policy, trials=trials)
    return noise, points
