"""The built wheel, installed alone in a fresh venv, runs its shipped configs from any folder."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Generous: the bound only keeps a hung build or run from stalling the suite.
TIMEOUT_S = 600
SKIP = shutil.ignore_patterns(
    ".git", "build", "dist", "*.egg-info", "__pycache__", ".venv", "results", ".*cache", ".benchmarks"
)
SHIPPED = [
    "default.toml",
    "claims.toml",
    "gate-eval.toml",
    "models/tiny_lm.onnx",
    "models/README.md",
]


def _package_dirs() -> set[str]:
    """Every folder of the checkout that is a Python package, as a dotted name."""
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for top in ("bench", "kernels")
        for init in (ROOT / top).rglob("__init__.py")
        if "__pycache__" not in init.parts
    }
    return found | {"bench.configs"}


def test_pyproject_lists_every_package_and_maps_configs() -> None:
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]
    assert set(tool["setuptools"]["packages"]) == _package_dirs()
    assert tool["setuptools"]["package-dir"] == {"bench.configs": "configs"}


def _env() -> dict[str, str]:
    # PYTHONPATH (the test command sets it to a checkout) would shadow the venv's copy.
    drop = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def _run(args: list[str | Path], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=_env(), capture_output=True, text=True,
        timeout=TIMEOUT_S, check=False,
    )


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def _build_flags() -> list[str]:
    """Build offline with this interpreter's setuptools when it makes wheels by itself;
    otherwise pip fetches the build requirements, as `pip install -e .` did."""
    try:
        major, minor = (int(x) for x in metadata.version("setuptools").split(".")[:2])
    except (metadata.PackageNotFoundError, ValueError):
        return []
    builds_wheels = (major, minor) >= (70, 1) or find_spec("wheel") is not None
    return ["--no-build-isolation"] if (major >= 68 and builds_wheels) else []


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(wheel, venv python): the checkout built from a clean copy, installed alone."""
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy: building in place would leave build/ behind, whose stale files get
    # packed into later wheels.
    src = shutil.copytree(ROOT, tmp / "src", ignore=SKIP)
    pip = [sys.executable, "-m", "pip"]
    _ok(_run([*pip, "wheel", "--no-deps", *_build_flags(), "-w", tmp / "dist", src], tmp))
    (wheel,) = (tmp / "dist").glob("accelbench-*.whl")
    venv = tmp / "venv"
    # The venv sees this machine's packages (dependencies, pip) but gets its own accelbench.
    _ok(_run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], tmp))
    python = venv / "bin" / "python"
    _ok(_run([python, "-m", "pip", "install", "--no-deps", "--force-reinstall", wheel], tmp))
    return wheel, python


@pytest.mark.slow
def test_wheel_holds_the_shipped_configs_and_every_module(built: tuple[Path, Path]) -> None:
    names = set(zipfile.ZipFile(built[0]).namelist())
    assert {f"bench/configs/{name}" for name in SHIPPED} <= names
    modules = {
        str(p.relative_to(ROOT))
        for top in ("bench", "kernels")
        for p in (ROOT / top).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert modules - names == set()
    assert not any(name.startswith(("configs/", "tests/")) for name in names)


@pytest.mark.slow
def test_venv_imports_the_wheel_not_the_checkout(built: tuple[Path, Path], tmp_path: Path) -> None:
    python = built[1]
    code = (
        "import bench; from bench.core import resources; from bench.app import gate_eval; "
        "gate_eval.load(resources.shipped('gate-eval.toml')); "
        "print(bench.__file__); print(resources.shipped_dir()); print(','.join(resources.suites()))"
    )
    bench_file, configs, suites = _ok(_run([python, "-c", code], tmp_path)).split()
    venv = python.parent.parent
    assert Path(bench_file).is_relative_to(venv)
    assert Path(configs) == Path(bench_file).parent / "configs"
    assert "default.toml" in suites.split(",") and "claims.toml" not in suites.split(",")


@pytest.mark.slow
def test_quick_default_suite_runs_from_any_folder(built: tuple[Path, Path], tmp_path: Path) -> None:
    accelbench = built[1].parent / "accelbench"
    _ok(_run([accelbench, "run", "--quick"], tmp_path))
    (results,) = (tmp_path / "results").glob("*.json")
    record = json.loads(results.read_text(encoding="utf-8"))
    assert Path(record["config"]["source"]).is_relative_to(built[1].parent.parent)
    ok = {c["backend"] for c in record["cases"] if c["status"] == "ok"}
    assert {"numpy", "onnxruntime"} <= ok
    onnx = [c for c in record["cases"] if c["workload"] == "onnx" and c["backend"] == "onnxruntime"]
    assert onnx and onnx[0]["status"] == "ok"  # models/tiny_lm.onnx resolved beside the suite


@pytest.mark.slow
def test_claims_and_workloads_from_any_folder(built: tuple[Path, Path], tmp_path: Path) -> None:
    accelbench = built[1].parent / "accelbench"
    checked = _ok(_run([accelbench, "claims", "--check"], tmp_path))
    assert "claims.toml" in checked and "valid" in checked
    listed = _ok(_run([accelbench, "workloads"], tmp_path))
    assert all(name in listed for name in ("gemm", "attention", "onnx"))
