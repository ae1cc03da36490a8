"""The claims registry (configs/claims.toml): vendor claims and datasheet figures, validated."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal

from bench.claims.bounds import LOWER_IS_BETTER as LOWER_IS_BETTER
from bench.claims.bounds import NOT_TESTABLE as NOT_TESTABLE
from bench.claims.bounds import VERDICTS as VERDICTS
from bench.claims.bounds import Verdict as Verdict
from bench.claims.bounds import VerdictPolicy as VerdictPolicy
from bench.claims.bounds import bound_words as bound_words
from bench.claims.bounds import bounded_verdict as bounded_verdict
from bench.claims.bounds import ratio as ratio
from bench.claims.bounds import threshold as threshold
from bench.claims.bounds import verdict_for as verdict_for
from bench.claims.ceilings import Ceiling
from bench.core.config import parse_toml, read_text
from bench.core.errors import ConfigError
from bench.core.params import check_keys
from bench.remote.protocol import VENDORS

# Each metric and the units it may be stated in; a unit's factor turns it into SI base units.
METRICS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "population_within_latency": ("people",),
        "device_count": ("devices",),
        "investment": ("USD", "EUR"),
        "output_speed": ("tokens/s",),
        "ttft": ("s", "ms"),
        "matrix_throughput": ("TFLOP/s", "PFLOP/s", "TOPS"),
        "memory_bandwidth": ("GB/s", "TB/s", "PB/s"),
        "memory_capacity": ("MB", "GB"),
        "power": ("W",),
        "cores": ("cores",),
        "clock": ("MHz",),
        "process_node": ("nm",),
        "propagation_speed": ("km/s",),
        "production_multiplier": ("x",),
        "qualitative": ("none",),
    }
)
UNIT_FACTOR: Mapping[str, float] = MappingProxyType(
    {
        "people": 1.0,
        "devices": 1.0,
        "USD": 1.0,
        "EUR": 1.0,
        "tokens/s": 1.0,
        "s": 1.0,
        "ms": 1e-3,
        "TFLOP/s": 1e12,
        "PFLOP/s": 1e15,
        "TOPS": 1e12,
        "GB/s": 1e9,
        "TB/s": 1e12,
        "PB/s": 1e15,
        "MB": 1e6,
        "GB": 1e9,
        "W": 1.0,
        "cores": 1.0,
        "MHz": 1e6,
        "nm": 1e-9,
        "km/s": 1e3,
        "x": 1.0,
        "none": 1.0,
    }
)
TESTS = ("reach", "capacity", "remote_speed", "ceiling", "none")
BOUNDS = ("exact", "about", "at_least", "at_most", "range")
Kind = Literal["claim", "figure", "device"]
# The only metrics each kind of evidence can hold to account: a verdict is never borrowed from
# evidence of another kind (token speed says nothing of an investment or a forecast).
TESTABLE_METRICS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "reach": frozenset({"population_within_latency"}),
        "capacity": frozenset({"device_count"}),
        "remote_speed": frozenset({"output_speed", "ttft"}),
        "ceiling": frozenset({"matrix_throughput", "memory_bandwidth"}),
        "none": frozenset(METRICS),
    }
)
QUOTE_JOIN = " … "
_DATE = re.compile(r"^(\d{4}(-\d{2}(-\d{2})?)?|n/a)$")

_COMMON = {"id", "source", "metric", "value", "value_max", "unit", "bound", "date", "date_basis"}
_COMMON |= {"test", "test_note", "reason", "note", "conditions", "vendor", "device", "compare_to"}
_COMMON |= {"tolerance"}
KEYS: Mapping[str, frozenset[str]] = MappingProxyType(
    {
        "claim": frozenset(_COMMON | {"quote_fr", "quote_en"}),
        "figure": frozenset(_COMMON | {"precision", "sparsity", "model", "historical"}),
        "device": frozenset({"id", "name", "match"}),
    }
)
REQUIRED: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "claim": ("id", "source", "quote_fr", "quote_en", "metric", "unit", "date", "test"),
        "figure": ("id", "source", "device", "metric", "value", "unit", "date", "test"),
        "device": ("id", "name"),
    }
)


@dataclass(frozen=True)
class Entry:
    """One claim from an article, or one datasheet figure; `line` is its table's line."""

    kind: Literal["claim", "figure"]
    id: str
    sources: tuple[str, ...]
    metric: str
    unit: str
    date: str
    test: str
    line: int
    value: float | None = None
    value_max: float | None = None
    bound: str = "about"
    quote_fr: str = ""
    quote_en: str = ""
    date_basis: str = ""
    test_note: str = ""
    reason: str = ""
    note: str = ""
    vendor: str = ""
    device: str = ""
    model: str = ""
    precision: str = ""
    sparsity: str = ""
    compare_to: tuple[str, ...] = ()
    tolerance: float | None = None  # relative band of an 'about' bound, as the entry states it
    historical: str = ""  # why the figure can no longer be measured (a retired model, ...)
    conditions: Mapping[str, Any] = field(default_factory=dict)

    @property
    def source(self) -> str:
        return ", ".join(self.sources)

    def si(self, value: float | None = None) -> float | None:
        """The value (or `value`) in SI base units: FLOP/s, bytes/s, bytes, seconds."""
        v = self.value if value is None else value
        return None if v is None else v * UNIT_FACTOR[self.unit]

    def stated(self) -> str:
        """The claimed value as the source states it, with its bound."""
        if self.value is None:
            return "(no figure)"
        text = f"{_num(self.value)} {self.unit}".replace(" none", "")
        if self.value_max is not None:
            text = f"{_num(self.value)}-{_num(self.value_max)} {self.unit}"
        prefix = {"at_least": ">= ", "at_most": "<= ", "about": "~"}.get(self.bound, "")
        band = f" (±{self.tolerance:.0%})" if self.tolerance is not None else ""
        return prefix + text + band


@dataclass(frozen=True)
class Device:
    id: str
    name: str
    match: tuple[str, ...]
    line: int

    def matches(self, label: str) -> bool:
        """The full product name, exactly (case and spacing aside): 'H200' is not 'GH200'."""
        name = _product(label)
        return any(_product(m) == name for m in self.match)


def _product(label: str) -> str:
    words = label.lower().split()
    return " ".join(words[1:] if words[:1] == ["nvidia"] else words)


@dataclass(frozen=True)
class Registry:
    source: str
    claims: tuple[Entry, ...]
    figures: tuple[Entry, ...]
    devices: tuple[Device, ...]
    policy: VerdictPolicy = VerdictPolicy()

    def figure(self, figure_id: str) -> Entry:
        for f in self.figures:
            if f.id == figure_id:
                return f
        raise ConfigError(f"{self.source}: no figure '{figure_id}'")

    def device(self, device_id: str) -> Device:
        for d in self.devices:
            if d.id == device_id:
                return d
        raise ConfigError(f"{self.source}: no device '{device_id}'")

    def match_device(self, label: str) -> Device | None:
        """The datasheet device a measured device's name matches (e.g. 'NVIDIA H100 80GB HBM3')."""
        return next((d for d in self.devices if d.matches(label)), None)

    def figures_of(self, device_id: str, metric: str) -> list[Entry]:
        return [f for f in self.figures if f.device == device_id and f.metric == metric]


def _num(v: float) -> str:
    for scale, word in ((1e12, "trillion"), (1e9, "billion"), (1e6, "million")):
        if abs(v) >= scale:
            return f"{v / scale:.3g} {word}"
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.3g}"


# --- locating tables in the text: tomllib gives no line numbers for values ---


_HEADER = re.compile(r"^\s*\[\[\s*([A-Za-z_]+)\s*\]\]\s*(#.*)?$")
_ANY_HEADER = re.compile(r"^\s*\[")


def table_lines(text: str) -> dict[str, list[tuple[int, int]]]:
    """For each array-of-tables name, the (first, last) line of each table, in file order."""
    lines = text.splitlines()
    spans: dict[str, list[tuple[int, int]]] = {}
    starts = [(i, m.group(1)) for i, ln in enumerate(lines) if (m := _HEADER.match(ln))]
    others = [i for i, ln in enumerate(lines) if _ANY_HEADER.match(ln)]
    for i, name in starts:
        end = next((j for j in others if j > i), len(lines))
        spans.setdefault(name, []).append((i + 1, end))
    return spans


def key_line(text: str, span: tuple[int, int], key: str) -> int:
    """The line of `key = ...` inside a table's span, or the table's header line."""
    pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    lines = text.splitlines()
    for n in range(span[0], span[1] + 1):
        if pattern.match(lines[n - 1]):
            return n
    return span[0]


# --- validation ---


class _Checker:
    """Validates one table; every error names the file, the line and the entry."""

    def __init__(self, source: str, text: str, kind: str, span: tuple[int, int], table: Any):
        self.source, self.text, self.kind, self.span = source, text, kind, span
        self.table = table if isinstance(table, dict) else {}
        self.name = str(self.table.get("id", f"#{span[0]}"))

    def where(self, key: str | None) -> str:
        """'file:line: kind 'id'', the line of `key` when given, else the table's header."""
        line = key_line(self.text, self.span, key) if key else self.span[0]
        return f"{self.source}:{line}: {self.kind} '{self.name}'"

    def fail(self, key: str | None, message: str) -> ConfigError:
        return ConfigError(f"{self.where(key)}: {message}")

    def required(self) -> None:
        check_keys(self.table, KEYS[self.kind], self.where)
        for key in REQUIRED[self.kind]:
            value = self.table.get(key)
            if value is None or (isinstance(value, str | list) and not value):
                raise self.fail(None, f"missing '{key}': every {self.kind} needs one")

    def text_of(self, key: str, default: str = "") -> str:
        value = self.table.get(key, default)
        if not isinstance(value, str):
            raise self.fail(key, f"'{key}' must be a string, got {value!r}")
        return value

    def number(self, key: str) -> float | None:
        value = self.table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise self.fail(key, f"'{key}' must be a non-negative number, got {value!r}")
        return float(value)

    def choice(self, key: str, known: Sequence[str], default: str = "") -> str:
        value = self.text_of(key, default)
        check_keys([value], known, self.where(key), key)
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self.table.get(key, [])
        value = [value] if isinstance(value, str) else value
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise self.fail(key, f"'{key}' must be a string or a list of strings, got {value!r}")
        return tuple(value)


def _metric_unit(c: _Checker) -> tuple[str, str]:
    metric = c.choice("metric", tuple(METRICS))
    unit = c.text_of("unit")
    if unit not in METRICS[metric]:
        known = ", ".join(METRICS[metric])
        raise c.fail("unit", f"unknown unit '{unit}' for metric '{metric}' (known: {known})")
    return metric, unit


_TEXT_FIELDS = (
    "quote_fr",
    "quote_en",
    "date_basis",
    "test_note",
    "reason",
    "note",
    "vendor",
    "device",
    "model",
    "precision",
    "sparsity",
    "historical",
)


def _entry(c: _Checker, kind: Literal["claim", "figure"]) -> Entry:
    c.required()
    metric, unit = _metric_unit(c)
    date = c.text_of("date")
    if not _DATE.match(date):
        raise c.fail("date", f"date '{date}' must be YYYY, YYYY-MM, YYYY-MM-DD or n/a")
    test = c.choice("test", TESTS)
    if test == "none" and not c.text_of("reason"):
        raise c.fail("test", "test = 'none' needs a 'reason' (why no benchmark can test it)")
    if test == "remote_speed" and not c.text_of("vendor"):
        raise c.fail("test", "test = 'remote_speed' needs a 'vendor' (groq, cerebras, ...)")
    if c.text_of("vendor"):  # matched against the vendor ids the remote backends declare
        c.choice("vendor", VENDORS)
    if metric not in TESTABLE_METRICS[test]:
        known = ", ".join(sorted(TESTABLE_METRICS[test]))
        raise c.fail(
            "test", f"test '{test}' cannot hold metric '{metric}' to account (it tests: {known})"
        )
    value = c.number("value")
    if value is None and metric != "qualitative" and kind == "claim":
        raise c.fail(None, f"missing 'value': metric '{metric}' needs a figure")
    conditions = c.table.get("conditions", {})
    if not isinstance(conditions, dict):
        raise c.fail("conditions", "'conditions' must be an inline table { key = value }")
    return Entry(
        kind=kind,
        id=c.text_of("id"),
        sources=c.strings("source"),
        metric=metric,
        unit=unit,
        date=date,
        test=test,
        line=c.span[0],
        value=value,
        value_max=c.number("value_max"),
        # An article's round figure is approximate; a datasheet states its figure as exact.
        bound=c.choice("bound", BOUNDS, "about" if kind == "claim" else "exact"),
        conditions=MappingProxyType(dict(conditions)),
        compare_to=c.strings("compare_to"),
        tolerance=c.number("tolerance"),
        **{k: c.text_of(k) for k in _TEXT_FIELDS if k in KEYS[kind]},
    )


def _device(c: _Checker) -> Device:
    c.required()
    if "match" not in c.table:  # an empty list is fine (nothing measured matches it)
        raise c.fail(None, "missing 'match': a list of name fragments, possibly empty")
    return Device(c.text_of("id"), c.text_of("name"), c.strings("match"), c.span[0])


def _cross_check(reg: Registry, text: str) -> None:
    """Ids unique across kinds; devices and compared figures exist."""
    seen: dict[str, int] = {}
    ids = [(e.id, e.line) for e in (*reg.claims, *reg.figures)]
    for entry_id, line in sorted(ids + [(d.id, d.line) for d in reg.devices], key=lambda x: x[1]):
        if entry_id in seen:
            raise ConfigError(
                f"{reg.source}:{line}: duplicate id '{entry_id}' (first at line {seen[entry_id]})"
            )
        seen[entry_id] = line
    device_ids = {d.id for d in reg.devices}
    figure_ids = {f.id for f in reg.figures}
    for e in (*reg.claims, *reg.figures):
        if e.device and e.device not in device_ids:
            line = key_line(text, (e.line, _span_end(text, e.line)), "device")
            check_keys([e.device], device_ids, f"{reg.source}:{line}: {e.kind} '{e.id}'", "device")
        _check_kind(reg, text, e, figure_ids)
        missing = [f for f in e.compare_to if f not in figure_ids]
        if missing:
            line = key_line(text, (e.line, _span_end(text, e.line)), "compare_to")
            raise ConfigError(
                f"{reg.source}:{line}: {e.kind} '{e.id}': compare_to names no figure '{missing[0]}'"
            )


def _check_kind(reg: Registry, text: str, e: Entry, figure_ids: set[str]) -> None:
    """A claim is held only to figures of a metric its own test can measure."""
    for fid in e.compare_to:
        if fid in figure_ids and reg.figure(fid).metric not in TESTABLE_METRICS[e.test]:
            line = key_line(text, (e.line, _span_end(text, e.line)), "compare_to")
            raise ConfigError(
                f"{reg.source}:{line}: {e.kind} '{e.id}': compare_to '{fid}' measures"
                f" '{reg.figure(fid).metric}', which test '{e.test}' cannot hold it to"
            )


def _span_end(text: str, start: int) -> int:
    for spans in table_lines(text).values():
        for s, e in spans:
            if s == start:
                return e
    return start


def _policy(data: Mapping[str, Any], source: str) -> VerdictPolicy:
    table = data.get("verdict", {})
    try:
        policy = VerdictPolicy(**{k: float(v) for k, v in table.items()})
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: [verdict]: {exc}") from None
    if not 0 < policy.partly_at <= policy.supported_at:
        raise ConfigError(f"{source}: [verdict]: need 0 < partly_at <= supported_at, got {policy}")
    return policy


def parse(text: str, source: str) -> Registry:
    """A validated Registry from the TOML text; errors carry `source:line`."""
    data = parse_toml(text, source)
    check_keys(data, {"schema", "verdict", "claim", "figure", "device"}, source, "top-level key")
    spans = table_lines(text)

    def checkers(kind: str) -> list[_Checker]:
        tables = data.get(kind, [])
        if not isinstance(tables, list) or len(tables) != len(spans.get(kind, [])):
            raise ConfigError(f"{source}: write each {kind} as its own [[{kind}]] table")
        return [
            _Checker(source, text, kind, s, t)
            for s, t in zip(spans.get(kind, []), tables, strict=True)
        ]

    reg = Registry(
        source=source,
        claims=tuple(_entry(c, "claim") for c in checkers("claim")),
        figures=tuple(_entry(c, "figure") for c in checkers("figure")),
        devices=tuple(_device(c) for c in checkers("device")),
        policy=_policy(data, source),
    )
    _cross_check(reg, text)
    return reg


def load(path: str | Path) -> Registry:
    return parse(read_text(path, "the claims registry"), str(path))


# Local dtypes and the datasheet precision that states their tensor throughput.
PRECISION_OF_DTYPE: Mapping[str, str] = MappingProxyType(
    {"float16": "bf16/fp16", "bfloat16": "bf16/fp16", "float8": "fp8"}
)


def datasheet_ceilings(reg: Registry, device_id: str, backend: str) -> list[Ceiling]:
    """A device's dense matrix peaks and memory bandwidth from the registry, as Ceilings."""
    out = []
    name = reg.device(device_id).name
    for f in reg.figures_of(device_id, "matrix_throughput"):
        if f.sparsity == "sparse" or f.value is None:
            continue
        for dtype, precision in PRECISION_OF_DTYPE.items():
            if precision == f.precision:
                out.append(
                    Ceiling(backend, name, "matrix", dtype, f.si() or 0.0, "datasheet", f.id)
                )
    for f in reg.figures_of(device_id, "memory_bandwidth"):
        out.append(Ceiling(backend, name, "memory", "", f.si() or 0.0, "datasheet", f.id))
    return out
