"""The one JSON-ready conversion: records, reports and exports become plain JSON values."""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Mapping
from pathlib import PurePath
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """A plain copy json.dumps takes: dataclasses and mappings (MappingProxyType too) to dicts
    with string keys, tuples and lists to lists, enums to their values, paths to strings,
    numpy scalars and arrays to Python numbers and lists, NaN and infinities to "nan",
    "inf" and "-inf" (JSON has no literal for them); anything else is returned as is."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, enum.Enum):
        return jsonable(value.value)
    if isinstance(value, PurePath):
        return str(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
