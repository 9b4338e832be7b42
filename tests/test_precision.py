"""The default working precision makes 1,000 steps of every algorithm exact to 40 significant digits.

Proof by recomputation at twice the precision: if the default-precision trajectory agrees with the
double-precision one to 41 digits on every parameter and state entry at every step, its own error
is below 1e-40 relative (the double-precision error is far smaller still).
"""
import dataclasses

import mpmath
import pytest

from optconform.reference.model import algorithms
from optconform.reference.numeric import DEFAULT_DPS, VECTOR_DIGITS
from optconform.reference.scenarios import cases
from optconform.reference.tensor import Tensor
from optconform.reference.trajectory import run

STEPS = 1000
ALGORITHMS = list(algorithms().values())


def long_case(alg):
    spec = alg.profiles["spec"]
    if alg.kind == "optimizer":
        # the long run of a vector; Muon's (it takes matrices only) is matrix_long_run
        runs = {c.scenario: c for c in cases(alg, spec) if c.scenario in ("long_run", "matrix_long_run")}
        base = runs.get("long_run") or runs["matrix_long_run"]
        grads = [base.grads[i % len(base.grads)] for i in range(STEPS)]
        return dataclasses.replace(base, steps=STEPS, grads=grads)
    base = next(c for c in cases(alg, spec) if c.scenario == "probe")
    metrics = alg.impl.metrics(STEPS) if hasattr(alg.impl, "metrics") else None
    return dataclasses.replace(base, steps=STEPS, metrics=metrics)


def values(records):
    for r in records:
        if hasattr(r, "params"):
            for name in sorted(r.params):
                yield from ((f"t={r.t} {name}", x) for x in r.params[name].data)
                for key, entry in r.state[name].items():
                    items = entry.data if isinstance(entry, Tensor) else [entry]
                    yield from ((f"t={r.t} {name}.{key}", x) for x in items)
        else:
            yield f"k={r.k} lr", r.lr


@pytest.mark.parametrize("alg", ALGORITHMS, ids=[a.name for a in ALGORITHMS])
def test_thousand_steps_exact_to_40_digits(alg):
    case = long_case(alg)
    low = list(values(run(case, dps=DEFAULT_DPS)))
    high = list(values(run(case, dps=2 * DEFAULT_DPS)))
    assert len(low) == len(high)
    limit = mpmath.mpf(10) ** -(VECTOR_DIGITS + 1)
    worst = mpmath.mpf(0)
    with mpmath.workdps(2 * DEFAULT_DPS):
        for (where, a), (_, b) in zip(low, high):
            if not mpmath.isfinite(b):
                assert str(a) == str(b), where
                continue
            if b == 0:
                assert a == 0, f"{where}: {a} should be exactly 0"
                continue
            rel = abs(a - b) / abs(b)
            worst = max(worst, rel)
            assert rel <= limit, f"{alg.name} {where}: only {float(-mpmath.log10(rel)):.1f} digits"
