"""Whom an HTTPS connection trusts: certifi by default, the standard variables, the backend's options."""

# As httpx and the openai SDK do, certifi's bundle is the default (the system store is often
# missing or stale in containers); SSL_CERT_FILE / SSL_CERT_DIR (OpenSSL's names) and then
# REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE (what requests and curl users already export) replace it,
# and the backend's `ca_bundle` option wins over all of them.

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass, replace

from bench.core.errors import BackendError

TRUST_VARIABLES = ("SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


@dataclass(frozen=True)
class Trust:
    """Where the CA certificates come from, and the client's own certificate if any."""

    verify: bool = True
    ca_file: str = ""
    ca_dir: str = ""
    source: str = "certifi"
    client_cert: str = ""
    client_key: str = ""

    def describe(self) -> str:
        if not self.verify:
            return "verification OFF (verify=false)"
        mine = f", client certificate {self.client_cert}" if self.client_cert else ""
        return f"CA from {self.source}{mine}"


def resolve_trust(
    env: Mapping[str, str], ca_bundle: str = "", verify: bool = True, client_cert: str = ""
) -> Trust:
    """The trust a backend uses: `ca_bundle` option > SSL_CERT_FILE/DIR > REQUESTS_CA_BUNDLE >
    CURL_CA_BUNDLE > certifi. `client_cert` is 'cert.pem' (key inside) or 'cert.pem,key.pem'."""
    cert, _, key = client_cert.partition(",")
    mine = Trust(verify=verify, client_cert=cert.strip(), client_key=key.strip())
    if ca_bundle:
        return replace(mine, ca_file=ca_bundle, source=f"ca_bundle option ({ca_bundle})")
    file, folder = env.get("SSL_CERT_FILE", ""), env.get("SSL_CERT_DIR", "")
    if file or folder:
        named = (("SSL_CERT_FILE", file), ("SSL_CERT_DIR", folder))
        shown = " + ".join(f"{n}={v}" for n, v in named if v)
        return replace(mine, ca_file=file, ca_dir=folder, source=shown)
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        if env.get(name):
            return replace(mine, ca_file=env[name], source=f"{name}={env[name]}")
    return mine


def context(trust: Trust) -> ssl.SSLContext:
    """An SSL context for `trust`; a file that cannot be read is an error naming it."""
    try:
        if not trust.verify:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        elif trust.ca_file or trust.ca_dir:
            ctx = ssl.create_default_context(
                cafile=trust.ca_file or None, capath=trust.ca_dir or None
            )
        else:
            ctx = ssl.create_default_context(cafile=_certifi())
        if trust.client_cert:
            ctx.load_cert_chain(trust.client_cert, trust.client_key or None)
    except (OSError, ssl.SSLError) as exc:
        raise BackendError(f"TLS set-up failed ({trust.describe()}): {exc}") from None
    ctx.set_alpn_protocols(["http/1.1"])  # this client speaks HTTP/1.1 only
    return ctx


def _certifi() -> str | None:
    try:
        import certifi
    except ImportError:  # the system store then, as Python's own default
        return None
    path: str = certifi.where()
    return path
