"""The one JSON-ready conversion, and the records, exports and reports built on it."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from bench.core.jsonable import jsonable
from bench.core.records import CaseResult, RunRecord, to_dict
from bench.gate import interop
from bench.report import claims as claims_report


class Colour(enum.Enum):
    RED = "red"


@dataclass(frozen=True)
class Inner:
    ratio: float
    tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Outer:
    inner: Inner
    table: Any = field(default_factory=dict)


def test_every_kind_becomes_plain_json() -> None:
    value = Outer(
        Inner(float("nan"), ("a", "b")),
        MappingProxyType(
            {
                1: np.float32(0.5),
                "n": np.int64(7),
                "ok": np.bool_(True),
                "path": Path("models/x.onnx"),
                "colour": Colour.RED,
                "arr": np.arange(3),
                "inf": (float("inf"), float("-inf")),
            }
        ),
    )
    got = jsonable(value)
    assert got == {
        "inner": {"ratio": "nan", "tags": ["a", "b"]},
        "table": {
            "1": 0.5,
            "n": 7,
            "ok": True,
            "path": "models/x.onnx",
            "colour": "red",
            "arr": [0, 1, 2],
            "inf": ["inf", "-inf"],
        },
    }
    assert type(got["table"]["n"]) is int and type(got["table"]["ok"]) is bool
    assert json.loads(json.dumps(got)) == got


def test_plain_values_pass_through_unchanged() -> None:
    for value in (None, True, 3, 2.5, "text"):
        assert jsonable(value) == value and type(jsonable(value)) is type(value)


def test_a_class_is_not_taken_for_a_dataclass_instance() -> None:
    assert jsonable(Inner) is Inner


def test_records_exports_and_reports_share_it() -> None:
    assert interop.to_plain is jsonable
    assert claims_report.to_json_value is jsonable
    case = CaseResult("c", "gemm", {"m": 1}, "numpy", {}, "latency", "ok", rel_error=float("inf"))
    record = RunRecord("r", "2026-12-02", {"policy": MappingProxyType({"x": 1})}, {}, {}, (case,))
    doc = to_dict(record)
    assert doc["cases"][0]["rel_error"] == "inf" and doc["config"] == {"policy": {"x": 1}}
    assert doc["cases"][0]["params"] == {"m": 1} and isinstance(doc["cases"], list)
