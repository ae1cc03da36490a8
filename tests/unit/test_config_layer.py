"""The one config layer: TOML reader, key check, parameter resolver, typed tables, gate tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from bench.core import config as configmod
from bench.core import params
from bench.core.errors import ConfigError
from bench.core.params import Param, check_keys, replace_typed
from bench.runner import ab_config

PROJECT = Path(__file__).resolve().parents[2]


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(ConfigError) as err:
        fn(*args, **kwargs)
    return str(err.value)


# --- read_toml ---


def test_read_toml_decodes_a_file(tmp_path: Path) -> None:
    path = tmp_path / "a.toml"
    path.write_text('[run]\nname = "x"\nseed = 3\n', encoding="utf-8")
    assert configmod.read_toml(path) == {"run": {"name": "x", "seed": 3}}


def test_read_toml_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    message = _error(configmod.read_toml, path)
    assert message == f"{path}: cannot read config (No such file or directory)"
    message = _error(configmod.read_toml, path, "the claims registry")
    assert message == f"{path}: cannot read the claims registry (No such file or directory)"


def test_read_toml_gives_the_line_and_column_of_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[run]\nname = "x"\nseed = = 3\n', encoding="utf-8")
    message = _error(configmod.read_toml, path)
    assert message.startswith(f"{path}: malformed TOML: ")
    assert "(at line 3, column 8)" in message


# --- check_keys ---


def test_check_keys_passes_known_keys() -> None:
    check_keys({"workload": 1, "params": 2}, {"workload", "params", "quick"}, "f.toml")


def test_check_keys_names_the_key_the_known_ones_and_the_closest() -> None:
    known = ("workload", "params", "quick", "backends")
    message = _error(check_keys, {"workload": 1, "parms": 2}, known, "configs/gpu.toml: [case]")
    assert message == (
        "configs/gpu.toml: [case]: unknown key 'parms' "
        "(known: workload, params, quick, backends); did you mean 'params'?"
    )


def test_check_keys_lists_a_set_sorted_and_gives_no_hint_when_nothing_is_close() -> None:
    message = _error(check_keys, ["zzz"], {"seed", "name"}, "f.toml: [run]")
    assert message == "f.toml: [run]: unknown key 'zzz' (known: name, seed)"


def test_check_keys_reports_the_first_unknown_in_sorted_order() -> None:
    message = _error(check_keys, ["yy", "bb", "seed"], {"seed"}, "f.toml")
    assert message.startswith("f.toml: unknown key 'bb' ")


def test_check_keys_what_sep_empty_where_and_callable_where() -> None:
    assert _error(check_keys, ["x"], (), "backend 'null'", "option", " has ") == (
        "backend 'null' has unknown option 'x' (known: none)"
    )
    assert _error(check_keys, ["gemmm"], ("gemm", "triad"), "", "workload") == (
        "unknown workload 'gemmm' (known: gemm, triad); did you mean 'gemm'?"
    )
    message = _error(check_keys, {"vaule": 1}, {"value"}, lambda key: f"c.toml:{len(key)}")
    assert message == "c.toml:5: unknown key 'vaule' (known: value); did you mean 'value'?"


# --- Param and resolve ---

SPEC = (
    Param("threads", 0, int, minimum=0),
    Param("mode", "fast", str, choices=("fast", "safe")),
    Param("flag", False, bool),
    Param("scale", 1.0, float, minimum=0.0),
)


def test_resolve_types_command_line_strings_and_toml_values() -> None:
    got = params.resolve(SPEC, {"threads": "4", "flag": "yes", "scale": 2}, "backend 'x'")
    assert dict(got) == {"threads": 4, "mode": "fast", "flag": True, "scale": 2.0}
    assert type(got["scale"]) is float
    with pytest.raises(TypeError):
        got["threads"] = 1  # type: ignore[index]


def test_resolve_without_values_gives_the_defaults() -> None:
    assert dict(params.resolve(SPEC, None, "o")) == {
        "threads": 0,
        "mode": "fast",
        "flag": False,
        "scale": 1.0,
    }


def test_resolve_names_the_offending_value_and_what_is_allowed() -> None:
    message = _error(params.resolve, SPEC, {"threads": "many"}, "backend 'x'")
    assert message == "backend 'x': parameter 'threads' must be int >= 0, got 'many'"
    message = _error(params.resolve, SPEC, {"mode": "slow"}, "backend 'x'")
    assert message == "backend 'x': parameter 'mode' = 'slow' (choose from: fast, safe)"
    message = _error(params.resolve, SPEC, {"scale": -1}, "backend 'x'")
    assert message == "backend 'x': parameter 'scale' = -1.0 is below its minimum 0.0"


def test_resolve_unknown_name_in_either_house_form() -> None:
    message = _error(params.resolve, SPEC, {"thread": 1}, "backend 'x'", "option", " has ")
    assert message == (
        "backend 'x' has unknown option 'thread' (known: threads, mode, flag, scale);"
        " did you mean 'threads'?"
    )
    message = _error(params.resolve, SPEC, {"mod": 1}, "cfg: case #1")
    assert message.startswith("cfg: case #1: unknown parameter 'mod' (known: threads, mode")


def test_allowed_says_type_range_and_choices() -> None:
    assert SPEC[0].allowed() == "int >= 0"
    assert SPEC[1].allowed() == "str, one of: fast, safe"
    assert SPEC[2].allowed() == "bool"


@dataclass(frozen=True)
class _Table:
    count: int = 1
    rate: float = 0.5


def test_replace_typed_casts_to_the_field_types() -> None:
    assert replace_typed(_Table(), {"count": 3.0, "rate": 2}, "f: [t]") == _Table(3, 2.0)
    assert replace_typed(_Table(7), {}, "f: [t]") == _Table(7)


def test_replace_typed_errors_name_where() -> None:
    message = _error(replace_typed, _Table(), {"cout": 3}, "f: [t]")
    assert message == "f: [t]: unknown key 'cout' (known: count, rate); did you mean 'count'?"
    message = _error(replace_typed, _Table(), {"rate": "fast"}, "f: [t]")
    assert message.startswith("f: [t]: ") and "'fast'" in message


# --- gate tables and paths relative to the config file ---


def test_load_gate_tables_reads_a_file_with_only_a_gate_table(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text("[gate]\ntolerance = 0.1\nmin_blocks = 4\n", encoding="utf-8")
    assert ab_config.load_gate_tables(path) == {
        "gate": {"tolerance": 0.1, "min_blocks": 4},
        "ab": {},
        "eval": {},
    }


def test_load_gate_tables_leaves_a_suite_files_other_tables_unread(tmp_path: Path) -> None:
    path = tmp_path / "suite.toml"
    path.write_text('[run]\nseed = 1\n[ab]\nmin_samples = 3\n[[case]]\nworkload = "x"\n')
    assert ab_config.load_gate_tables(path) == {"gate": {}, "ab": {"min_samples": 3}, "eval": {}}


def test_load_gate_tables_rejects_unknown_tables_and_non_tables(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text("[gaet]\ntolerance = 0.1\n", encoding="utf-8")
    message = _error(ab_config.load_gate_tables, path)
    assert message.startswith(f"{path}: unknown key 'gaet' (known: ab, backend_options, case")
    assert message.endswith("did you mean 'gate'?")
    path.write_text("gate = 3\n", encoding="utf-8")
    assert _error(ab_config.load_gate_tables, path) == f"{path}: [gate] must be a table"


def _onnx_suite(folder: Path) -> Path:
    folder.mkdir()
    (folder / "models").mkdir()
    (folder / "models" / "tiny.onnx").write_bytes(
        (PROJECT / "configs/models/tiny_lm.onnx").read_bytes()
    )
    path = folder / "suite.toml"
    path.write_text(
        '[gate]\nmin_blocks = 2\n[[case]]\nworkload = "onnx"\n'
        'params = { model = "models/tiny.onnx", batch = 1, seq = 8 }\n',
        encoding="utf-8",
    )
    return path


def test_gate_config_paths_are_relative_to_the_file_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _onnx_suite(tmp_path / "cfg")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    suite, tables = ab_config.load_gate_config(Path("../cfg/suite.toml"))
    assert tables["gate"] == {"min_blocks": 2}
    model = Path(suite.cases[0].params["model"])
    assert model == Path("../cfg/models/tiny.onnx") and model.is_file()
    # `run` reads the same file through the same layer (without the gate's tables)
    path.write_text(path.read_text(encoding="utf-8").replace("[gate]\nmin_blocks = 2\n", ""))
    assert configmod.load(Path("../cfg/suite.toml")).cases[0].params == suite.cases[0].params


def test_the_shipped_default_suite_finds_its_model_for_ab_from_another_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    suite, _ = ab_config.load_gate_config(PROJECT / "configs" / "default.toml")
    (onnx,) = [c for c in suite.cases if c.workload == "onnx"]
    assert Path(onnx.params["model"]) == PROJECT / "configs" / "models" / "tiny_lm.onnx"


def test_gate_policy_and_backend_names_use_the_one_check() -> None:
    from bench import backends
    from bench.gate.decide import make_policy

    message = _error(make_policy, {"method": "bootstrapp"}, "g.toml: [gate]")
    assert message.startswith("g.toml: [gate]: unknown method 'bootstrapp' (known: ")
    assert message.endswith("did you mean 'bootstrap'?")
    message = _error(make_policy, {"tolerence": 0.1}, "g.toml: [gate]")
    assert message.endswith("did you mean 'tolerance'?")
    message = _error(backends.load, "numpyy")
    assert message.startswith("unknown backend 'numpyy' (known: ")
    assert message.endswith("did you mean 'numpy'?")
