"""Which HTTP proxy a backend goes through: its `proxy` option, else HTTP(S)_PROXY with NO_PROXY."""

# As curl, requests and httpx read them: HTTPS_PROXY for https:// endpoints, HTTP_PROXY for
# http:// ones (lower-case names too), NO_PROXY a comma list of hosts, domain suffixes
# (`.example.com` or `example.com`), host:port, or `*`. HTTPS goes through a CONNECT tunnel;
# plain HTTP is sent to the proxy in absolute form.

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from bench.core.errors import BackendError
from bench.remote.wire import Endpoint

PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy")
DIRECT = ("none", "direct")


@dataclass(frozen=True)
class Proxy:
    endpoint: Endpoint
    auth: str = ""  # a Proxy-Authorization value from the URL's user:password, never shown
    source: str = ""

    def describe(self) -> str:
        return f"proxy {self.endpoint.authority} ({self.source})"


def _env(env: Mapping[str, str], name: str) -> str:
    return env.get(name) or env.get(name.lower()) or ""


def bypassed(no_proxy: str, host: str, port: int) -> bool:
    """True when NO_PROXY names `host` (itself, a parent domain, host:port, or `*`)."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, only = entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
        if only and only != str(port):
            continue
        name = name.strip("[]").lstrip(".")
        if host.lower() == name or host.lower().endswith("." + name):
            return True
    return False


def resolve_proxy(env: Mapping[str, str], option: str, target: Endpoint) -> Proxy | None:
    """The proxy for `target`: the option ('none' or 'direct': no proxy) over the variables."""
    if option.lower() in DIRECT:
        return None
    if option:
        return _parse(option, "proxy option")
    name = "HTTPS_PROXY" if target.scheme == "https" else "HTTP_PROXY"
    url = _env(env, name)
    if not url or bypassed(_env(env, "NO_PROXY"), target.host, target.port):
        return None
    return _parse(url, name)


def _parse(url: str, source: str) -> Proxy:
    if "://" not in url:
        url = "http://" + url  # curl's reading of a bare host:port
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise BackendError(f"{source}: only http:// proxies are supported, not '{parts.scheme}'")
    auth = ""
    if parts.username:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        auth = "Basic " + base64.b64encode(pair.encode()).decode()
    shown = f"http://{parts.hostname}:{parts.port or 80}"
    return Proxy(Endpoint.parse(shown), auth, source)
