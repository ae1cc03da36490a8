"""The runs under results/: load one file or a folder, index them newest first, select cases."""

from __future__ import annotations

import fnmatch
from pathlib import Path

from bench.core import store
from bench.core.errors import ConfigError
from bench.core.records import RunRecord
from bench.core.run_info import RunEntry, entry


def results_files(folder: Path) -> list[Path]:
    """Every results file in `folder` (temporary and hidden files skipped)."""
    return sorted(p for p in folder.glob("*.json") if not p.name.startswith("."))


def load_runs(path: Path) -> list[RunRecord]:
    """One results file, or every run in a folder, oldest first."""
    path = Path(path)
    if not path.is_dir():
        return [store.load(path)]
    runs = [store.load(p) for p in results_files(path)]
    return sorted(runs, key=lambda r: (r.created_at, r.run_id))


def run_index(folder: Path) -> list[RunEntry]:
    """The runs in `folder`, newest first; a folder with none is a usage error."""
    files = results_files(folder) if folder.is_dir() else []
    if not files:
        raise ConfigError(f"{folder}/: no results files yet; run `accelbench run`")
    entries = [entry(store.load(p), p) for p in files]
    return sorted(entries, key=lambda e: (e.created_at, e.run_id), reverse=True)


def matches(case_id: str, pattern: str) -> bool:
    """A substring (any case), or a glob when the pattern has * or ?; brackets are always
    literal, since every case id holds its params in them."""
    if any(ch in pattern for ch in "*?"):
        return fnmatch.fnmatchcase(case_id, pattern.replace("[", "[[]"))
    return pattern.lower() in case_id.lower()
