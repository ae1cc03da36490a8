"""Backend registry: entry points in the `accelbench.backends` group; listing imports nothing."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points
from typing import Any

from bench.core.errors import BackendError
from bench.core.params import check_keys

GROUP = "accelbench.backends"
_CONTRACT = ("probe", "describe", "prepare", "sync", "close")


def _entry_points() -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def names() -> list[str]:
    """Registered backend names, without importing any backend module."""
    return sorted(_entry_points())


def load(name: str) -> type[Any]:
    """The backend class registered as `name`, checked against the contract."""
    eps = _entry_points()
    check_keys([name], set(eps), "", "backend")
    try:
        cls = eps[name].load()
    except ImportError as exc:
        raise BackendError(f"backend '{name}' failed to import: {exc}") from exc
    missing = [m for m in _CONTRACT if not callable(getattr(cls, m, None))]
    if missing or getattr(cls, "name", None) != name:
        raise BackendError(
            f"backend '{name}' ({eps[name].value}) breaks the contract: "
            f"missing {missing or 'nothing'}, name {getattr(cls, 'name', None)!r}"
        )
    return cls


def create(name: str, options: dict[str, Any] | None = None) -> Any:
    """An instance of backend `name` with its options validated."""
    return load(name)(options)


def describe(name: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a results file records of a backend: version, device and details."""
    info = create(name, options).describe()
    return {"version": info.version, "device": info.device, **info.details}
