"""A minimal exact tensor: a shape and a row-major list of numbers (mpmath's, or MPFR's in an
emulation: reference/numeric.py).

Optimizers in the reference are written with :func:`tmap` (element-wise) and the few
reductions they need (norms, means over the last two axes), so that each line reads against the
equations on the algorithm's spec page.
"""
from __future__ import annotations

import math
from itertools import repeat
from dataclasses import dataclass
from typing import Callable, Sequence

from .numeric import fsum, num, sqrt, to_decimal, to_mpf

__all__ = ["Tensor", "tmap", "full", "zeros_like", "full_like", "norm", "mean_sq", "row_mean", "col_mean"]


@dataclass
class Tensor:
    shape: tuple
    data: list

    def __post_init__(self):
        self.shape = tuple(int(s) for s in self.shape)
        if math.prod(self.shape) != len(self.data):
            raise ValueError(f"shape {self.shape} does not hold {len(self.data)} values")

    @classmethod
    def from_values(cls, values: Sequence, shape: Sequence[int] | None = None) -> "Tensor":
        data = [to_mpf(v) for v in values]
        return cls(tuple(shape) if shape is not None else (len(data),), data)

    def copy(self) -> "Tensor":
        return _trusted(self.shape, list(self.data))

    def decimals(self, digits: int | None = None) -> list:
        return [to_decimal(x) if digits is None else to_decimal(x, digits) for x in self.data]

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __len__(self):
        return len(self.data)


def tmap(fn: Callable, *args) -> Tensor:
    """Apply ``fn`` element-wise; non-Tensor arguments are broadcast as scalars."""
    shape = None
    for a in args:
        if isinstance(a, Tensor):
            if shape is None:
                shape = a.shape
            elif a.shape != shape:
                raise ValueError(f"shape mismatch {shape} vs {a.shape}")
    if shape is None:
        raise ValueError("tmap needs at least one Tensor")
    n = math.prod(shape)
    columns = [a.data if isinstance(a, Tensor) else repeat(a, n) for a in args]
    return _trusted(shape, list(map(fn, *columns)))


def _trusted(shape: tuple, data: list) -> Tensor:
    """A Tensor whose shape (a tuple of ints) is known to hold ``data``: tmap's and copy's results,
    built without re-checking (the reference builds millions of them)."""
    t = object.__new__(Tensor)
    t.shape, t.data = shape, data
    return t


def full(shape, value) -> Tensor:
    return Tensor(tuple(shape), [num(value)] * math.prod(shape))


def zeros_like(t: Tensor) -> Tensor:
    return full(t.shape, 0)


def full_like(t: Tensor, value) -> Tensor:
    return full(t.shape, value)


def norm(t: Tensor):
    """Euclidean (Frobenius) norm ``sqrt(sum x_i^2)``."""
    return sqrt(fsum(x * x for x in t.data)) if t.data else num(0)


def mean_sq(t: Tensor):
    """``mean(x_i^2)``: the square of the RMS."""
    return fsum(x * x for x in t.data) / len(t.data)


def _matrix_view(t: Tensor):
    """Split a tensor of ndim >= 2 into (batch, rows, cols) over its last two axes."""
    if t.ndim < 2:
        raise ValueError("row/column statistics need a tensor with at least 2 dimensions")
    rows, cols = t.shape[-2], t.shape[-1]
    batch = len(t.data) // (rows * cols)
    return batch, rows, cols


def row_mean(t: Tensor) -> Tensor:
    """Mean over the last axis: shape ``(..., rows)``."""
    batch, rows, cols = _matrix_view(t)
    out = []
    for b in range(batch):
        for r in range(rows):
            start = (b * rows + r) * cols
            out.append(fsum(t.data[start:start + cols]) / cols)
    return Tensor(t.shape[:-1], out)


def col_mean(t: Tensor) -> Tensor:
    """Mean over the second-to-last axis: shape ``(..., cols)``."""
    batch, rows, cols = _matrix_view(t)
    out = []
    for b in range(batch):
        for c in range(cols):
            out.append(fsum(t.data[(b * rows + r) * cols + c] for r in range(rows)) / rows)
    return Tensor(t.shape[:-2] + (cols,), out)
