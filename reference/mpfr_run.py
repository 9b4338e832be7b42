"""Running the reference's steps on MPFR values (numeric.mpfr_arithmetic), for the emulations of
spec/tolerance.md (trajectory.run_optimizer, onestep): inputs converted to the MPFR values equal
to them, and the same computation rerun in mpmath where a value that is not finite appears. The
results stay MPFR values: the rounding spread and the one-step error measure them in MPFR
(numeric.refuse_mpf catches an mpf among them).

The algorithms are the same code in both arithmetics, and +, −, ×, ÷, √ and exact sums are
correctly rounded in both, so a run gives the same values either way (``optconform generate
--check`` compares every vector byte for byte); MPFR computes them several times faster. For NaN
and ±∞ the reference follows mpmath's rules (and its IEEE-like helpers' rules), which MPFR's do
not match everywhere (−0, ∞/0, log 0), so a run that meets one is repeated in mpmath.
"""
from __future__ import annotations

from typing import Callable

import gmpy2

from .numeric import MPFR, LeavesFiniteArithmetic, mpfr_arithmetic, to_mpfr
from .tensor import Tensor


def attempt(in_mpfr: Callable, in_mpmath: Callable):
    """``in_mpfr()`` inside numeric.mpfr_arithmetic (its inputs converted with the functions below);
    where it meets a value that is not finite, ``in_mpmath()``."""
    try:
        with mpfr_arithmetic():
            return in_mpfr()
    except (LeavesFiniteArithmetic, gmpy2.InvalidOperationError):
        return in_mpmath()


def value_in(x):
    """An input number as the MPFR value equal to it; LeavesFiniteArithmetic for NaN and ±∞."""
    y = to_mpfr(x)
    if type(y) is MPFR and not gmpy2.is_finite(y):
        raise LeavesFiniteArithmetic("an input that is not finite")
    return y


def tensor_in(t: Tensor) -> Tensor:
    return Tensor(t.shape, [value_in(x) for x in t.data])


def hypers_in(h):
    """A group's hyperparameters (a Namespace) with every number (and tuple of numbers) converted."""
    out = type(h)(h)
    for k, v in h.items():
        out[k] = tuple(value_in(x) for x in v) if isinstance(v, tuple) else value_in(v)
    return out


def state_map(state: dict, number: Callable, tensor: Callable) -> dict:
    """A state {name: {entry: value}} with its tensors mapped by ``tensor`` and its other numbers
    by ``number``, into new containers (dicts, lists, tuples); a tensor that two entries share stays
    shared (mapped once); booleans, strings and None are kept."""
    memo: dict = {}

    def mapped(v):
        if isinstance(v, Tensor):
            if id(v) not in memo:
                memo[id(v)] = (v, tensor(v))
            return memo[id(v)][1]
        if type(v) is dict:
            return {k: mapped(w) for k, w in v.items()}
        if type(v) in (list, tuple):
            return type(v)(mapped(w) for w in v)
        if isinstance(v, (bool, str, type(None))):
            return v
        return number(v)

    return {n: mapped(entries) for n, entries in state.items()}


def state_in(state: dict) -> dict:
    return state_map(state, value_in, tensor_in)
