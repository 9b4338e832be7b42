"""Run a case through the exact reference and return its trajectory.

Optimizer step ``t`` (1-based; every framework counts the first update as t = 1):

1. the gradient g_t: from the scenario's stream, or ∇f(θ_{t−1}) for a closed-loop objective;
2. g_t ← −g_t when ``maximize`` is set (before anything else, as every framework does);
3. η_t = η · s_t with s_t = schedule(t−1) / schedule.η the schedule multiplier (s_t = 1 without
   a schedule); the algorithm's step receives η_t as ``h.lr`` and s_t as ``ctx.lr_factor``;
4. each tensor is updated by the algorithm's ``step`` with its group's hyperparameters — or by
   the named variant of it that the declared precision effects select (reference/effects.py:
   ``ctx.effects`` says which, and in what formats; declared real hyperparameters are rounded);
   with ``weight_decay`` = ``decoupled_lr_after`` the step runs without decay and the updated
   parameters are then multiplied by (1 − η_t λ) (reference/axes.toml).

Schedules are evaluated at the 0-based index k of the update that uses the value.

Diagnosis (reference/diagnosis.py) reruns a case with its indices moved by one, as an
implementation with an off-by-one would compute: ``t_shift`` gives the algorithm step t + shift
(its bias corrections, its momentum schedule), ``schedule_shift`` evaluates the schedule at
k + shift (clamped at 0: a shifted start repeats the first value).
"""
from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Mapping

import mpmath

from .algorithm import StepContext, step_function
from .effects import Effects
from .model import Namespace
from .mpfr_run import attempt, hypers_in, tensor_in, value_in
from .numeric import mpf, precision, round_to
from .scenarios import Case
from .tensor import Tensor, tmap


DECAY_AFTER = "decoupled_lr_after"  # weight_decay axis value applied here, after the algorithm's step


@dataclass
class OptimizerStep:
    t: int
    lr: list  # η_t per group
    params: dict  # name -> Tensor
    state: dict  # name -> {entry: Tensor | scalar}
    grads: dict | None = None  # closed loop: the gradient computed at θ_{t−1}


@dataclass
class ScheduleStep:
    k: int
    lr: object
    extra: dict = field(default_factory=dict)  # momentum, internal state


def objective_gradient(objective: dict, params: dict) -> dict:
    """Exact gradient of a closed-loop objective.

    * ``quadratic``: f = ½ Σ_i a_i (x_i − c_i)², element i of each tensor (row-major) using
      a[i mod len(a)], c[i mod len(c)]; ∂f/∂x_i = a_i (x_i − c_i).
    * ``rosenbrock``: consecutive elements (x, y) of each tensor form pairs;
      f = s Σ [(1 − x)² + b (y − x²)²]; ∂f/∂x = s(−2(1 − x) − 4 b x (y − x²)), ∂f/∂y = s·2b(y − x²).
    """
    kind = objective["kind"]
    out = {}
    for name, p in params.items():
        x = p.data
        if kind == "quadratic":
            a, c = objective["a"], objective["c"]
            g = [a[i % len(a)] * (x[i] - c[i % len(c)]) for i in range(len(x))]
        elif kind == "rosenbrock":
            s, b = objective["scale"], objective["b"]
            if len(x) % 2:
                raise ValueError("rosenbrock needs an even number of elements per tensor")
            g = []
            for i in range(0, len(x), 2):
                xi, yi = x[i], x[i + 1]
                r = yi - xi * xi
                g.append(s * (-2 * (1 - xi) - 4 * b * xi * r))
                g.append(s * 2 * b * r)
        else:
            raise ValueError(f"unknown objective {kind!r}")
        out[name] = Tensor(p.shape, g)
    return out


def _cast_at_checkpoint(state: dict, effects: Effects) -> None:
    """A fresh optimizer loads the saved state: each quantity a declared ``<name>@checkpoint`` names
    is converted to that format (torch's load_state_dict casts NAdam's float32 mu_product to the
    parameters' dtype); ``effects.after_checkpoint()`` then holds it in that format."""
    for name, dtype in effects.at_checkpoint.items():
        if name in state and not isinstance(state[name], Tensor):
            state[name] = round_to(state[name], dtype)


def schedule_lrs(schedule: dict, steps: int, shift: int = 0) -> list:
    """The learning rates of updates k = 0 .. steps−1 under a schedule description (``shift``:
    evaluated at k + shift instead, clamped at 0)."""
    from .model import get

    alg = get(schedule["algorithm"])
    sem = alg.semantics(schedule.get("profile", "spec"))
    return [s.lr for s in _schedule_steps(alg, schedule["hyper"], sem, steps, None, shift)]


def run_optimizer(case: Case, dps: int | None = None, round_hypers: Effects | Mapping | None = None,
                  bits: int | None = None, store: str | None = None,
                  store_rounding: str = "n", effects: Effects | Mapping | None = None,
                  t_shift: int = 0, schedule_shift: int = 0, arithmetic: str = "mpmath") -> list[OptimizerStep]:
    """The exact trajectory of an optimizer case (see the module docstring for the step order);
    with ``bits``, every operation is rounded to that many significand bits instead; with
    ``store``, parameters and state are rounded to that dtype after every step (arithmetic exact),
    to nearest or, with ``store_rounding`` ``"c"``/``"f"``, toward +∞/−∞. ``effects`` (or its old
    name ``round_hypers``): the declared precision effects, as {name: format} or
    :class:`~optconform.reference.effects.Effects`: declared real hyperparameters are rounded, and
    the step variant they select runs instead of the exact step. ``t_shift``, ``schedule_shift``:
    the off-by-one reruns of diagnosis (module docstring). ``arithmetic`` = ``"mpfr"`` runs the
    steps on MPFR values (reference/mpfr_run.py; the same values, faster: the emulations of
    spec/tolerance.md, whose records go to tolerance.rounding_spread as they are), and its records
    hold MPFR values — mpf ones where the run met a value that is not finite and was rerun in
    mpmath."""
    def rnd(x):
        return round_to(x, store, store_rounding)

    fx = Effects.build(effects if effects is not None else round_hypers, case.algorithm)
    mpfr = arithmetic == "mpfr"
    if arithmetic not in ("mpmath", "mpfr"):
        raise ValueError(f"unknown arithmetic {arithmetic!r}: mpmath or mpfr")
    with precision(dps, bits):
        factors = [mpf(1)] * case.steps
        if case.schedule:  # in mpmath: a schedule is a few scalars per step
            base = case.schedule["hyper"].lr
            factors = [lr / base for lr in schedule_lrs(case.schedule, case.steps, schedule_shift)]
        if mpfr:
            def in_mpfr():
                return _optimizer_steps(_MPFRInputs(case), fx, rnd, store, t_shift, [value_in(f) for f in factors])

            return attempt(in_mpfr, lambda: _optimizer_steps(case, fx, rnd, store, t_shift, factors))
        return _optimizer_steps(case, fx, rnd, store, t_shift, factors)


class _MPFRInputs:
    """The values a case's run reads (parameters, gradients, hyperparameters, objective) as MPFR
    values equal to them (mpfr_run), for a run in MPFR arithmetic; the rest of the case as it is."""

    def __init__(self, case: Case):
        self.algorithm, self.semantics, self.steps = case.algorithm, case.semantics, case.steps
        self.checkpoint_at = case.checkpoint_at
        self.groups = [(names, hypers_in(h)) for names, h in case.groups]
        self.params = {n: tensor_in(t) for n, t in case.params.items()}
        self.grads = None if case.grads is None else [{n: tensor_in(g) for n, g in step.items()} for step in case.grads]
        self.objective = None if case.objective is None else hypers_in(case.objective)


def _optimizer_steps(case, fx: Effects, rnd, store, t_shift: int, factors: list) -> list[OptimizerStep]:
    """The steps of :func:`run_optimizer`, in the arithmetic in use (``case``: a Case, or its
    inputs as MPFR values)."""
    alg = case.algorithm
    impl = alg.impl
    step = step_function(impl, fx)
    sem = case.semantics
    group_of = {}
    for gi, (names, h) in enumerate(case.groups):
        for n in names:
            group_of[n] = (gi, fx.round_hypers(h))
    params = {n: Tensor(t.shape, [+x for x in t.data]) for n, t in case.params.items()}
    state = {n: impl.init(params[n], group_of[n][1], sem) for n in params}
    records = []
    for t in range(1, case.steps + 1):
        if case.objective is not None:
            grads = objective_gradient(case.objective, params)
            if store is not None:  # an implementation computes the gradient in its dtype too
                grads = {n: tmap(rnd, g) for n, g in grads.items()}
        else:
            grads = {n: Tensor(g.shape, [+x for x in g.data]) for n, g in case.grads[t - 1].items()}
        lrs = []
        for gi, (names, _) in enumerate(case.groups):
            h = group_of[names[0]][1] if names else fx.round_hypers(case.groups[gi][1])
            # η_t is the exact base rate times the multiplier, then held in the framework's
            # format: fl(η·s_t), not fl(fl(η)·s_t) (the adapters hand a framework each step's
            # exact η_t; the two differ by an ulp of η_t where η_t is not dyadic)
            lr_t = fx.round_lr(case.groups[gi][1].lr * factors[t - 1])
            lrs.append(lr_t)
            ctx = StepContext(t=t + t_shift, lr=lr_t, lr_factor=factors[t - 1], base_lr=h.lr,
                              effects=fx.bind(case.groups[gi][1]))
            h_t = Namespace(h)
            h_t["lr"] = lr_t
            after = sem.get("weight_decay") == DECAY_AFTER and h_t.get("weight_decay")
            step_sem = Namespace(sem, weight_decay="none") if after else sem
            for n in names:
                g = grads[n]
                if h_t.get("maximize"):
                    g = tmap(lambda x: -x, g)
                params[n] = step(params[n], g, state[n], h_t, step_sem, ctx)
                if after:  # decoupled decay of the updated parameters (axes.toml: decoupled_lr_after)
                    params[n] = tmap(lambda x: x * (1 - lr_t * h_t.weight_decay), params[n])
                if store is not None:
                    params[n] = tmap(rnd, params[n])
                    for key, value in state[n].items():
                        state[n][key] = (tmap(rnd, value) if isinstance(value, Tensor)
                                         else rnd(value) if not isinstance(value, (int, bool, str))
                                         else value)
        if case.checkpoint_at == t:
            state = copy.deepcopy(state)  # a fresh optimizer loads the saved state
            for n in params:
                _cast_at_checkpoint(state[n], fx)
            fx = fx.after_checkpoint()
        records.append(OptimizerStep(
            t=t, lr=lrs,
            params={n: p.copy() for n, p in params.items()},
            state={n: {k: (v.copy() if isinstance(v, Tensor) else v) for k, v in s.items()}
                   for n, s in state.items()},
            grads=grads if case.objective is not None else None,
        ))
    return records


def _schedule_steps(alg, h, sem, steps, metrics, shift: int = 0) -> list[ScheduleStep]:
    """Updates k = 0 .. steps−1; with ``shift``, the values of k + shift (clamped at 0) in their place."""
    impl = alg.impl
    if hasattr(impl, "run"):
        if shift and metrics is not None:
            metrics = list(metrics) + [metrics[-1]] * max(shift, 0)
        records = impl.run(h, sem, steps + max(shift, 0), metrics)
        out = [ScheduleStep(k, r.pop("lr"), r) for k, r in enumerate(records)]
        if shift:
            out = [dataclasses.replace(out[max(k + shift, 0)], k=k) for k in range(steps)]
        return out
    return [ScheduleStep(k, impl.value(max(k + shift, 0), h, sem)) for k in range(steps)]


def run_schedule(case: Case, dps: int | None = None, round_hypers: Effects | Mapping | None = None,
                 bits: int | None = None, effects: Effects | Mapping | None = None,
                 schedule_shift: int = 0) -> list[ScheduleStep]:
    """The exact learning rate (and any cycled momentum or internal state) of updates k = 0 .. steps−1;
    declared precision effects (``effects``, or ``round_hypers``) round the real hyperparameters."""
    fx = Effects.build(effects if effects is not None else round_hypers, case.algorithm)
    with precision(dps, bits):
        h = fx.round_hypers(case.groups[0][1])
        return _schedule_steps(case.algorithm, h, case.semantics, case.steps, case.metrics, schedule_shift)


def run(case: Case, dps: int | None = None, round_hypers: Effects | Mapping | None = None, bits: int | None = None,
        store: str | None = None, store_rounding: str = "n", effects: Effects | Mapping | None = None,
        t_shift: int = 0, schedule_shift: int = 0, arithmetic: str = "mpmath"):
    """The trajectory of ``case`` (optimizer or schedule); ``effects`` (or ``round_hypers``, its old
    name): the declared precision effects {name: format} or an Effects; ``t_shift``,
    ``schedule_shift``: diagnosis's off-by-one reruns (module docstring); ``arithmetic``: an
    optimizer's steps in ``"mpfr"`` (run_optimizer; a schedule is computed in mpmath)."""
    effects = effects if effects is not None else round_hypers
    if case.algorithm.kind == "optimizer":
        return run_optimizer(case, dps, bits=bits, store=store, store_rounding=store_rounding, effects=effects,
                             t_shift=t_shift, schedule_shift=schedule_shift, arithmetic=arithmetic)
    return run_schedule(case, dps, bits=bits, effects=effects, schedule_shift=schedule_shift)


def magnitude(x) -> float:
    """|x| as a float, for reports (NaN stays NaN)."""
    return float(abs(mpmath.mpf(x)))
