"""`--help` and the listing commands load none of the heavy libraries (each command imports
what it needs), so the command line answers at once."""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("scipy", "pandas", "onnx", "onnxruntime")
PROBE = """
import sys
from bench.cli import main
try:
    main({args!r}, standalone_mode=False)
finally:
    print("LOADED", ",".join(m for m in {heavy!r} if m in sys.modules))
"""


@pytest.mark.parametrize(
    "args", [["--help"], ["run", "--help"], ["workloads"], ["workloads", "--json"]]
)
def test_no_heavy_import(args: list[str]) -> None:
    code = PROBE.format(args=args, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    loaded = done.stdout.strip().rpartition("LOADED")[2].strip()
    assert loaded == "", f"{args} imported {loaded}"


def test_the_probe_sees_a_heavy_import() -> None:
    """The check itself can fail: `env` needs onnxruntime (its providers) and says so."""
    code = PROBE.format(args=["env", "--json"], heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "onnxruntime" in done.stdout.rpartition("LOADED")[2]
