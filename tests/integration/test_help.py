"""`--help` for every command of the CLI, found from the click group itself (present and future)."""

from __future__ import annotations

import re

import click
import pytest
from click.testing import CliRunner

from bench.cli import main

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path under `group`, subgroups' commands too; asked through the group's
    own list_commands/get_command, so commands loaded lazily or from other modules are found."""
    ctx = click.Context(group, info_name="accelbench")
    paths: list[tuple[str, ...]] = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None, f"{name} is listed but cannot be loaded"
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths += _commands(command, (*prefix, name))
    return paths


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        found = command.get_command(click.Context(command), name)
        assert found is not None, path
        command = found
    return command


def _squash(text: str) -> str:
    """Without colour codes and whitespace: help text is folded to the terminal's width."""
    return re.sub(r"\s+", "", ANSI.sub("", text))


COMMANDS = _commands(main)


def test_the_group_has_the_commands_the_docs_name() -> None:
    names = {path[0] for path in COMMANDS}
    # a floor, not the full list: a new command needs no edit here
    assert {"run", "show", "compare", "ab", "backends", "workloads", "claims"} <= names


def test_main_help_lists_every_command() -> None:
    result = CliRunner().invoke(main, ["--help"], prog_name="accelbench")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("Usage: accelbench [OPTIONS] COMMAND [ARGS]...")
    for (name,) in (p for p in COMMANDS if len(p) == 1):
        assert re.search(rf"^\s+{re.escape(name)}\s", result.output, re.M), name


def test_version() -> None:
    result = CliRunner().invoke(main, ["--version"], prog_name="accelbench")
    assert result.exit_code == 0
    assert result.output.strip() == "accelbench, version 0.1.0"


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_exits_0_and_shows_the_docstring_and_every_option(path: tuple[str, ...]) -> None:
    command = _command(path)
    doc = (command.help or "").strip()
    assert doc, f"{' '.join(path)} has no docstring"
    result = CliRunner().invoke(main, [*path, "--help"], prog_name="accelbench")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Usage: accelbench {' '.join(path)} ")
    assert _squash(doc.splitlines()[0]) in _squash(result.output)
    for param in command.params:
        if isinstance(param, click.Option) and not param.hidden:
            assert any(opt in result.output for opt in param.opts), param.opts
