"""The CI gate: `compare`, `ab`, `export` and `gate-eval` (docs/gating.md)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from bench.cli import base

GATE_FORMATS = ("table", "markdown", "json")


def gate_flags(fn: Any) -> Any:
    """The gate policy's flags; each overrides the config's [gate] table."""
    flags = [
        click.option("--tolerance", type=float, help="Slowdown that still passes [0.05]."),
        click.option("--effect-floor", type=float, help="Smallest slowdown ever failed [0.01]."),
        click.option("--alpha", type=float, help="Two-sided error of the intervals [0.05]."),
        click.option("--resamples", type=int, help="Bootstrap resamples [2000]."),
        click.option("--seed", type=int, help="Bootstrap seed [0]."),
        click.option(
            "--on-inconclusive", type=click.Choice(["pass", "warn", "fail"]),
            help="INCONCLUSIVE exits 0 (pass, warn: with a warning) or 3 (fail) [fail].",
        ),  # fmt: skip
        click.option(
            "--format", "out_format", type=click.Choice(GATE_FORMATS), default="table",
            show_default=True, help="Report format on stdout.",
        ),  # fmt: skip
        click.option(
            "--markdown-out", type=click.Path(dir_okay=False, path_type=Path),
            help="Also append the Markdown report here (e.g. $GITHUB_STEP_SUMMARY).",
        ),  # fmt: skip
    ]
    for flag in reversed(flags):
        fn = flag(fn)
    return fn


def emit_gate(result: Any, out_format: str, markdown_out: Path | None) -> None:
    """Print the report, append Markdown if asked, and exit with the verdict's code."""
    from bench.core.errors import ConfigError
    from bench.report import compare as compare_report

    if out_format == "json":
        base.emit_json(compare_report.to_json(result))
    elif out_format == "markdown":
        click.echo(compare_report.markdown(result), nl=False)
    else:
        base.out().print(compare_report.terminal(result))
    if result.verdict.value == "INCONCLUSIVE" and result.policy.on_inconclusive == "warn":
        base.err().print("[yellow]warning: INCONCLUSIVE, exiting 0 (--on-inconclusive warn)[/]")
    if markdown_out is not None:
        try:
            with markdown_out.open("a", encoding="utf-8") as fh:
                fh.write(compare_report.markdown(result))
        except OSError as exc:
            raise ConfigError(f"--markdown-out {markdown_out}: {exc.strerror}") from None
    sys.exit(result.exit_code)


@click.command("compare")
@click.argument(
    "paths", nargs=-1, required=True, metavar="BASE... RESULTS",
    type=click.Path(dir_okay=False, path_type=Path),
)  # fmt: skip
@click.option(
    "--history", type=click.Path(file_okay=False, path_type=Path),
    help="A folder of earlier BASE runs (*.json), added to the BASE runs given.",
)  # fmt: skip
@click.option(
    "--drift", type=float,
    help="Run-to-run drift assumed with one BASE run (SD of the B/A ratio) [0.02].",
)  # fmt: skip
@click.option(
    "--allow-missing", is_flag=True, default=None,
    help="Cases missing, failed or cut short in RESULTS are notes, not errors.",
)  # fmt: skip
@click.option(
    "--gate-config", type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML file whose [gate] table sets the policy (flags override it).",
)  # fmt: skip
@gate_flags
def compare_cmd(
    paths: tuple[Path, ...], history: Path | None, gate_config: Path | None, out_format: str,
    markdown_out: Path | None, **flags: Any,
) -> None:  # fmt: skip
    """Compare RESULTS with stored BASE runs (accelbench results or pytest-benchmark JSON).

    Per case: ratio of medians RESULTS/BASE with an interval that includes the between-run
    drift (measured when several BASE runs are given, else assumed: the verdict is then
    advisory); the suite's geometric mean; fingerprint differences. A case missing, failed
    or cut short in RESULTS is an error. Exit 0 pass, 1 regression, 2 error, 3 inconclusive.
    Stored runs are weak evidence: `accelbench ab` is the sound gate.
    """
    from bench.app import gate

    bases = [*gate.history_files(history), *paths[:-1]]
    result = gate.compare(bases, paths[-1], gate_config, flags)
    emit_gate(result, out_format, markdown_out)


@click.command("ab")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--a-backend", help="Side A's backend (default: the suite's).")
@click.option("--b-backend", help="Side B's backend (default: the suite's).")
@click.option("--a-opt", multiple=True, help="key=value backend option for side A.")
@click.option("--b-opt", multiple=True, help="key=value backend option for side B.")
@click.option("--a-param", multiple=True, help="key=value workload param for side A.")
@click.option("--b-param", multiple=True, help="key=value workload param for side B.")
@click.option("--a-cmd", help="Side A as a command running accelbench; {out} = results folder.")
@click.option("--b-cmd", help="Side B as a command running accelbench; {out} = results folder.")
@click.option(
    "--workdir", type=click.Path(file_okay=False, path_type=Path),
    help="Folder for the per-block results of --a-cmd/--b-cmd.",
)  # fmt: skip
@click.option("-w", "--workload", help="Only this workload's cases.")
@click.option("--quick", is_flag=True, help="The config's quick sizes.")
@click.option("--min-blocks", type=click.IntRange(min=2), help="Blocks before the first look [10].")
@click.option("--max-blocks", type=click.IntRange(min=2), help="Most blocks before INCONCLUSIVE [20].")
@click.option("--block-step", type=click.IntRange(min=1), help="Blocks added per inconclusive look [10].")
@click.option("--method", type=click.Choice(["exact", "bootstrap"]), help="Interval method [exact].")
@click.option("--sample-time", type=float, help="Seconds of samples per side per case per block.")
@click.option(
    "--gate-config", type=click.Path(dir_okay=False, path_type=Path),
    help="A TOML file with a [gate] table (default: CONFIG's own).",
)  # fmt: skip
@gate_flags
def ab_cmd(config: Path | None, out_format: str, markdown_out: Path | None, **opts: Any) -> None:
    """The sound gate: A and B on this machine in alternating blocks (AB, BA, ...).

    Two configurations of CONFIG's suite (--a-backend/--b-backend, --a-opt/--b-opt,
    --a-param/--b-param), or two environments (--a-cmd/--b-cmd: each block runs the
    command, which must write one results file into {out}; `--out {out}` is appended when
    the command has no {out}). Exit 0 pass, 1 regression, 2 error, 3 inconclusive.
    """
    from bench.app import gate

    sides = {f"{s}_{k}": opts[f"{s}_{k}"] for s in "ab" for k in ("backend", "opt", "param")}
    req = gate.AbRequest(
        config, sides, opts["a_cmd"], opts["b_cmd"], opts["workdir"], opts["workload"],
        opts["quick"], opts["sample_time"], opts["gate_config"], opts,
    )  # fmt: skip
    with base.err().status("A/B blocks") as status:
        result = gate.run_ab(req, lambda b: status.update(f"block {b.index + 1} done"))
    emit_gate(result, out_format, markdown_out)


@click.command("export")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format", "out_format", type=click.Choice(["pytest-benchmark"]),
    default="pytest-benchmark", show_default=True, help="Target format.",
)  # fmt: skip
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
    help="File to write (default: stdout).",
)  # fmt: skip
def export_cmd(results: Path, out_format: str, output: Path | None) -> None:
    """Export a stored run as pytest-benchmark JSON (for `pytest-benchmark compare`, dashboards)."""
    from bench.core import store
    from bench.gate import interop
    from bench.gate.chat import expand_requests

    doc = interop.export_run(expand_requests(store.load(results)))
    if output is None:
        click.echo(json.dumps(doc, indent=4))
        return
    interop.write_json(doc, output)
    base.err().print(f"wrote {len(doc['benchmarks'])} benchmark(s) to [bold]{output}[/]")


@click.command("gate-eval")
@click.argument("config", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.option("--aa", "aa_decisions", type=int, help="A/A gate decisions (config: [eval] aa_decisions).")
@click.option("--slow", "slow_decisions", type=int, help="Decisions per injected slowdown.")
@click.option(
    "--json-out", type=click.Path(dir_okay=False, path_type=Path),
    help="Write every decision as JSON here.",
)  # fmt: skip
@click.option(
    "--markdown-out", type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the Markdown report here.",
)  # fmt: skip
def gate_eval_cmd(
    config: Path | None, aa_decisions: int | None, slow_decisions: int | None,
    json_out: Path | None, markdown_out: Path | None,
) -> None:  # fmt: skip
    """Prove the gate on this machine: A/A false failures, injected-slowdown detection,
    and pytest-benchmark's compare-fail rule on the same samples, with wall times; then the
    power curve (detection vs true slowdown) simulated at the A/A block noise measured.
    CONFIG defaults to the shipped gate-eval.toml."""
    from bench.app import gate, gate_eval
    from bench.report import compare as compare_report

    counts = {"aa_decisions": aa_decisions, "slow_decisions": slow_decisions}
    planned, policy, blocks, settings = gate.gate_eval_settings(config, counts)

    def progress(label: str, i: int, d: Any) -> None:
        base.err().print(
            f"{label} #{i + 1}: {d.suite.value} after {d.blocks} blocks, {d.wall_ns / 1e9:.1f} s",
            highlight=False,
        )

    experiments = gate_eval.run_all(planned, (policy, blocks, settings), progress)
    summaries = [gate_eval.summarize(e) for e in experiments]
    text = compare_report.eval_markdown(summaries, policy, settings.pytest_benchmark_rule)
    noise, points = gate.power(experiments, policy, trials=200)
    text += compare_report.power_markdown(noise, points, policy, trials=200)
    click.echo(text, nl=False)
    if json_out is not None:
        json_out.write_text(json.dumps(gate_eval.to_json(experiments), indent=1), encoding="utf-8")
    if markdown_out is not None:
        markdown_out.write_text(text, encoding="utf-8")
