"""The chat workload: params, load scenarios and sweeps, prompt sources, suites."""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest

from bench.core.errors import ConfigError
from bench.remote import chat
from bench.runner.streaming import arrival_gaps

_PARAMS = chat.resolve(chat.CHAT_PARAMS, {}, "test")


def _suite(case: dict, **top: object) -> chat.ChatSuite:
    data = {"run": {"backends": ["synthetic"]}, "case": [{"workload": "chat", **case}], **top}
    return chat.parse_suite(data, "t.toml")


def test_synthetic_prompts_are_seeded_and_of_the_asked_length() -> None:
    a = chat.synthetic_prompts(3, 40, seed=1)
    assert a == chat.synthetic_prompts(3, 40, seed=1)
    assert a != chat.synthetic_prompts(3, 40, seed=2)
    assert [len(p.messages[0]["content"].split()) for p in a] == [40, 40, 40]


def test_jsonl_prompts_read_prompt_or_messages_and_expected(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(
        '{"prompt": "hi", "expected": "hello"}\n\n{"messages": [{"role": "user", "content": "x"}]}\n'
    )
    prompts = chat.jsonl_prompts(path)
    assert prompts[0].messages == ({"role": "user", "content": "hi"},)
    assert prompts[0].expected == "hello" and prompts[1].expected == ""


def test_a_bad_jsonl_line_is_named_with_its_number(tmp_path: Path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"prompt": "ok"}\n{"nope": 1}\n')
    with pytest.raises(ConfigError, match=r"p.jsonl:2: needs a 'prompt'"):
        chat.jsonl_prompts(path)


def test_nonce_makes_every_request_unique_at_the_start() -> None:
    params = {**_PARAMS, "nonce": True}
    prompt = chat.synthetic_prompts(1, 5, 0)[0]
    a = chat.request_fields(prompt, params, 0, seed=7)["messages"][0]["content"]
    b = chat.request_fields(prompt, params, 1, seed=7)["messages"][0]["content"]
    assert a != b and a.startswith("[7-0] ") and b.startswith("[7-1] ")
    assert prompt.messages[0]["content"] == a.removeprefix("[7-0] ")  # the source is untouched


def test_a_list_of_concurrencies_is_a_sweep() -> None:
    suite = _suite({"load": {"scenario": "sweep", "concurrency": [1, 4, 16], "requests": 10}})
    assert [c.load.concurrency for c in suite.cases] == [1, 4, 16]
    assert all(c.load.mode == "concurrency" for c in suite.cases)
    assert suite.cases[1].case_id.endswith("@synthetic/concurrency=4")


def test_a_rate_sweep_and_its_labels() -> None:
    suite = _suite({"load": {"scenario": "sweep", "rate_per_s": [5, 10], "arrival": "constant"}})
    assert [c.load.label for c in suite.cases] == ["rate=5/s constant", "rate=10/s constant"]


@pytest.mark.parametrize(
    ("load", "message"),
    [
        ({"scenario": "rate"}, "needs rate_per_s > 0"),
        ({"requests": 0}, "must be bounded"),
        ({"scenario": "sweep"}, "needs a list"),
        ({"concurrency": [1, 2], "rate_per_s": [1, 2]}, "sweep one of"),
        ({"on_429": "pray"}, "choose from: count, backoff, stop"),
        ({"concurency": 3}, "unknown parameter 'concurency'"),
    ],
)
def test_bad_loads_fail_before_anything_runs(load: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        _suite({"load": load})


def test_a_local_workload_cannot_share_a_chat_suite() -> None:
    data = {"run": {"backends": ["x"]}, "case": [{"workload": "chat"}, {"workload": "gemm"}]}
    with pytest.raises(ConfigError, match="only 'chat' cases"):
        chat.parse_suite(data, "t.toml")


def test_shipped_configs_parse() -> None:
    root = Path(__file__).resolve().parents[2] / "configs"
    for name in ("synthetic", "synthetic-accuracy", "synthetic-capacity", "groq", "cerebras"):
        path = root / f"{name}.toml"
        assert chat.is_chat_config(path)
        assert chat.load_suite(path).cases


def _cv(gaps: list[float]) -> float:
    return statistics.pstdev(gaps) / statistics.fmean(gaps)


def test_poisson_arrivals_have_the_rate_and_the_dispersion_of_a_poisson_process() -> None:
    load = chat.Load("rate", rate_per_s=200.0, arrival="poisson", seed=11)
    it = arrival_gaps(load)
    gaps = [next(it) for _ in range(20_000)]
    assert 1 / statistics.fmean(gaps) == pytest.approx(200.0, rel=0.03)
    assert _cv(gaps) == pytest.approx(1.0, abs=0.03)  # exponential gaps: stddev == mean
    again = arrival_gaps(load)
    assert [next(again) for _ in range(5)] == gaps[:5]  # seeded: the same schedule again


def test_constant_arrivals_have_no_dispersion() -> None:
    it = arrival_gaps(chat.Load("rate", rate_per_s=50.0, arrival="constant"))
    gaps = [next(it) for _ in range(100)]
    assert set(gaps) == {0.02}
