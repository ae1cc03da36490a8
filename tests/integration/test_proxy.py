"""Through a real HTTP proxy (proxy.py): CONNECT tunnels for HTTPS, absolute form for HTTP, NO_PROXY."""

from __future__ import annotations

import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.remote import proxy as proxymod
from bench.remote import wire
from tests import servers
from tests.integration.test_conformance import REQUESTS, SCRIPT, _run, check_against_script

pytest.importorskip("proxy")
trustme = pytest.importorskip("trustme")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """proxy.py in its own process; yields its URL and its own log file."""
    port, log = _free_port(), tmp_path_factory.mktemp("proxy") / "proxy.log"
    cmd = [sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", str(port),
           "--num-workers", "1", "--num-acceptors", "1", "--log-file", str(log)]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        until = time.monotonic() + 20
        while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
            assert proc.poll() is None and time.monotonic() < until, "proxy.py did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        proc.wait(10)


def _lines(log: Path, what: str) -> list[str]:
    time.sleep(0.3)  # the access log is written as each connection closes
    return [line for line in log.read_text().splitlines() if what in line]


def test_https_goes_through_a_connect_tunnel(proxy: tuple[str, Path], tmp_path: Path) -> None:
    url, log = proxy
    authority = trustme.CA()
    ca = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(ca))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(ctx)
    with servers.aiohttp_server(SCRIPT, tls=ctx) as (base, sends):
        row = check_against_script(_run(base, ca_bundle=str(ca), proxy=url), sends, SCRIPT)
    target = base.split("/")[2]
    assert row["ok"] == REQUESTS and _lines(log, f"CONNECT {target}")


def test_plain_http_goes_to_the_proxy_from_the_environment(
    proxy: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, log = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    with servers.aiohttp_server(SCRIPT) as (base, sends):
        row = check_against_script(_run(base), sends, SCRIPT)
    target = base.split("/")[2]
    assert row["ok"] == REQUESTS
    assert len(_lines(log, f"POST {target}/v1/chat/completions")) >= 1


def test_no_proxy_goes_direct(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{_free_port()}")  # nothing there
    monkeypatch.setenv("NO_PROXY", "localhost,127.0.0.1")
    with servers.aiohttp_server(SCRIPT) as (base, sends):
        row = check_against_script(_run(base), sends, SCRIPT)
    assert row["ok"] == REQUESTS


def test_a_dead_proxy_is_named_in_the_failure(monkeypatch: pytest.MonkeyPatch) -> None:
    dead = f"127.0.0.1:{_free_port()}"
    with servers.aiohttp_server(SCRIPT) as (base, _):
        result = _run(base, proxy=f"http://{dead}")
    assert result.status == "failed" and f"via proxy {dead}" in result.reason


@pytest.mark.parametrize(
    ("no_proxy", "host", "port", "expected"),
    [
        ("*", "api.groq.com", 443, True),
        ("groq.com", "api.groq.com", 443, True),
        (".groq.com", "api.groq.com", 443, True),
        ("groq.com", "notgroq.com", 443, False),
        ("api.groq.com:8443", "api.groq.com", 443, False),
        ("api.groq.com:443", "api.groq.com", 443, True),
        ("", "api.groq.com", 443, False),
    ],
)
def test_no_proxy_matching(no_proxy: str, host: str, port: int, expected: bool) -> None:
    assert proxymod.bypassed(no_proxy, host, port) is expected


def test_the_proxy_option_wins_and_none_means_direct() -> None:
    target = wire.Endpoint.parse("https://api.groq.com/openai/v1")
    env: dict[str, Any] = {"HTTPS_PROXY": "http://corp:3128"}
    assert proxymod.resolve_proxy(env, "none", target) is None
    chosen = proxymod.resolve_proxy(env, "http://u:p@other:8080", target)
    assert chosen is not None and chosen.endpoint.authority == "other:8080"
    assert chosen.auth == "Basic dTpw" and "u:p" not in chosen.describe()
    from_env = proxymod.resolve_proxy(env, "", target)
    assert from_env is not None and from_env.source == "HTTPS_PROXY"
