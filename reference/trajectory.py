"""Run a case through the exact reference and return its trajectory.

Optimizer step ``t`` (1-based; every framework counts the first update as t = 1):

1. the gradient g_t: from the scenario's stream, or ∇f(θ_{t−1}) for a closed-loop objective;
2. g_t ← −g_t when ``maximize`` is set (before anything else, as every framework does);
3. η_t = η · s_t with s_t = schedule(t−1) / schedule.η the schedule multiplier (s_t = 1 without
   a schedule); the algorithm's step receives η_t as ``h.lr`` and s_t as ``ctx.lr_factor``;
4. each tensor is updated by the algorithm's ``step`` with its group's hyperparameters.

Schedules are evaluated at the 0-based index k of the update that uses the value.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field

import mpmath

from .model import Namespace
from .numeric import mpf, precision, round_to
from .scenarios import Case
from .tensor import Tensor, tmap


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


POWER_PREFIX = "power_"


def _rounded(h: Namespace, round_hypers: dict | None) -> Namespace:
    """Apply declared precision effects: round the named hyperparameters to a dtype.

    A name ``power_<hyper>`` rounds the hyperparameter only where it is raised to the step
    count (β₁ᵗ in a bias correction): algorithms read ``h.get("power_beta1", h.beta1)`` there.
    Any other name that is not a hyperparameter names an internal quantity the framework holds in
    a narrower format; it reaches the algorithm as ``h[name] = dtype`` (NAdam's ``mu_product``).
    """
    if not round_hypers:
        return h
    out = Namespace(h)
    for name, dtype in round_hypers.items():
        if name.startswith(POWER_PREFIX) and name[len(POWER_PREFIX):] in h:
            out[name] = round_to(h[name[len(POWER_PREFIX):]], dtype)
        elif name in out and not isinstance(out[name], (bool, int, str, tuple)):
            out[name] = round_to(out[name], dtype)
        elif name not in out and not name.startswith(POWER_PREFIX):
            out[name] = dtype
    return out


CHECKPOINT_SUFFIX = "@checkpoint"


def _load_casts(h: Namespace, state: dict) -> None:
    """Declared precision effects ``<name>@checkpoint``: loading a checkpoint converts the internal
    quantity ``<name>`` to that format (torch's load_state_dict casts NAdam's float32 mu_product to
    the parameters' dtype); from then on the algorithm holds it in that format."""
    for key in [k for k in h if isinstance(k, str) and k.endswith(CHECKPOINT_SUFFIX)]:
        name, dtype = key[:-len(CHECKPOINT_SUFFIX)], h[key]
        h[name] = dtype
        if name in state and not isinstance(state[name], Tensor):
            state[name] = round_to(state[name], dtype)


def schedule_lrs(schedule: dict, steps: int) -> list:
    """The learning rates of updates k = 0 .. steps−1 under a schedule description."""
    from .model import get

    alg = get(schedule["algorithm"])
    sem = alg.semantics(schedule.get("profile", "spec"))
    return [s.lr for s in _schedule_steps(alg, schedule["hyper"], sem, steps, None)]


def run_optimizer(case: Case, dps: int | None = None, round_hypers: dict | None = None,
                  bits: int | None = None, store: str | None = None,
                  store_rounding: str = "n") -> list[OptimizerStep]:
    """The exact trajectory of an optimizer case (see the module docstring for the step order);
    with ``bits``, every operation is rounded to that many significand bits instead; with
    ``store``, parameters and state are rounded to that dtype after every step (arithmetic exact),
    to nearest or, with ``store_rounding`` ``"c"``/``"f"``, toward +∞/−∞."""
    def rnd(x):
        return round_to(x, store, store_rounding)

    with precision(dps, bits):
        alg = case.algorithm
        impl = alg.impl
        sem = case.semantics
        group_of = {}
        for gi, (names, h) in enumerate(case.groups):
            for n in names:
                group_of[n] = (gi, _rounded(h, round_hypers))
        params = {n: Tensor(t.shape, [+x for x in t.data]) for n, t in case.params.items()}
        state = {n: impl.init(params[n], group_of[n][1], sem) for n in params}
        factors = [mpf(1)] * case.steps
        if case.schedule:
            base = case.schedule["hyper"].lr
            factors = [lr / base for lr in schedule_lrs(case.schedule, case.steps)]
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
                h = group_of[names[0]][1] if names else _rounded(case.groups[gi][1], round_hypers)
                lr_t = h.lr * factors[t - 1]
                if round_hypers and "lr" in round_hypers:
                    lr_t = round_to(lr_t, round_hypers["lr"])
                lrs.append(lr_t)
                ctx = Namespace(t=t, lr=lr_t, lr_factor=factors[t - 1], base_lr=h.lr)
                h_t = Namespace(h)
                h_t["lr"] = lr_t
                for n in names:
                    g = grads[n]
                    if h_t.get("maximize"):
                        g = tmap(lambda x: -x, g)
                    params[n] = impl.step(params[n], g, state[n], h_t, sem, ctx)
                    if store is not None:
                        params[n] = tmap(rnd, params[n])
                        for key, value in state[n].items():
                            state[n][key] = (tmap(rnd, value) if isinstance(value, Tensor)
                                             else rnd(value) if not isinstance(value, (int, bool, str))
                                             else value)
            if case.checkpoint_at == t:
                state = copy.deepcopy(state)  # a fresh optimizer loads the saved state
                for n in params:
                    _load_casts(group_of[n][1], state[n])
            records.append(OptimizerStep(
                t=t, lr=lrs,
                params={n: p.copy() for n, p in params.items()},
                state={n: {k: (v.copy() if isinstance(v, Tensor) else v) for k, v in s.items()}
                       for n, s in state.items()},
                grads=grads if case.objective is not None else None,
            ))
        return records


def _schedule_steps(alg, h, sem, steps, metrics) -> list[ScheduleStep]:
    impl = alg.impl
    if hasattr(impl, "run"):
        return [ScheduleStep(k, r.pop("lr"), r) for k, r in enumerate(impl.run(h, sem, steps, metrics))]
    return [ScheduleStep(k, impl.value(k, h, sem)) for k in range(steps)]


def run_schedule(case: Case, dps: int | None = None, round_hypers: dict | None = None,
                 bits: int | None = None) -> list[ScheduleStep]:
    """The exact learning rate (and any cycled momentum or internal state) of updates k = 0 .. steps−1."""
    with precision(dps, bits):
        h = _rounded(case.groups[0][1], round_hypers)
        return _schedule_steps(case.algorithm, h, case.semantics, case.steps, case.metrics)


def run(case: Case, dps: int | None = None, round_hypers: dict | None = None, bits: int | None = None,
        store: str | None = None, store_rounding: str = "n"):
    if case.algorithm.kind == "optimizer":
        return run_optimizer(case, dps, round_hypers, bits, store, store_rounding)
    return run_schedule(case, dps, round_hypers, bits)


def magnitude(x) -> float:
    """|x| as a float, for reports (NaN stays NaN)."""
    return float(abs(mpmath.mpf(x)))
