"""Lazy imports of optional dependencies, with an error that names the extra to install."""

import importlib
from types import ModuleType

from bench.core.errors import MissingExtra


def require(module: str, extra: str) -> ModuleType:
    """Import `module` or raise MissingExtra naming `pip install 'accelbench[extra]'`."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtra(
            f"{module} is not installed ({exc}). Install it with: pip install 'accelbench[{extra}]'"
        ) from exc
