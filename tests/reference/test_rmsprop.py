"""RMSprop: constant-gradient closed forms (plain, centered), momentum placement, scale invariance."""
from fractions import Fraction

import mpmath
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.model import Namespace, get
from optconform.reference.optimizers import rmsprop
from optconform.reference.tensor import Tensor

from ._trajectory_util import close, mp, trajectory

ALG = get("rmsprop")


def test_plain_constant_gradient_closed_form():
    """v_t = (1 − ρᵗ)g², so θ_t = θ₀ − η Σ_k g/√((1 − ρᵏ)g² + ε) (ε inside)."""
    g, lr, rho, eps = mp("0.5"), mp("0.1"), mp("0.9"), mp("1e-8")
    traj = trajectory(ALG, [1], [["0.5"]] * 4, lr="0.1", rho="0.9", eps="1e-8")
    theta = mp(1)
    for t in range(1, 5):
        theta -= lr * g / mpmath.sqrt((1 - rho ** t) * g * g + eps)
        assert close(traj[t - 1][0], theta)


def test_first_step_outside_is_g_over_sqrt_one_minus_rho():
    """ε = 0: d₁ = g/√((1 − ρ)g²) = sign(g)/√(1 − ρ) = √10 for ρ = 0.9 — not the Adam-like unit step."""
    (theta,), = trajectory(ALG, [0], [["0.5"]], lr="1", rho="0.9", eps="0", semantics={"eps_root": "outside"})
    assert close(theta, -mpmath.sqrt(10))


def test_centered_constant_gradient_variance():
    """ḡ_t = (1 − ρᵗ)g, v_t − ḡ_t² = ρᵗ(1 − ρᵗ)g²: the centered first step divides by 0 when ε = 0."""
    rho = Fraction(7, 8)
    for t in range(1, 6):
        v, gbar = (1 - rho ** t), (1 - rho ** t)  # in units of g², g
        assert v - gbar ** 2 == rho ** t * (1 - rho ** t)
    g, lr, eps = mp("0.5"), mp("0.015625"), mp("0.0625")
    traj = trajectory(ALG, [1], [["0.5"]] * 3, lr="0.015625", rho="0.875", eps="0.0625", centered=True)
    theta = mp(1)
    for t in range(1, 4):
        s = mp(Fraction(7, 8)) ** t * (1 - mp(Fraction(7, 8)) ** t) * g * g
        theta -= lr * g / mpmath.sqrt(s + eps)
        assert close(traj[t - 1][0], theta)


def _step(sem_lr, lrs, mu="0.875"):
    h = Namespace(lr=None, rho=mp("0.875"), eps=mp(0), momentum=mp(mu), centered=False, weight_decay=mp(0))
    sem = Namespace(eps_root="inside", lr_placement=sem_lr, weight_decay="none")
    p = Tensor((1,), [mp(0)])
    state = rmsprop.init(p, h, sem)
    out = []
    for t, lr in enumerate(lrs, 1):
        h["lr"] = mp(lr)
        p = rmsprop.step(p, Tensor((1,), [mp("0.5")]), state, h, sem, Namespace(t=t, lr=mp(lr), lr_factor=mp(1)))
        out.append(p.data[0])
    return out


def test_lr_placement_equal_for_constant_lr_and_not_for_a_changing_one():
    a, b = _step("outside", ["0.25"] * 4), _step("inside", ["0.25"] * 4)
    assert all(close(x, y) for x, y in zip(a, b))
    a, b = _step("outside", ["0.25", "0.5", "1"]), _step("inside", ["0.25", "0.5", "1"])
    # step 2 (hand): d_k = 0.5/√((1 − ρᵏ)/4); outside: −(0.25 d₁) − 0.5(μ d₁ + d₂); inside: −(0.25 d₁) − (μ·0.25 d₁ + 0.5 d₂)
    rho, mu = mp("0.875"), mp("0.875")
    d1, d2 = 1 / mpmath.sqrt(1 - rho), 1 / mpmath.sqrt(1 - rho ** 2)
    assert close(a[1], -(mp("0.25") * d1) - mp("0.5") * (mu * d1 + d2))
    assert close(b[1], -(mp("0.25") * d1) - (mu * mp("0.25") * d1 + mp("0.5") * d2))


nonzero = st.integers(-64, 64).filter(lambda n: n != 0).map(lambda n: Fraction(n, 16))


@settings(max_examples=25, deadline=None)
@given(st.lists(nonzero, min_size=5, max_size=5), st.sampled_from([Fraction(1, 8), 4, 1024]),
       st.booleans(), st.sampled_from(["inside", "outside"]))
def test_scale_invariance_without_eps(gs, c, centered, eps_root):
    """ε = 0: d_t is homogeneous of degree 0 in g, so g → c·g leaves the trajectory unchanged."""
    kw = dict(lr="0.015625", rho="0.875", eps="0", centered=centered, momentum="0.5", semantics={"eps_root": eps_root})
    a = trajectory(ALG, [1], [[str(g)] for g in gs], **kw)
    b = trajectory(ALG, [1], [[str(g * c)] for g in gs], **kw)
    assert all(close(x[0], y[0], 45) for x, y in zip(a, b))
