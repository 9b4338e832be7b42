"""LARS: trust ratios computed by hand, momentum recursions in fractions, invariances."""
from fractions import Fraction
from functools import partial

import mpmath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.errors import UserError
from optconform.reference.model import Namespace, get
from optconform.reference.optimizers import lars
from optconform.reference.tensor import Tensor

from ._trajectory_util import mp, trajectory as _trajectory

ALG = get("lars")
trajectory = partial(_trajectory, ALG)


def test_scalar_momentum_recursion_in_fractions():
    """One element, λ = 0: φ = tc|θ|/|g|, so b_t = μb_{t−1} + η·tc·|θ_{t−1}|·sign(g).
    θ₀ = 1, η = 1/2, tc = 1/4, μ = 7/8: b₁ = 1/8, θ₁ = 7/8; b₂ = 7/64 + 7/64 = 7/32, θ₂ = 21/32."""
    (a,), (b,) = trajectory([1], [[3], ["0.5"]], lr="0.5", trust_coefficient="0.25", momentum="0.875")
    assert (a, b) == (mp(Fraction(7, 8)), mp(Fraction(21, 32)))


def test_first_step_norm_is_lr_times_tc_times_param_norm():
    """λ = ε = 0: ‖θ₁ − θ₀‖ = η·φ·‖g‖ = η·tc·‖θ₀‖ whatever the gradient."""
    (theta,) = trajectory([3, 4], [["0.125", "-7"]], lr="0.5", trust_coefficient="0.25")
    step = mpmath.sqrt((theta[0] - 3) ** 2 + (theta[1] - 4) ** 2)
    assert abs(step - mpmath.mpf(5) / 8) < mpmath.mpf(10) ** -60


def test_trust_denominators_by_hand():
    """θ = (3, 4), g = (5, −4), λ = 1: d = (8, 0), ‖d‖ = 8; ‖g‖ + λ‖θ‖ = √41 + 5."""
    (paper,) = trajectory([3, 4], [[5, -4]], lr="1", trust_coefficient="1", weight_decay="1", momentum="0")
    (optax,) = trajectory([3, 4], [[5, -4]], semantics={"trust_denominator": "norm_of_sum"},
                          lr="1", trust_coefficient="1", weight_decay="1", momentum="0")
    phi = 5 / (mpmath.sqrt(41) + 5)
    assert abs(paper[0] - (3 - 8 * phi)) < mpmath.mpf(10) ** -60 and paper[1] == 4
    assert optax == [mpmath.mpf(3) - 5, mpmath.mpf(4)]  # φ = 5/8, step (5, 0)


def test_zero_parameter_norm_gives_ratio_one():
    (theta,) = trajectory([0, 0], [["0.5", "-0.25"]], lr="0.5", trust_coefficient="0.001")
    assert theta == [mpmath.mpf("-0.25"), mpmath.mpf("0.125")]


def test_lr_placement_differs_only_when_lr_changes():
    """Direct calls with θ = 1 held fixed, g = 2, tc = 1, λ = 0, so φd = 1; μ = 1/2, η₁ = 1, η₂ = 1/2.
    inside: b = μb + ηφd gives s₂ = 1/2 + 1/2 = 1; outside: b = μb + φd = 3/2, s₂ = η₂b = 3/4."""
    h = Namespace(ALG.resolve("spec", {"momentum": "0.5", "trust_coefficient": "1"}))
    p, g = Tensor.from_values([1]), Tensor.from_values([2])
    out = {}
    for placement in ("inside", "outside"):
        sem = Namespace(trust_denominator="sum_of_norms", lr_placement=placement)
        state = lars.init(p, h, sem)
        steps = []
        for t, lr in ((1, mpmath.mpf(1)), (2, mpmath.mpf("0.5"))):
            ht = Namespace(h, lr=lr)
            new = lars.step(p, g, state, ht, sem, Namespace(t=t, lr=lr, lr_factor=lr, base_lr=1))
            steps.append(p.data[0] - new.data[0])
        out[placement] = steps
    assert out["inside"] == [1, 1] and out["outside"] == [1, mpmath.mpf("0.75")]


def test_nesterov_needs_momentum():
    with pytest.raises(UserError):
        ALG.resolve("optax", {"nesterov": True, "momentum": "0", "lr": "1"})


vec = st.lists(st.integers(-32, 32).filter(bool), min_size=3, max_size=3)


@settings(max_examples=30, deadline=None)
@given(st.lists(vec, min_size=1, max_size=5), st.integers(-6, 6))
def test_gradient_scale_invariance_without_decay(grads, k):
    """λ = ε = 0: φ_t d_t = tc‖θ‖ g/‖g‖ does not depend on |g|: g → 2^k g changes nothing."""
    g1 = [[str(Fraction(x, 8)) for x in r] for r in grads]
    g2 = [[str(Fraction(x, 8) * Fraction(2) ** k) for x in r] for r in grads]
    kw = dict(lr="0.5", trust_coefficient="0.25", momentum="0.875")
    assert trajectory([1, 2, -3], g1, **kw) == trajectory([1, 2, -3], g2, **kw)


@settings(max_examples=30, deadline=None)
@given(st.lists(vec, min_size=1, max_size=5), st.integers(-6, 6))
def test_parameter_scale_equivariance_without_decay(grads, k):
    """λ = ε = 0: φ ∝ ‖θ‖, so θ₀ → 2^k θ₀ scales the whole trajectory by 2^k."""
    g = [[str(Fraction(x, 8)) for x in r] for r in grads]
    kw = dict(lr="0.5", trust_coefficient="0.25", momentum="0.875")
    a = trajectory([1, 2, -3], g, **kw)
    c = mpmath.mpf(2) ** k
    b = trajectory([str(c * 1), str(c * 2), str(c * -3)], g, **kw)
    assert [[c * x for x in r] for r in a] == b
