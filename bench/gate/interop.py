"""pytest-benchmark JSON: export accelbench runs to it, read it back as runs, apply its rules."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from bench.core import store
from bench.core.errors import BenchError, ConfigError
from bench.core.jsonable import jsonable
from bench.core.records import (
    SCHEMA_VERSION,
    CaseResult,
    RunConfig,
    RunRecord,
    as_scenario,
    as_stop,
)
from bench.core.stats import summarize

# The keys pytest-benchmark writes (plugin.pytest_benchmark_generate_json) and reads back.
TOP_KEYS = ("machine_info", "commit_info", "benchmarks", "datetime", "version")
PYTEST_BENCHMARK_BACKEND = "pytest-benchmark"


def _pytest_benchmark_version() -> str:
    try:
        return metadata.version("pytest-benchmark")
    except metadata.PackageNotFoundError:
        return "5.0.0"


def pb_stats(per_call_s: Sequence[float], iterations: int) -> dict[str, Any]:
    """pytest-benchmark's own `stats` block (its Stats class) for per-call durations."""
    from pytest_benchmark.stats import Stats  # its definitions, so every field matches

    s = Stats()
    for value in per_call_s:
        s.update(value)
    out = s.as_dict()
    out["data"] = list(per_call_s)
    out["iterations"] = iterations
    return out


def _benchmark(case: CaseResult) -> dict[str, Any]:
    shown = ",".join(f"{k}={v}" for k, v in case.params.items())
    keep = ("backend", "options", "scenario", "loops", "rel_error", "tolerance", "warmup_calls")
    extra = {k: getattr(case, k) for k in keep}
    extra.update(gflops_per_s=case.gflops_per_s, gb_per_s=case.gb_per_s, stopped_by=case.stopped_by)
    extra.update(threads=case.threads, warnings=list(case.warnings), details=case.details)
    return {
        "group": case.workload,
        "name": case.case_id,
        "fullname": case.case_id,
        "params": dict(case.params),
        "param": shown,
        "extra_info": {"accelbench": to_plain(extra)},
        "options": {"timer": "perf_counter_ns", "disable_gc": True, "accelbench": True},
        "stats": pb_stats(case.per_call_s(), case.loops),
    }


# The pytest plugin and this module's exports share the one conversion.
to_plain = jsonable


def _machine_info(record: RunRecord) -> dict[str, Any]:
    fp = record.fingerprint
    cpu = dict(fp.get("cpu", {}))
    os_name, _, release = str(fp.get("os", "")).partition(" ")
    return {
        "node": fp.get("hostname", ""),
        "processor": cpu.get("arch", ""),
        "machine": cpu.get("arch", ""),
        "python_implementation": fp.get("python_implementation", ""),
        "python_version": fp.get("python", ""),
        "release": release,
        "system": os_name,
        "cpu": {"brand_raw": cpu.get("model", ""), "count": cpu.get("logical_cores")},
        # the whole fingerprint rides along, so a round trip loses nothing
        "accelbench": {"fingerprint": fp, "backends": record.backends, "run_id": record.run_id},
    }


def export_run(record: RunRecord) -> dict[str, Any]:
    """A pytest-benchmark JSON document for the run's measured cases (failed ones are left
    out, as pytest-benchmark leaves out errored benchmarks; they are listed in machine_info)."""
    commit = str(record.fingerprint.get("git_commit") or "")
    info = _machine_info(record)
    failed = [{"case_id": c.case_id, "reason": c.reason} for c in record.cases if c.status != "ok"]
    info["accelbench"]["not_measured"] = failed
    return to_plain(
        {
            "machine_info": info,
            "commit_info": {
                "id": commit.removesuffix("+dirty") or "unversioned",
                "dirty": commit.endswith("+dirty"),
                "project": "accelbench",
                "branch": None,
            },
            "benchmarks": [_benchmark(c) for c in record.cases if c.status == "ok" and c.loops],
            "datetime": record.created_at,
            "version": _pytest_benchmark_version(),
        }
    )


def is_pytest_benchmark(data: Any) -> bool:
    return isinstance(data, Mapping) and "benchmarks" in data and "machine_info" in data


def _case(bench: Mapping[str, Any], where: str) -> CaseResult:
    st = bench.get("stats") or {}
    extra = (bench.get("extra_info") or {}).get("accelbench", {})
    name = str(bench.get("fullname") or bench.get("name") or "?")
    iterations, data = _raw_data(st, f"{where}: benchmark {name!r}: stats")
    # per-call seconds back to raw totals of `iterations` calls, as accelbench stores them
    samples = tuple(round(v * iterations * 1e9) for v in data)
    kept = None if data else stored_stats(st, f"{where}: benchmark {name!r}")
    details = {STORED_STATS: kept} if kept else {}
    return CaseResult(
        case_id=name,
        workload=str(bench.get("group") or bench.get("name") or name),
        params=dict(bench.get("params") or {}),
        backend=str(extra.get("backend", PYTEST_BENCHMARK_BACKEND)),
        options=dict(extra.get("options", {})),
        scenario=as_scenario(str(extra.get("scenario", "latency"))),
        status="ok",
        reason="" if data or kept else f"{where}: no raw data and no median/rounds in its stats",
        details=details,
        loops=iterations,
        sample_ns=samples,
        rel_error=extra.get("rel_error"),
        tolerance=extra.get("tolerance"),
        stopped_by=as_stop(str(extra.get("stopped_by", ""))),
        stats=summarize(data) if data else None,
        warnings=(*extra.get("warnings", ()), *([NO_RAW_DATA] if kept else [])),
    )


# A saved pytest-benchmark file keeps only statistics unless --benchmark-save-data was given.
STORED_STATS = "pytest_benchmark_stats"
STATS_KEYS = ("min", "max", "mean", "stddev", "median", "iqr", "rounds")
NO_RAW_DATA = (
    "no raw data in the pytest-benchmark file: compared on its stored median, IQR and rounds "
    "(a normal approximation; save with --benchmark-save-data for the full method)"
)


def stored_stats(st: Mapping[str, Any], where: str) -> dict[str, float] | None:
    """The statistics a saved pytest-benchmark file keeps without raw data, checked
    (None when it lacks even a median and a round count)."""
    if "median" not in st or "rounds" not in st:
        return None
    try:
        out = {k: float(st[k]) for k in STATS_KEYS if st.get(k) is not None}
    except (TypeError, ValueError) as exc:
        raise BenchError(f"{where}: stats must be numbers ({exc})") from None
    if not 0 < out["median"] < float("inf") or out["rounds"] < 1:
        raise BenchError(
            f"{where}: stats.median = {out['median']!r}, rounds = {out['rounds']!r}: "
            "need a positive median and at least one round"
        )
    return out


def _raw_data(st: Mapping[str, Any], where: str) -> tuple[int, list[float]]:
    """(iterations, per-call seconds) of a stats block; a BenchError names a bad field."""
    try:
        iterations = int(st.get("iterations", 1) or 1)
        data = [float(v) for v in st.get("data") or ()]
    except (TypeError, ValueError) as exc:
        raise BenchError(f"{where}: iterations/data must be numbers ({exc})") from None
    bad = [v for v in data if not 0 < v < float("inf")]
    if bad or iterations < 1:
        shown = f"data holds {bad[0]!r}" if bad else f"iterations = {iterations}"
        raise BenchError(f"{where}: {shown}; timings must be positive seconds")
    return iterations, data


def _fingerprint(machine: Mapping[str, Any], commit: Mapping[str, Any]) -> dict[str, Any]:
    """Our fingerprint when we wrote the file; else the fields pytest-benchmark records."""
    ours = machine.get("accelbench")
    if isinstance(ours, Mapping) and "fingerprint" in ours:
        return dict(ours["fingerprint"])
    cpu = machine.get("cpu") or {}
    sha = commit.get("id")
    return {
        "cpu": {
            "model": cpu.get("brand_raw", machine.get("processor", "")),
            "arch": cpu.get("arch_string_raw", machine.get("machine", "")),
            "logical_cores": cpu.get("count"),
        },
        "os": f"{machine.get('system', '')} {machine.get('release', '')}".strip(),
        "python": machine.get("python_version", ""),
        "python_implementation": machine.get("python_implementation", ""),
        "hostname": machine.get("node", ""),
        "git_commit": f"{sha}+dirty" if sha and commit.get("dirty") else sha,
    }


def import_run(data: Mapping[str, Any], source: str) -> RunRecord:
    """A RunRecord from a pytest-benchmark JSON document (raw data kept when present)."""
    machine = data.get("machine_info") or {}
    commit = data.get("commit_info") or {}
    mine = machine.get("accelbench")
    ours: Mapping[str, Any] = mine if isinstance(mine, Mapping) else {}
    cases = tuple(_case(b, source) for b in data.get("benchmarks") or ())
    return RunRecord(
        run_id=str(ours.get("run_id") or Path(source).stem),
        created_at=str(data.get("datetime", "")),
        config=RunConfig(kind="run", source=source),
        fingerprint=_fingerprint(machine, commit),
        backends=dict(ours.get("backends", {})),
        cases=cases,
        finished_at=str(data.get("datetime", "")),
        state="complete",
        schema_version=SCHEMA_VERSION,
    )


def load_any(path: Path) -> RunRecord:
    """An accelbench results file or a pytest-benchmark JSON file, told apart by content."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such results file") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a JSON results file ({exc})") from None
    if is_pytest_benchmark(data):
        return import_run(data, str(path))
    if isinstance(data, dict) and "schema_version" in data:
        return store.load(path)
    raise ConfigError(
        f"{path}: neither an accelbench results file (no schema_version) nor pytest-benchmark "
        "JSON (no benchmarks/machine_info); pass a file from `accelbench run` or --benchmark-json"
    )


def write_json(doc: Mapping[str, Any], path: Path) -> Path:
    """Write a document as pytest-benchmark does (indent 4, ASCII)."""
    try:
        Path(path).write_text(json.dumps(doc, indent=4, ensure_ascii=True), encoding="utf-8")
    except OSError as exc:
        raise BenchError(f"{path}: cannot write ({exc.strerror})") from None
    return Path(path)


def compare_fail(rule: str, base_per_call: Sequence[float], new_per_call: Sequence[float]) -> bool:
    """pytest-benchmark's own --benchmark-compare-fail check (e.g. "mean:5%") on two runs."""
    import argparse

    from pytest_benchmark.utils import parse_compare_fail

    try:
        check = parse_compare_fail(rule)
    except argparse.ArgumentTypeError as exc:
        raise ConfigError(f"pytest-benchmark rule {rule!r}: {exc}") from None
    current = pb_stats(new_per_call, 1)
    compared = pb_stats(base_per_call, 1)
    return bool(check.fails(current, compared))
