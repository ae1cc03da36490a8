"""The adapter boundary: what a backend raises becomes a recorded failure (BackendError);
what the harness itself raises is a bug and propagates with its traceback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from bench.core.errors import BackendError, BenchError


@contextmanager
def adapter_call(what: str) -> Iterator[None]:
    """Around a call into backend code (prepare, one run, sync, to_host): its own errors,
    third-party ones included, are wrapped; the project's own BenchErrors pass unchanged."""
    try:
        yield
    except BenchError:
        raise
    except Exception as exc:  # the adapter boundary: anything a backend or its library raises
        raise BackendError(f"{type(exc).__name__} in {what}: {exc}") from exc
