"""Helper for the schedule unit tests (one_cycle, cyclic, wsd, reduce_on_plateau, ...): exact records."""
from fractions import Fraction

import mpmath

from optconform.reference.model import Namespace, get
from optconform.reference.numeric import precision
from optconform.reference.trajectory import _schedule_steps

TINY = mpmath.mpf(10) ** -55


def records(name, steps, semantics=None, profile="spec", **hyper):
    """[(lr, extra)] of updates k = 0 .. steps−1 under ``profile`` with ``semantics`` overrides."""
    alg = get(name)
    h = alg.resolve(profile, {n: (v if isinstance(v, (bool, int, list, tuple)) else str(v)) for n, v in hyper.items()})
    sem = Namespace(dict(alg.profiles[profile].semantics, **(semantics or {})))
    metrics = alg.impl.metrics(steps) if hasattr(alg.impl, "metrics") else None
    with precision(64):
        return [(s.lr, s.extra) for s in _schedule_steps(alg, h, sem, steps, metrics)]


def lrs(name, steps, semantics=None, profile="spec", **hyper):
    return [lr for lr, _ in records(name, steps, semantics, profile, **hyper)]


def close(x, exact) -> bool:
    """|x − exact| within 1e-55 relative (the reference runs at 64 digits); exact: Fraction, str or mpf."""
    if isinstance(exact, Fraction):
        exact = mpmath.mpf(exact.numerator) / exact.denominator
    exact = mpmath.mpf(exact)
    return abs(mpmath.mpf(x) - exact) <= TINY * max(1, abs(exact))
