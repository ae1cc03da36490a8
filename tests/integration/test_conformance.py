"""The streaming client against servers this project did not write: counts, tokens, TTFT/ITL vs script."""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from bench.cli import main
from bench.core.records import CaseResult, RequestRecord
from bench.remote import sockets, tls
from tests import servers
from tests.chat_helpers import CONVERSION_SLACK_NS, run_chat

trustme = pytest.importorskip("trustme")
SCRIPT = servers.Script()
REQUESTS, CONCURRENCY = 6, 2


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Path]]:
    """A private CA made here, and its certificate as a PEM file."""
    authority = trustme.CA()
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    authority.cert_pem.write_to_path(str(path))
    yield authority, path


def _server_tls(authority: Any) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


def _run(url: str, **options: Any) -> CaseResult:
    load = {"requests": REQUESTS, "concurrency": CONCURRENCY}
    [result] = run_chat(url, load, {"max_tokens": SCRIPT.tokens}, backend="openai",
                        model=servers.MODEL, **options)  # fmt: skip
    return result


def check_against_script(
    result: CaseResult, log: servers.SendLog, script: servers.Script
) -> dict[str, Any]:
    """Every request ok with the scripted tokens; each client TTFT no shorter than the server's
    own (its first content send minus its arrival, same clock); the slow gap where scripted."""
    assert result.status == "ok", result.reason
    assert result.stream is not None
    assert (result.stream.requests_ok, result.stream.requests_failed) == (REQUESTS, 0)
    measured = [r for r in result.requests if not r.warmup]
    for r in measured:
        _check_request(r, log.entries[r.response_id], script)
    assert all(r.ttft_s is not None for r in measured)
    over = [r.ttft_s * 1e3 - _server_ttft_ms(log.entries[r.response_id]) for r in measured]
    return {
        "ok": result.stream.requests_ok,
        "failed": result.stream.requests_failed,
        "tokens": sorted({r.output_tokens for r in measured}),
        "ttft_minus_server_ms_median": round(sorted(over)[len(over) // 2], 3),
        "slow_gap_at": sorted({_slowest(r.itl_s) + 1 for r in measured}),
        "resent": result.stream.requests_resent,
        "stamps": result.stream.stamp_source,
    }


def _server_ttft_ms(entry: dict[str, Any]) -> float:
    return float(entry["content_ns"][0] - entry["recv_ns"]) / 1e6


def _slowest(gaps: Any) -> int:
    return max(range(len(gaps)), key=gaps.__getitem__)


def _check_request(r: RequestRecord, entry: dict[str, Any], script: servers.Script) -> None:
    assert (r.output_tokens, r.token_source) == (script.tokens, "usage")
    assert len(r.content_ns) == len(entry["content_ns"]) == script.tokens
    server_ttft_ns = entry["content_ns"][0] - entry["recv_ns"]
    assert r.ttft_s is not None and r.ttft_s * 1e9 >= server_ttft_ns - CONVERSION_SLACK_NS
    assert max(range(len(r.itl_s)), key=r.itl_s.__getitem__) == script.slow_at - 1
    sends = entry["content_ns"]
    sent_gaps = [b - a for a, b in zip(sends, sends[1:], strict=False)]
    assert max(range(len(sent_gaps)), key=sent_gaps.__getitem__) == script.slow_at - 1


SERVERS: dict[str, Any] = {
    "uvicorn-h11 + starlette": lambda: servers.uvicorn_server(SCRIPT, "h11"),
    "uvicorn-httptools + starlette": lambda: servers.uvicorn_server(SCRIPT, "httptools"),
    "aiohttp.web": lambda: servers.aiohttp_server(SCRIPT),
    "http.server HTTP/1.0 close-delimited": lambda: servers.stdlib_server(SCRIPT),
    "http.server closes after each response": lambda: servers.stdlib_server(
        SCRIPT, "HTTP/1.1", framed=True
    ),
}


@pytest.mark.parametrize("name", list(SERVERS))
def test_conformance(name: str) -> None:
    server: AbstractContextManager[tuple[str, servers.SendLog]] = SERVERS[name]()
    with server as (url, log):
        row = check_against_script(_run(url), log, SCRIPT)
    print(f"\nCONFORMANCE {name}: {json.dumps(row)}")


def test_close_after_each_response_is_resent_once_and_counted() -> None:
    """At concurrency 1 every reuse meets a closed connection: caught before reuse, or re-sent."""
    with servers.stdlib_server(SCRIPT, "HTTP/1.1", framed=True) as (url, log):
        [result] = run_chat(url, {"requests": 5, "concurrency": 1}, {"max_tokens": SCRIPT.tokens},
                            backend="openai", model=servers.MODEL)  # fmt: skip
    assert result.stream is not None and result.stream.requests_ok == 5, result.reason
    assert len(log.entries) == 5  # a re-sent request had never reached the server: no double
    assert result.stream.requests_resent == sum(r.resent for r in result.requests) <= 4


def test_https_with_a_private_ca(ca: tuple[Any, Path]) -> None:
    authority, pem = ca
    with servers.aiohttp_server(SCRIPT, tls=_server_tls(authority)) as (url, log):
        assert url.startswith("https://")
        row = check_against_script(_run(url, ca_bundle=str(pem)), log, SCRIPT)
        listed = CliRunner().invoke(
            main, ["models", "-b", "openai", "--backend-opt", f"base_url={url}",
                   "--backend-opt", f"ca_bundle={pem}"], catch_exceptions=False,
        )  # fmt: skip
        ran = CliRunner().invoke(
            main, ["run", "-w", "chat", "-b", "openai", "-p", "requests=4", "-p", "max_tokens=6",
                   "--backend-opt", f"base_url={url}", "--backend-opt", f"ca_bundle={pem}",
                   "--backend-opt", f"model={servers.MODEL}", "--out", str(pem.parent / "out")],
            catch_exceptions=False,
        )  # fmt: skip
    assert listed.exit_code == 0, listed.output
    assert listed.output.split() == [servers.MODEL]
    assert ran.exit_code == 0, ran.output  # preflight (models) and the run, both over TLS
    assert "4 ok, 0 failed" in " ".join(ran.output.split())
    print(f"\nCONFORMANCE aiohttp.web over TLS (trustme CA): {json.dumps(row)}")


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_the_standard_trust_variables_are_honoured(
    ca: tuple[Any, Path], variable: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    authority, pem = ca
    for name in tls.TRUST_VARIABLES:  # this machine's own, if any, would take precedence
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(variable, str(pem))
    with servers.aiohttp_server(SCRIPT, tls=_server_tls(authority)) as (url, log):
        result = _run(url)
    assert result.stream is not None and result.stream.requests_ok == REQUESTS, result.reason


def test_an_untrusted_certificate_fails_and_verify_false_is_loud(ca: tuple[Any, Path]) -> None:
    authority, _ = ca
    with servers.aiohttp_server(SCRIPT, tls=_server_tls(authority)) as (url, log):
        refused = _run(url)  # certifi does not know this CA
        unchecked = _run(url, verify=False)
    assert refused.status == "failed" and "CERTIFICATE_VERIFY_FAILED" in refused.reason
    assert unchecked.stream is not None and unchecked.stream.requests_ok == REQUESTS
    assert any("verify=false" in w for w in unchecked.warnings)


def test_every_resolved_address_is_tried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dual-stack `localhost`: ::1 first (nothing listens there), then 127.0.0.1."""

    async def dual(host: str, port: int) -> list[tuple[Any, ...]]:
        import socket

        return [
            (socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("::1", port, 0, 0)),
            (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port)),
        ]

    monkeypatch.setattr(sockets, "resolve", dual)
    with servers.aiohttp_server(SCRIPT) as (url, log):
        port = url.rsplit(":", 1)[1].split("/")[0]
        row = check_against_script(_run(f"http://localhost:{port}/v1"), log, SCRIPT)
    assert row["ok"] == REQUESTS


def test_an_ipv6_literal_is_bracketed_in_host() -> None:
    with servers.aiohttp_server(SCRIPT, host="::1") as (url, log):
        row = check_against_script(_run(url), log, SCRIPT)
    assert row["ok"] == REQUESTS and set(log.hosts) == {url.split("/")[2]}
    assert log.hosts[0].startswith("[::1]:")


def test_a_gzipped_stream_is_decoded() -> None:
    with servers.aiohttp_server(SCRIPT, compress=True) as (url, log):
        result = _run(url)
    assert result.stream is not None and result.stream.requests_ok == REQUESTS, result.reason
    assert {r.output_tokens for r in result.requests} == {SCRIPT.tokens}


def test_a_stream_without_a_terminal_chunk_is_truncated() -> None:
    script = servers.Script(finish=False)
    with servers.aiohttp_server(script) as (url, log):
        [result] = run_chat(url, {"requests": 2}, {"max_tokens": 6}, backend="openai",
                            model=servers.MODEL)  # fmt: skip
    assert result.stream is not None and result.stream.failures == {"truncated": 2}
    assert "no finish_reason and no [DONE]" in result.stream.failure_examples["truncated"]


@pytest.mark.parametrize("concurrency", [1, 4])
def test_closed_loop_throughput_obeys_littles_law(concurrency: int) -> None:
    """requests/s can never exceed concurrency / shortest E2E in a closed loop."""
    with servers.aiohttp_server(SCRIPT) as (url, _):
        [result] = run_chat(url, {"requests": 16, "concurrency": concurrency},
                            {"max_tokens": SCRIPT.tokens}, backend="openai",
                            model=servers.MODEL)  # fmt: skip
    s = result.stream
    assert s is not None and s.requests_ok == 16 and s.requests_per_s is not None
    shortest = min(r.e2e_s for r in result.requests if r.e2e_s is not None)
    assert 0 < s.requests_per_s <= concurrency / shortest


def test_a_request_dropped_on_a_reused_connection_is_resent_once_and_counted() -> None:
    """Each connection answers one request, then reads the next and closes unanswered (a
    keep-alive limit of one): every reuse fails before a response byte and is re-sent."""
    with servers.stdlib_server(SCRIPT, "HTTP/1.1", framed=True, drop_next=True) as (url, log):
        [result] = run_chat(url, {"requests": 5, "concurrency": 1}, {"max_tokens": SCRIPT.tokens},
                            backend="openai", model=servers.MODEL)  # fmt: skip
    s = result.stream
    assert s is not None and (s.requests_ok, s.requests_failed) == (5, 0), result.reason
    assert s.requests_resent == 4 and [r.resent for r in result.requests] == [False] + [True] * 4
    assert len(log.entries) == 5  # each answered once
    assert any("4 request(s) re-sent once on a fresh connection" in w for w in result.warnings)
