"""The `synthetic` backend: an OpenAI-compatible client for `accelbench serve-synthetic` on loopback."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bench.core.workloads import Param
from bench.remote.cerebras import cerebras_timings
from bench.remote.groq import groq_timings, groq_usage
from bench.remote.openai import OpenAIBackend, remote_options
from bench.remote.protocol import Vendor


class SyntheticBackend(OpenAIBackend):
    """No key; reads both Groq-style and Cerebras-style timing fields, as the server can send either."""

    name: ClassVar[str] = "synthetic"
    vendor: ClassVar[Vendor] = "synthetic"
    key_hint: ClassVar[str] = "start it with `accelbench serve-synthetic`"
    options_spec: ClassVar[tuple[Param, ...]] = remote_options(
        "http://127.0.0.1:8765/v1", "", model="synthetic-1"
    )

    def usage(self, obj: Mapping[str, Any]) -> tuple[Mapping[str, Any] | None, str]:
        return groq_usage(obj)

    def server_timings(self, obj: Mapping[str, Any]) -> dict[str, float]:
        return groq_timings(obj) or cerebras_timings(obj)
