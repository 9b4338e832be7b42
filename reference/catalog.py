"""The divergence catalog: what every framework profile chooses, against the spec and against each
other, and how far each difference moves a trajectory — measured with the exact reference.

For one algorithm (:func:`algorithm_entry`):

* ``axes`` — each semantic axis, the value every profile takes, and whether the axis matters only
  for non-finite inputs (``[active_when] axis = "@nonfinite"``: equal in exact arithmetic for finite
  gradients) or only when a feature hyperparameter is on (weight decay λ > 0);
* ``hyperparameters`` — each canonical hyperparameter with every profile's keyword and default,
  and whether the names or the defaults differ (Keras ε = 1e-7 against torch's 1e-8, RMSprop's
  ρ = 0.9 against torch's ``alpha`` = 0.99, ...);
* ``differences`` — for every framework profile P, the size of each axis on which P differs from
  the spec profile (that axis alone changed, the spec's defaults, the axis's feature switched on at
  its probe value), of all its axes together at the spec's hyperparameters (``semantics``), and of
  P as shipped (its own defaults) against the spec's defaults (``as_shipped``);
* ``equivalences`` — the pairs of profiles whose exact trajectories agree on every measurement
  scenario, and whether they still agree in float64 (both runs emulated with every operation
  rounded to 53 bits, each profile's declared precision effects applied): ``up_to_rounding`` when
  the float64 runs stay within twice the float64 bound of spec/tolerance.md (relative
  2·8t·2⁻⁵² after t steps), else ``exact_only`` — the exact-arithmetic argument fails for the
  arithmetic the frameworks do.

The size of a difference is the largest relative difference |a − b|/|b| over the elements (b the
first profile's value), after t = 1, 10 and 100 steps of three optimizer regimes (:data:`REGIMES`),
or, for a schedule, over its learning rates up to its horizon and past it (2.5 horizons) with the
first update index k at which they differ. Values that are finite on one side only are reported as
``"non-finite"``.

Everything is deterministic; :func:`catalog` caches what it computes in the shared cache folder
(reference/disk_cache.py, named by the fingerprint of the reference's source and data files), so a
second run reads it. The package also ships the whole catalog, computed when spec/divergences.md
was generated (:data:`SEED`, spec/divergences.json, keyed on the reference's fingerprint): while
the reference is the one it was computed from, a first run on a machine reads it instead of
recomputing; after any change to the reference it is ignored (and a test says it is stale).
"""
from __future__ import annotations

import ast
import dataclasses
import json
import operator
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

import mpmath

from . import __version__, disk_cache
from .model import NONFINITE, Algorithm, Profile, algorithms, encode_hyper, get, precision_effects
from .numeric import mpf, precision
from .scenarios import OptimizerScenario, ScheduleScenario, optimizer_case, schedule_case

FORMAT = "optconform-divergences/1"
CATALOG_VERSION = 1  # bump when the measurements change meaning (part of the cache key)
STEPS = (1, 10, 100)
FLOAT64_BITS = 53
EXACT_DIGITS = 40  # exact runs that agree to 40 significant digits are equal (the vectors' digits)


@dataclass(frozen=True)
class Regime:
    name: str
    doc: str
    grad_exp: tuple
    schedule: dict | None = None


REGIMES = (
    Regime("ordinary", "gradients of ordinary size (2⁻³ to 2²), constant learning rate", (-3, 1)),
    Regime("near_eps", "gradients near ε (2⁻³⁰ to 2⁻²⁶, about 1e-9 to 1.5e-8), constant learning rate", (-30, -27)),
    Regime("scheduled", "ordinary gradients, learning rate warmed up from 0 over 10 steps then cosine-decayed "
           "to 0 at step 100 (from η/16 and to η/16 where the learning rate must be positive: FTRL divides by it)",
           (-3, 1),
           {"algorithm": "warmup_cosine", "hyper": {"warmup_steps": 10, "total_steps": 100, "warmup_start": "0"}}),
)
POSITIVE_LR_FLOOR = 16  # the scheduled regime's η/16 start and end for a learning rate that must be positive
SHAPE = (("w", (2, 2)),)
# Muon's step depends on the matrix's rows and columns (√max(1, r/c), √max(1, c/r), 0.2·√max(r, c)),
# and tensors that are not 2-D take its AdamW: a wide matrix and a vector show both (non_matrix).
SHAPES = {"muon": (("w", (2, 3)), ("b", (3,)))}


# --- the measurement (shared with the spec pages' divergence tables, reference/specgen.py) --------


def compared_values(alg: Algorithm, record) -> list:
    """The values of one optimizer record the catalog compares: every parameter tensor in name
    order, then every state entry the algorithm declares ``evaluated`` (the averaged or slow
    weights a user evaluates: two profiles that agree on the parameters but not on the average
    differ where it matters)."""
    out = [x for n in sorted(record.params) for x in record.params[n].data]
    for entry in alg.evaluated:
        for n in sorted(record.state):
            value = record.state[n].get(entry)
            if value is not None:
                out += list(value.data) if hasattr(value, "data") else [value]
    return out


def final_values(case) -> list:
    """The values a case ends with: its final parameters and evaluated weights (optimizer,
    :func:`compared_values`) or its learning rates (schedule, every update)."""
    from .trajectory import run

    records = run(case)
    if case.algorithm.kind == "optimizer":
        return compared_values(case.algorithm, records[-1])
    return [r.lr for r in records]


def relative_difference(ours: Iterable, base: Iterable):
    """max |a − b| / max(|b|, 10⁻³⁰) over the pairs where both are finite (0 when none differ)."""
    worst = mpf(0)
    for a, b in zip(ours, base):
        if not (mpmath.isfinite(a) and mpmath.isfinite(b)):
            continue
        scale = max(abs(b), mpf(10) ** -30)
        worst = max(worst, abs(a - b) / scale)
    return worst


def _nonfinite_mismatch(ours, base) -> bool:
    for a, b in zip(ours, base):
        fa, fb = mpmath.isfinite(a), mpmath.isfinite(b)
        if fa != fb or (not fa and not ((mpmath.isnan(a) and mpmath.isnan(b)) or a == b)):
            return True
    return False


def _differ(ours, base) -> bool:
    """Whether two exact runs differ (beyond ``EXACT_DIGITS`` digits, or in a non-finite value)."""
    return _nonfinite_mismatch(ours, base) or relative_difference(ours, base) > mpf(10) ** -EXACT_DIGITS


def _size(ours, base):
    """A measured difference as JSON: a float to 3 significant digits (0 below 10⁻⁴⁰, the working
    precision's own noise), or ``"non-finite"``."""
    if _nonfinite_mismatch(ours, base):
        return "non-finite"
    size = relative_difference(ours, base)
    return float(f"{float(size):.3g}") if size > mpf(10) ** -EXACT_DIGITS else 0.0


# --- measurement cases ----------------------------------------------------------------------------


def with_semantics(profile: Profile, semantics: dict) -> Profile:
    """``profile`` computing other semantics (same defaults, names and effects)."""
    return dataclasses.replace(profile, semantics=dict(semantics))


def optimizer_run_case(alg: Algorithm, profile: Profile, regime: Regime, use_defaults: bool, hyper: dict):
    """The measurement case of an optimizer: a 2×2 tensor (2×3 where :data:`SHAPES` says),
    ``STEPS[-1]`` steps of the regime's gradient stream; the profile's defaults (``use_defaults``) or the algorithm's probes, then
    ``hyper``. None where the profile cannot take those hyperparameters."""
    sc = OptimizerScenario(f"catalog_{regime.name}", regime.doc, steps=STEPS[-1], shapes=SHAPES.get(alg.name, SHAPE),
                           grad_exp=regime.grad_exp, dtypes=("float64",), defaults=use_defaults,
                           hyper=dict(hyper), schedule=regime.schedule)
    case = optimizer_case(alg, profile, sc)
    if case is not None and case.schedule and alg.hypers["lr"].min_exclusive is not None:
        # a learning rate that must be positive (FTRL's n^{−p}/η) warms up from, and decays to,
        # η/16 instead of 0, where the step would divide by zero
        h = case.schedule["hyper"]
        floor = h.lr / POSITIVE_LR_FLOOR
        case.schedule = dict(case.schedule, hyper=type(h)(h, warmup_start=floor, eta_min=floor))
    return case


def schedule_run_case(alg: Algorithm, profile: Profile, use_defaults: bool, hyper: dict | None = None):
    """The measurement case of a schedule: the ``defaults`` or ``probe`` scenario's hyperparameters
    (then ``hyper``), run to 2.5 horizons."""
    sc = ScheduleScenario("defaults" if use_defaults else "probe", "", steps="past", defaults=use_defaults,
                          hyper=dict(hyper or {}))
    return schedule_case(alg, profile, sc)


def run_case(alg: Algorithm, profile: Profile, use_defaults: bool, hyper: dict, regime: Regime = REGIMES[0]):
    """The measurement case of either kind (``regime`` for an optimizer)."""
    if alg.kind == "schedule":
        return schedule_run_case(alg, profile, use_defaults, hyper)
    return optimizer_run_case(alg, profile, regime, use_defaults, hyper)


def _trajectory(case, bits: int | None = None, effects=None):
    """Per record, the values compared: all parameters and evaluated weights (optimizer,
    :func:`compared_values`) or the learning rate (schedule)."""
    from .trajectory import run

    records = run(case, bits=bits, effects=effects)
    if case.algorithm.kind == "optimizer":
        return [compared_values(case.algorithm, r) for r in records]
    return [[r.lr] for r in records]


def _compare(alg: Algorithm, a: list, b: list, horizon: int | None = None) -> dict:
    """The size of the difference between two trajectories (b the reference side)."""
    if alg.kind == "optimizer":
        return {str(t): _size(a[t - 1], b[t - 1]) for t in STEPS}
    first = next((k for k, (x, y) in enumerate(zip(a, b)) if _differ(x, y)), None)
    flat_a, flat_b = [x for row in a for x in row], [y for row in b for y in row]
    return {"horizon": horizon, "first_k": first,
            "within": _size(flat_a[:horizon + 1], flat_b[:horizon + 1]),
            "past": _size(flat_a[horizon + 1:], flat_b[horizon + 1:])}


def measure(alg: Algorithm, left: tuple, right: tuple) -> dict | None:
    """The size of the difference between two runs, each ``(profile, use_defaults, hyper)``
    (``right`` is the reference side), on every regime: {regime: sizes}; None where a side cannot
    take the hyperparameters. A run that raises gives {"error": message} for its regime."""
    out = {}
    with precision():
        if alg.kind == "schedule":
            cases = [schedule_run_case(alg, p, d, h) for p, d, h in (left, right)]
            if None in cases:
                return None
            try:
                a, b = (_trajectory(c) for c in cases)
            except (ArithmeticError, ValueError) as exc:
                return {"lr": {"error": f"{type(exc).__name__}: {exc}"}}
            return {"lr": _compare(alg, a, b, alg.impl.horizon(cases[1].groups[0][1]))}
        for regime in REGIMES:
            cases = [optimizer_run_case(alg, p, regime, d, h) for p, d, h in (left, right)]
            if None in cases:
                return None
            try:
                a, b = (_trajectory(c) for c in cases)
            except (ArithmeticError, ValueError) as exc:
                out[regime.name] = {"error": f"{type(exc).__name__}: {exc}"}
                continue
            out[regime.name] = _compare(alg, a, b)
    return out


def largest(sizes: dict | None, regime: str | None = None):
    """The largest size in a measurement (one regime or all), ``"non-finite"`` beating any number;
    None when nothing was measured."""
    if not sizes:
        return None
    values = []
    for name, row in sizes.items():
        if regime is not None and name != regime:
            continue
        if "error" in row:
            values.append("non-finite")
            continue
        values += [v for k, v in row.items() if k in ("within", "past") or k.isdigit()]
    if "non-finite" in values:
        return "non-finite"
    numbers = [v for v in values if isinstance(v, float)]
    return max(numbers) if numbers else None


# --- the per-algorithm catalog -------------------------------------------------------------------


def _feature_probe(alg: Algorithm, axis: str) -> dict:
    """{switch: "probe"} for an axis that only matters when a feature hyperparameter is on."""
    switch = alg.active_when.get(axis)
    if switch and switch != NONFINITE and alg.hypers[switch].probe is not None:
        return {switch: "probe"}
    if switch and switch != NONFINITE:
        h = alg.hypers[switch]
        if h.type == "bool":
            return {switch: True}
    return {}


def finite_only(alg: Algorithm, axis: str) -> bool:
    """Whether the axis's values agree in exact arithmetic for finite inputs."""
    return alg.active_when.get(axis) == NONFINITE


def _flag(axis: str) -> str:
    from .flags import flag_of

    return flag_of(axis)


def axis_rows(alg: Algorithm) -> list:
    spec = alg.profiles["spec"].semantics
    rows = []
    for axis, values in alg.axes.items():
        switch = alg.active_when.get(axis)
        rows.append({
            "axis": axis, "flag": _flag(axis), "doc": alg.axis_defs[axis].doc,
            "meanings": {v: alg.axis_defs[axis].values[v] for v in values},
            "spec": spec[axis],
            "values": {p.name: p.semantics[axis] for p in alg.profiles.values()},
            "differs": [p.name for p in alg.profiles.values() if p.semantics[axis] != spec[axis]],
            "finite_only": switch == NONFINITE,
            "switch": switch if switch and switch != NONFINITE else None,
        })
    return rows


def keyword(profile: Profile, name: str) -> str | None:
    """The framework's name for a canonical hyperparameter as the profile declares it (None where
    the profile lacks it): a keyword, or text such as ``decay_rate (= −beta2_decay)`` (see
    :func:`argument`)."""
    if name in profile.unsupported:
        return None
    if profile.name == "spec":
        return name
    return profile.names.get(name, name)


def shown_keyword(profile: Profile, name: str, kw: str | None) -> str | None:
    """``kw`` as a table shows it: a keyword of the profile's inner optimizer inside that
    optimizer's call (``optax.sgd(learning_rate)``, ``torch.optim.SGD(lr)``)."""
    if kw is not None and profile.inner and name in profile.inner["hypers"]:
        return f"{profile.inner['api']}({kw})"
    return kw


_DERIVED = re.compile(r"^([A-Za-z_]\w*) \(= ([^:()]+)(?::[^()]*)?\)$")


def argument(profile: Profile, name: str) -> tuple:
    """(keyword, expression) of a canonical hyperparameter: a declared name ``KW (= EXPR[: note])``
    says the framework's keyword KW takes EXPR, an expression in canonical hyperparameters (optax's
    ``decay_rate (= −beta2_decay)``: decay_rate = 0.8 where β₂'s exponent c = −0.8); any other name
    is the keyword itself (expression None). (None, None) where the profile lacks it."""
    kw = keyword(profile, name)
    m = _DERIVED.match(kw) if kw else None
    return (m.group(1), m.group(2).strip()) if m else (kw, None)


_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def evaluate(expression: str, values: dict):
    """An arithmetic expression (+ − * /, parentheses, numbers) in the hyperparameters ``values``."""
    from .errors import UserError
    from .numeric import to_mpf

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](walk(node.left), walk(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Name) and node.id in values:
            return values[node.id]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
            return to_mpf(repr(node.value))
        raise UserError(f"expression {expression!r}: only hyperparameters, numbers and + - * / are allowed")

    return walk(ast.parse(expression.replace("−", "-").replace("·", "*"), mode="eval"))


def default_of(alg: Algorithm, profile: Profile, name: str):
    """A profile's default of a hyperparameter as JSON (the fixed value where it lacks it)."""
    h = alg.hypers[name]
    raw = profile.fixed_value(h) if name in profile.unsupported else profile.defaults.get(name, h.default)
    with precision():
        return encode_hyper(h.parse(raw))


def required(profile: Profile, name: str) -> bool:
    """Whether the framework's constructor has no default for the hyperparameter (``required``)."""
    return name in profile.required and name not in profile.unsupported


def framework_value(alg: Algorithm, profile: Profile, name: str, values: dict | None = None):
    """The value the framework's own keyword takes (JSON) for canonical ``values`` (default: the
    profile's defaults): the canonical value, or its declared expression evaluated
    (:func:`argument`)."""
    _, expression = argument(profile, name)
    if values is None:
        values = {n: default_of(alg, profile, n) for n in alg.hypers}
    if expression is None:
        return values[name]
    with precision():
        parsed = {n: alg.hypers[n].parse(v) for n, v in values.items()}
        return encode_hyper(evaluate(expression, parsed))


def hyper_rows(alg: Algorithm) -> list:
    """Per canonical hyperparameter, every profile's ``keyword`` (the framework's own name; with
    ``expression`` where it takes a function of canonical values), ``default`` (canonical),
    ``value`` (what the framework's keyword takes at that default), ``required`` (no default in the
    framework: the value shown is the spec's, used when a run needs one) and ``supported``."""
    rows = []
    for name, h in alg.hypers.items():
        per = {}
        for p in alg.profiles.values():
            kw, expression = argument(p, name)
            per[p.name] = {"keyword": shown_keyword(p, name, kw), "expression": expression, "default": default_of(alg, p, name),
                           "value": framework_value(alg, p, name) if kw is not None else None,
                           "required": required(p, name), "supported": name not in p.unsupported}
        defaults = [v for v in per.values() if v["supported"] and not v["required"]]
        rows.append({
            "name": name, "doc": h.doc, "spec": per["spec"]["default"], "profiles": per,
            "defaults_differ": len({json.dumps(v["default"]) for v in defaults}) > 1
            or any(v["required"] for v in per.values()),
            "names_differ": len({v["keyword"] for k, v in per.items() if v["supported"] and k != "spec"}) > 1,
        })
    return rows


def _defaults_differ(alg: Algorithm, a: Profile, b: Profile) -> list:
    """The hyperparameters both profiles take, with a default on both sides, whose defaults differ."""
    out = []
    for name in alg.hypers:
        if name in a.unsupported or name in b.unsupported or required(a, name) or required(b, name):
            continue
        da, db = default_of(alg, a, name), default_of(alg, b, name)
        if da != db:
            out.append({"name": name, a.name: da, b.name: db})
    return out


def _resolved(alg: Algorithm, profile: Profile, use_defaults: bool, hyper: dict) -> dict:
    with precision():
        case = run_case(alg, profile, use_defaults, hyper)
        return {} if case is None else {k: encode_hyper(v) for k, v in case.groups[0][1].items()}


def _axis_effect(alg: Algorithm, spec: Profile, axis: str, value: str) -> dict:
    """The size of one axis changed from the spec's value to ``value``: at the spec's defaults with
    the axis's feature on ({"hyper": the feature's value, "effect"}); where that shows no difference
    (the axis needs another hyperparameter away from its default: momentum for SGD's first buffer,
    a non-zero warmup start), at the probe values too ({"at_probe": the hyperparameters that differ
    from the defaults})."""
    probe = _feature_probe(alg, axis)
    changed = with_semantics(spec, {**spec.semantics, axis: value})
    out = {"hyper": {k: encode_hyper(alg.hypers[k].parse(alg.hypers[k].probe if v == "probe" else v))
                     for k, v in probe.items()},
           "effect": measure(alg, (changed, True, probe), (spec, True, probe))}
    if largest(out["effect"]) == 0.0:
        at_probe = measure(alg, (changed, False, probe), (spec, False, probe))
        if at_probe is not None and largest(at_probe) != 0.0:
            defaults, probes = _resolved(alg, spec, True, probe), _resolved(alg, spec, False, probe)
            out["effect"] = at_probe
            out["at_probe"] = {k: v for k, v in probes.items() if defaults.get(k) != v}
    return out


def difference_rows(alg: Algorithm) -> list:
    spec = alg.profiles["spec"]
    effects: dict = {}
    rows = []
    for p in alg.profiles.values():
        if p.name == "spec":
            continue
        differing = [a for a in alg.axes if p.semantics[a] != spec.semantics[a]]
        axes = []
        for axis in differing:
            row = {"axis": axis, "spec": spec.semantics[axis], "value": p.semantics[axis],
                   "finite_only": finite_only(alg, axis)}
            if not row["finite_only"]:
                key = (axis, p.semantics[axis])
                if key not in effects:
                    effects[key] = _axis_effect(alg, spec, axis, p.semantics[axis])
                row.update(effects[key])
            axes.append(row)
        defaults = _defaults_differ(alg, spec, p)
        finite_axes = [a for a in differing if not finite_only(alg, a)]
        rows.append({
            "profile": p.name, "framework": p.framework, "api": p.api, "axes": axes, "defaults": defaults,
            "semantics": measure(alg, (with_semantics(spec, p.semantics), True, {}), (spec, True, {}))
            if finite_axes else None,
            "as_shipped": measure(alg, (p, True, {}), (spec, True, {})) if finite_axes or defaults else None,
        })
    return rows


def _float64_effects(alg: Algorithm, profile: Profile, case) -> dict:
    """Every real hyperparameter held in float64, then the profile's declared effects that apply to
    a float64 run on its default arithmetic (effects limited to named code paths left out)."""
    from .replay import real_hypers

    return {**{n: "float64" for n in real_hypers(case)}, **precision_effects(profile, None, "float64")}


def _equivalence_runs(alg: Algorithm, profile: Profile, hyper: dict, bits: int | None,
                      base: Profile | None = None) -> list:
    """The profile's semantics at the spec's hyperparameters (a schedule: its probe values), or at
    ``base``'s defaults where given, ``hyper`` on top; every regime; with ``bits``, emulated in that
    format with its declared precision effects."""
    spec = base or alg.profiles["spec"]
    runner = with_semantics(spec, profile.semantics)
    runner = dataclasses.replace(runner, precision=profile.precision)
    out = []
    with precision():
        if alg.kind == "schedule":  # the probe values, or base's own values
            cases = [schedule_run_case(alg, runner, base is not None, hyper if base is not None else None)]
        else:
            cases = [optimizer_run_case(alg, runner, r, True, hyper) for r in REGIMES]
        for case in cases:
            if case is None:
                out.append(None)
                continue
            try:
                effects = _float64_effects(alg, profile, case) if bits else None
                out.append(_trajectory(case, bits=bits, effects=effects))
            except (ArithmeticError, ValueError):
                out.append(None)
    return out


def rounding_limit(t: int) -> float:
    """Twice the float64 bound of spec/tolerance.md after t steps, as a relative size."""
    from .tolerance import bound

    return 2 * bound(t, 0, "float64") * 2.0 ** -52


def _f64_sizes(alg: Algorithm, a: list, b: list) -> dict:
    if alg.kind == "optimizer":
        return {r.name: {str(t): _size(x[t - 1], y[t - 1]) for t in STEPS}
                for r, x, y in zip(REGIMES, a, b) if x is not None and y is not None}
    x, y = a[0], b[0]
    if x is None or y is None:
        return {}
    return {"lr": {"all": _size([v for row in x for v in row], [v for row in y for v in row])}}


def _within_rounding(alg: Algorithm, sizes: dict) -> bool:
    for row in sizes.values():
        for key, v in row.items():
            t = int(key) if key.isdigit() else 1
            if v == "non-finite" or v > rounding_limit(t if alg.kind == "optimizer" else 1):
                return False
    return True


def _precision_differs(a: Profile, b: Profile) -> dict:
    """{quantity: [a's format, b's format]} of the declared precision effects of a float64 run
    that differ between two profiles ("float64": none declared)."""
    pa, pb = precision_effects(a, None, "float64"), precision_effects(b, None, "float64")
    return {n: [pa.get(n, "float64"), pb.get(n, "float64")] for n in sorted(set(pa) | set(pb))
            if pa.get(n, "float64") != pb.get(n, "float64")}


def float64_agreement(alg: Algorithm, a: Profile, b: Profile, base: Profile | None = None) -> dict:
    """Whether two profiles agree in float64 at ``base``'s hyperparameters (default: the spec's),
    with every feature switched on (its probe value) except the features of the axes on which they
    differ, which would measure that semantic difference, not rounding: {"verdict", "float64",
    "hyper", "precision_differs"}.

    The exact runs come first: if they differ at these hyperparameters the verdict is ``differ``
    (with their exact sizes in ``exact``): no rounding statement can be made. Else, as in
    :func:`equivalence_rows`, ``up_to_rounding`` when the float64 runs stay within
    :func:`rounding_limit`, ``exact_only`` when they do not (declared precision effects)."""
    differing = {alg.active_when.get(x) for x in alg.axes if a.semantics[x] != b.semantics[x]}
    hyper = {}
    for axis in alg.axes:
        hyper.update({k: v for k, v in _feature_probe(alg, axis).items() if k not in differing})
    shown = {k: encode_hyper(alg.hypers[k].parse(alg.hypers[k].probe if v == "probe" else v)) for k, v in hyper.items()}
    ea, eb = _equivalence_runs(alg, a, hyper, None, base), _equivalence_runs(alg, b, hyper, None, base)
    if any(x is not None and y is not None and any(_differ(xr, yr) for xr, yr in zip(x, y)) for x, y in zip(ea, eb)):
        return {"verdict": "differ", "float64": {}, "exact": _f64_sizes(alg, ea, eb), "hyper": shown,
                "precision_differs": _precision_differs(a, b)}
    sizes = _f64_sizes(alg, _equivalence_runs(alg, a, hyper, FLOAT64_BITS, base),
                       _equivalence_runs(alg, b, hyper, FLOAT64_BITS, base))
    return {"verdict": "up_to_rounding" if _within_rounding(alg, sizes) else "exact_only", "float64": sizes,
            "hyper": shown, "precision_differs": _precision_differs(a, b)}


def equivalence_rows(alg: Algorithm) -> list:
    """Pairs of profiles whose exact trajectories agree on every measurement run, with their float64
    verdict (see the module docstring)."""
    profiles = list(alg.profiles.values())
    hyper = {}
    for axis in alg.axes:
        hyper.update(_feature_probe(alg, axis))
    exact = {p.name: _equivalence_runs(alg, p, hyper, None) for p in profiles}
    f64: dict = {}
    rows = []
    for i, a in enumerate(profiles):
        for b in profiles[i + 1:]:
            ra, rb = exact[a.name], exact[b.name]
            if any(x is None for x in ra + rb):
                continue
            if any(_differ(xr, yr) for x, y in zip(ra, rb) for xr, yr in zip(x, y)):
                continue
            for p in (a, b):
                if p.name not in f64:
                    f64[p.name] = _equivalence_runs(alg, p, hyper, FLOAT64_BITS)
            sizes = _f64_sizes(alg, f64[a.name], f64[b.name])
            finite_axes = [x for x in alg.axes if a.semantics[x] != b.semantics[x] and not finite_only(alg, x)]
            rows.append({
                "profiles": [a.name, b.name], "apis": [a.api or "spec", b.api or "spec"],
                "verdict": "up_to_rounding" if _within_rounding(alg, sizes) else "exact_only",
                "float64": sizes,
                "hyper": {k: encode_hyper(alg.hypers[k].parse(alg.hypers[k].probe if v == "probe" else v))
                          for k, v in hyper.items()},
                "axes_equal_here": finite_axes,
                "differ_nonfinite": [x for x in alg.axes if a.semantics[x] != b.semantics[x] and finite_only(alg, x)],
                "defaults_differ": _defaults_differ(alg, a, b),
                "precision_differs": _precision_differs(a, b),
            })
    return rows


def algorithm_entry(alg: Algorithm) -> dict:
    return {
        "name": alg.name, "kind": alg.kind, "title": alg.title, "evaluated": list(alg.evaluated),
        "profiles": [{"name": p.name, "framework": p.framework or "spec", "api": p.api or "",
                      "source": p.source} for p in alg.profiles.values()],
        "axes": axis_rows(alg),
        "hyperparameters": hyper_rows(alg),
        "differences": difference_rows(alg),
        "equivalences": equivalence_rows(alg),
    }


# --- the cache -----------------------------------------------------------------------------------


SEED = Path(__file__).resolve().parent.parent / "spec" / "divergences.json"


def seed_text(document: dict) -> str:
    """The shipped catalog (:data:`SEED`) of a :func:`catalog` document of every algorithm: the
    entries keyed as the cache keys them, on the reference's fingerprint and the catalog's version;
    one line per algorithm, so a change reads as a diff of the algorithms it touches."""
    head = json.dumps({"fingerprint": disk_cache.reference_fingerprint(), "generator": f"optconform {__version__}",
                       "catalog_version": CATALOG_VERSION}, ensure_ascii=False)
    lines = []
    for entry in document["algorithms"]:
        key = json.dumps("algorithm:" + entry["name"])
        lines.append(f"{key}: {json.dumps(entry, ensure_ascii=False)}")
    return head[:-1] + ', "entries": {\n' + ",\n".join(lines) + "\n}}\n"


def read_seed(path: Path = SEED) -> dict:
    """The shipped entries when they were computed from this reference, else {}."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict) or doc.get("fingerprint") != disk_cache.reference_fingerprint() \
            or doc.get("catalog_version") != CATALOG_VERSION or doc.get("generator") != f"optconform {__version__}":
        return {}
    entries = doc.get("entries")
    return entries if isinstance(entries, dict) else {}


def cache_path() -> Path | None:
    """The catalog's file in the shared cache folder (reference/disk_cache.py: named by the
    fingerprint of the reference's sources and data), or None when the cache is off."""
    here = disk_cache.folder()
    return None if here is None else here / f"divergences-{__version__}-{CATALOG_VERSION}.json"


class Cache:
    """Computed entries in one JSON file named after the reference digest, started from the
    shipped catalog (:func:`read_seed`) when it fits this reference; unwritable: memory only.
    ``enabled=False``: nothing read or written, everything computed."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.path = cache_path() if enabled else None
        self.entries: dict = {}
        self.dirty = False
        if self.path is not None and self.path.exists():
            try:
                self.entries = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                self.entries = {}
        if enabled:
            for k, v in read_seed().items():
                self.entries.setdefault(k, v)

    def get(self, key: str, compute):
        if key not in self.entries:
            self.entries[key] = compute()
            self.dirty = True
        return self.entries[key]

    def save(self) -> None:
        if not (self.enabled and self.dirty):
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=".divergences.", dir=self.path.parent)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.entries, fh)
            os.replace(tmp, self.path)
            self.dirty = False
        except OSError:
            pass  # a read-only home: the next run computes again


def catalog(names: list[str] | None = None, cache: Cache | None = None) -> dict:
    """The catalog of the named algorithms (default: every one), as the ``--json`` document."""
    selected = [get(n) for n in names] if names else list(algorithms().values())
    cache = cache if cache is not None else Cache()
    entries = [cache.get(f"algorithm:{a.name}", lambda a=a: algorithm_entry(a)) for a in selected]
    cache.save()
    return {
        "format": FORMAT, "generator": f"optconform {__version__}",
        "steps": list(STEPS),
        "regimes": {r.name: r.doc for r in REGIMES},
        "rounding_limit": "2·8t·2⁻⁵² relative after t steps (twice the float64 bound of spec/tolerance.md)",
        "algorithms": entries,
    }
