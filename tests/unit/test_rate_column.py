"""The rate column: one unit per workload in a table, so a sweep never flips GFLOP/s <-> GB/s."""

from __future__ import annotations

from bench.core.records import CaseResult
from bench.report.table import rate, rate_units


def case(workload: str, gflops: float | None, gbs: float | None, intensity: float | None):
    return CaseResult(
        f"{workload}-{gflops}-{gbs}", workload, {}, "numpy", {}, "latency", "ok",
        gflops_per_s=gflops, gb_per_s=gbs, intensity_flop_per_byte=intensity,
    )  # fmt: skip


def test_a_sweep_keeps_one_unit_and_shows_unknown_flops_as_unknown() -> None:
    cases = [
        case("onnx", 12.0, 4.0, 3.0),  # compute-bound
        case("onnx", 0.5, 2.0, 0.25),  # intensity below 1: per case this would read GB/s
        case("onnx", None, 0.7, None),  # FLOPs unknown: '-' rather than a GB/s figure
        case("triad", 0.1, 20.0, 0.08),
    ]
    units = rate_units(cases)
    assert units == {"onnx": "GFLOP/s", "triad": "GB/s"}
    assert [rate(c, units[c.workload]) for c in cases] == [
        "12 GFLOP/s",
        "0.5 GFLOP/s",
        "-",
        "20 GB/s",
    ]


def test_without_a_unit_each_case_picks_its_own() -> None:
    assert rate(case("gemm", 12.0, 4.0, 3.0)) == "12 GFLOP/s"
    assert rate(case("gemm", 0.5, 2.0, 0.25)) == "2 GB/s"
    assert rate(case("gemm", None, None, None)) == "-"
