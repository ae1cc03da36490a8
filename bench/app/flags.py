"""`key=value` flags from the command line (-p, --backend-opt, --a-opt, ...), parsed once."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from bench.core.errors import ConfigError


def parse_pairs(pairs: Sequence[str], flag: str) -> dict[str, list[str]]:
    """`key=value` items; a repeated key collects several values (a sweep)."""
    found: dict[str, list[str]] = defaultdict(list)
    for item in pairs:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}: expected key=value")
        found[key.strip()].append(value.strip())
    return dict(found)


def last_values(pairs: Sequence[str], flag: str) -> dict[str, str]:
    """`key=value` items where a repeated key means the last one wins."""
    return {k: v[-1] for k, v in parse_pairs(pairs, flag).items()}
