"""The run index as a terminal table, newest first."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table

from bench.core.run_info import RunEntry
from bench.report.fit import Column, render


def when(iso: str) -> str:
    """'2026-12-02 00:28' from the stored ISO stamp (the run id keeps the seconds)."""
    return iso.replace("T", " ")[:16]


def runs_table(entries: Sequence[RunEntry], width: int | None = None) -> Table:
    """id, when, kind, cases ok/failed/other, commit, command; the command folds, then the
    command and the kind (a calibration's id says what it is) drop first."""
    cases = [f"{e.ok}/{e.failed}/{e.other}" for e in entries]
    states = ["" if e.state == "complete" else e.state for e in entries]
    columns = [
        Column("run", [e.run_id for e in entries], 0),
        Column("when", [when(e.created_at) for e in entries], 1),
        Column("kind", [e.kind for e in entries], 4),
        Column("ok/fail/other", cases, 2, "right"),
        Column("commit", [e.commit for e in entries], 3),
        Column("state", states, 6),
        Column("command", [e.command for e in entries], 5, wrap=True, min_width=20),
    ]
    return render(f"{len(entries)} run(s), newest first", columns, width)
