"""Adadelta: the first two steps by hand, the unscaled accumulator, sign symmetry."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import close, mp, trajectory

ALG = get("adadelta")


def test_first_two_steps_by_hand():
    g1, g2, rho, eps, lr = mp("0.5"), mp("-0.25"), mp("0.95"), mp("1e-6"), mp("0.5")
    eg1 = (1 - rho) * g1 ** 2
    d1 = mpmath.sqrt(eps) / mpmath.sqrt(eg1 + eps) * g1
    ex1 = (1 - rho) * d1 ** 2  # the accumulator holds Δ, not η·Δ
    eg2 = rho * eg1 + (1 - rho) * g2 ** 2
    d2 = mpmath.sqrt(ex1 + eps) / mpmath.sqrt(eg2 + eps) * g2
    traj = trajectory(ALG, [1], [["0.5"], ["-0.25"]], lr="0.5")
    assert close(traj[0][0], 1 - lr * d1)
    assert close(traj[1][0], 1 - lr * d1 - lr * d2)


def test_first_step_is_about_sqrt_eps_over_rms():
    """Δ₁ = √ε·g/√((1 − ρ)g² + ε): with the paper's ρ = 0.95, ε = 1e-6, g = 1 the first step is ≈ 0.00447."""
    (theta,), = trajectory(ALG, [0], [["1"]])
    assert close(theta, -mpmath.sqrt(mp("1e-6")) / mpmath.sqrt(mp("0.05") + mp("1e-6")))


def test_lr_does_not_enter_the_accumulator():
    """Halving η halves every step only while the accumulators are the same: steps are exactly η-proportional."""
    grads = [["0.5"], ["-0.25"], ["1"], ["0.125"]]
    a = trajectory(ALG, [0], grads, lr="1")
    b = trajectory(ALG, [0], grads, lr="0.25")
    assert all(close(x[0] / 4, y[0]) for x, y in zip(a, b))


nonzero = st.integers(-64, 64).filter(lambda n: n != 0).map(lambda n: Fraction(n, 16))


@settings(max_examples=25, deadline=None)
@given(st.lists(nonzero, min_size=5, max_size=5))
def test_sign_symmetry(gs):
    a = trajectory(ALG, [0], [[str(g)] for g in gs], lr="0.5", rho="0.875")
    b = trajectory(ALG, [0], [[str(-g)] for g in gs], lr="0.5", rho="0.875")
    assert all(close(x[0], -y[0]) for x, y in zip(a, b))
