"""The house rules the test command holds: mypy and ruff clean, modules under ~500 lines,
and no import from bench/ reads a clock outside bench/runner/."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.glob("bench/**/*.py"), *ROOT.glob("kernels/*.py")])
CLOCKS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "time", "time_ns"}


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_mypy_is_clean() -> None:
    done = _run(sys.executable, "-m", "mypy", "bench", "kernels")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Success: no issues found" in done.stdout


def test_ruff_is_clean() -> None:
    done = _run(sys.executable, "-m", "ruff", "check", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_module_stays_under_about_500_lines() -> None:
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in SOURCES}
    assert len(sizes) > 80  # the whole tree was read
    assert {p: n for p, n in sizes.items() if n > 500} == {}


def _clock_reads(path: Path) -> list[str]:
    """time.<clock>() calls and `from time import <clock>` in one module."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "time":
            found += [f"from time import {a.name}" for a in node.names if a.name in CLOCKS]
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "time"
            and node.attr in CLOCKS
        ):
            found.append(f"time.{node.attr}")
    return found


def test_only_the_runner_reads_a_clock() -> None:
    runner = ROOT / "bench" / "runner"
    readers = {str(p.relative_to(ROOT)): _clock_reads(p) for p in SOURCES}
    assert _clock_reads(runner / "clock.py")  # the check can see a clock read
    outside = {p: r for p, r in readers.items() if r and not p.startswith("bench/runner/")}
    assert outside == {}


# Each folder's floor: a module may import its own folder and the floors below, never above.
FLOORS = {
    "bench.core": 0, "kernels": 1, "bench.backends": 2, "bench.remote": 3, "bench.gate": 3,
    "bench.claims": 4, "bench.runner": 5, "bench.app": 6, "bench.report": 6,
    "bench.cli": 7, "bench.pytest_plugin": 7, "bench.__main__": 8,
}  # fmt: skip


def _floor(module: str) -> tuple[str, int] | None:
    for name, floor in sorted(FLOORS.items(), key=lambda kv: -len(kv[0])):
        if module == name or module.startswith(name + "."):
            return name, floor
    return None


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_no_import_points_up() -> None:
    upward = []
    for path in SOURCES:
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        here = _floor(module)
        if here is None:
            continue
        for target in _imports(path):
            there = _floor(target)
            if there and there[0] != here[0] and there[1] >= here[1]:
                upward.append(f"{module} -> {target}")
    assert upward == []
