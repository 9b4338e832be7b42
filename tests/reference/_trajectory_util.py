"""Shared helpers for the optimizer unit tests: run one tensor through an algorithm exactly, and compare
the result with exact values (fractions, decimal strings or mpf) derived by hand."""
import dataclasses
from fractions import Fraction

import mpmath

from optconform.reference.model import Namespace
from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

TOL = mpmath.mpf(10) ** -55


def trajectory(alg, params, grads, profile="spec", semantics=None, shape=None, states=False, lrs=None, **hyper):
    """θ₁ … θ_T of one tensor "x" (each a list of mpf) for the gradients ``grads`` under ``profile`` with
    ``semantics`` overrides; ``states=True`` gives the full step records (params and state) instead.

    ``lrs``: one learning rate per step (what a schedule hands the optimizer), driving the module's
    ``step`` directly with ``ctx.lr_factor = η_t/η``; returns the parameter lists."""
    prof = alg.profile(profile)
    if semantics:
        prof = dataclasses.replace(prof, semantics=dict(prof.semantics, **semantics))
    h = alg.resolve(profile, {k: str(v) for k, v in hyper.items()})
    if lrs is not None:
        sem = Namespace(prof.semantics)
        p, out = Tensor.from_values(params, shape), []
        state = alg.impl.init(p, h, sem)
        for t, (lr, g) in enumerate(zip(lrs, grads), 1):
            ht = Namespace(h, lr=mpmath.mpf(lr))
            p = alg.impl.step(p, Tensor.from_values(g, shape), state, ht, sem,
                              Namespace(t=t, lr=ht.lr, lr_factor=ht.lr / h.lr))
            out.append(p.data)
        return out
    case = Case(alg, prof, "test", "", len(grads), (), [(("x",), h)],
                params={"x": Tensor.from_values(params, shape)},
                grads=[{"x": Tensor.from_values(g, shape)} for g in grads])
    records = run(case)
    return records if states else [r.params["x"].data for r in records]


def mp(x):
    """An exact mpf from a decimal string, an int or a Fraction."""
    if isinstance(x, Fraction):
        return mpmath.mpf(x.numerator) / x.denominator
    return mpmath.mpf(x)


def F(x):
    """A finite mpf as a Fraction (through 60 significant digits); NaN and ±∞ are returned as they are."""
    return Fraction(mpmath.nstr(x, 60)) if mpmath.isfinite(x) else x


def close(x, y, digits=50):
    """x equals the exact value y (Fraction, int, str or mpf) to ``digits`` digits relative to max(1, |y|)."""
    y = mpmath.mpf(y.numerator) / y.denominator if hasattr(y, "denominator") else mpmath.mpf(y)
    return abs(mpmath.mpf(x) - y) <= mpmath.mpf(10) ** -digits * max(1, abs(y))


def sgd_iterates(theta0, grads, lr) -> list:
    """Plain SGD by hand in fractions: θ_t = θ_{t−1} − η·g_t for each step's gradient (decimal
    strings), the iterates after every step."""
    theta, out = [Fraction(x) for x in theta0], []
    for g in grads:
        theta = [t - lr * Fraction(gi) for t, gi in zip(theta, g)]
        out.append(theta)
    return out
