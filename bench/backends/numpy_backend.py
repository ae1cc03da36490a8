"""The NumPy backend: a workload's xp implementation run with xp = numpy on the CPU."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import threadpoolctl

from bench.backends.base import Availability, BackendInfo, Case, Prepared, resolve_options, rotating
from bench.core.errors import UnsupportedCase
from bench.core.fingerprint import blas_info
from bench.core.workloads import Param


class NumpyBackend:
    name: ClassVar[str] = "numpy"
    local: ClassVar[bool] = True
    options_spec: ClassVar[tuple[Param, ...]] = (
        Param("threads", 0, int, "", "BLAS threads (0 = library default)", minimum=0),
    )

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = resolve_options(self.name, self.options_spec, options)
        self._limiter: threadpoolctl.threadpool_limits | None = None

    def probe(self) -> Availability:
        return Availability(True)

    def describe(self) -> BackendInfo:
        return BackendInfo(self.name, np.__version__, "cpu", {"blas": blas_info()})

    def prepare(self, case: Case) -> Prepared:
        spec = case.workload
        if spec.compute is None:
            raise UnsupportedCase(f"workload '{spec.name}' has no array implementation for numpy")
        if self.options["threads"] and self._limiter is None:
            self._limiter = threadpoolctl.threadpool_limits(self.options["threads"], "blas")
        params, compute = case.params, spec.compute
        run = rotating(case.input_sets, lambda x: compute(np, x, params))
        threads = {"blas": [b["num_threads"] for b in blas_info()]}
        return Prepared(run=run, to_host=lambda out: out, threads=threads)

    def sync(self) -> None:
        return None

    def close(self) -> None:
        if self._limiter is not None:
            self._limiter.restore_original_limits()
            self._limiter = None
