"""Param.coerce, WorkloadSpec.resolve and relative_error: typed, validated, honest."""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import pytest

from bench.core import workloads
from bench.core.errors import ConfigError
from bench.core.workloads import DTYPES, Param, relative_error

SIZE = Param("m", 512, int, "rows", minimum=1)
FLAG = Param("causal", False, bool)
DTYPE = Param("dtype", "float32", str, choices=DTYPES)
OWNER = "cfg.toml: workload 'gemm'"


@pytest.mark.parametrize(("given", "expected"), [("12", 12), (12, 12), (12.0, 12), (" 7 ", 7)])
def test_int_from_strings_and_integral_numbers(given: object, expected: int) -> None:
    out = SIZE.coerce(given, OWNER)
    assert out == expected
    assert type(out) is int


@pytest.mark.parametrize("given", [1.5, "1.5", True, False, "twelve", None, [1]])
def test_int_rejects_fractions_bools_and_junk(given: object) -> None:
    with pytest.raises(ConfigError) as err:
        SIZE.coerce(given, OWNER)
    assert str(err.value) == f"{OWNER}: parameter 'm' must be int >= 1, got {given!r}"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("true", True),
        ("True", True),
        ("1", True),
        ("yes", True),
        ("false", False),
        ("FALSE", False),
        ("0", False),
        ("no", False),
        (True, True),
        (False, False),
    ],
)
def test_bool_from_words(given: object, expected: bool) -> None:
    assert FLAG.coerce(given, OWNER) is expected


def test_bool_rejects_other_words() -> None:
    with pytest.raises(ConfigError, match=r"parameter 'causal' must be bool, got 'maybe'"):
        FLAG.coerce("maybe", OWNER)


def test_choices() -> None:
    assert DTYPE.coerce("float16", OWNER) == "float16"
    with pytest.raises(ConfigError) as err:
        DTYPE.coerce("int8", OWNER)
    assert str(err.value) == (
        f"{OWNER}: parameter 'dtype' = 'int8' (choose from: float16, float32, float64)"
    )


def test_minimum() -> None:
    assert SIZE.coerce("1", OWNER) == 1
    with pytest.raises(ConfigError) as err:
        SIZE.coerce(-3, OWNER)
    assert str(err.value) == f"{OWNER}: parameter 'm' = -3 is below its minimum 1"
    with pytest.raises(ConfigError, match="below its minimum 1"):
        SIZE.coerce("0", OWNER)


def test_float_param_accepts_ints_and_strings() -> None:
    eps = Param("eps", 1e-5, float, minimum=0.0)
    assert eps.coerce("1e-6", OWNER) == 1e-6
    assert eps.coerce(2, OWNER) == 2.0
    with pytest.raises(ConfigError, match="below its minimum 0.0"):
        eps.coerce(-1.0, OWNER)


# --- WorkloadSpec.resolve ---


def test_resolve_defaults_are_typed_and_frozen() -> None:
    spec = workloads.get("gemm")
    params = spec.resolve()
    assert dict(params) == {"m": 512, "n": 512, "k": 512, "dtype": "float32"}
    assert isinstance(params, MappingProxyType)
    with pytest.raises(TypeError):
        params["m"] = 3  # type: ignore[index]


def test_resolve_overrides_are_coerced() -> None:
    params = workloads.get("gemm").resolve({"m": "16", "dtype": "float64"})
    assert dict(params) == {"m": 16, "n": 512, "k": 512, "dtype": "float64"}


def test_resolve_preset_then_overrides() -> None:
    spec = workloads.get("decoder")
    tiny = spec.resolve({"preset": "tiny"})
    assert (tiny["d_model"], tiny["n_heads"], tiny["n_kv_heads"], tiny["d_ff"]) == (256, 4, 2, 704)
    small = spec.resolve({"preset": "small", "kv_len": "32"})
    assert (small["d_model"], small["n_heads"], small["d_ff"]) == (1024, 16, 2816)
    assert small["kv_len"] == 32  # the override beats the preset
    assert "preset" not in small


def test_resolve_unknown_preset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        workloads.get("decoder").resolve({"preset": "huge"})
    message = str(err.value)
    assert "unknown preset 'huge'" in message
    assert "tiny" in message and "small" in message


def test_resolve_unknown_param_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        workloads.get("gemm").resolve({"szie": 3}, owner=OWNER)
    assert str(err.value) == f"{OWNER} has unknown parameter 'szie' (known: m, n, k, dtype)"


def test_resolve_bad_value_names_the_owner() -> None:
    with pytest.raises(ConfigError) as err:
        workloads.get("gemm").resolve({"m": -3}, owner=OWNER)
    assert str(err.value) == f"{OWNER}: parameter 'm' = -3 is below its minimum 1"


def test_unknown_workload_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError) as err:
        workloads.get("gemmm")
    assert "unknown workload 'gemmm'" in str(err.value)
    for name in ("gemm", "triad", "onnx", "decoder"):
        assert name in str(err.value)


def test_accepts() -> None:
    assert workloads.get("gemm").accepts("m")
    assert not workloads.get("gemm").accepts("preset")  # gemm has no presets
    assert workloads.get("decoder").accepts("preset")
    assert not workloads.get("triad").accepts("m")


def test_tolerance_for_dtype() -> None:
    spec = workloads.get("gemm")
    assert spec.tolerance_for("float32") == 1e-4
    assert spec.tolerance_for("float64") == 1e-10
    assert spec.tolerance_for("float16") == 3e-2  # gemm's own, looser than the default


# --- relative_error ---


def test_relative_error_exact_is_zero() -> None:
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert relative_error(x, x.astype(np.float64)) == 0.0


def test_relative_error_is_norm_ratio() -> None:
    ref = np.array([3.0, 4.0])  # norm 5
    out = np.array([3.0, 4.5])  # difference norm 0.5
    assert relative_error(out, ref) == pytest.approx(0.1, rel=1e-12)


def test_relative_error_worst_over_outputs() -> None:
    ref = (np.array([3.0, 4.0]), np.ones(4))
    out = (np.array([3.0, 4.0]), np.array([1.0, 1.0, 1.0, 2.0]))  # 1 / 2
    assert relative_error(out, ref) == pytest.approx(0.5)
    assert relative_error({"a": out[0], "b": out[1]}, list(ref)) == pytest.approx(0.5)


def test_relative_error_zero_reference_uses_absolute_norm() -> None:
    assert relative_error(np.array([0.0, 0.25]), np.zeros(2)) == 0.25


def test_relative_error_nan_or_inf_is_infinite() -> None:
    ref = np.ones(3)
    assert relative_error(np.array([1.0, math.nan, 1.0]), ref) == math.inf
    assert relative_error(np.array([1.0, math.inf, 1.0]), ref) == math.inf


def test_relative_error_shape_or_count_mismatch_is_infinite() -> None:
    assert relative_error(np.ones((2, 3)), np.ones((3, 2))) == math.inf
    assert relative_error((np.ones(2), np.ones(2)), np.ones(2)) == math.inf
