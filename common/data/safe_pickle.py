"""A restricted unpickler for the dataset files that are Python pickles (CIFAR python batches,
Planetoid ``ind.*``): it builds numpy arrays, plain containers and the classes a caller allows,
and refuses every other global, so a tampered file cannot run code."""

from __future__ import annotations

import io
import pickle
from typing import Callable

from common.data.core import DataFormatError

NUMPY_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
}
PLAIN_GLOBALS = {
    ("__builtin__", "list"), ("builtins", "list"), ("__builtin__", "dict"), ("builtins", "dict"),
    ("__builtin__", "object"), ("builtins", "object"), ("copy_reg", "_reconstructor"),
    ("copyreg", "_reconstructor"), ("collections", "defaultdict"),
    ("_codecs", "encode"),  # bytes inside protocol-2 pickles written by Python 3
}


class RestrictedUnpickler(pickle.Unpickler):
    """Only numpy arrays, plain containers and ``extra`` ``{(module, name): object}`` globals."""

    def __init__(self, fh, what: str, extra: dict[tuple[str, str], Callable] | None = None, **kw):
        super().__init__(fh, **kw)
        self.what = what
        self.extra = extra or {}

    def find_class(self, module, name):
        if (module, name) in self.extra:
            return self.extra[(module, name)]
        if (module, name) in NUMPY_GLOBALS:
            if name == "_reconstruct":
                from numpy._core.multiarray import _reconstruct
                return _reconstruct
            if name == "scalar":
                from numpy._core.multiarray import scalar
                return scalar
            import numpy as np
            return getattr(np, name)
        if (module, name) in PLAIN_GLOBALS:
            return super().find_class(module.replace("__builtin__", "builtins").replace("copy_reg", "copyreg"), name)
        raise DataFormatError(f"{self.what}: the pickle asks for {module}.{name}; refused (not a dataset object)")


def restricted_loads(blob: bytes, what: str, extra: dict[tuple[str, str], Callable] | None = None):
    """Unpickle ``blob`` (latin-1 for Python-2 strings, as numpy recommends) with the restrictions above."""
    return RestrictedUnpickler(io.BytesIO(blob), what, extra, encoding="latin1").load()
