"""results/ on disk: one JSON file per run, rewritten atomically after every finished case."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from bench.core.errors import BenchError, ConfigError
from bench.core.records import RunRecord, from_dict, to_dict

DEFAULT_DIR = Path("results")


def prepare_dir(path: Path) -> Path:
    """Create `path` if needed and prove it is writable, before anything runs."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix=".probe-"):
            pass
    except OSError as exc:
        raise ConfigError(
            f"--out {path}: cannot write there ({exc.strerror}); pick another folder"
        ) from None
    return path


def run_path(out_dir: Path, record: RunRecord) -> Path:
    return out_dir / f"{record.run_id}.json"


def save(record: RunRecord, path: Path) -> Path:
    """Write to a temporary file in the same folder, fsync, then rename: never half a file."""
    text = json.dumps(to_dict(record), indent=1, sort_keys=False)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a results file is meant to be shared
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: Path) -> RunRecord:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BenchError(f"{path}: no such results file") from None
    except json.JSONDecodeError as exc:
        raise BenchError(f"{path}: not a JSON results file ({exc})") from None
    if not isinstance(data, dict):
        raise BenchError(f"{path}: not an accelbench results file")
    return from_dict(data, source=str(path))


def latest(out_dir: Path, calibration: bool = False) -> Path | None:
    """The newest results file of one kind in `out_dir` (calibration-*.json or a run)."""
    if not out_dir.is_dir():
        return None
    found = [
        p
        for p in out_dir.glob("*.json")
        if p.name.startswith("calibration-") == calibration and not p.name.startswith(".")
    ]
    return max(found, key=lambda p: (p.stat().st_mtime, p.name), default=None)
