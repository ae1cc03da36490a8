"""The correctness check: NaN/inf compared by position, tolerance floors, the realistic-input hint."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from bench.backends.base import Prepared
from bench.backends.onnxruntime_backend import model_details, provider_tolerance
from bench.core import digest
from bench.core.config import Planned
from bench.core.errors import CorrectnessError
from bench.core.workloads import relative_error
from bench.runner import local
from kernels.onnx_model import SPEC as ONNX
from tests.fixtures_onnx import build_tiny_lm

NAN, INF = float("nan"), float("inf")


def test_nan_and_inf_at_the_reference_positions_pass_and_the_rest_is_compared() -> None:
    ref = np.array([1.0, NAN, -INF, INF, 2.0])
    out = np.array([1.0, NAN, -INF, INF, 2.2])
    assert relative_error(out, ref) == pytest.approx(0.2 / np.sqrt(5.0))


@pytest.mark.parametrize(
    "out",
    [
        [1.0, 0.0, -INF, INF, 2.0],  # NaN missing where the reference has one
        [NAN, NAN, -INF, INF, 2.0],  # an extra NaN
        [1.0, NAN, INF, INF, 2.0],  # -inf became +inf
        [1.0, NAN, -INF, 5.0, 2.0],  # inf became finite
    ],
)
def test_nan_or_inf_elsewhere_fails(out: list[float]) -> None:
    assert relative_error(np.array(out), np.array([1.0, NAN, -INF, INF, 2.0])) == INF


def test_all_finite_is_unchanged() -> None:
    assert relative_error(np.array([3.0, 4.0]), np.array([3.0, 4.0])) == 0.0
    assert relative_error(np.array([3.0, 4.5]), np.array([3.0, 4.0])) == pytest.approx(0.1)


class FakeBackend:
    def sync(self) -> None:
        pass


def planned(tmp_path: Path, **params: object) -> Planned:
    model = build_tiny_lm(tmp_path / "lm.onnx")
    p = ONNX.resolve({"model": str(model), "batch": 1, "seq": 4, **params})
    return Planned(ONNX, p, "fake", {}, "latency")


def check_with(p: Planned, factor: float, tolerance: float | None = None) -> tuple[float, float]:
    x = ONNX.make_inputs(p.params, np.random.default_rng(0))
    ref = ONNX.reference(x, p.params)
    prepared = Prepared(run=lambda: tuple(r * factor for r in ref), to_host=lambda o: o,
                        tolerance=tolerance)  # fmt: skip
    return local.check(prepared, FakeBackend(), local.Matched((x,), ref), p)


def test_random_input_failure_recommends_an_inputs_file(tmp_path: Path) -> None:
    with pytest.raises(CorrectnessError, match=r"tolerance 0\.002; random inputs .*-p inputs=file"):
        check_with(planned(tmp_path), 1.01)


def test_no_inputs_hint_when_inputs_are_given(tmp_path: Path) -> None:
    p = planned(tmp_path)
    np.savez(tmp_path / "x.npz", input_ids=np.arange(4, dtype=np.int64).reshape(1, 4))
    p = Planned(ONNX, ONNX.resolve({**p.params, "inputs": str(tmp_path / "x.npz")}), "f", {}, "l")
    with pytest.raises(CorrectnessError) as info:
        check_with(p, 1.01)
    assert "inputs=" not in str(info.value)


def test_a_backend_tolerance_floor_loosens_the_bound_and_is_what_the_case_records(
    tmp_path: Path,
) -> None:
    error, tolerance = check_with(planned(tmp_path), 1.005, tolerance=1e-2)
    assert error == pytest.approx(0.005, rel=1e-3)
    assert tolerance == 1e-2
    # A floor below the workload's own bound changes nothing.
    assert check_with(planned(tmp_path), 1.0, tolerance=1e-9)[1] == 2e-3


def test_provider_floors() -> None:
    assert provider_tolerance(["CUDAExecutionProvider", "CPUExecutionProvider"]) == 1e-2
    assert provider_tolerance(["TensorrtExecutionProvider", "CUDAExecutionProvider"]) == 2e-2
    assert provider_tolerance(["CPUExecutionProvider"]) is None


def test_model_digest_covers_the_file_and_its_external_data(tmp_path: Path) -> None:
    import onnx

    from tests.fixtures_onnx import tiny_lm

    plain = build_tiny_lm(tmp_path / "lm.onnx")
    assert digest.model_sha256(str(plain)) == _sha_named(plain)
    ext = tmp_path / "ext" / "lm.onnx"
    ext.parent.mkdir()
    onnx.save_model(tiny_lm(), str(ext), save_as_external_data=True, location="w.bin",
                    size_threshold=0)  # fmt: skip
    assert digest.onnx_files(str(ext)) == [str(ext), str(ext.parent / "w.bin")]
    before = digest.model_sha256(str(ext))
    data = bytearray((ext.parent / "w.bin").read_bytes())
    data[-1] ^= 1
    (ext.parent / "w.bin").write_bytes(bytes(data))
    assert digest.model_sha256(str(ext)) != before


def _sha_named(path: Path) -> str:
    return hashlib.sha256(path.name.encode() + b"\0" + path.read_bytes()).hexdigest()


def test_inputs_digest_changes_with_any_array_byte_and_model_details_pin_both(
    tmp_path: Path,
) -> None:
    from bench.backends.base import Case

    a = {"x": np.arange(6, dtype=np.float32)}
    b = {"x": np.arange(6, dtype=np.float32) + np.float32(1e-6)}
    assert digest.arrays_sha256([a]) != digest.arrays_sha256([b])
    assert digest.arrays_sha256([a]) == digest.arrays_sha256([{"x": a["x"].copy()}])
    path = str(build_tiny_lm(tmp_path / "lm.onnx"))
    case = Case(ONNX, {}, "onnxruntime", {}, "latency", (a,))
    assert model_details(path, case) == {
        "model_sha256": digest.model_sha256(path),
        "inputs_sha256": digest.arrays_sha256([a]),
    }
    assert model_details(object(), case) == {}
