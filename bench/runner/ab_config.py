"""The gate's config tables: [gate], [ab] and [eval], beside a suite or in a file of their own."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bench.core import config as configmod
from bench.core.errors import ConfigError
from bench.core.params import check_keys, replace_typed
from bench.runner.ab import BlockSettings

GATE_TABLES = ("gate", "ab", "eval")


def load_gate_config(path: Path) -> tuple[configmod.Suite, dict[str, dict[str, Any]]]:
    """A suite config plus its optional [gate], [ab] and [eval] tables."""
    return configmod.load_tables(path, GATE_TABLES)


def load_gate_tables(path: Path) -> dict[str, dict[str, Any]]:
    """Only the [gate], [ab] and [eval] tables ({} when absent): a file may hold nothing else,
    or be a whole suite config whose other tables are left unread."""
    data = configmod.read_toml(path)
    check_keys(data, {*GATE_TABLES, *configmod.TOP_KEYS}, str(path))
    return configmod.pop_tables(data, GATE_TABLES, str(path))


def block_settings(table: Mapping[str, Any], where: str) -> BlockSettings:
    """BlockSettings from an [ab] table (unknown keys name the known ones)."""
    settings = replace_typed(BlockSettings(), table, where)
    if settings.sample_time_s <= 0 or settings.min_samples < 1:
        raise ConfigError(f"{where}: sample_time_s must be > 0 and min_samples >= 1")
    return settings
