"""Type aliases for the public API's annotations (see py.typed)."""
from __future__ import annotations

import os
from typing import Callable, Union

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

PathLike = Union[str, "os.PathLike[str]"]
SeedLike = Union[None, int, np.random.Generator]
FloatArray = NDArray[np.floating]
IntArray = NDArray[np.int64]
Callback = Callable[[int, object], object]

__all__ = ["ArrayLike", "DTypeLike", "NDArray", "PathLike", "SeedLike", "FloatArray",
           "IntArray", "Callback"]
