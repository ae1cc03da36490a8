"""What a report reads from a run's stored config and fingerprint, in one place."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bench.core.records import RunRecord

# Every read of RunRecord.config by the report and history code goes through these helpers.


def kind(record: RunRecord) -> str:
    """'run', 'chat' or 'calibration'."""
    return str(record.config.kind)


def command(record: RunRecord) -> str:
    """The command line that reproduces the run, as typed ('' when not recorded)."""
    return record.config.command


def commit(record: RunRecord) -> str:
    """The git commit the run measured ('' when it ran outside a checkout)."""
    return str(record.fingerprint.get("git_commit") or "")


def short_commit(record: RunRecord) -> str:
    full = commit(record)
    dirty = "+dirty" if full.endswith("+dirty") else ""
    return full.removesuffix("+dirty")[:8] + dirty if full else "unknown"


@dataclass(frozen=True)
class RunEntry:
    """One line of the run index."""

    run_id: str
    created_at: str
    kind: str
    command: str
    ok: int
    failed: int
    other: int
    commit: str
    state: str
    path: Path


def entry(record: RunRecord, path: Path) -> RunEntry:
    statuses = [c.status for c in record.cases]
    ok, failed = statuses.count("ok"), statuses.count("failed")
    return RunEntry(
        record.run_id, record.created_at, kind(record), command(record),
        ok, failed, len(statuses) - ok - failed, short_commit(record), record.state, path,
    )  # fmt: skip


@dataclass(frozen=True)
class HistoryPoint:
    """One run's median of a case, and what the gate said against the run before it."""

    run_id: str
    commit: str
    median_s: float
    ci_low_s: float | None
    ci_high_s: float | None
    change: str = ""  # "", "REGRESSION" or "IMPROVED"
