"""Records and results files: exact round trips, atomic saves, schema versions, recomputable stats."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import threading
from pathlib import Path

import pytest

from bench.core import records, store
from bench.core.errors import BenchError, ConfigError, RecordFormatError, SchemaVersionError
from bench.core.policy import QUICK
from bench.core.records import SCHEMA_VERSION, CaseConfig, CaseResult, RunConfig, RunRecord
from bench.core.stats import summarize

SAMPLE_NS = (1_024_000, 1_030_400, 1_019_900, 1_100_000, 1_024_512, 1_026_000, 1_021_300)
LOOPS = 4


def ok_case(i: int = 0) -> CaseResult:
    per_call = [ns / LOOPS / 1e9 for ns in SAMPLE_NS]
    stats = summarize(per_call)
    return CaseResult(
        case_id=f"gemm[m={8 + i}]@numpy/latency",
        workload="gemm",
        params={"m": 8 + i, "n": 8, "k": 8, "dtype": "float32"},
        backend="numpy",
        options={"threads": 1},
        scenario="latency",
        status="ok",
        rel_error=3.5e-8,
        tolerance=1e-4,
        loops=LOOPS,
        sample_ns=SAMPLE_NS,
        warmup_calls=3,
        stopped_by="min_time",
        stats=stats,
        flops=1024,
        bytes_moved=768,
        throughput_per_s=1 / stats.median_s,
        gflops_per_s=1024 / stats.median_s / 1e9,
        gb_per_s=768 / stats.median_s / 1e9,
        intensity_flop_per_byte=1024 / 768,
        threads={"blas": [1]},
        details={"note": "x"},
        started_at="2025-01-01T00:00:00+00:00",
        warnings=("p90 rests on 7 samples (needs about 10): read it as the max",),
    )


def failed_case() -> CaseResult:
    return CaseResult(
        case_id="triad[n=64]@wrong/latency",
        workload="triad",
        params={"n": 64},
        backend="wrong",
        options={},
        scenario="latency",
        status="failed",
        reason="output differs from the reference: relative error 0.5",
    )


def run_record(cases: tuple[CaseResult, ...] = ()) -> RunRecord:
    return RunRecord(
        run_id="20250101T000000-abc123",
        created_at="2025-01-01T00:00:00+00:00",
        config=RunConfig(
            kind="run",
            command="accelbench run suite.toml --quick",
            source="suite.toml",
            quick=True,
            policy=QUICK,
            cases=(CaseConfig("gemm", {"m": 8, "n": 8, "k": 8}, "numpy", {"threads": 1}),),
        ),
        fingerprint={"cpu": {"model": "test cpu", "logical_cores": 2}, "python": "3.11"},
        backends={"numpy": {"version": "2.0", "device": "cpu"}},
        cases=cases,
    )


def test_round_trip_is_exact(tmp_path: Path) -> None:
    record = run_record((ok_case(0), failed_case(), ok_case(1))).finish(
        "2025-01-01T00:01:00+00:00", "complete"
    )
    path = store.save(record, tmp_path / "run.json")
    loaded = store.load(path)
    assert loaded == record
    assert isinstance(loaded.cases, tuple)
    assert isinstance(loaded.cases[0].sample_ns, tuple)
    assert isinstance(loaded.cases[0].warnings, tuple)
    assert loaded.cases[0].stats == record.cases[0].stats
    assert loaded.cases[1].stats is None
    assert (loaded.state, loaded.schema_version) == ("complete", SCHEMA_VERSION)


def test_file_is_plain_json_with_the_schema_version(tmp_path: Path) -> None:
    path = store.save(run_record((ok_case(),)), tmp_path / "run.json")
    data = json.loads(path.read_text())
    assert data["schema_version"] == SCHEMA_VERSION
    assert data["cases"][0]["sample_ns"] == list(SAMPLE_NS)
    assert data["cases"][0]["stats"]["median_s"] == ok_case().stats.median_s  # type: ignore[union-attr]


def test_records_are_immutable() -> None:
    record = run_record()
    with pytest.raises(dataclasses.FrozenInstanceError):
        record.state = "complete"  # type: ignore[misc]
    grown = record.with_case(ok_case())
    assert record.cases == () and grown.cases == (ok_case(),)
    done = grown.finish("later", "interrupted")
    assert (done.state, done.finished_at, grown.state) == ("interrupted", "later", "running")


def test_non_finite_floats_survive_the_round_trip(tmp_path: Path) -> None:
    stats = dataclasses.replace(ok_case().stats, ci_low_s=-math.inf, ci_high_s=math.nan)  # type: ignore[arg-type]
    case = dataclasses.replace(
        ok_case(), rel_error=math.nan, tolerance=math.inf, gflops_per_s=math.inf, stats=stats
    )
    other = dataclasses.replace(ok_case(1), rel_error=math.inf)
    path = store.save(run_record((case, other)), tmp_path / "run.json")
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text  # strict JSON for other readers
    loaded = store.load(path)
    got = loaded.cases[0]
    assert math.isnan(got.rel_error)  # type: ignore[arg-type]
    assert got.tolerance == math.inf
    assert got.gflops_per_s == math.inf
    assert got.stats is not None
    assert got.stats.ci_low_s == -math.inf
    assert math.isnan(got.stats.ci_high_s)
    assert got.stats.median_s == stats.median_s
    assert loaded.cases[1].rel_error == math.inf


def test_recomputed_stats_equal_the_stored_ones(tmp_path: Path) -> None:
    case = ok_case()
    assert case.per_call_s() == [ns / LOOPS / 1e9 for ns in SAMPLE_NS]
    assert case.recomputed_stats() == case.stats
    loaded = store.load(store.save(run_record((case,)), tmp_path / "run.json")).cases[0]
    assert loaded.recomputed_stats() == loaded.stats == case.stats
    assert failed_case().per_call_s() == []


def test_save_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    record = run_record()
    for i in range(20):
        record = record.with_case(ok_case(i))
        store.save(record, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]
    assert len(store.load(path).cases) == 20


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    store.save(run_record(), path)
    stop = threading.Event()
    seen: list[int] = []
    errors: list[Exception] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                seen.append(len(store.load(path).cases))
            except Exception as exc:  # any partial read is a failure of the test
                errors.append(exc)

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        record = run_record()
        for i in range(25):
            record = record.with_case(ok_case(i))
            store.save(record, path)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert errors == []
    assert seen, "the reader never ran"
    assert seen == sorted(seen)  # each read is a whole file, never older than the last one
    assert len(store.load(path).cases) == 25
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


@pytest.mark.parametrize("fail_at", ["replace", "fsync"])
def test_a_failed_save_keeps_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: str
) -> None:
    path = tmp_path / "run.json"
    old = run_record((ok_case(0),))
    store.save(old, path)
    before = path.read_bytes()

    def boom(*args: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store.os, fail_at, boom)
    with pytest.raises(OSError, match="No space left"):
        store.save(old.with_case(ok_case(1)), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert store.load(path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.json"]


def test_another_schema_version_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "old.json"
    data = records.to_dict(run_record((ok_case(),)))
    path.write_text(json.dumps({**data, "schema_version": SCHEMA_VERSION + 1}))
    with pytest.raises(SchemaVersionError) as err:
        store.load(path)
    message = str(err.value)
    assert message.startswith(f"{path} has schema version {SCHEMA_VERSION + 1};")
    assert f"this accelbench reads version {SCHEMA_VERSION}" in message
    assert "Re-run the benchmark" in message
    assert isinstance(err.value, BenchError)


def test_missing_schema_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bare.json"
    data = records.to_dict(run_record())
    del data["schema_version"]
    path.write_text(json.dumps(data))
    with pytest.raises(SchemaVersionError, match="has schema version None"):
        store.load(path)


@pytest.mark.parametrize(
    ("where", "field"),
    [((), "comment"), (("cases", 0), "extra_metric"), (("config",), "argv")],
)
def test_an_unknown_field_is_an_error_naming_it_and_the_file(
    tmp_path: Path, where: tuple[str | int, ...], field: str
) -> None:
    path = tmp_path / "extra.json"
    data = records.to_dict(run_record((ok_case(),)))
    target = data
    for key in where:
        target = target[key]
    target[field] = 1.0
    path.write_text(json.dumps(data))
    with pytest.raises(RecordFormatError) as err:
        store.load(path)
    named = ".".join([*(str(k) for k in where), field]).replace("cases.0", "cases[0]")
    assert str(err.value).startswith(f"{path}: unknown field '{named}' (known: ")
    assert isinstance(err.value, BenchError)


def test_a_value_outside_a_closed_set_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    data = records.to_dict(run_record((ok_case(),)))
    data["cases"][0]["status"] = "fine"
    path.write_text(json.dumps(data))
    with pytest.raises(RecordFormatError) as err:
        store.load(path)
    assert str(err.value) == (
        f"{path}: field 'cases[0].status' has value 'fine' (known: 'ok', 'failed', 'unsupported')"
    )


def test_a_missing_optional_field_keeps_its_default(tmp_path: Path) -> None:
    path = tmp_path / "sparse.json"
    data = records.to_dict(run_record((failed_case(),)))
    for key in ("batch", "warnings", "stream", "requests", "started_at"):
        del data["cases"][0][key]
    del data["config"]["input_sets"]
    path.write_text(json.dumps(data))
    loaded = store.load(path)
    assert loaded == run_record((failed_case(),))
    assert (loaded.cases[0].batch, loaded.cases[0].warnings, loaded.config.input_sets) == (1, (), 1)


def test_a_missing_required_field_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "short.json"
    data = records.to_dict(run_record((failed_case(),)))
    del data["cases"][0]["backend"]
    path.write_text(json.dumps(data))
    with pytest.raises(RecordFormatError, match=r"missing field 'cases\[0\]\.backend'"):
        store.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such results file"),
        ("{not json", "not a JSON results file"),
        ("[1, 2]", "not an accelbench results file"),
    ],
)
def test_load_errors_name_the_file(tmp_path: Path, content: str | None, message: str) -> None:
    path = tmp_path / "r.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(BenchError) as err:
        store.load(path)
    assert str(err.value).startswith(f"{path}: {message}")


def test_prepare_dir_creates_and_probes(tmp_path: Path) -> None:
    out = store.prepare_dir(tmp_path / "a" / "b")
    assert out.is_dir()
    assert list(out.iterdir()) == []  # the probe file is gone
    record = run_record()
    assert store.run_path(out, record) == out / "20250101T000000-abc123.json"


def test_prepare_dir_under_a_file_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ConfigError) as err:
        store.prepare_dir(blocker / "out")
    assert str(err.value).startswith(f"--out {blocker / 'out'}: cannot write there (")
    assert str(err.value).endswith("pick another folder")


def test_save_writes_where_asked_and_returns_the_path(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    assert store.save(run_record(), path) == path
    assert os.path.getsize(path) > 0
