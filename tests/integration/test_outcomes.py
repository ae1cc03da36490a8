"""Outcomes named right against FastAPI/uvicorn: the server's own error words, 3xx, event: error,
the idle timeout from the headers on, a client bug apart from a server cut."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.core.records import CaseResult
from bench.remote import openai
from tests import servers
from tests.chat_helpers import run_chat

pytest.importorskip("fastapi")


@pytest.fixture(scope="module")
def root() -> Iterator[str]:
    with servers.fastapi_server() as url:
        yield url


def _case(url: str, **options: Any) -> CaseResult:
    options.setdefault("model", "m")
    [result] = run_chat(url, {"requests": 2}, {"max_tokens": 6}, backend="openai", **options)
    assert result.stream is not None
    return result


def _only_failure(result: CaseResult) -> tuple[str, str]:
    assert result.stream is not None and result.stream.requests_ok == 0
    [(kind, count)] = result.stream.failures.items()
    assert count == 2
    return kind, result.stream.failure_examples[kind]


def test_fastapi_validation_detail_is_the_message(root: str) -> None:
    kind, message = _only_failure(_case(f"{root}/strict/v1"))
    assert kind == "http_4xx"
    assert message == "422 from 127.0.0.1: Input should be less than or equal to 4"


def test_vllm_error_object_is_the_message(root: str) -> None:
    kind, message = _only_failure(_case(f"{root}/vllm/v1"))
    assert (kind, message) == ("http_4xx", "404 from 127.0.0.1: The model `x` does not exist.")


def test_a_redirect_is_a_failure_naming_status_and_location(root: str) -> None:
    kind, message = _only_failure(_case(f"{root}/moved/v1"))
    assert kind == "http_3xx"
    assert (
        "307 from 127.0.0.1: redirected to https://elsewhere.example/v1/chat/completions" in message
    )


def test_an_event_error_in_a_200_stream_is_the_message(root: str) -> None:
    kind, message = _only_failure(_case(f"{root}/sse-error/v1"))
    assert (kind, message) == (
        "stream_error",
        "error inside the 200 stream: the engine is overloaded",
    )


def test_models_shows_the_detail_of_an_http_exception(root: str) -> None:
    listed = CliRunner().invoke(
        main, ["models", "-b", "openai", "--backend-opt", f"base_url={root}/nokey/v1"]
    )
    assert listed.exit_code != 0
    assert "401 from 127.0.0.1: Invalid API key" in " ".join(listed.output.split())


def test_the_idle_timeout_runs_from_the_headers_on(root: str) -> None:
    """first_byte == total: were idle armed only after first_byte, total_s would fire first."""
    result = _case(f"{root}/stall/v1", idle_timeout_s=0.3, first_byte_timeout_s=1.5,
                   total_timeout_s=1.5)  # fmt: skip
    kind, message = _only_failure(result)
    assert (kind, message) == ("timeout_idle", "no data for 0.3 s mid-response")


def test_a_reader_bug_is_the_clients_failure_not_a_cut(
    root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Any, t_ns: int, chunk: bytes) -> None:
        raise ZeroDivisionError("reader bug")

    monkeypatch.setattr(openai.StreamReader, "feed", broken)
    with servers.aiohttp_server(servers.Script()) as (url, _):
        result = _case(url, model=servers.MODEL)
    kind, message = _only_failure(result)
    assert kind == "client" and "ZeroDivisionError('reader bug')" in message
