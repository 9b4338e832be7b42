"""AdaBound: bounds and clipping by hand, the √t decay of Algorithm 2, the code's bias correction."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import TOL, mp, trajectory as _trajectory

ALG = get("adabound")
trajectory = partial(_trajectory, ALG)


def test_first_step_inside_the_bounds():
    """β₁ = 1/2, β₂ = 3/4, ε = 0, g = 1/2: m₁ = 1/4, v₁ = 1/16, a = α/(1/4) = 4α = 1/2 for α = 1/8;
    γ = 1, α* = 1: bounds (1/2, 2) contain 1/2 (at the lower edge), so θ₁ = 1 − (1/2)(1/4) = 7/8."""
    (theta,), = trajectory([1], [["0.5"]], lr="0.125", beta1="0.5", beta2="0.75", eps="0", gamma="1",
                           final_lr="1")
    assert theta == mp(Fraction(7, 8))


def test_clipped_to_lower_and_upper_bounds():
    """α = 1/64 gives a = 1/16 < η_l(1) = 1/2: clipped up; α = 4 gives a = 16 > η_u(1) = 2: clipped down."""
    (lo,), = trajectory([1], [["0.5"]], lr="0.015625", beta1="0.5", beta2="0.75", eps="0", gamma="1", final_lr="1")
    (hi,), = trajectory([1], [["0.5"]], lr="4", beta1="0.5", beta2="0.75", eps="0", gamma="1", final_lr="1")
    assert lo == mp(1 - Fraction(1, 2) * Fraction(1, 4)) and hi == mp(1 - 2 * Fraction(1, 4))


def test_sqrt_t_decay_of_algorithm_2():
    """Constant g with bounds collapsed to α* (γ huge): the paper's step t is α*·m_t/√t, the code's α*·m_t."""
    grads = [["0.5"]] * 4
    paper = trajectory([0], grads, lr="1", beta1="0.5", eps="0", gamma="1e30", final_lr="0.25")
    code = trajectory([0], grads, semantics={"adabound_sqrt_t": "off"}, lr="1", beta1="0.5", eps="0",
                      gamma="1e30", final_lr="0.25")
    tp = tc = mpmath.mpf(0)
    for t in range(1, 5):
        m = mpmath.mpf("0.5") * (1 - mpmath.mpf("0.5") ** t)
        tp -= mpmath.mpf("0.25") * m / mpmath.sqrt(t)
        tc -= mpmath.mpf("0.25") * m
        assert abs(paper[t - 1][0] - tp) < mpmath.mpf(10) ** -25
        assert abs(code[t - 1][0] - tc) < mpmath.mpf(10) ** -25


def test_code_bias_correction_first_step():
    """bias_correction on, t = 1, ε = 0: √v₁ = √(1−β₂)|g|, so a = α/((1−β₁)|g|) = 1/2 (inside the bounds) and
    the step a·m₁ = α·sign(g): Adam's first step."""
    (theta,), = trajectory([1], [["0.5"]], semantics={"bias_correction": "on", "adabound_sqrt_t": "off"},
                           lr="0.125", beta1="0.5", beta2="0.75", eps="0", gamma="0.001", final_lr="0.1")
    assert abs(theta - (1 - mpmath.mpf("0.125"))) < TOL


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(st.integers(-32, 32).filter(bool), min_size=2, max_size=2), min_size=1, max_size=5))
def test_sign_symmetry(grads):
    g = [[str(Fraction(x, 8)) for x in r] for r in grads]
    ng = [[str(-Fraction(x, 8)) for x in r] for r in grads]
    a = trajectory([1, -2], g, lr="0.015625", weight_decay="0.25")
    b = trajectory([-1, 2], ng, lr="0.015625", weight_decay="0.25")
    assert [[-x for x in r] for r in a] == b
