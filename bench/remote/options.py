"""What every OpenAI-compatible backend is configured with: options, the key, trust, the proxy."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from bench.core.workloads import Param
from bench.remote import proxy as proxymod
from bench.remote import tls, wire


def resolve_trust(options: Mapping[str, Any]) -> tls.Trust:
    """Whom HTTPS trusts: the backend's options over the standard variables (read here, with
    the key, once when a backend is built: the other place below cli.py that reads os.environ)."""
    env = {k: os.environ[k] for k in tls.TRUST_VARIABLES if os.environ.get(k)}
    return tls.resolve_trust(env, options["ca_bundle"], options["verify"], options["client_cert"])


def resolve_proxy(option: str, target: wire.Endpoint) -> proxymod.Proxy | None:
    """The proxy for `target`: the option over HTTP(S)_PROXY / NO_PROXY (read here, once)."""
    env = {k: os.environ[k] for k in proxymod.PROXY_VARIABLES if os.environ.get(k)}
    return proxymod.resolve_proxy(env, option, target)


def resolve_api_key(env_name: str) -> str | None:
    """The one place below cli.py that reads os.environ: an API key, by its variable's name.

    Called once when a backend is built, before anything is timed; the value lives only in
    a Secret and in request headers, never in records, logs, messages or reprs.
    """
    return os.environ.get(env_name) or None if env_name else None


class Secret:
    """A credential that never shows itself in repr, str or f-strings."""

    __slots__ = ("_value",)

    def __init__(self, value: str | None) -> None:
        self._value = value

    def __repr__(self) -> str:
        return "Secret(set)" if self._value else "Secret(unset)"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)

    def reveal(self) -> str:
        return self._value or ""

    def scrub(self, text: str) -> str:
        """`text` with the secret replaced: error bodies may echo what they were sent."""
        return text.replace(self._value, "***") if self._value else text


class JSONObject(dict):  # type: ignore[type-arg]
    """An option holding a JSON object: a TOML table, or a JSON string from the command line."""

    def __init__(self, value: Any = ()) -> None:
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError:
                raise ValueError(value) from None
        if not isinstance(value, Mapping | tuple):
            raise ValueError(value)
        super().__init__(value)


def remote_options(
    base_url: str, key_env: str, include_usage: bool = True, model: str = ""
) -> tuple[Param, ...]:
    """The options every OpenAI-compatible backend takes; adapters change the defaults."""
    return (
        Param("base_url", base_url, str, doc="endpoint root, e.g. https://host/v1"),
        Param("model", model, str, doc="model id (see `accelbench models -b NAME`)"),
        Param("api_key_env", key_env, str, doc="environment variable holding the key ('' none)"),
        Param("extra", JSONObject(), JSONObject, doc="extra request fields (JSON object)"),
        Param("include_usage", include_usage, bool, doc="ask for usage (stream_options)"),
        Param("connect_timeout_s", 10.0, float, "s", minimum=0.001),
        Param("first_byte_timeout_s", 60.0, float, "s", "until response headers", minimum=0.001),
        Param("idle_timeout_s", 60.0, float, "s", "longest silence mid-stream", minimum=0.001),
        Param("total_timeout_s", 600.0, float, "s", "whole request", minimum=0.001),
        Param("max_connections", 0, int, doc="pool size (0: sized to the load)", minimum=0),
        Param(
            "ca_bundle",
            "",
            str,
            doc="HTTPS: CA certificates file (default: certifi, or"
            " SSL_CERT_FILE/SSL_CERT_DIR/REQUESTS_CA_BUNDLE/CURL_CA_BUNDLE)",
        ),
        Param(
            "client_cert", "", str, doc="HTTPS: client certificate 'cert.pem' or 'cert.pem,key.pem'"
        ),
        Param(
            "proxy",
            "",
            str,
            doc="http://[user:pass@]host:port, or 'none' ('' : HTTP(S)_PROXY"
            " and NO_PROXY from the environment)",
        ),
        Param(
            "verify",
            True,
            bool,
            doc="HTTPS: check the server's certificate (false: noted loudly in the record)",
        ),
        Param(
            "kernel_stamps",
            True,
            bool,
            doc="plain HTTP on Linux: stamp reads with the kernel's receive time (more CPU per"
            " read, immune to client scheduling); false: when bytes reach user space",
        ),
    )
