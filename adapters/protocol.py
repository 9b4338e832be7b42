"""The adapter protocol: what an adapter declares and how it runs a vector.

An adapter drives one real implementation family (a framework, or a third-party package) through
the scenarios of the golden vectors. It declares:

* ``name`` (``torch``, ``optax``, ... or any name a third party chooses), ``framework`` and
  ``version``;
* ``profiles``: for each algorithm it implements, the name of the profile it claims, or a list of
  names where several APIs of the framework implement it (torch's ``torch`` and
  ``torch_decoupled``); its vectors are those whose ``profiles`` list contains a claimed name (a
  vector several claimed profiles share runs once, under the first), and the vector handed to
  ``run`` carries the profile under check as ``vector["profile"]``;
* ``implementations(algorithm)``: every separately reported implementation — code path
  (forloop, foreach, fused, capturable, differentiable, compiled, ...) × device × dtype;
* ``can_inject_state``: whether it can load an exact optimizer state (one-step mode).

An adapter that sets ``can_inject_state`` also offers ``run_one_step(document, impl)``: the
document (reference/onestep.py) carries, per step, ``inject`` — the parameters, the state by
canonical names (null for step 1: a fresh optimizer), the gradient and the learning rate, all
exact values of the dtype — and the adapter returns each step's result computed from exactly that,
as an ``AdapterRun`` with ``mode = "one-step"``.

It runs a vector with ``run(vector, impl)``, returning an :class:`AdapterRun` in the vector's
shape: after every step the parameters, the optimizer state (by canonical state name) and the
learning rate of each group, as Python floats (NaN and infinities included). For closed-loop
scenarios the adapter computes the gradient from its own parameters, in its dtype (frameworks/engine.py: ``closed_loop_gradient``, or :func:`closed_loop_gradient` here for Python floats). An adapter raises :class:`Unsupported` for a combination it cannot
run (the case is then a ``skip``); any other exception is the case's ``error``.

Importing this module (or the checker) imports no framework. A third-party adapter is a class or
instance reachable as ``module:attr`` (``optconform check --adapter my_pkg.conformance:MyAdapter``)
or registered under the entry-point group ``optconform.adapters``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


class Unsupported(Exception):
    """The implementation cannot run this case (the verdict is ``skip`` with this reason)."""


@dataclass(frozen=True)
class Implementation:
    """One separately reported implementation: adapter × code path × device × dtype."""

    adapter: str
    code_path: str
    device: str
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.adapter}-{self.code_path}-{self.device}-{self.dtype}"


@dataclass
class AdapterRun:
    """What an adapter returns for one vector.

    ``steps``: optimizers — ``{"t", "params": {name: [float]}, "state": {name: {entry: [float] |
    float}}, "lr": [float per group]}``; schedules — ``{"k", "lr": float}`` plus any extra the
    vector has (``momentum``). ``mode`` is ``trajectory`` or ``one-step``.
    """

    steps: list
    mode: str = "trajectory"
    notes: list = field(default_factory=list)


@runtime_checkable
class Adapter(Protocol):
    name: str
    framework: str

    def version(self) -> str: ...

    def available(self) -> tuple[bool, str]: ...

    def profiles(self) -> dict[str, "str | list[str]"]: ...

    def implementations(self, algorithm: str) -> list[Implementation]: ...

    def run(self, vector: dict, impl: Implementation) -> AdapterRun: ...


def closed_loop_gradient(objective: dict, params: dict, cast=float) -> dict:
    """The gradient of a vector's closed-loop objective (spec/vectors.md) for an adapter that holds
    its parameters as Python floats: ``params`` maps names to flat lists, ``cast`` rounds each
    result to the adapter's dtype. Computed in float64 by the one implementation every built-in
    adapter uses (frameworks/engine.py: ``closed_loop_gradient``), which an adapter with arrays
    calls directly to compute in its own dtype."""
    import numpy as np

    from .frameworks.engine import closed_loop_gradient as gradient

    def constant(values):
        return np.asarray(values, dtype=np.float64)

    def interleave(gx, gy):
        return np.stack([gx, gy], axis=-1).reshape(-1)

    return {name: [cast(float(v)) for v in gradient(objective, np.asarray(x, dtype=np.float64), constant, interleave)]
            for name, x in params.items()}
