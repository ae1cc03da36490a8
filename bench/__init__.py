"""accelbench: matched inference workloads measured with numbers you can defend."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd  # type: ignore[import-untyped]

__version__ = "0.1.0"


def load_frame(path: str | Path) -> pd.DataFrame:
    """A results file (or a folder of them) as a pandas DataFrame, one row per case.

    Statistics in seconds (`median_s`, `p99_s`, ...), rates (`gflops_per_s`, ...), remote
    latency columns for chat cases, and each parameter as `param.NAME`; whole numbers stay
    integers. pandas is imported only when this is called, so `import bench` stays light.
    """
    from bench.app.history import load_runs
    from bench.report.frame import runs_frame

    return runs_frame(load_runs(Path(path)))
