"""RAdam: ρ_t in exact fractions, the thresholds, constant-gradient closed forms, invariances."""
from fractions import Fraction
from functools import partial

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import close, mp, trajectory as _trajectory

ALG = get("radam")
trajectory = partial(_trajectory, ALG)


def rho_fraction(t, b2):
    rho_inf = 2 / (1 - b2) - 1
    return rho_inf - 2 * t * b2 ** t / (1 - b2 ** t)


def test_rho_one_is_always_one():
    for b2 in (Fraction(1, 2), Fraction(999, 1000), Fraction(15, 16), Fraction(1023, 1024)):
        assert rho_fraction(1, b2) == 1


def test_threshold_steps_for_default_beta2():
    """β₂ = 0.999: ρ₄ < 4 < ρ₅ < 5 < ρ₆, so ρ > 4 rectifies from t = 5 and ρ ≥ 5 from t = 6."""
    b2 = Fraction(999, 1000)
    assert rho_fraction(4, b2) < 4 < rho_fraction(5, b2) < 5 < rho_fraction(6, b2)


def test_no_dyadic_beta2_hits_a_threshold_exactly():
    """ρ_t = 4 or 5 exactly would make '>' and '≥' differ; no dyadic β₂ does (rational root theorem)."""
    for k in range(1, 12):
        for num in range(1, 2 ** k, max(1, 2 ** k // 64)):
            b2 = Fraction(num, 2 ** k)
            for t in range(2, 40):
                assert rho_fraction(t, b2) not in (4, 5)


def test_constant_gradient_sgd_then_rectified():
    """m̂_t = g for a constant g: steps 1–4 are θ − ηg; step 5 (ρ₅ > 4) is η r₅ g/(|g| + ε/√c₂) (hat)."""
    g, lr, eps, b2 = Fraction(1, 2), Fraction(1, 10), Fraction(1, 10 ** 8), Fraction(999, 1000)
    traj = trajectory([1], [["0.5"]] * 5, lr="0.1")
    for t in range(1, 5):
        assert close(traj[t - 1][0], mp(1 - t * lr * g))
    rho_inf, rho5 = 2 / (1 - b2) - 1, rho_fraction(5, b2)
    r5 = mpmath.sqrt(mp((rho5 - 4) * (rho5 - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho5)))
    c2 = 1 - b2 ** 5
    expected = mp(1 - 4 * lr * g) - mp(lr) * r5 * mp(g) / (mp(g) + mp(eps) / mpmath.sqrt(mp(c2)))
    assert close(traj[4][0], expected)


def test_threshold_axis_changes_step_five_only():
    a = trajectory([1], [["0.5"]] * 6, lr="0.1")
    b = trajectory([1], [["0.5"]] * 6, lr="0.1", semantics={"rectify_threshold": "rho_ge_5"})
    assert a[3] == b[3] and a[4] != b[4]
    assert close(b[4][0], mp(1 - 5 * Fraction(1, 10) * Fraction(1, 2)))  # still an SGD step


def test_skip_below_threshold_keeps_theta():
    traj = trajectory([1], [["0.5"]] * 5, lr="0.1", semantics={"below_threshold": "skip"})
    assert [x[0] for x in traj[:4]] == [1, 1, 1, 1] and traj[4][0] < 1


def test_std_and_hat_agree_without_eps():
    grads = [["0.5"], ["-0.25"], ["1"], ["0.125"], ["2"], ["-1"], ["0.75"]]
    a = trajectory([1], grads, eps="0")
    b = trajectory([1], grads, eps="0", semantics={"eps_placement": "std"})
    assert all(close(x[0], y[0]) for x, y in zip(a, b))


def test_lerp_equals_mix_for_finite_values_and_differs_at_infinity():
    from optconform.reference.common import first_moment_value as first_moment
    for b1 in (mpmath.mpf("0.875"), mpmath.mpf("0.25")):
        assert close(first_moment(mpmath.mpf(3), mpmath.mpf("0.5"), b1, "lerp"),
                     first_moment(mpmath.mpf(3), mpmath.mpf("0.5"), b1, "mix"))
    inf = mpmath.mpf("inf")
    assert mpmath.isnan(first_moment(inf, mpmath.mpf(1), mpmath.mpf("0.875"), "lerp"))
    assert first_moment(inf, mpmath.mpf(1), mpmath.mpf("0.875"), "mix") == inf
    assert first_moment(inf, mpmath.mpf(1), mpmath.mpf("0.25"), "lerp") == inf  # w ≥ ½ branch


dyadic = st.integers(-64, 64).filter(lambda n: n != 0).map(lambda n: Fraction(n, 16))


@settings(max_examples=25, deadline=None)
@given(st.lists(dyadic, min_size=7, max_size=7))
def test_sign_symmetry(gs):
    """g → −g mirrors the displacement in both regimes (no weight decay)."""
    a = trajectory([0], [[str(g)] for g in gs], lr="0.015625")
    b = trajectory([0], [[str(-g)] for g in gs], lr="0.015625")
    assert all(close(x[0], -y[0]) for x, y in zip(a, b))
