"""Sparse (lazy) Adam: absent rows frozen, global step in the bias corrections, dense = Adam."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import close, mp, trajectory

ALG = get("sparse_adam")


def test_absent_row_is_frozen_and_state_untouched():
    grads = [["0.5", "1", "-0.25", "0.75"], ["0", "0", "0.5", "0"], ["1", "0.5", "0.25", "0.5"]]
    recs = trajectory(ALG, ["1", "2", "3", "4"], grads, shape=(2, 2), states=True, lr="0.1")
    # step 2: row 0 absent (all zero); row 1 present though one element is 0
    assert recs[1].params["x"].data[:2] == recs[0].params["x"].data[:2]
    assert recs[1].state["x"]["exp_avg"].data[:2] == recs[0].state["x"]["exp_avg"].data[:2]
    assert recs[1].params["x"].data[3] != recs[0].params["x"].data[3]  # zero element of a present row moves


def test_bias_correction_uses_the_global_step():
    """A 1-d element absent at step 2 and present at step 3: m = (1−β₁)(β₁g₁ + g₃), corrected by 1 − β₁³."""
    b1, b2, lr, eps = Fraction(9, 10), Fraction(999, 1000), Fraction(1, 10), Fraction(1, 10 ** 8)
    g1, g3 = Fraction(1, 2), Fraction(1, 4)
    m1, v1 = (1 - b1) * g1, (1 - b2) * g1 ** 2
    theta1 = 1 - mp(lr) * mp(m1 / (1 - b1)) / (mpmath.sqrt(mp(v1 / (1 - b2))) + mp(eps))
    m3, v3 = b1 * m1 + (1 - b1) * g3, b2 * v1 + (1 - b2) * g3 ** 2
    theta3 = theta1 - mp(lr) * mp(m3 / (1 - b1 ** 3)) / (mpmath.sqrt(mp(v3 / (1 - b2 ** 3))) + mp(eps))
    traj = trajectory(ALG, ["1"], [["0.5"], ["0"], ["0.25"]], lr="0.1")
    assert close(traj[0][0], theta1) and traj[1][0] == traj[0][0] and close(traj[2][0], theta3)


def test_constant_gradient_hat_closed_form():
    """Every row present, constant g: the hat form moves η g/(|g| + ε/√(1 − β₂ᵗ)) per step."""
    traj = trajectory(ALG, ["0"], [["0.5"]] * 3, lr="0.1", semantics={"eps_placement": "hat"})
    theta, b2, eps = mp(0), mp("0.999"), mp("1e-8")
    for t in range(1, 4):
        theta -= mp("0.1") * mp("0.5") / (mp("0.5") + eps / mpmath.sqrt(1 - b2 ** t))
        assert close(traj[t - 1][0], theta)


row = st.lists(st.sampled_from(["0", "0.5", "-0.25", "1", "0.125"]), min_size=2, max_size=2)


@settings(max_examples=25, deadline=None)
@given(st.lists(st.lists(row, min_size=3, max_size=3), min_size=4, max_size=4))
def test_dense_equals_adam_and_lazy_equals_it_when_all_rows_present(steps):
    """sparse_update = dense is Adam (std form) with zero gradients in absent rows (cross-check with adam.py)."""
    adam = get("adam")
    grads = [[x for r in s for x in r] for s in steps]
    params = ["1", "-2", "0.5", "3", "-1", "0.25"]
    a = trajectory(adam, params, grads, shape=(3, 2), lr="0.1", semantics={"weight_decay": "none"})
    d = trajectory(ALG, params, grads, shape=(3, 2), lr="0.1", semantics={"sparse_update": "dense"})
    assert all(close(x, y) for sa, sd in zip(a, d) for x, y in zip(sa, sd))
    if all(any(x != "0" for x in r) for s in steps for r in s):
        lazy = trajectory(ALG, params, grads, shape=(3, 2), lr="0.1")
        assert all(close(x, y) for sa, sl in zip(a, lazy) for x, y in zip(sa, sl))
