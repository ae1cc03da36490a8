"""sha256 digests that pin what a case ran on: a model file with its external data, input arrays."""

from __future__ import annotations

import functools
import hashlib
import os
from collections.abc import Iterable, Mapping

import numpy as np

_CHUNK = 1 << 20


def _update_from_file(h: hashlib._Hash, path: str) -> None:
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)


def onnx_files(path: str) -> list[str]:
    """The model file, then each external data file its initializers name, once, in order."""
    import onnx  # a hard dependency, imported late so core stays cheap to import

    model = onnx.load(path, load_external_data=False)
    folder = os.path.dirname(os.path.abspath(path))
    files = [path]
    for t in model.graph.initializer:
        if t.data_location == onnx.TensorProto.EXTERNAL:
            where = {e.key: e.value for e in t.external_data}.get("location", "")
            full = os.path.join(folder, where)
            if where and full not in files:
                files.append(full)
    return files


def model_sha256(path: str) -> str:
    """One digest over an ONNX model and its external data; it changes when any byte does."""
    # Keyed on every file's mtime and size, so rewriting a weight file alone is noticed too.
    stamps = tuple((f, os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in onnx_files(path))
    return _files_sha256(stamps)


@functools.lru_cache(maxsize=8)
def _files_sha256(stamps: tuple[tuple[str, int, int], ...]) -> str:
    h = hashlib.sha256()
    for file, _, _ in stamps:
        h.update(os.path.basename(file).encode() + b"\0")
        _update_from_file(h, file)
    return h.hexdigest()


def arrays_sha256(sets: Iterable[Mapping[str, np.ndarray]]) -> str:
    """One digest over input sets: each array's name, dtype, shape and bytes, names sorted."""
    h = hashlib.sha256()
    for arrays in sets:
        for name in sorted(arrays):
            a = np.ascontiguousarray(arrays[name])
            h.update(f"{name}:{a.dtype.str}:{a.shape}\0".encode())
            h.update(a.tobytes())
    return h.hexdigest()
