"""Cerebras's wafer-scale cloud: OpenAI-compatible, key in CEREBRAS_API_KEY, timings in time_info."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from bench.core.workloads import Param
from bench.remote.openai import OpenAIBackend, remote_options, timings_from
from bench.remote.protocol import Vendor


def cerebras_timings(obj: Mapping[str, Any]) -> dict[str, float]:
    """time_info.{queue,prompt,completion,total}_time, seconds (on the last streamed chunk)."""
    return timings_from(obj.get("time_info"))


class CerebrasBackend(OpenAIBackend):
    """Cerebras: the limit is `max_completion_tokens` (reserved up front by the rate limiter)."""

    name: ClassVar[str] = "cerebras"
    vendor: ClassVar[Vendor] = "cerebras"
    key_hint: ClassVar[str] = "create one at https://cloud.cerebras.ai"
    # usage and time_info come on the last chunk unasked.
    options_spec: ClassVar[tuple[Param, ...]] = remote_options(
        "https://api.cerebras.ai/v1", "CEREBRAS_API_KEY", include_usage=False
    )

    def adapt(self, body: dict[str, Any]) -> dict[str, Any]:
        if "max_tokens" in body and "max_completion_tokens" not in body:
            body["max_completion_tokens"] = body.pop("max_tokens")
        return body

    def server_timings(self, obj: Mapping[str, Any]) -> dict[str, float]:
        return cerebras_timings(obj)
