"""One-step mode: the exact result of each step of a vector, started from the vector's exact state
rounded to a dtype, as an implementation that can inject optimizer state runs it.

For step t of an optimizer vector (spec/tolerance.md, "One-step mode"):

1. the *injected* inputs are the vector's exact values after step t − 1 (the initial parameters
   and the algorithm's initial state for t = 1) rounded to the dtype d — parameters and every
   state entry, except entries a declared precision effect holds in another format (torch's NAdam
   ``mu_product`` is float32) — and the gradient g_t rounded to d (for a closed-loop scenario the
   vector's exact ∇f(θ_{t−1}), so both sides see the same gradient);
2. the *expected* result is one step of the reference from exactly those inputs, in exact
   arithmetic, with the learning rate η_t of the vector (the declared effects applied as in
   trajectory mode);
3. the one-step spread S_t is the largest difference, in ulps of d at σ_t, between that result
   and the same step emulated as spec/tolerance.md emulates a trajectory: every operation rounded
   to d's significand width, as written and with the real hyperparameters rounded to d, and exact
   arithmetic with those rounded hyperparameters; every operation at d's width rounded toward −∞
   and toward +∞ (an emulation that breaks down is left out); plus the reruns that bracket a
   declared scalar format that is not correctly rounded.

An implementation's one-step error at t is held to max(floor, 4·S_t) with the floor of a single
step (8 ulps in float64, 2 in the other dtypes): one step cannot accumulate error, so this mode
pins down each step's arithmetic more tightly than a trajectory can, and a failing step says
exactly which update is wrong.
"""
from __future__ import annotations

from typing import Mapping

import gmpy2
import mpmath

from .algorithm import StepContext, step_function
from .effects import BRACKETS, Effects
from .model import Namespace
from .mpfr_run import attempt, hypers_in, state_map, tensor_in, value_in
from .mpfr_run import state_in as mpfr_state_in
from .numeric import (FORMATS, GMPY_ROUNDING, MPFR, LeavesFiniteArithmetic, directed, num, precision, refuse_mpf,
                      round_to, to_decimal, to_mpf, to_mpfr)
from .replay import case_from_vector, real_hypers
from .tensor import Tensor, tmap
from .tolerance import lead_exponent, ulp, ulp_exponent

libmp = mpmath.libmp

MODE = "one-step"


def _parse_state(raw: dict, templates: dict, shapes: dict) -> dict:
    """A vector step's state, shaped like the algorithm's initial state ``templates`` (an entry
    created later, like SGD's momentum buffer, has the parameter's shape)."""
    out = {}
    for n, entries in raw.items():
        out[n] = {}
        for k, v in entries.items():
            like = templates[n].get(k)
            if isinstance(v, list):
                shape = like.shape if isinstance(like, Tensor) else shapes[n]
                out[n][k] = Tensor.from_values(v, shape)
            else:
                out[n][k] = to_mpf(v)
    return out


def _round_state(state: dict, dtype: str, held: dict) -> dict:
    out = {}
    for n, entries in state.items():
        out[n] = {}
        for k, v in entries.items():
            d = held.get(k, dtype)
            out[n][k] = (tmap(lambda x: round_to(x, d), v) if isinstance(v, Tensor)
                         else v if isinstance(v, (bool, int, str)) else round_to(v, d))
    return out


def _json_state(state: dict) -> dict:
    return {n: {k: (v.decimals() if isinstance(v, Tensor) else to_decimal(v)) for k, v in e.items()}
            for n, e in state.items()}


def one_step_document(doc: dict, profile: str, dtype: str, round_hypers: Effects | Mapping | None = None,
                      effects: Effects | Mapping | None = None, measure_spread: bool = True) -> dict:
    """The one-step expectations of an optimizer vector for ``dtype`` (see the module docstring):
    a vector-shaped document whose ``steps`` hold the expected results, ``spread`` the one-step
    spread, and ``inject`` per step what the implementation must load before it (``state`` is
    null for t = 1: a fresh optimizer takes the first step). ``effects`` (or its old name
    ``round_hypers``): the declared precision effects, {name: format} or an Effects. Without
    ``measure_spread`` (diagnosis's reruns under other semantics, which keep the declared
    document's spread) the emulations are skipped and the spread is 0."""
    if doc["kind"] != "optimizer":
        raise ValueError("one-step mode applies to optimizers only")
    case = case_from_vector(doc, profile)
    alg, sem, impl = case.algorithm, case.semantics, case.algorithm.impl
    effects = Effects.build(effects if effects is not None else round_hypers, alg)
    held = {k: v for k, v in effects.formats.items() if k in alg.state}  # state entries kept in another format
    shapes = {n: t.shape for n, t in case.params.items()}
    bits = FORMATS[dtype].precision
    groups = [(names, effects.round_hypers(h)) for names, h in case.groups]
    exact_params = {n: t.copy() for n, t in case.params.items()}
    templates = {n: impl.init(p, groups[_group_of(case, n)][1], sem) for n, p in case.params.items()}
    exact_state = None
    # the emulations of spec/tolerance.md, for one step: every operation at the dtype's width, as
    # written and with the real hyperparameters rounded to the dtype; exact arithmetic with those
    # rounded hyperparameters; every operation at the dtype's width rounded toward −∞ and toward
    # +∞ (the systematic extremes: one step is too short for round-to-nearest samples to show the
    # worst case); and, for a declared scalar format that is not correctly rounded (torch's
    # float32 pow and sqrt), the four reruns that bracket it
    rounded = effects.with_hypers({n: dtype for n in real_hypers(case)})
    rounded_groups = [(names, rounded.round_hypers(h)) for names, h in case.groups]
    emulations = [(groups, effects, bits), (rounded_groups, rounded, bits), (rounded_groups, rounded, None),
                  (groups, effects, (bits, "f")), (groups, effects, (bits, "c"))]
    if effects.bracketed:
        emulations += [(groups, effects.nudged(nudge), None) for nudge in BRACKETS]
    if not measure_spread:
        emulations = []
    hypers: dict = {}  # the groups' hyperparameters as MPFR values, converted once (_InjectedMPFR)
    out = {k: v for k, v in doc.items() if k not in ("steps", "spread")}
    out.update({"mode": MODE, "dtypes": [dtype], "spread": {dtype: []}, "steps": [], "inject": []})
    for t, vstep in enumerate(doc["steps"], 1):
        params_in = {n: tmap(lambda x: round_to(x, dtype), p) for n, p in exact_params.items()}
        if exact_state is None:
            state_in = {n: impl.init(params_in[n], groups[_group_of(case, n)][1], sem) for n in params_in}
        else:
            state_in = _round_state(exact_state, dtype, held)
        raw_grads = vstep.get("grads") or doc["inputs"]["grads"][t - 1]
        grads = {n: tmap(lambda x: round_to(x, dtype), Tensor.from_values(v, shapes[n])) for n, v in raw_grads.items()}
        lrs = [to_mpf(x) for x in vstep["lr"]]
        exact_out = _one_step(impl, groups, case, sem, params_in, state_in, grads, lrs, t, effects, None)
        spread = 0.0
        injected = _InjectedMPFR(params_in, state_in, grads, lrs, hypers)
        errors = None
        for emul_groups, emul_effects, emul_bits in emulations:
            try:
                emul_out = _one_step(impl, emul_groups, case, sem, params_in, state_in, grads, lrs, t,
                                     emul_effects, emul_bits, arithmetic="mpfr", injected=injected)
            except (ZeroDivisionError, ValueError, OverflowError):
                # the emulation breaks down (1 − β₂ᵗ rounds to 0 at 8 bits; frameworks compute
                # such scalars in double): it is left out, as in trajectory mode
                continue
            if _holds_mpfr(emul_out):
                errors = errors or _ExactForErrors(exact_out, state_in, params_in, dtype)
                spread = max(spread, errors.largest(emul_out))
            else:
                spread = max(spread, _largest_error(exact_out, emul_out, params_in, state_in, dtype))
        out["spread"][dtype].append(float(f"{spread:.3g}"))
        out["steps"].append({"t": t, "lr": [to_decimal(x) for x in exact_out[2]],
                             "params": {n: p.decimals() for n, p in exact_out[0].items()},
                             "state": _json_state(exact_out[1])})
        out["inject"].append({"params": {n: p.decimals() for n, p in params_in.items()},
                              "state": None if exact_state is None else _json_state(state_in),
                              "grads": {n: g.decimals() for n, g in grads.items()},
                              "lr": [to_decimal(x) for x in lrs]})
        exact_params = {n: Tensor.from_values(v, shapes[n]) for n, v in vstep["params"].items()}
        exact_state = _parse_state(vstep["state"], templates, shapes)
    return out


class _InjectedMPFR:
    """A step's injected inputs as MPFR values, converted once for all of its emulations (inside
    mpfr_run.attempt: an input that is not finite raises, and every emulation of the step then
    runs in mpmath); ``hypers`` caches the groups' hyperparameters of the whole document."""

    def __init__(self, params_in, state_in, grads, lrs, hypers: dict):
        self._inputs = (params_in, state_in, grads, lrs)
        self._converted = None
        self._hypers = hypers

    def get(self):
        """(params, state, grads, lrs): the state's containers and tensors new on every call (a step
        replaces its entries), the numbers shared."""
        if self._converted is None:
            try:
                params_in, state_in, grads, lrs = self._inputs
                self._converted = ({n: tensor_in(p) for n, p in params_in.items()}, mpfr_state_in(state_in),
                                   {n: tensor_in(g) for n, g in grads.items()}, [value_in(x) for x in lrs])
            except LeavesFiniteArithmetic as exc:
                self._converted = exc
        if isinstance(self._converted, Exception):
            raise self._converted
        params, state, grads, lrs = self._converted
        return {n: p.copy() for n, p in params.items()}, state_map(state, _same, Tensor.copy), grads, lrs

    def groups(self, groups: list) -> list:
        key = id(groups)
        if key not in self._hypers:
            self._hypers[key] = (groups, [(names, hypers_in(h)) for names, h in groups])
        return self._hypers[key][1]


def _holds_mpfr(out) -> bool:
    """Whether a step's results (params, state, lrs) hold MPFR values (an emulation that stayed in
    MPFR; :meth:`_ExactForErrors.largest` then refuses any mpf among them)."""
    return any(type(x) is MPFR for p in out[0].values() for x in p.data)


class _ExactForErrors:
    """The exact result of one step, ready for :meth:`largest` against each emulation held in MPFR:
    its values as MPFR and each element's ulp exponent at σ = max(|x|, |x0|), computed once."""

    def __init__(self, exact_out, state_in, params_in, dtype: str):
        self.keys = []
        xs, units = [], []
        for n in exact_out[0]:
            pairs = list(zip(exact_out[0][n].data, params_in[n].data))
            self.keys.append((n, None))
            for k, v in exact_out[1][n].items():
                if isinstance(v, Tensor):
                    before = state_in[n].get(k)
                    pairs += zip(v.data, before.data if isinstance(before, Tensor) else [0] * len(v.data))
                    self.keys.append((n, k))
            for x, x0 in pairs:
                finite_x = type(x) is not mpmath.mpf or x._mpf_ not in _NONFINITE
                xs.append(to_mpfr(x) if finite_x else None)
                leads = [e for e in (lead_exponent(x), lead_exponent(x0)) if e is not None]
                units.append(-ulp_exponent(max(leads) if leads else None, dtype))
        self.xs, self.units = xs, units

    def largest(self, emul_out) -> float:
        """:func:`_largest_error` of an emulation whose values are MPFR: y − x at the working precision
        and rounding, scaled exactly by the ulp, one rounding to float (as :func:`_error`)."""
        ys = []
        for n, k in self.keys:
            ys += emul_out[0][n].data if k is None else emul_out[1][n][k].data
        refuse_mpf(ys)
        prec, rounding = mpmath.mp._prec_rounding
        worst = 0.0
        with gmpy2.context(precision=prec, round=GMPY_ROUNDING[rounding], emax=gmpy2.get_emax_max(),
                           emin=gmpy2.get_emin_min()):
            for x, scale, y in zip(self.xs, self.units, ys):
                if x is not None:
                    e = abs(float(gmpy2.mul_2exp(y - x, scale)))
                    if e > worst:
                        worst = e
        return worst


def _largest_error(exact_out, emul_out, params_in, state_in, dtype: str) -> float:
    """The largest difference between two one-step results, in ulps of ``dtype`` at
    σ = max(|result|, |injected value|), over parameters and tensor state entries: the largest
    float(|y − x| / ulp(σ)), the difference taken at the working precision (:func:`_error`)."""
    worst = 0.0
    for n in exact_out[0]:
        triples = list(zip(exact_out[0][n].data, emul_out[0][n].data, params_in[n].data))
        for k, v in exact_out[1][n].items():
            if isinstance(v, Tensor):
                before = state_in[n].get(k)
                triples += zip(v.data, emul_out[1][n][k].data,
                               before.data if isinstance(before, Tensor) else [0] * len(v.data))
        for x, y, x0 in triples:
            e = _error(x, y, x0, dtype)
            if e is None:  # x or y is not an mpf: mpmath's own operations
                if mpmath.isfinite(x) and mpmath.isfinite(y):
                    sigma = max(abs(x), abs(x0) if mpmath.isfinite(x0) else 0)
                    e = float(abs(y - x) / ulp(sigma, dtype))
                else:
                    continue
            if e > worst:
                worst = e
    return worst


_NONFINITE = (libmp.finf, libmp.fninf, libmp.fnan)


def _error(x, y, x0, dtype: str) -> float | None:
    """float(|y − x| / ulp(σ)) with σ = max(|x|, |x0|) (|x0| counts only where finite), computed
    on mpf's raw values (sign, significand, exponent, bit count) with the same roundings as the
    mpmath expression of :func:`_largest_error`: y − x rounded at the working precision, the exact
    division by the power of two ulp(σ) (its exponent: the larger lead exponent of |x| and |x0|,
    through tolerance.ulp_exponent), one rounding to float. 0.0 where x or y is not finite
    (skipped: it cannot raise the maximum above 0); None where x or y is not an mpf (the caller's
    general path)."""
    xr, yr = getattr(x, "_mpf_", None), getattr(y, "_mpf_", None)
    if xr is None or yr is None:
        return None
    if xr in _NONFINITE or yr in _NONFINITE:
        return 0.0  # a non-finite value is skipped
    leads = [e for e in (lead_exponent(x), lead_exponent(x0)) if e is not None]
    unit = ulp_exponent(max(leads) if leads else None, dtype)
    prec, rounding = mpmath.mp._prec_rounding
    _sign, man, exp, bc = libmp.mpf_sub(yr, xr, prec, rounding)
    if not man:
        return 0.0
    return libmp.to_float((0, man, exp - unit, bc), rnd=rounding)


def _group_of(case, name: str) -> int:
    for gi, (names, _) in enumerate(case.groups):
        if name in names:
            return gi
    raise KeyError(name)


def _one_step(impl, groups, case, sem, params_in, state_in, grads, lrs, t, effects: Effects | Mapping | None, bits,
              arithmetic: str = "mpmath", injected: _InjectedMPFR | None = None):
    """One step from the injected inputs: (params, state, learning rates), exact or at ``bits``
    (or ``(bits, rounding)``: directed rounding); ``effects``: an Effects or the mapping
    {name: format}; ``arithmetic`` = ``"mpfr"``: the step on MPFR values (mpfr_run, the emulations'
    arithmetic; ``injected``: the inputs already converted), its results MPFR values (mpf where it
    met a value that is not finite and ran in mpmath)."""
    effects = Effects.build(effects, case.algorithm)
    declared = [h for _, h in case.groups]
    bits, rounding = bits if isinstance(bits, tuple) else (bits, None)
    with precision(None, bits), directed(rounding):
        def in_mpmath():
            return _step(impl, groups, declared, sem, {n: p.copy() for n, p in params_in.items()},
                         state_map(state_in, _same, Tensor.copy), grads, lrs, t, effects)

        if arithmetic != "mpfr":
            return in_mpmath()

        inputs = injected or _InjectedMPFR(params_in, state_in, grads, lrs, {})

        def in_mpfr():
            params, state, step_grads, step_lrs = inputs.get()
            return _step(impl, inputs.groups(groups), [h for _, h in inputs.groups(case.groups)], sem,
                         params, state, step_grads, step_lrs, t, effects)

        return attempt(in_mpfr, in_mpmath)


def _same(x):
    return x


def _step(impl, groups, declared, sem, params, state, grads, lrs, t, effects: Effects):
    """The step of :func:`_one_step` on its own copies of the inputs, in the arithmetic in use
    (``declared``: each group's hyperparameters as the vector declares them)."""
    step = step_function(impl, effects)
    used = []
    for gi, (names, h) in enumerate(groups):
        base = declared[gi].lr
        factor = lrs[gi] / base if base else num(1)
        lr_t = effects.round_lr(h.lr * factor)
        used.append(lr_t)
        h_t = Namespace(h)
        h_t["lr"] = lr_t
        ctx = StepContext(t=t, lr=lr_t, lr_factor=factor, base_lr=h.lr, effects=effects.bind(declared[gi]))
        for n in names:
            g = grads[n]
            if h_t.get("maximize"):
                g = tmap(lambda x: -x, g)
            params[n] = step(params[n], g, state[n], h_t, sem, ctx)
    return params, state, used
