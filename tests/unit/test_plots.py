"""Plot data: what each figure draws is the data it was given; PNGs decode."""

from __future__ import annotations

import dataclasses
import io

import pytest
from matplotlib import image

from bench.core.records import CaseResult, RunConfig, RunRecord, StreamSummary
from bench.core.stats import summarize
from bench.report import plots


def local(
    case_id: str, samples_ns: tuple[int, ...], loops: int = 2, **params: object
) -> CaseResult:
    per_call = [ns / loops / 1e9 for ns in samples_ns]
    return CaseResult(
        case_id, "gemm", params, "numpy", {}, "latency", "ok", loops=loops,
        sample_ns=samples_ns, stats=summarize(per_call), throughput_per_s=1 / summarize(per_call).median_s,
    )  # fmt: skip


def remote(concurrency: int, tokens_per_s: float, ttft_s: float) -> CaseResult:
    stream = StreamSummary(
        mode="concurrency", concurrency=concurrency, rate_target_per_s=0.0, arrival="",
        requests_ok=4, requests_failed=0, requests_warmup=0, stopped_by="requests",
        output_tokens_per_s=tokens_per_s, ttft=summarize([ttft_s, ttft_s]),
    )  # fmt: skip
    cid = f"chat@synthetic/concurrency={concurrency}"
    return CaseResult(
        cid, "chat", {"max_tokens": 8}, "synthetic", {}, "concurrency", "ok", stream=stream
    )


def record(*cases: CaseResult) -> RunRecord:
    return RunRecord("run-1", "2026-01-01T00:00:00", RunConfig("run"), {}, cases=cases)


def test_cdf_draws_each_cases_sorted_samples() -> None:
    run = record(local("a", (4000, 2000, 6000)), local("b", (10, 30, 20, 40), loops=1))
    fig = plots.latency_cdf(run)
    assert fig is not None
    [ax] = fig.axes
    first, second = ax.lines
    assert list(first.get_xdata()) == pytest.approx([1e-6, 2e-6, 3e-6])
    assert list(first.get_ydata()) == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert list(second.get_xdata()) == pytest.approx([1e-8, 2e-8, 3e-8, 4e-8])
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["#1 gemm@numpy", "#2 gemm@numpy"]
    assert ax.get_xscale() == "log"
    assert image.imread(io.BytesIO(plots.png(fig))).ndim == 3


def test_series_is_each_sample_over_the_case_median_in_order() -> None:
    fig = plots.sample_series(record(local("a", (4000, 2000, 6000, 2000, 8000))))
    assert fig is not None
    line = fig.axes[0].lines[0]
    assert list(line.get_xdata()) == [0, 1, 2, 3, 4]
    assert list(line.get_ydata()) == pytest.approx([1.0, 0.5, 1.5, 0.5, 2.0])
    assert fig.axes[0].get_yscale() == "log"


def test_no_samples_no_plot() -> None:
    failed = CaseResult("x", "gemm", {}, "numpy", {}, "latency", "failed", reason="wrong")
    assert plots.latency_cdf(record(failed)) is None and plots.sample_series(record(failed)) is None


def test_knee_is_where_more_load_stops_paying() -> None:
    assert plots.knee([1, 2, 4, 8, 16], [100, 200, 390, 420, 430]) == 2
    assert plots.knee([1, 2, 3], [1, 2, 3]) is None  # a straight line has no knee
    assert plots.knee([1, 2], [1, 5]) is None


def test_sweep_curve_of_a_concurrency_sweep_marks_the_knee() -> None:
    run = record(
        remote(4, 390.0, 0.03),
        remote(1, 100.0, 0.01),
        remote(2, 200.0, 0.02),
        remote(8, 420.0, 0.2),
        remote(16, 430.0, 0.5),
    )
    [curve] = plots.sweep_curves(run)
    assert curve.xs == (1.0, 2.0, 4.0, 8.0, 16.0) and curve.x_label == "concurrency"
    assert curve.throughput == (100.0, 200.0, 390.0, 420.0, 430.0)
    fig = plots.throughput_curve(curve)
    top, bottom = fig.axes
    data, knee = top.lines
    assert list(data.get_ydata()) == [100.0, 200.0, 390.0, 420.0, 430.0]
    assert (list(knee.get_xdata()), list(knee.get_ydata())) == ([4.0], [390.0])
    assert list(bottom.lines[0].get_ydata()) == pytest.approx([0.01, 0.02, 0.03, 0.2, 0.5])


def test_local_cases_that_differ_only_in_batch_make_a_curve() -> None:
    cases = [local(f"b{b}", (b * 1000, b * 1000), batch=b, m=8) for b in (1, 4, 16)]
    other = local("other", (5000, 5000), batch=1, m=16)  # another size: not on the same curve
    [curve] = plots.sweep_curves(record(*cases, other))
    assert curve.xs == (1.0, 4.0, 16.0) and curve.x_label == "batch"


def test_history_marks_the_runs_with_a_change() -> None:
    points = [
        plots.HistoryPoint("r1", "aaaa", 1e-3, 0.9e-3, 1.1e-3),
        plots.HistoryPoint("r2", "bbbb", 1e-3, 0.9e-3, 1.1e-3),
        plots.HistoryPoint("r3", "cccc", 2e-3, 1.9e-3, 2.1e-3, "REGRESSION"),
    ]
    fig = plots.history("gemm", points)
    [ax] = fig.axes
    [marker] = [line for line in ax.lines if line.get_label() == "regression"]
    assert (list(marker.get_xdata()), list(marker.get_ydata())) == ([2], [2e-3])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["aaaa", "bbbb", "cccc"]
    assert image.imread(io.BytesIO(plots.png(fig))).shape[2] in (3, 4)


def test_roofline_draws_the_roofs_and_each_case_at_its_intensity() -> None:
    roof = plots.Roof("float32", peak_flops_per_s=100e9, bytes_per_s=10e9)
    assert (roof.at(1.0), roof.at(10.0), roof.at(100.0)) == (10e9, 100e9, 100e9)
    compute = dataclasses.replace(
        local("a", (2000, 2000)), intensity_flop_per_byte=20.0, gflops_per_s=80.0
    )
    memory = dataclasses.replace(
        local("b", (2000, 2000)), intensity_flop_per_byte=0.5, gflops_per_s=4.0
    )
    fig = plots.roofline(record(compute, memory), [roof])
    assert fig is not None
    [ax] = fig.axes
    roof_line, first, second = ax.lines
    xs, ys = roof_line.get_xdata(), roof_line.get_ydata()
    assert min(xs) == pytest.approx(0.5 / 4) and max(xs) == pytest.approx(20.0 * 4)
    assert list(ys) == pytest.approx([min(100.0, 10.0 * x) for x in xs])
    assert (list(first.get_xdata()), list(first.get_ydata())) == ([20.0], [80.0])
    assert (list(second.get_xdata()), list(second.get_ydata())) == ([0.5], [4.0])
    assert plots.roofline(record(compute), []) is None  # no calibration: no roofline


def test_roofs_come_from_the_calibration_per_dtype_with_a_matrix_peak() -> None:
    from bench.claims.ceilings import Ceiling

    ceilings = [
        Ceiling("numpy", "cpu", "matrix", "float32", 100e9, "gemm", "cal"),
        Ceiling("onnxruntime", "cpu", "matrix", "float32", 150e9, "gemm", "cal"),
        Ceiling("numpy", "cpu", "memory", "float32", 10e9, "triad", "cal"),
    ]
    with_dtype = dataclasses.replace(
        local("a", (2, 2), dtype="float32"), intensity_flop_per_byte=8.0
    )
    without = dataclasses.replace(local("b", (2, 2)), intensity_flop_per_byte=8.0)  # no dtype param
    # the device's best matrix peak (onnxruntime's) and its memory bandwidth; no roof for ""
    assert plots.roofs_of(record(with_dtype, without), ceilings) == [
        plots.Roof("float32", 150e9, 10e9)
    ]
