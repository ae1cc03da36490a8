"""The environment fingerprint: CPU, memory, OS, Python, libraries, BLAS, providers, git commit."""

from __future__ import annotations

import functools
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil
import threadpoolctl

from bench.core import gpuinfo

LIBRARIES = (
    "numpy",
    "scipy",
    "onnx",
    "onnxruntime",
    "onnxruntime-gpu",
    "cupy-cuda12x",
    "cupy-cuda13x",
    "pandas",
    "httpx",
    "accelbench",
)


@functools.cache
def cpu() -> dict[str, Any]:
    import cpuinfo  # slow (it may spawn a process), hence cached and imported late

    info = cpuinfo.get_cpu_info()
    return {
        "model": info.get("brand_raw", platform.processor() or "unknown"),
        "arch": info.get("arch_string_raw", platform.machine()),
        "logical_cores": psutil.cpu_count(logical=True),
        "physical_cores": psutil.cpu_count(logical=False),
        "flags_simd": sorted(
            f
            for f in info.get("flags", [])
            if f.startswith(("avx", "fma", "sse4", "amx", "neon", "sve"))
        ),
    }


def versions() -> dict[str, str]:
    found = {}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def git_commit() -> str | None:
    """The project's commit when it runs from a git checkout (with '+dirty' for local changes)."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return head + ("+dirty" if dirty.strip() else "")


def blas_info() -> list[dict[str, Any]]:
    """BLAS libraries numpy loaded, with their thread counts (threadpoolctl)."""
    keys = ("internal_api", "version", "num_threads", "threading_layer", "architecture")
    found = [
        {k: info.get(k) for k in keys}
        for info in threadpoolctl.threadpool_info()
        if info.get("user_api") == "blas"
    ]
    # Load order varies with import order; a stable order keeps fingerprints comparable.
    return sorted(found, key=lambda b: (str(b["internal_api"]), str(b["version"])))


def collect() -> dict[str, Any]:
    """Everything a reader needs to judge whether two runs are comparable."""
    import onnxruntime

    found = {
        "cpu": cpu(),
        "memory_bytes": psutil.virtual_memory().total,
        "os": f"{platform.system()} {platform.release()}",
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "versions": versions(),
        "blas": blas_info(),
        "onnxruntime_providers": onnxruntime.get_available_providers(),
        "git_commit": git_commit(),
        "hostname": platform.node(),
    }
    gpus = gpuinfo.fingerprint_section()  # None without pynvml or a GPU: nothing is added
    if gpus is not None:
        found["nvml"] = gpus
    return found
