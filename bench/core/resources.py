"""The configs shipped with the package (suites, claims registry, gate-eval, model), by name."""

from __future__ import annotations

from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath

from bench.core.errors import ConfigError

# pyproject.toml maps this package onto the repository's top-level configs/ folder.
PACKAGE = "bench.configs"
# Shipped TOML files that `accelbench run` does not take as a suite.
NOT_SUITES = frozenset({"claims.toml", "gate-eval.toml"})


def shipped_dir() -> Path:
    """The folder that holds the shipped configs, as a real directory on disk."""
    bench_dir = Path(__file__).resolve().parents[1]
    # A wheel puts the package inside bench/; a source checkout keeps configs/ beside bench/.
    own = (bench_dir / "configs", bench_dir.parent / "configs")
    root = _package_root()
    if not isinstance(root, Path) or root.resolve() not in own:
        # bench.configs is missing (a checkout on PYTHONPATH that was never installed) or
        # is another checkout's, installed in editable mode: this tree's configs/ it is.
        root = own[1]
    if not root.is_dir():
        raise ConfigError(
            f"the shipped configs ({PACKAGE}) are not a folder on disk ({root}): "
            "reinstall accelbench from a wheel or a source checkout"
        )
    return root


def _package_root() -> Traversable | None:
    try:
        return resources.files(PACKAGE)
    except ModuleNotFoundError:
        return None


def names() -> list[str]:
    """Every shipped TOML file by name, sorted: the suites and the other configs."""
    return sorted(p.name for p in shipped_dir().glob("*.toml"))


def suites() -> list[str]:
    """The shipped files `accelbench run` takes as a suite (default.toml, groq.toml, ...)."""
    return [name for name in names() if name not in NOT_SUITES]


def shipped(name: str) -> Path:
    """The path of a shipped file, e.g. 'default.toml' or 'models/tiny_lm.onnx'."""
    parts = PurePosixPath(name).parts
    if not parts or PurePosixPath(name).is_absolute() or ".." in parts:
        raise ConfigError(f"'{name}' is not the name of a shipped config (shipped: {_known()})")
    path = shipped_dir().joinpath(*parts)
    if not path.is_file():
        raise ConfigError(f"no shipped config named '{name}' (shipped: {_known()})")
    return path


def _known() -> str:
    return ", ".join(names())
