"""The contract of an algorithm module, written down once.

Every module in reference/optimizers is an :class:`OptimizerModule`: the algorithm's state and its
step, the spec page's equations read line by line:

* ``init(p, h, sem) -> state`` — the initial state of one tensor ``p`` (entry name → Tensor or
  scalar), with ``h`` the hyperparameters of its group and ``sem`` the profile's semantics (one
  value per axis);
* ``step(p, g, state, h, sem, ctx) -> p`` — one update of ``p`` by the gradient ``g`` (already
  negated when ``maximize``), updating ``state`` in place; ``h.lr`` is η_t, the learning rate of
  this step, and ``ctx`` the :class:`StepContext`. ``step`` computes the exact equations, nothing
  else.

Optional members:

* ``validate(h, where)`` — raise :class:`~optconform.reference.errors.UserError` for
  hyperparameters the equations reject (``where`` names the case);
* ``VARIANTS`` — {name: :class:`Variant`}: the precision emulations of the module. A variant is a
  function with the signature of ``step`` that computes what a framework computes in a narrower
  format (torch's float32 tensor-step scalars, Keras's float32 casts); it lives beside the exact
  equations, and the declared precision effects it models select it (reference/effects.py). The
  runner calls :func:`step_function`, never a variant by name.

Every module in reference/schedules is a :class:`ScheduleModule`: ``horizon(h)`` (the number of
updates the schedule is defined over) and either ``value(k, h, sem)`` (η_k of update k, closed form:
:class:`ClosedFormSchedule`) or ``run(h, sem, steps, metrics)`` (one record per update, with the
learning rate under ``"lr"`` and any cycled momentum or internal state: :class:`RecursiveSchedule`),
and optionally ``validate(h, where)`` and ``metrics(steps)`` (the metric stream a scenario feeds it).

tests/reference/test_algorithm_contract.py checks every module against these protocols, and
every effect name a profile declares against the variants.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Union, runtime_checkable

from .effects import EXACT, Effects
from .tensor import Tensor

Hypers = Mapping[str, Any]  # model.Namespace: the hyperparameters of a group, canonical names
Semantics = Mapping[str, str]  # model.Namespace: one value per axis
State = dict  # entry name -> Tensor or scalar


@dataclass(frozen=True)
class StepContext:
    """What an optimizer step knows besides its tensor and hyperparameters: the 1-based step
    ``t``, η_t (``lr``, also ``h.lr``), the schedule multiplier s_t = η_t/η (``lr_factor``, 1
    without a schedule), the base rate η (``base_lr``), and the declared precision effects
    (``effects``: which variant runs and in what formats; :data:`~.effects.EXACT` for the spec)."""

    t: int
    lr: Any
    lr_factor: Any = 1
    base_lr: Any = None
    effects: Effects = field(default=EXACT)


StepFunction = Callable[[Tensor, Tensor, State, Hypers, Semantics, StepContext], Tensor]


@dataclass(frozen=True)
class Variant:
    """A named precision emulation of an optimizer step.

    ``step`` has the signature of the module's exact ``step``; ``effects`` are the declared effect
    names it models (a profile that declares any of them selects it; it reads their formats from
    ``ctx.effects``); ``bracketed`` says that it models framework operations that are faithful but
    not correctly rounded, so the tolerance adds the reruns that bracket them (spec/tolerance.md).
    ``doc``: what the framework does, in one line."""

    step: StepFunction
    effects: tuple[str, ...]
    doc: str = ""
    bracketed: bool = False


@runtime_checkable
class OptimizerModule(Protocol):
    """reference/optimizers/<algorithm>.py (see the module docstring)."""

    def init(self, p: Tensor, h: Hypers, sem: Semantics) -> State: ...

    def step(self, p: Tensor, g: Tensor, state: State, h: Hypers, sem: Semantics, ctx: StepContext) -> Tensor: ...


@runtime_checkable
class ClosedFormSchedule(Protocol):
    """A schedule given by η_k for each update index k = 0, 1, ..."""

    def horizon(self, h: Hypers) -> int: ...

    def value(self, k: int, h: Hypers, sem: Semantics) -> Any: ...


@runtime_checkable
class RecursiveSchedule(Protocol):
    """A schedule computed as a sequence (state carried from update to update, metrics, cycled
    momentum): one dict per update with the learning rate under ``"lr"``."""

    def horizon(self, h: Hypers) -> int: ...

    def run(self, h: Hypers, sem: Semantics, steps: int, metrics: list | None = None) -> list[dict]: ...


ScheduleModule = Union[ClosedFormSchedule, RecursiveSchedule]


@runtime_checkable
class Validating(Protocol):
    """The optional hyperparameter check of an algorithm module."""

    def validate(self, h: Hypers, where: str) -> None: ...


def variants(module) -> Mapping[str, Variant]:
    """The module's named precision emulations (``VARIANTS``; none for most algorithms)."""
    return getattr(module, "VARIANTS", {})


def step_function(module: OptimizerModule, effects: Effects) -> StepFunction:
    """The step that runs under ``effects``: the exact ``step``, or the variant they select."""
    if effects.variant is None:
        return module.step
    return variants(module)[effects.variant].step
