"""Suite configs: parse/load errors that name the file, the key and the fix; expand() order."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from bench.core import config, workloads
from bench.core.config import CaseSpec, expand, load, parse
from bench.core.errors import ConfigError
from bench.core.policy import QUICK, Policy

SRC = "suite.toml"
ROOT = Path(__file__).resolve().parents[2]
TINY_LM = ROOT / "configs" / "models" / "tiny_lm.onnx"


def gemm_case(**params: Any) -> dict[str, Any]:
    return {"workload": "gemm", "params": params or {"m": 8, "n": 8, "k": 8}}


def parse_error(data: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as err:
        parse(data, SRC)
    return str(err.value)


# --- load(): files ---


def test_load_reads_a_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "ok.toml"
    path.write_text(
        '[run]\nscenario = "throughput"\nseed = 7\ninput_sets = 2\n'
        "[policy]\nmin_time_s = 0.5\nmin_samples = 3\n"
        "[quick_policy]\nmin_time_s = 0.01\n"
        "[backend_options.numpy]\nthreads = 1\n"
        '[[case]]\nworkload = "gemm"\nparams = { m = 8, n = 8, k = 8 }\n'
    )
    suite = load(path)
    assert suite.name == "ok"  # the file's stem when [run] names none
    assert suite.source == str(path)
    assert (suite.scenario, suite.seed, suite.input_sets) == ("throughput", 7, 2)
    assert suite.policy == Policy(min_time_s=0.5, min_samples=3)
    assert suite.quick_policy.min_time_s == 0.01
    assert suite.quick_policy.min_samples == QUICK.min_samples  # unset keys keep QUICK's
    assert dict(suite.backend_options) == {"numpy": {"threads": 1}}
    assert suite.cases == (CaseSpec("gemm", {"m": 8, "n": 8, "k": 8}),)


def test_malformed_toml_names_the_file_and_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text('[run]\nname = "x"\nseed = = 3\n[[case]]\nworkload = "gemm"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    message = str(err.value)
    assert message.startswith(f"{path}: malformed TOML")
    assert "line 3" in message


def test_missing_file_says_it_cannot_be_read(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value) == f"{path}: cannot read config (No such file or directory)"


# --- parse(): every problem names the file and the key ---


def test_unknown_top_level_key() -> None:
    message = parse_error({"case": [gemm_case()], "polcy": {}})
    assert message == (
        f"{SRC}: unknown key 'polcy' (known: backend_options, case, policy, quick_policy, run);"
        " did you mean 'policy'?"
    )


def test_unknown_run_key() -> None:
    message = parse_error({"run": {"sed": 1}, "case": [gemm_case()]})
    assert message.startswith(f"{SRC}: [run]: unknown key 'sed' (known: ")
    assert "seed" in message and "scenario" in message


def test_unknown_case_key() -> None:
    message = parse_error({"case": [{"workload": "gemm", "param": {"m": 8}}]})
    assert message.startswith(f"{SRC}: case #1: unknown key 'param' (known: ")
    assert "params" in message and "quick" in message


def test_unknown_policy_key_and_bad_policy_value() -> None:
    message = parse_error({"policy": {"min_time": 1}, "case": [gemm_case()]})
    assert message.startswith(f"{SRC}: [policy]: unknown key 'min_time' (known: ")
    assert "min_time_s" in message
    message = parse_error({"quick_policy": {"min_time_s": "soon"}, "case": [gemm_case()]})
    assert message.startswith(f"{SRC}: [quick_policy]: ")
    assert "soon" in message


def test_case_without_workload() -> None:
    message = parse_error({"case": [{"params": {"m": 8}}]})
    assert message.startswith(f"{SRC}: case #1: every [[case]] needs a 'workload' (known: ")
    assert "gemm" in message


def test_unknown_workload_names_the_file_and_lists_known() -> None:
    message = parse_error({"case": [gemm_case(), {"workload": "gemmm"}]})
    assert message.startswith(f"{SRC}: case #2: unknown workload 'gemmm' (known: ")
    for name in workloads.KERNELS:
        assert name in message


def test_unknown_workload_from_a_file(tmp_path: Path) -> None:
    path = tmp_path / "w.toml"
    path.write_text('[[case]]\nworkload = "softmaxx"\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: case #1: unknown workload 'softmaxx' (known: ")


def test_unknown_parameter_names_the_file_and_lists_known() -> None:
    message = parse_error({"case": [gemm_case(szie=3)]})
    assert message == (
        f"{SRC}: workload 'gemm' has unknown parameter 'szie' (known: m, n, k, dtype)"
    )


def test_unknown_quick_parameter_names_the_file() -> None:
    message = parse_error({"case": [{**gemm_case(), "quick": {"mm": 4}}]})
    assert message == (
        f"{SRC}: workload 'gemm' has unknown parameter 'mm' (known: m, n, k, dtype);"
        " did you mean 'm'?"
    )


def test_negative_size() -> None:
    message = parse_error({"case": [gemm_case(m=-3)]})
    assert message == f"{SRC}: workload 'gemm': parameter 'm' = -3 is below its minimum 1"


def test_negative_size_inside_a_sweep() -> None:
    message = parse_error({"case": [gemm_case(m=[8, 0])]})
    assert message == f"{SRC}: workload 'gemm': parameter 'm' = 0 is below its minimum 1"


def test_bad_dtype() -> None:
    message = parse_error({"case": [gemm_case(dtype="int8")]})
    assert message == (
        f"{SRC}: workload 'gemm': parameter 'dtype' = 'int8' (choose from: float16, float32, float64)"
    )


def test_unknown_scenario_in_run_and_in_case() -> None:
    message = parse_error({"run": {"scenario": "offline"}, "case": [gemm_case()]})
    assert message == f"{SRC}: [run] unknown scenario 'offline' (known: latency, throughput)"
    message = parse_error({"case": [{**gemm_case(), "scenario": "server"}]})
    assert message == f"{SRC}: case #1: unknown scenario 'server' (known: latency, throughput)"


def test_no_cases() -> None:
    assert parse_error({"run": {"name": "x"}}) == f"{SRC}: no [[case]] tables: nothing to run"
    assert parse_error({"case": []}) == f"{SRC}: no [[case]] tables: nothing to run"


def test_missing_onnx_model_is_a_config_error() -> None:
    message = parse_error({"case": [{"workload": "onnx", "params": {"model": "no/such.onnx"}}]})
    assert message.startswith(f"{SRC}: workload 'onnx': model file not found: 'no/such.onnx'")


# --- expand() ---


def test_list_values_sweep_as_a_cartesian_product_in_order() -> None:
    suite = parse({"case": [gemm_case(m=[8, 16], n=[4, 2], k=3)]}, SRC)
    planned = expand(suite, ["numpy", "onnxruntime"])
    got = [(p.params["m"], p.params["n"], p.backend) for p in planned]
    assert got == [
        (8, 4, "numpy"),
        (8, 4, "onnxruntime"),
        (8, 2, "numpy"),
        (8, 2, "onnxruntime"),
        (16, 4, "numpy"),
        (16, 4, "onnxruntime"),
        (16, 2, "numpy"),
        (16, 2, "onnxruntime"),
    ]
    assert all(p.params["k"] == 3 and p.params["dtype"] == "float32" for p in planned)
    assert planned[0].case_id == "gemm[m=8,n=4,k=3,dtype=float32]@numpy/latency"


def test_cases_keep_config_order() -> None:
    suite = parse({"case": [{"workload": "triad", "params": {"n": 64}}, gemm_case()]}, SRC)
    assert [p.spec.name for p in expand(suite, ["numpy"])] == ["triad", "gemm"]


def test_quick_overrides_replace_params_only_when_quick() -> None:
    case = {**gemm_case(m=[64, 128], n=64, k=64), "quick": {"m": 8, "k": 4}}
    suite = parse({"case": [case]}, SRC)
    full = expand(suite, ["numpy"])
    assert [(p.params["m"], p.params["k"]) for p in full] == [(64, 64), (128, 64)]
    quick = expand(suite, ["numpy"], quick=True)
    assert [dict(p.params) for p in quick] == [{"m": 8, "n": 64, "k": 4, "dtype": "float32"}]


def test_backend_selection_case_then_suite_then_available() -> None:
    data = {
        "run": {"backends": ["onnxruntime"]},
        "case": [
            {**gemm_case(), "backends": ["numpy", "null"]},
            {"workload": "triad", "params": {"n": 64}},
        ],
    }
    planned = expand(parse(data, SRC), ["numpy", "onnxruntime"])
    assert [(p.spec.name, p.backend) for p in planned] == [
        ("gemm", "numpy"),
        ("gemm", "null"),
        ("triad", "onnxruntime"),
    ]
    no_suite_list = parse({"case": [{"workload": "triad", "params": {"n": 64}}]}, SRC)
    assert [p.backend for p in expand(no_suite_list, ["numpy", "onnxruntime"])] == [
        "numpy",
        "onnxruntime",
    ]


def test_backend_options_are_attached_per_backend() -> None:
    data = {"backend_options": {"numpy": {"threads": 1}}, "case": [gemm_case()]}
    planned = expand(parse(data, SRC), ["numpy", "onnxruntime"])
    assert [(p.backend, dict(p.options)) for p in planned] == [
        ("numpy", {"threads": 1}),
        ("onnxruntime", {}),
    ]


def test_param_overrides_apply_to_workloads_that_have_the_param() -> None:
    suite = parse({"case": [gemm_case(m=64, n=64, k=64), {"workload": "triad"}]}, SRC)
    planned = expand(suite, ["numpy"], param_overrides={"m": ["8", "16"], "n": ["32"]})
    got = [(p.spec.name, dict(p.params)) for p in planned]
    assert got == [
        ("gemm", {"m": 8, "n": 32, "k": 64, "dtype": "float32"}),
        ("gemm", {"m": 16, "n": 32, "k": 64, "dtype": "float32"}),
        ("triad", {**workloads.get("triad").resolve(), "n": 32}),
    ]


def test_param_override_beats_quick() -> None:
    suite = parse({"case": [{**gemm_case(m=64, n=64, k=64), "quick": {"m": 8}}]}, SRC)
    planned = expand(suite, ["numpy"], quick=True, param_overrides={"m": ["4"]})
    assert [p.params["m"] for p in planned] == [4]


def test_scenario_override_then_case_then_suite() -> None:
    data = {
        "run": {"scenario": "throughput"},
        "case": [{**gemm_case(), "scenario": "latency"}, {"workload": "triad"}],
    }
    suite = parse(data, SRC)
    assert [p.scenario for p in expand(suite, ["numpy"])] == ["latency", "throughput"]
    assert [p.scenario for p in expand(suite, ["numpy"], scenario="throughput")] == [
        "throughput",
        "throughput",
    ]


def test_bad_param_override_is_a_config_error() -> None:
    suite = parse({"case": [gemm_case()]}, SRC)
    with pytest.raises(ConfigError, match=r"parameter 'm' = -3 is below its minimum 1"):
        expand(suite, ["numpy"], param_overrides={"m": ["-3"]})


# --- paths relative to the config file ---


def test_model_path_is_relative_to_the_config_folder(tmp_path: Path) -> None:
    (tmp_path / "sub" / "models").mkdir(parents=True)
    shutil.copy(TINY_LM, tmp_path / "sub" / "models" / "lm.onnx")
    path = tmp_path / "sub" / "suite.toml"
    path.write_text(
        '[[case]]\nworkload = "onnx"\nparams = { model = "models/lm.onnx", batch = 1, seq = 4 }\n'
        'quick = { model = "models/lm.onnx", seq = 2 }\n'
    )
    suite = load(path)
    expected = str(tmp_path / "sub" / "models" / "lm.onnx")
    assert suite.cases[0].params["model"] == expected
    assert suite.cases[0].quick["model"] == expected
    planned = expand(suite, ["onnxruntime"], quick=True)
    assert [(p.params["model"], p.params["seq"]) for p in planned] == [(expected, 2)]


def test_absolute_model_path_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_text(f'[[case]]\nworkload = "onnx"\nparams = {{ model = "{TINY_LM}" }}\n')
    assert load(path).cases[0].params["model"] == str(TINY_LM)


def test_relative_model_path_is_not_found_from_elsewhere(tmp_path: Path) -> None:
    # Relative to the file's folder, not the working directory: configs/models/... from here
    # would exist under the repository root but not under tmp_path.
    path = tmp_path / "suite.toml"
    path.write_text('[[case]]\nworkload = "onnx"\nparams = { model = "models/tiny_lm.onnx" }\n')
    with pytest.raises(ConfigError) as err:
        load(path)
    assert str(tmp_path / "models" / "tiny_lm.onnx") in str(err.value)


def test_default_config_parses_and_covers_every_shipped_workload() -> None:
    suite = load(ROOT / "configs" / "default.toml")
    assert suite.name == "default"
    backends = ["numpy", "onnxruntime"]
    full, quick = expand(suite, backends), expand(suite, backends, quick=True)
    shipped = {
        "gemm",
        "triad",
        "softmax",
        "layernorm",
        "attention",
        "mlp",
        "conv2d",
        "decoder",
        "onnx",
    }
    assert shipped <= {p.spec.name for p in full}
    assert shipped <= {p.spec.name for p in quick}
    assert len(quick) < len(full)  # quick collapses the sweeps
    assert {p.backend for p in full} == set(backends)
    onnx_model = next(p.params["model"] for p in full if p.spec.name == "onnx")
    assert Path(onnx_model) == ROOT / "configs" / "models" / "tiny_lm.onnx"
    quick_gemm = [dict(p.params) for p in quick if p.spec.name == "gemm"][0]
    assert (quick_gemm["m"], quick_gemm["n"], quick_gemm["k"]) == (256, 256, 256)
    assert suite.quick_policy.min_time_s < suite.policy.min_time_s


def test_suite_is_frozen() -> None:
    suite = parse({"case": [gemm_case()]}, SRC)
    with pytest.raises(AttributeError):
        suite.seed = 3  # type: ignore[misc]
    assert config.SCENARIOS == ("latency", "throughput")


def test_backends_must_be_a_list_of_names() -> None:
    assert "[run] backends must be a list of names" in parse_error(
        {"run": {"backends": "numpy"}, "case": [gemm_case()]}
    )
    case = {**gemm_case(), "backends": "numpy"}
    assert "case #1: backends must be a list of names" in parse_error({"case": [case]})


def test_only_backends_beat_case_and_run_lists() -> None:
    suite = parse(
        {"run": {"backends": ["numpy"]}, "case": [{**gemm_case(), "backends": ["null"]}]}, "s.toml"
    )
    assert [p.backend for p in expand(suite, ["numpy", "onnxruntime"])] == ["null"]
    chosen = expand(suite, ["numpy"], only=["onnxruntime"])
    assert [p.backend for p in chosen] == ["onnxruntime"]
