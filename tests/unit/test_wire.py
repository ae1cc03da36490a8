"""The HTTP client's pure parts: the request head, the Host header, and whom HTTPS trusts."""

from __future__ import annotations

import pytest

from bench.core.errors import BackendError
from bench.remote import tls, wire


def test_an_ipv6_literal_is_bracketed_and_the_default_port_dropped() -> None:
    assert wire.Endpoint.parse("http://[::1]:8000/v1").authority == "[::1]:8000"
    assert wire.Endpoint.parse("https://[2001:db8::1]/v1").authority == "[2001:db8::1]"
    assert wire.Endpoint.parse("https://api.groq.com:443/openai/v1").authority == "api.groq.com"


def test_the_query_string_rides_on_every_request() -> None:
    ep = wire.Endpoint.parse(
        "https://x.openai.azure.com/openai/deployments/d?api-version=2024-06-01"
    )
    head = wire.request_bytes("POST", ep, "/chat/completions", {"a": "b"})
    assert head.split(b"\r\n")[0] == (
        b"POST /openai/deployments/d/chat/completions?api-version=2024-06-01 HTTP/1.1"
    )


@pytest.mark.parametrize("value", ["ok\r\nx-evil: 1", "ok\nx", "ok\x00"])
def test_a_header_value_with_a_line_break_is_refused_by_name(value: str) -> None:
    ep = wire.Endpoint.parse("http://127.0.0.1:1/v1")
    with pytest.raises(BackendError, match="header 'authorization' holds a line break") as err:
        wire.request_bytes("GET", ep, "/models", {"authorization": value})
    assert value not in str(err.value)  # a key is never echoed


def test_trust_precedence_option_then_openssl_then_requests_then_curl_then_certifi() -> None:
    env = {"SSL_CERT_FILE": "/a", "REQUESTS_CA_BUNDLE": "/b", "CURL_CA_BUNDLE": "/c"}
    assert tls.resolve_trust(env, ca_bundle="/o").ca_file == "/o"
    assert tls.resolve_trust(env).ca_file == "/a"
    assert tls.resolve_trust({"SSL_CERT_DIR": "/d", "CURL_CA_BUNDLE": "/c"}).ca_dir == "/d"
    assert tls.resolve_trust({"REQUESTS_CA_BUNDLE": "/b", "CURL_CA_BUNDLE": "/c"}).ca_file == "/b"
    assert tls.resolve_trust({"CURL_CA_BUNDLE": "/c"}).source == "CURL_CA_BUNDLE=/c"
    assert tls.resolve_trust({}).source == "certifi"
    mine = tls.resolve_trust({}, client_cert="c.pem, k.pem")
    assert (mine.client_cert, mine.client_key) == ("c.pem", "k.pem")


def test_a_missing_ca_file_is_an_error_naming_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    missing = str(tmp_path / "nope.pem")
    with pytest.raises(BackendError, match="TLS set-up failed .*nope.pem"):
        tls.context(tls.resolve_trust({}, ca_bundle=missing))


def test_verify_false_checks_nothing_and_says_so() -> None:
    trust = tls.resolve_trust({}, verify=False)
    ctx = tls.context(trust)
    assert ctx.check_hostname is False and trust.describe() == "verification OFF (verify=false)"
