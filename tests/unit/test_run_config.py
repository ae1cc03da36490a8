"""The typed run config: one recipe for every run kind, JSON both ways, older files still read."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import pytest

from bench.core import records, store
from bench.core.config import Planned
from bench.core.errors import ConfigError, RecordFormatError
from bench.core.policy import QUICK, Policy
from bench.core.records import (
    CaseConfig,
    CaseResult,
    RequestRecord,
    RunConfig,
    StreamSummary,
    new_run,
)
from bench.core.stats import summarize
from bench.core.workloads import get

STAMP = "2026-01-01T00:00:00+00:00"
FP = {"cpu": {"model": "test cpu"}, "python": "3.12"}
LOAD = {"mode": "concurrency", "concurrency": 2, "rate_per_s": 0.0, "arrival": "poisson"}


def chat_config() -> RunConfig:
    case = CaseConfig("chat", {"max_tokens": 8}, "synthetic", {"url": "x"}, "concurrency", LOAD)
    return RunConfig(
        kind="chat", command="accelbench run chat.toml", source="chat.toml", cases=(case,)
    )


def test_new_run_is_the_record_before_any_case() -> None:
    config = RunConfig(kind="run", command="accelbench run", source="s.toml", seed=3, policy=QUICK)
    record = new_run(config, FP, {"numpy": {"device": "cpu"}}, STAMP, "20260101T000000-abcdef")
    assert (record.run_id, record.created_at, record.config) == (
        "20260101T000000-abcdef",
        STAMP,
        config,
    )
    assert record.fingerprint == FP and record.backends == {"numpy": {"device": "cpu"}}
    assert (record.cases, record.state, record.finished_at) == ((), "running", "")


@pytest.mark.parametrize(
    "config",
    [
        RunConfig(kind="calibrate", command="accelbench calibrate", policy=Policy(loops=3)),
        chat_config(),
        RunConfig(
            kind="run", quick=True, input_sets=4, cases=(CaseConfig("triad", {"n": 8}, "null"),)
        ),
    ],
)
def test_config_json_round_trip_is_exact(config: RunConfig) -> None:
    data = json.loads(json.dumps(records.config_to_dict(config)))
    assert records.config_from_dict(data) == config
    assert data["kind"] == config.kind and isinstance(data["cases"], list)


def test_case_config_of_a_planned_case() -> None:
    spec = get("triad")
    p = Planned(spec, spec.resolve({"n": 16}), "numpy", {"threads": 2}, "throughput")
    assert records.case_config(p) == CaseConfig(
        "triad", dict(p.params), "numpy", {"threads": 2}, "throughput", None
    )


def test_as_scenario_names_the_closed_set() -> None:
    assert records.as_scenario("rate") == "rate"
    with pytest.raises(
        ConfigError, match="unknown scenario 'offline' \\(known: latency, throughput"
    ):
        records.as_scenario("offline")
    assert records.as_stop("max_time") == "max_time"
    with pytest.raises(ConfigError, match="unknown stop reason 'bored'"):
        records.as_stop("bored")


# --- config shapes that schema-1 files written before RunConfig hold ---

LOCAL_RUN = {
    "command": "accelbench run s.toml --quick",
    "source": "s.toml",
    "quick": True,
    "seed": 1,
    "input_sets": 2,
    "policy": dataclasses.asdict(QUICK),
    "cases": [
        {
            "workload": "gemm",
            "params": {"m": 8},
            "backend": "numpy",
            "options": {},
            "scenario": "throughput",
        }
    ],
}
CHAT_RUN = {
    "source": "chat.toml",
    "seed": 0,
    "cases": [
        {"workload": "chat", "params": {"max_tokens": 8}, "backend": "synthetic",
         "options": {"url": "x"}, "load": LOAD}
    ],
}  # fmt: skip
CALIBRATION = {
    "kind": "calibration",
    "command": "accelbench calibrate --quick",
    "source": "accelbench calibrate",
    "quick": True,
    "policy": dataclasses.asdict(QUICK),
    "cases": [{"workload": "copy", "params": {"n": 64}, "backend": "numpy"}],
}


def _stored(tmp_path: Path, config: dict[str, object]) -> RunConfig:
    record = dataclasses.replace(
        new_run(RunConfig("run"), FP, {}, STAMP, "old"), schema_version=records.SCHEMA_VERSION
    )
    data = {**records.to_dict(record), "config": config}
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data))
    return store.load(path).config


def test_an_older_local_run_config_loads(tmp_path: Path) -> None:
    config = _stored(tmp_path, LOCAL_RUN)
    assert config == RunConfig(
        kind="run",
        command="accelbench run s.toml --quick",
        source="s.toml",
        seed=1,
        quick=True,
        input_sets=2,
        policy=QUICK,
        cases=(CaseConfig("gemm", {"m": 8}, "numpy", {}, "throughput"),),
    )


def test_an_older_chat_config_loads_as_a_chat_run(tmp_path: Path) -> None:
    config = _stored(tmp_path, CHAT_RUN)
    assert (config.kind, config.command, config.policy, config.source) == (
        "chat",
        "",
        None,
        "chat.toml",
    )
    assert config.cases == (
        CaseConfig("chat", {"max_tokens": 8}, "synthetic", {"url": "x"}, "concurrency", LOAD),
    )


def test_an_older_calibration_config_loads_as_calibrate(tmp_path: Path) -> None:
    config = _stored(tmp_path, CALIBRATION)
    assert (config.kind, config.quick, config.policy) == ("calibrate", True, QUICK)
    assert config.cases == (CaseConfig("copy", {"n": 64}, "numpy", {}, "throughput"),)


def test_an_unknown_policy_key_is_an_error(tmp_path: Path) -> None:
    policy = {**dataclasses.asdict(QUICK), "min_tiem_s": 1.0}
    with pytest.raises(RecordFormatError, match="unknown field 'config.policy.min_tiem_s'"):
        _stored(tmp_path, {**LOCAL_RUN, "policy": policy})


# --- chat records: closed sets and nested summaries survive the file ---


def test_a_chat_case_round_trips_with_its_requests_and_summary(tmp_path: Path) -> None:
    ttft = summarize([0.01, 0.02, 0.03])
    failed = RequestRecord(1, False, "failed", reason="429", failure="http_429", retry_after_s=2.0)
    ok = RequestRecord(
        0, False, "ok", event_ns=(1, 2, 3), content_ns=(2, 3), itl_s=(1e-9, math.inf)
    )
    summary = StreamSummary(
        "concurrency", 2, 0.0, "", 1, 1, 0, "requests", failures={"http_429": 1}, ttft=ttft
    )
    case = CaseResult(
        "chat[]@synthetic/concurrency=2", "chat", {}, "synthetic", {}, "concurrency", "ok",
        stopped_by="requests", stats=ttft, requests=(ok, failed), stream=summary,
    )  # fmt: skip
    record = new_run(chat_config(), FP, {}, STAMP, "chat-1").with_case(case)
    assert store.load(store.save(record, tmp_path / "c.json")) == record


def test_an_unknown_failure_kind_is_an_error(tmp_path: Path) -> None:
    bad = RequestRecord(0, False, "failed", failure="http_429")
    case = CaseResult("c", "chat", {}, "synthetic", {}, "rate", "failed", requests=(bad,))
    data = records.to_dict(new_run(chat_config(), FP, {}, STAMP, "chat-2").with_case(case))
    data["cases"][0]["requests"][0]["failure"] = "http_418"
    path = tmp_path / "c.json"
    path.write_text(json.dumps(data))
    with pytest.raises(
        RecordFormatError, match=r"'cases\[0\]\.requests\[0\]\.failure' has value 'http_418'"
    ):
        store.load(path)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"kind": "walk"},
            "field 'config.kind' has value 'walk' (known: 'run', 'chat', 'calibrate')",
        ),
        ({"kind": "run", "cases": 3}, "field 'config.cases' is 3, not a JSON list"),
        (
            {"kind": "run", "cases": [{"workload": "x", "params": [1], "backend": "b"}]},
            "field 'config.cases[0].params' is [1], not a JSON object",
        ),
    ],
)
def test_a_malformed_config_says_which_field(config: dict[str, object], message: str) -> None:
    with pytest.raises(RecordFormatError) as err:
        records.config_from_dict(config, "r.json")
    assert str(err.value) == f"r.json: {message}"
