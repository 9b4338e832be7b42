"""Adagrad: constant-gradient sums, learning-rate decay, initial accumulator, ε placement, invariance."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import get

from ._trajectory_util import close, mp, trajectory

ALG = get("adagrad")


def test_constant_gradient_without_eps_is_lr_over_sqrt_t():
    """s₀ = 0, ε = 0: s_t = t g², so each step moves η/√t: θ_t = θ₀ − η Σ_{k≤t} 1/√k."""
    traj = trajectory(ALG, [1], [["0.75"]] * 5, lr="0.5", eps="0")
    for t in range(1, 6):
        assert close(traj[t - 1][0], 1 - mp("0.5") * sum(1 / mpmath.sqrt(k) for k in range(1, t + 1)))


def test_lr_decay_and_initial_accumulator():
    """η̃_t = η/(1 + (t − 1)κ); s_t = s₀ + t g²; ε outside (spec): d = g/(√s + ε)."""
    g, lr, kappa, s0, eps = mp("0.5"), mp("0.25"), mp("0.0625"), mp("0.1"), mp("0.001")
    traj = trajectory(ALG, [0], [["0.5"]] * 4, lr="0.25", lr_decay="0.0625", initial_accumulator_value="0.1", eps="0.001")
    theta = mp(0)
    for t in range(1, 5):
        theta -= lr / (1 + (t - 1) * kappa) * g / (mpmath.sqrt(s0 + t * g * g) + eps)
        assert close(traj[t - 1][0], theta)


def test_eps_inside_versus_outside_first_step():
    """t = 1, s₀ = 0, g = 2⁻²⁰, ε = 2⁻⁴⁰: outside gives g/(|g| + ε), inside g/√(g² + ε) ≈ g/√ε·… — far apart."""
    g, eps = Fraction(1, 2 ** 20), Fraction(1, 2 ** 40)
    (out,), = trajectory(ALG, [0], [[str(mp(g))]], lr="1", eps=str(mp(eps)))
    (ins,), = trajectory(ALG, [0], [[str(mp(g))]], lr="1", eps=str(mp(eps)), semantics={"eps_root": "inside"})
    assert close(out, -(g / (g + eps)))
    assert close(ins, -mp(g) / mpmath.sqrt(mp(g * g + eps)))
    assert abs(ins) < mp("0.75")  # 1/√2: the inside form damps a gradient of size √ε


def test_zero_gradient_with_zero_accumulator_and_eps_is_nan():
    """IEEE: s = 0 and ε = 0 give 0/0 = NaN (torch, Keras); optax returns 0 there (spec page)."""
    (theta,), = trajectory(ALG, [1], [["0"]], lr="0.5", eps="0")
    assert mpmath.isnan(theta)


nonzero = st.integers(-64, 64).filter(lambda n: n != 0).map(lambda n: Fraction(n, 16))


@settings(max_examples=25, deadline=None)
@given(st.lists(nonzero, min_size=5, max_size=5), st.sampled_from([Fraction(1, 8), 3, 1024]),
       st.sampled_from(["inside", "outside"]))
def test_scale_invariance_without_eps_and_initial_value(gs, c, eps_root):
    kw = dict(lr="0.015625", eps="0", initial_accumulator_value="0", lr_decay="0.25", semantics={"eps_root": eps_root})
    a = trajectory(ALG, [1], [[str(g)] for g in gs], **kw)
    b = trajectory(ALG, [1], [[str(g * c)] for g in gs], **kw)
    assert all(close(x[0], y[0], 45) for x, y in zip(a, b))


def test_eps_root_none_gives_a_zero_step_on_a_zero_accumulator():
    """jax.example_libraries: r = 1/√s where s > 0, else 0 — with s₀ = 0 and g = 0, θ does not move
    (outside and inside give 0/(0 + 0) = NaN with ε = 0)."""
    (theta,), = trajectory(ALG, [1], [["0"]], lr="0.5", eps="0", semantics={"eps_root": "none"})
    assert theta == 1
    (theta,), = trajectory(ALG, [1], [["0"]], lr="0.5", eps="0", semantics={"eps_root": "inside"})
    assert mpmath.isnan(theta)


def test_eps_root_none_ignores_eps():
    """No ε at all: s_t = t g², d_t = g/(√t |g|) = 1/√t for g = 0.75 whatever ε is, so
    θ_t = θ₀ − η Σ_{k≤t} 1/√k (the ε = 0 trajectory of the first test)."""
    traj = trajectory(ALG, [1], [["0.75"]] * 4, lr="0.5", eps="0.5", semantics={"eps_root": "none"})
    for t in range(1, 5):
        assert close(traj[t - 1][0], 1 - mp("0.5") * sum(1 / mpmath.sqrt(k) for k in range(1, t + 1)))


def test_momentum_is_a_moving_average_of_the_scaled_gradient():
    """μ = 0.5, g = 0.75, s₀ = 0, eps_root none: d_t = 1/√t, m₁ = ½, m₂ = ½·(1/√2) + ½·½,
    m₃ = ½·(1/√3) + ½·m₂; θ_t = θ_{t−1} − η m_t with η = 0.25 (worked by hand from the equations)."""
    records = trajectory(ALG, [1], [["0.75"]] * 3, lr="0.25", eps="0", momentum="0.5",
                         semantics={"eps_root": "none"}, states=True)
    half = mp("0.5")
    m1 = half
    m2 = half / mpmath.sqrt(2) + half * m1
    m3 = half / mpmath.sqrt(3) + half * m2
    thetas = [1 - mp("0.25") * m1, 1 - mp("0.25") * (m1 + m2), 1 - mp("0.25") * (m1 + m2 + m3)]
    for record, m, theta in zip(records, (m1, m2, m3), thetas):
        assert close(record.state["x"]["momentum_buffer"].data[0], m)
        assert close(record.params["x"].data[0], theta)


def test_no_momentum_buffer_without_momentum():
    """μ = 0 is plain Adagrad: no momentum_buffer state (the vectors of every other profile)."""
    record, = trajectory(ALG, [1], [["0.75"]], lr="0.25", states=True)
    assert set(record.state["x"]) == {"sum"}
