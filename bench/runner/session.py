"""The contract every session keeps: local kernels and streaming endpoints alike."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from bench.core.records import CaseResult


class Session(Protocol):
    """Runs planned cases one after another, yielding each result as it finishes."""

    def run(self, cases: Sequence[Any]) -> Iterator[CaseResult]: ...

    def close(self) -> None: ...
