"""What every command shares: the consoles, the one error handler, exit codes, flag parsing."""

from __future__ import annotations

import json
import sys
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bench.core.errors import BenchError

if TYPE_CHECKING:
    from rich.console import Console

EXIT_FAILED_CASES = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
ARGV_KEY = "accelbench.argv"
RESULTS_DIR = Path("results")  # the default --out / --results-dir, relative to the working folder


def _console(stderr: bool) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    # Logs and pipes get a wide page unless COLUMNS says otherwise: 80 columns fold every row.
    # Read per call (not cached once) so a later COLUMNS, or another captured stream, counts.
    return _console_for(stderr, None if stream.isatty() else _pipe_width())


@cache
def _console_for(stderr: bool, width: int | None) -> Console:
    from rich.console import Console  # rich costs ~40 ms: only commands that print pay it

    return Console(stderr=stderr, width=width)


def _pipe_width() -> int:
    import os

    try:
        return max(40, int(os.environ.get("COLUMNS", "")))
    except ValueError:
        return 150


def out() -> Console:
    """The console on stdout (tables, reports)."""
    return _console(False)


def err() -> Console:
    """The console on stderr (progress, notes about the run, errors)."""
    return _console(True)


def escape(text: str) -> str:
    from rich.markup import escape as rich_escape

    return rich_escape(text)


def note(line: str, console: Console | None = None) -> None:
    (console or out()).print(f"[yellow]note:[/] {escape(line)}", highlight=False)


class BenchGroup(click.Group):
    """The command group: every command runs inside the one error handler."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = list(args)  # as typed: what a results file records as its command
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BenchError as exc:
            err().print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
            sys.exit(EXIT_USAGE)


def command_line() -> str:
    """The command that reproduces this run, as the user typed it."""
    import shlex

    ctx = click.get_current_context(silent=True)
    argv = ctx.meta.get(ARGV_KEY) if ctx is not None else None
    return shlex.join(["accelbench", *(sys.argv[1:] if argv is None else argv)])


def emit_json(data: Any) -> None:
    from bench.core.jsonable import jsonable

    click.echo(json.dumps(jsonable(data), indent=2))
