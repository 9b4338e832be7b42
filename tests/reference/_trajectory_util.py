"""Shared helpers for the rmsprop / adagrad / adadelta / sparse_adam / radam unit tests."""
import dataclasses

import mpmath

from optconform.reference.scenarios import Case
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run


def trajectory(alg, params, grads, profile="spec", semantics=None, shape=None, states=False, lrs=None, **hyper):
    prof = alg.profile(profile)
    if semantics:
        prof = dataclasses.replace(prof, semantics=dict(prof.semantics, **semantics))
    h = alg.resolve(profile, {k: str(v) for k, v in hyper.items()})
    case = Case(alg, prof, "test", "", len(grads), (), [(("x",), h)],
                params={"x": Tensor.from_values(params, shape)},
                grads=[{"x": Tensor.from_values(g, shape)} for g in grads])
    records = run(case)
    return records if states else [r.params["x"].data for r in records]


def close(x, y, digits=50):
    y = mpmath.mpf(y.numerator) / y.denominator if hasattr(y, "denominator") else mpmath.mpf(y)
    return abs(mpmath.mpf(x) - y) <= mpmath.mpf(10) ** -digits * max(1, abs(y))
