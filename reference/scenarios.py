"""Scenarios: deterministic problems every algorithm is run through.

A scenario fixes the initial parameters, the gradient source (an explicit open-loop stream, or a
closed-loop objective whose gradient depends on the parameters), the number of steps, the
hyperparameters and the dtypes it may run in.  Every input is a short dyadic number (at most
``INPUT_BITS`` significant bits) checked to be exactly representable in each dtype the scenario
lists, so every implementation receives exactly the reference's inputs.

The catalogue below is data: :data:`OPTIMIZER_SCENARIOS` and :data:`SCHEDULE_SCENARIOS` declare
each scenario once; :func:`cases` expands them for one algorithm and profile.

Hyperparameters of a case, in order of precedence (last wins):

1. the profile's defaults (scenario ``defaults``) or the algorithm's canonical defaults with its
   ``probe`` values (every other scenario; probes are float32-exact and chosen to make semantic
   differences visible), features (weight decay, maximize, ...) at their neutral value;
2. the algorithm's ``[scenario_hyper.<scenario>]`` table;
3. the scenario's own overrides (which may switch a feature on).
"""
from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import UserError
from .model import Algorithm, Namespace, Profile
from .numeric import DTYPES, mpf, representable, to_decimal
from .tensor import Tensor

INPUT_BITS = 7
ALL_DTYPES = DTYPES
NO_FLOAT16 = ("float64", "float32", "bfloat16")


# --- deterministic dyadic streams -------------------------------------------------------------


def _splitmix64(seed: int):
    state = seed & 0xFFFFFFFFFFFFFFFF
    while True:
        state = (state + 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & 0xFFFFFFFFFFFFFFFF
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & 0xFFFFFFFFFFFFFFFF
        yield z ^ (z >> 31)


def _seed(*parts) -> int:
    digest = hashlib.sha256("/".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little")


def dyadic_values(seed_parts: tuple, count: int, exp_lo: int, exp_hi: int, bits: int = INPUT_BITS,
                  signed: bool = True) -> list:
    """``count`` numbers ``±m·2^(e-bits+1)`` with ``m`` a ``bits``-bit integer (top bit set) and
    ``exp_lo <= e <= exp_hi``: magnitudes in ``[2^exp_lo, 2^(exp_hi+1))``."""
    rng = _splitmix64(_seed(*seed_parts))
    out = []
    span = exp_hi - exp_lo + 1
    for _ in range(count):
        r = next(rng)
        m = (1 << (bits - 1)) | (r & ((1 << (bits - 1)) - 1))
        e = exp_lo + (r >> 20) % span
        s = -1 if (signed and (r >> 40) & 1) else 1
        out.append(s * mpf(m) * mpf(2) ** (e - bits + 1))
    return out


def _tensor(seed_parts, shape, exp_lo, exp_hi, signed=True) -> Tensor:
    n = 1
    for s in shape:
        n *= s
    return Tensor(tuple(shape), dyadic_values(seed_parts, n, exp_lo, exp_hi, signed=signed))


# --- scenario declarations --------------------------------------------------------------------


@dataclass(frozen=True)
class OptimizerScenario:
    """Declaration of an optimizer scenario (expanded per algorithm by :func:`cases`)."""

    name: str
    doc: str
    steps: int = 12
    shapes: tuple = (("w", (2, 3)),)
    grad_exp: tuple = (-3, 1)  # gradient magnitudes 2^lo .. 2^(hi+1)
    param_exp: tuple = (-3, 1)
    dtypes: tuple = ALL_DTYPES
    hyper: dict = field(default_factory=dict)  # overrides; "probe" means the algorithm's probe value
    defaults: bool = False  # use the profile's defaults instead of probes
    requires: tuple = ()  # hyperparameters the algorithm and profile must have
    pattern: str = "random"  # random | mixed | zeros | alternating | nan | inf
    objective: dict | None = None  # closed loop
    groups: tuple | None = None  # ((param names), {hyper overrides}) per group
    schedule: dict | None = None  # {"algorithm": name, "hyper": {...}}: lr of every step
    checkpoint_at: int | None = None
    only: tuple = ()  # restrict to these algorithms


OPTIMIZER_SCENARIOS = (
    OptimizerScenario("defaults", "The profile's default hyperparameters on gradients of unit magnitude.",
                      steps=10, defaults=True),
    OptimizerScenario("probe", "Non-default hyperparameters (the algorithm's probe values) chosen to make "
                      "semantic differences visible.", steps=20),
    OptimizerScenario("tiny_grad", "Gradients near epsilon, from 2^-34 (about 6e-11) to 2^-24 (about 6e-8).",
                      grad_exp=(-34, -25), dtypes=NO_FLOAT16),
    OptimizerScenario("large_grad", "Gradients from 2^10 to 2^20 (about 1e6).", grad_exp=(10, 19),
                      dtypes=NO_FLOAT16),
    OptimizerScenario("mixed_magnitude", "One tensor whose elements span 2^-30 to 2^12.", pattern="mixed",
                      shapes=(("w", (2, 4)),), dtypes=NO_FLOAT16),
    OptimizerScenario("zero_grad", "Exact zero gradients: single elements at some steps, a whole row at others.",
                      pattern="zeros", shapes=(("w", (3, 2)),)),
    OptimizerScenario("sign_alternating", "Each element's gradient flips sign every step.", pattern="alternating"),
    OptimizerScenario("weight_decay", "Weight decay on non-zero parameters.", hyper={"weight_decay": "probe"},
                      requires=("weight_decay",)),
    OptimizerScenario("multi_tensor", "Several tensors: a non-square matrix, a vector, a 3-d tensor, a "
                      "scalar-like tensor, and a second vector of the first one's shape (state kept per "
                      "tensor, never shared between tensors of equal shape).",
                      shapes=(("w", (3, 5)), ("b", (4,)), ("k", (2, 2, 3)), ("s", (1,)), ("u", (4,)))),
    OptimizerScenario("param_groups", "Two parameter groups with different hyperparameters.",
                      shapes=(("w", (2, 3)), ("b", (3,))),
                      groups=((("w",), {}), (("b",), {"lr": "half"}))),
    OptimizerScenario("maximize", "maximize=True: ascend the gradient.", hyper={"maximize": True},
                      requires=("maximize",)),
    OptimizerScenario("long_run", "250 steps: crosses the bias-correction, RAdam and NAdam regimes.",
                      steps=250, shapes=(("w", (3,)),)),
    OptimizerScenario("quadratic", "Closed loop: ill-conditioned quadratic f = 1/2 sum a_i (x_i - c_i)^2, "
                      "a_i from 2^-5 to 2^6.", steps=60, shapes=(("w", (4,)),),
                      objective={"kind": "quadratic", "a": ("0.03125", "0.5", "8", "64"),
                                 "c": ("0.5", "-0.25", "0.125", "-1")}),
    OptimizerScenario("rosenbrock", "Closed loop: scaled Rosenbrock f = s*sum((1-x)^2 + 100 (y-x^2)^2) over "
                      "(x, y) pairs, s = 2^-7.", steps=60, shapes=(("w", (2, 2)),),
                      objective={"kind": "rosenbrock", "scale": "0.0078125", "b": "100"}),
    OptimizerScenario("scheduled", "Learning rate driven by linear warmup + cosine decay (5 + 15 steps).",
                      steps=20, schedule={"algorithm": "warmup_cosine",
                                          "hyper": {"warmup_steps": 5, "total_steps": 20, "warmup_start": "0"}}),
    OptimizerScenario("one_cycle", "Learning rate driven by a one-cycle schedule (cosine anneal, 20 steps).",
                      steps=20, only=("sgd",),
                      schedule={"algorithm": "one_cycle", "hyper": {"total_steps": 20}}),
    # Muon updates 2-D tensors (spec/algorithms/muon.md): matrix forms of multi_tensor,
    # param_groups, long_run and quadratic (which it skips), whose Newton–Schulz products are at
    # most 4 terms long, and one scenario with tensors that are not 2-D for the implementations
    # that send them to an AdamW (a profile without the AdamW's hyperparameters, torch, skips it)
    OptimizerScenario("matrices", "Several 2-D tensors: wide, tall, square, a row, a column, and a second matrix "
                      "of the first one's shape (state kept per tensor).", only=("muon",),
                      shapes=(("w", (3, 4)), ("t", (4, 3)), ("q", (2, 2)), ("r", (1, 4)), ("c", (4, 1)),
                              ("u", (3, 4)))),
    OptimizerScenario("matrix_groups", "Two parameter groups of 2-D tensors with different hyperparameters.",
                      only=("muon",), shapes=(("w", (2, 3)), ("v", (3, 2))),
                      groups=((("w",), {}), (("v",), {"lr": "half"}))),
    OptimizerScenario("matrix_long_run", "250 steps on a tall matrix.", steps=250, only=("muon",),
                      shapes=(("w", (3, 2)),)),
    OptimizerScenario("matrix_quadratic", "Closed loop: the quadratic of 'quadratic' on the elements of a "
                      "2 x 4 matrix, a_i from 2^-5 to 2^6.", steps=60, only=("muon",), shapes=(("w", (2, 4)),),
                      objective={"kind": "quadratic", "a": ("0.03125", "0.5", "8", "64"),
                                 "c": ("0.5", "-0.25", "0.125", "-1")}),
    OptimizerScenario("non_matrix", "A matrix, a vector, a 3-d tensor and a scalar-like tensor, with both weight "
                      "decays: the tensors that are not 2-D go through the implementation's AdamW.",
                      only=("muon",), requires=("adam_beta1",),
                      shapes=(("w", (3, 4)), ("b", (4,)), ("k", (2, 2, 3)), ("s", (1,))),
                      hyper={"weight_decay": "probe", "adam_weight_decay": "probe", "adam_beta1": "0.875",
                             "adam_beta2": "0.9990234375"}),
    OptimizerScenario("non_matrix_ratio", "A matrix and a vector whose AdamW has its own learning rate (half "
                      "Muon's) and its own epsilon.", only=("muon",), requires=("adam_lr_ratio", "adam_eps"),
                      shapes=(("w", (2, 3)), ("b", (4,))),
                      hyper={"weight_decay": "probe", "adam_weight_decay": "probe", "adam_beta1": "0.875",
                             "adam_beta2": "0.9990234375", "adam_lr_ratio": "0.5",
                             "adam_eps": "5.9604644775390625e-8"}),
    OptimizerScenario("resume", "Checkpoint after step 5, then resume in a fresh optimizer from the saved state.",
                      steps=12, checkpoint_at=5),
    # RAdam's tractability test on a rounded ρ_t (spec/algorithms/radam.md; the β₂ come from
    # benchmarks/radam_rho_edges.py, each confirmed with torch and optax): float64 only, because
    # without jax_enable_x64 optax computes ρ_t in float32, where other β₂ sit on the edge
    OptimizerScenario("rho_on_five", "beta2 = 0.8397685748659791: the exact rho_6 is 5 + 8.6e-16, the float64 "
                      "rho_6 torch and optax compute is exactly 5.0: torch (rho_t > 5) takes the SGD step at t = 6, "
                      "optax (rho_t >= 5) the rectified one.", steps=12, dtypes=("float64",), only=("radam",),
                      hyper={"beta2": "0.8397685748659791"}),
    OptimizerScenario("rho_rounds_up", "beta2 = 0.8397685748659789: the exact rho_6 is 5 - 6.0e-16; with pow "
                      "(torch, optax under jax.jit) the float64 rho_6 is 5.000000000000001 (rectified at t = 6), "
                      "with jax's integer_pow (optax run eagerly) 4.999999999999998 (SGD step).", steps=12,
                      dtypes=("float64",), only=("radam",), hyper={"beta2": "0.8397685748659789"}),
    OptimizerScenario("rho_on_five_below", "beta2 = 0.7678067796924252: the exact rho_7 is 5 - 4.1e-16, the float64 "
                      "rho_7 is exactly 5.0: torch and the exact test take the SGD step at t = 7, optax the "
                      "rectified one.", steps=12, dtypes=("float64",), only=("radam",),
                      hyper={"beta2": "0.7678067796924252"}),
    OptimizerScenario("nan_grad", "A NaN gradient element at step 3.", steps=6, pattern="nan"),
    OptimizerScenario("inf_grad", "A +Infinity gradient element at step 3.", steps=6, pattern="inf"),
)

SCENARIO_NAMES = tuple(s.name for s in OPTIMIZER_SCENARIOS)
VARIANT_PREFIX = "variant_"


@dataclass(frozen=True)
class ScheduleScenario:
    name: str
    doc: str
    steps: int | str = "horizon"  # an int, or "horizon" (the schedule's own length) or "past" (2.5x)
    defaults: bool = False
    hyper: dict = field(default_factory=dict)


SCHEDULE_SCENARIOS = (
    ScheduleScenario("defaults", "The profile's defaults (required hyperparameters from the algorithm's "
                     "scenario table).", steps="horizon", defaults=True),
    ScheduleScenario("probe", "Non-default hyperparameters chosen to make differences visible.", steps="horizon"),
    ScheduleScenario("past_horizon", "Runs to 2.5x the schedule's horizon: periodic, clamped or raising.",
                     steps="past"),
)


# --- expansion ----------------------------------------------------------------------------------


@dataclass
class Case:
    """One algorithm × profile × scenario, fully resolved: everything a vector needs."""

    algorithm: Algorithm
    profile: Profile
    scenario: str
    doc: str
    steps: int
    dtypes: tuple
    groups: list  # [(param names tuple, Namespace hyper)]
    params: dict = field(default_factory=dict)  # name -> Tensor (optimizers)
    grads: list | None = None  # [ {name: Tensor} ] per step (open loop)
    objective: dict | None = None
    schedule: dict | None = None  # {"algorithm", "profile", "hyper"}
    checkpoint_at: int | None = None
    metrics: list | None = None  # schedules: metric stream (reduce-on-plateau)

    @property
    def semantics(self) -> Namespace:
        return Namespace(self.profile.semantics)

    def effective_semantics(self) -> dict:
        """The profile's semantics on the axes that matter for this case's hyperparameters."""
        hypers = [h for _, h in self.groups]
        nonfinite = self.has_nonfinite_inputs()
        return {a: v for a, v in sorted(self.profile.semantics.items())
                if self.algorithm.axis_active(a, hypers, nonfinite)}

    def has_nonfinite_inputs(self) -> bool:
        import mpmath

        return any(not mpmath.isfinite(x) for step in (self.grads or []) for t in step.values() for x in t.data)

    def key(self) -> tuple:
        """Identity of the vector: cases with equal keys share one vector file."""
        hyper = tuple((names, tuple(sorted((k, _frozen(v)) for k, v in h.items()))) for names, h in self.groups)
        schedule = _frozen(self.schedule) if self.schedule else None
        return (self.algorithm.name, self.scenario, tuple(self.effective_semantics().items()), hyper, schedule)


def _frozen(v):
    if isinstance(v, (list, tuple)):
        return tuple(_frozen(x) for x in v)
    if isinstance(v, dict):
        return tuple(sorted((k, _frozen(x)) for k, x in v.items()))
    if isinstance(v, bool) or isinstance(v, (int, str)):
        return v
    return to_decimal(v)


def _base_hyper(alg: Algorithm, profile: Profile, use_defaults: bool) -> dict:
    values = {}
    for name, h in alg.hypers.items():
        if name in profile.unsupported:
            values[name] = profile.fixed_value(h)
        elif use_defaults:
            values[name] = profile.defaults.get(name, h.default)
        elif h.feature:
            values[name] = h.neutral if h.neutral is not None else h.default
        elif h.probe is not None:
            values[name] = h.probe
        else:
            values[name] = h.default
    return values


def _apply(alg: Algorithm, values: dict, overrides: dict, where: str) -> None:
    for name, raw in overrides.items():
        if name not in alg.hypers:
            raise UserError(f"{where}: scenario sets unknown hyperparameter {name!r} of {alg.name}")
        h = alg.hypers[name]
        if raw == "probe":
            if h.probe is None:
                raise UserError(f"{where}: {alg.name}.{name} has no probe value")
            raw = h.probe
        values[name] = raw


def _supported(alg: Algorithm, profile: Profile, values: dict) -> bool:
    """A profile can run a case only if every hyperparameter it lacks is at the value it is fixed at."""
    for name in profile.unsupported:
        h = alg.hypers[name]
        if h.parse(values[name]) != h.parse(profile.fixed_value(h)):
            return False
    return True


def _grad_stream(sc: OptimizerScenario) -> list:
    steps = []
    lo, hi = sc.grad_exp
    for t in range(1, sc.steps + 1):
        step = {}
        for pi, (name, shape) in enumerate(sc.shapes):
            g = _tensor(("grad", sc.name, name, t), shape, lo, hi)
            n = g.size
            if sc.pattern == "mixed":
                spread = (-30, -22, -14, -8, -3, 0, 5, 11)
                g = Tensor(g.shape, [
                    dyadic_values(("mixed", sc.name, name, t, i), 1, spread[i % len(spread)],
                                  spread[i % len(spread)])[0] for i in range(n)])
            elif sc.pattern == "zeros":
                cols = shape[-1]
                data = list(g.data)
                for i in range(n):
                    if (i + t) % 4 == 0:
                        data[i] = mpf(0)
                if t % 3 == 0:  # a whole row is absent: lazy (sparse) optimizers skip it
                    row = (t // 3) % shape[0]
                    for c in range(cols):
                        data[row * cols + c] = mpf(0)
                g = Tensor(g.shape, data)
            elif sc.pattern == "alternating":
                base = _tensor(("grad", sc.name, name, 1), shape, lo, hi)
                magnitude = [abs(x) * mpf(2) ** (t % 3 - 1) for x in base.data]
                sgn = [(1 if x > 0 else -1) * (-1) ** (t - 1) for x in base.data]
                g = Tensor(g.shape, [m * s for m, s in zip(magnitude, sgn)])
            elif sc.pattern in ("nan", "inf") and t == 3 and pi == 0:
                data = list(g.data)
                data[1] = mpf("nan") if sc.pattern == "nan" else mpf("inf")
                g = Tensor(g.shape, data)
            step[name] = g
        steps.append(step)
    return steps


@functools.lru_cache(maxsize=None)
def _inputs(name, steps, shapes, grad_exp, param_exp, pattern, dtypes, closed_loop):
    """Initial parameters and gradient stream of a scenario: they depend only on its declaration,
    not on the algorithm or profile, so they are built (and checked exact in every dtype) once."""
    sc = OptimizerScenario(name, "", steps=steps, shapes=shapes, grad_exp=grad_exp, param_exp=param_exp,
                           pattern=pattern, dtypes=dtypes)
    params = {n: _tensor(("param", name, n), shape, *param_exp) for n, shape in shapes}
    grads = None if closed_loop else _grad_stream(sc)
    finite = [x for t in params.values() for x in t.data]
    for step in grads or []:
        finite += [x for t in step.values() for x in t.data]
    _check_representable(name, finite, dtypes)
    return params, grads


def _check_representable(case_name: str, values, dtypes) -> None:
    for x in values:
        for d in dtypes:
            if not representable(x, d):
                raise AssertionError(f"scenario {case_name}: input {to_decimal(x)} is not exact in {d}")


def optimizer_scenarios(alg: Algorithm) -> list[OptimizerScenario]:
    """The scenario declarations that apply to ``alg`` (before profile filtering), with its variants."""
    out = []
    for sc in OPTIMIZER_SCENARIOS:
        if sc.name in alg.skip_scenarios or (sc.only and alg.name not in sc.only):
            continue
        if any(r not in alg.hypers for r in sc.requires):
            continue
        out.append(sc)
    for vname, overrides in alg.variants.items():
        out.append(OptimizerScenario(VARIANT_PREFIX + vname, f"Variant '{vname}': " +
                                     ", ".join(f"{k}={v}" for k, v in overrides.items()) + ".",
                                     steps=15, hyper=dict(overrides)))
    return out


def optimizer_case(alg: Algorithm, profile: Profile, sc: OptimizerScenario) -> Case | None:
    where = f"{alg.name}/{profile.name}/{sc.name}"
    if any(not profile.supports(r) for r in sc.requires):
        return None
    values = _base_hyper(alg, profile, sc.defaults)
    _apply(alg, values, alg.scenario_hyper.get(sc.name, {}), where)
    _apply(alg, values, {k: v for k, v in sc.hyper.items() if k in alg.hypers}, where)
    if not _supported(alg, profile, values):
        return None
    params, grads = _inputs(sc.name, sc.steps, sc.shapes, sc.grad_exp, sc.param_exp, sc.pattern, sc.dtypes,
                            sc.objective is not None)
    group_specs = sc.groups or ((tuple(n for n, _ in sc.shapes), {}),)
    groups = []
    for names, overrides in group_specs:
        gvalues = dict(values)
        for k, v in overrides.items():
            if k not in alg.hypers:
                continue
            if v == "half":
                v = to_decimal(alg.hypers[k].parse(gvalues[k]) / 2)
            gvalues[k] = v
        groups.append((tuple(names), alg.resolve(profile.name, gvalues, where)))
    for _, h in groups:
        if not _supported(alg, profile, h):
            return None
    case = Case(alg, profile, sc.name, sc.doc, sc.steps, sc.dtypes, groups, params=params, grads=grads,
                objective=_objective(sc, params) if sc.objective else None,
                checkpoint_at=sc.checkpoint_at)
    if sc.schedule:
        from .model import get
        sched = get(sc.schedule["algorithm"])
        shyper = dict(sc.schedule["hyper"])
        shyper["lr"] = to_decimal(groups[0][1].lr)
        case.schedule = {"algorithm": sched.name, "profile": "spec",
                         "hyper": sched.resolve("spec", shyper, where)}
    return case


def _objective(sc: OptimizerScenario, params: dict) -> dict:
    obj = dict(sc.objective)
    return {k: (tuple(mpf(x) for x in v) if isinstance(v, tuple) else (mpf(v) if k != "kind" else v))
            for k, v in obj.items()}


def schedule_case(alg: Algorithm, profile: Profile, sc: ScheduleScenario) -> Case | None:
    where = f"{alg.name}/{profile.name}/{sc.name}"
    if sc.name in alg.skip_scenarios:
        return None
    values = _base_hyper(alg, profile, sc.defaults)
    _apply(alg, values, alg.scenario_hyper.get(sc.name, {}), where)
    _apply(alg, values, sc.hyper, where)
    if not _supported(alg, profile, values):
        return None
    h = alg.resolve(profile.name, values, where)
    horizon = alg.impl.horizon(h)
    steps = sc.steps if isinstance(sc.steps, int) else (horizon if sc.steps == "horizon" else (5 * horizon) // 2)
    metrics = None
    if hasattr(alg.impl, "metrics"):
        metrics = alg.impl.metrics(steps)
    return Case(alg, profile, sc.name, sc.doc, steps, ALL_DTYPES, [((), h)], metrics=metrics)


def schedule_variant_scenarios(alg: Algorithm) -> list[ScheduleScenario]:
    out = list(SCHEDULE_SCENARIOS)
    for vname, overrides in alg.variants.items():
        out.append(ScheduleScenario(VARIANT_PREFIX + vname, f"Variant '{vname}': " +
                                    ", ".join(f"{k}={v}" for k, v in overrides.items()) + ".",
                                    steps="past", hyper=dict(overrides)))
    return out


def cases(alg: Algorithm, profile: Profile | None = None) -> list[Case]:
    """Every case of ``alg`` (under one profile, or all of them)."""
    profiles = [profile] if profile is not None else list(alg.profiles.values())
    out = []
    for prof in profiles:
        if alg.kind == "optimizer":
            for sc in optimizer_scenarios(alg):
                c = optimizer_case(alg, prof, sc)
                if c is not None:
                    out.append(c)
        else:
            for sc in schedule_variant_scenarios(alg):
                c = schedule_case(alg, prof, sc)
                if c is not None:
                    out.append(c)
    return out
