"""Shipped configs by name (bench.core.resources), and the CLI's rule: an explicit path wins."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from bench.app.claims import claims_registry
from bench.app.runs import default_suite as default_config
from bench.cli import main
from bench.core import config as configmod
from bench.core import resources
from bench.core.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def test_names_are_the_shipped_toml_files_and_suites_leave_out_the_others() -> None:
    assert resources.names() == sorted(p.name for p in (ROOT / "configs").glob("*.toml"))
    assert {"default.toml", "groq.toml", "synthetic.toml"} <= set(resources.suites())
    assert not {"claims.toml", "gate-eval.toml"} & set(resources.suites())


def test_shipped_files_are_the_ones_under_configs() -> None:
    # Through PYTHONPATH or an editable install, bench.configs is this checkout's configs/.
    assert resources.shipped_dir().resolve() == (ROOT / "configs").resolve()
    model = resources.shipped("models/tiny_lm.onnx")
    assert model.read_bytes() == (ROOT / "configs" / "models" / "tiny_lm.onnx").read_bytes()


def test_an_unknown_name_lists_the_shipped_ones() -> None:
    with pytest.raises(ConfigError) as err:
        resources.shipped("defualt.toml")
    msg = str(err.value)
    assert msg.startswith("no shipped config named 'defualt.toml' (shipped: cerebras.toml, ")
    assert "default.toml" in msg and "gate-eval.toml" in msg


@pytest.mark.parametrize("name", ["../pyproject.toml", "/etc/passwd", ""])
def test_a_name_outside_the_shipped_folder_is_refused(name: str) -> None:
    with pytest.raises(ConfigError, match="is not the name of a shipped config"):
        resources.shipped(name)


def test_the_shipped_default_suite_resolves_its_model_beside_itself() -> None:
    suite = configmod.load(default_config())
    planned = configmod.expand(suite, ["onnxruntime"], quick=True)
    model = next(p.params["model"] for p in planned if p.spec.name == "onnx")
    assert Path(model) == resources.shipped_dir() / "models" / "tiny_lm.onnx"


def test_no_argument_means_the_shipped_file_even_beside_a_local_configs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A configs/ folder in the working directory is not picked up: only an explicit path is.
    (tmp_path / "configs").mkdir()
    (tmp_path / "configs" / "claims.toml").write_text("not toml [", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    assert default_config() == resources.shipped("default.toml")
    assert claims_registry(None).claims  # the shipped registry, not the broken local file


def test_an_explicit_registry_wins_and_a_missing_one_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    result = CliRunner().invoke(main, ["claims", "--check", "--registry", str(missing)])
    assert result.exit_code == 2
    assert f"{missing}: no claims registry there; pass --registry FILE" in result.output
