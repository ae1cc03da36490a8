"""Declared parameters: one key check, one value resolver, one typed table-to-dataclass step."""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, TypeVar

from bench.core.errors import ConfigError

# A message prefix, or one computed from the offending key (the claims registry adds its line).
Where = str | Callable[[str], str]
T = TypeVar("T")


def check_keys(
    keys: Iterable[Any], known: Collection[Any], where: Where, what: str = "key", sep: str = ": "
) -> None:
    """Raise ConfigError for the first (sorted) of `keys` not in `known`, listing the known
    ones and the closest: "f.toml: [run]: unknown key 'sed' (known: name, seed); did you mean
    'seed'?". A set is listed sorted, a sequence in its declared order; `sep` joins `where`."""
    extra = sorted((k for k in keys if k not in known), key=str)
    if not extra:
        return
    bad = str(extra[0])
    names = sorted(map(str, known)) if isinstance(known, set | frozenset) else list(map(str, known))
    close = difflib.get_close_matches(bad, names, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    prefix = where(bad) if callable(where) else where
    head = f"{prefix}{sep}" if prefix else ""
    raise ConfigError(f"{head}unknown {what} '{bad}' (known: {', '.join(names) or 'none'}){hint}")


@dataclass(frozen=True)
class Param:
    """One named parameter of a workload (or option of a backend, or of a chat load)."""

    name: str
    default: Any
    kind: type = int
    unit: str = ""
    doc: str = ""
    choices: tuple[Any, ...] | None = None
    minimum: float | None = None

    def allowed(self) -> str:
        """What a value must be, in words: 'int >= 1', 'str, one of: a, b', 'bool'."""
        text = self.kind.__name__
        if self.minimum is not None:
            text += f" >= {self.minimum}"
        if self.choices is not None:
            text += f", one of: {', '.join(map(str, self.choices))}"
        return text

    def coerce(self, value: Any, owner: str) -> Any:
        """Turn a config or command-line value into this parameter's type, or raise ConfigError."""
        try:
            out = _typed(self.kind, value)
        except (TypeError, ValueError):
            raise ConfigError(
                f"{owner}: parameter '{self.name}' must be {self.allowed()}, got {value!r}"
            ) from None
        if self.choices is not None and out not in self.choices:
            known = ", ".join(map(str, self.choices))
            raise ConfigError(f"{owner}: parameter '{self.name}' = {out!r} (choose from: {known})")
        if self.minimum is not None and out < self.minimum:
            raise ConfigError(
                f"{owner}: parameter '{self.name}' = {out!r} is below its minimum {self.minimum}"
            )
        return out


def _typed(kind: type, value: Any) -> Any:
    """`value` as `kind`; words for bools, and no silent truncation of 1.5 or True to an int."""
    if kind is bool and isinstance(value, str):
        if value.lower() not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(value)
        return value.lower() in ("true", "1", "yes")
    if kind is int and (
        isinstance(value, bool) or (isinstance(value, float) and not value.is_integer())
    ):
        raise ValueError(value)
    return kind(value)


def resolve(
    spec: Sequence[Param],
    given: Mapping[str, Any] | None,
    owner: str,
    what: str = "parameter",
    sep: str = ": ",
) -> Mapping[str, Any]:
    """Defaults, then `given` (command-line strings or TOML values), each typed and checked by
    its Param; frozen. An unknown name lists the known ones (`what`, `sep` as in check_keys)."""
    by_name = {p.name: p for p in spec}
    given = dict(given or {})
    check_keys(given, list(by_name), owner, what, sep)
    values = {p.name: p.default for p in spec}
    values.update({key: by_name[key].coerce(value, owner) for key, value in given.items()})
    return MappingProxyType(values)


def replace_typed(base: T, table: Mapping[str, Any], where: str) -> T:
    """A copy of the dataclass `base` with `table`'s values, each cast to the type of the field's
    current value; unknown keys and bad values raise ConfigError naming `where`."""
    names = {f.name for f in dataclasses.fields(base)}  # type: ignore[arg-type]
    check_keys(table, names, where)
    try:
        typed = {k: type(getattr(base, k))(v) for k, v in table.items()}
        return dataclasses.replace(base, **typed)  # type: ignore[type-var]
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {exc}") from None
