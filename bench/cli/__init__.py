"""The accelbench command line: click commands, one module per command group; the one place
that prints or exits. Each module imports only click at the top, so `--help` stays fast."""

from __future__ import annotations

import click

from bench.cli import claims, gate, listing, publish, remote, run
from bench.cli.base import BenchGroup


@click.group(cls=BenchGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="accelbench")
def main() -> None:
    """accelbench: matched inference workloads, measured with numbers you can defend."""


for command in (
    run.run_cmd, run.show_cmd, publish.runs_cmd, publish.report_cmd,
    listing.workloads_cmd, listing.backends_cmd, listing.env_cmd, listing.selfcheck_cmd,
    claims.calibrate_cmd, claims.claims_cmd, claims.reach_cmd,
    gate.compare_cmd, gate.ab_cmd, gate.export_cmd, gate.gate_eval_cmd,
    remote.models_cmd, remote.serve_synthetic_cmd, remote.synthetic_accuracy_cmd,
):  # fmt: skip
    main.add_command(command)
