"""Groq's LPU cloud: OpenAI-compatible, key in GROQ_API_KEY, server timings in x_groq.usage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bench.core.errors import ConfigError
from bench.core.workloads import Param
from bench.remote.openai import OpenAIBackend, remote_options, timings_from
from bench.remote.protocol import Vendor

_REFUSED = ("logprobs", "top_logprobs", "logit_bias")


def groq_usage(obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str]:
    """Streaming: x_groq.usage on the last chunk; otherwise the top-level usage."""
    x_groq = obj.get("x_groq")
    if isinstance(x_groq, dict) and isinstance(x_groq.get("usage"), dict):
        return x_groq["usage"], "x_groq.usage"
    usage = obj.get("usage")
    return (usage, "usage") if isinstance(usage, dict) else (None, "")


def groq_timings(obj: Mapping[str, Any]) -> dict[str, float]:
    """usage.{queue,prompt,completion,total}_time, seconds (x_groq.usage when streaming)."""
    usage, _ = groq_usage(obj)
    return timings_from(usage)


class GroqBackend(OpenAIBackend):
    """Groq: `n` must be 1, logprobs and logit_bias are refused; usage comes in x_groq."""

    name: ClassVar[str] = "groq"
    vendor: ClassVar[Vendor] = "groq"
    key_hint: ClassVar[str] = "create one at https://console.groq.com/keys"
    # x_groq.usage always comes on the last chunk, so stream_options is not needed.
    options_spec: ClassVar[tuple[Param, ...]] = remote_options(
        "https://api.groq.com/openai/v1", "GROQ_API_KEY", include_usage=False
    )

    def check_extra(self, extra: Mapping[str, Any]) -> None:
        if extra.get("n", 1) != 1:
            raise ConfigError(f"backend 'groq': extra field n={extra['n']!r}: Groq requires n=1")
        refused = [k for k in _REFUSED if k in extra]
        if refused:
            raise ConfigError(
                f"backend 'groq': Groq refuses the request fields {', '.join(refused)}"
            )

    def usage(self, obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str]:
        return groq_usage(obj)

    def server_timings(self, obj: Mapping[str, Any]) -> dict[str, float]:
        return groq_timings(obj)
