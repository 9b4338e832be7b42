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
    h = Namespace(lr=None, rho=mp("0.875"), eps=mp(0), momentum=mp(mu), centered=False, weight_decay=mp(0),
                  initial_square_avg=mp(0))
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


def test_mean_square_from_initial_square_avg():
    """v₀ = 1 (TF1's RMSPropOptimizer): v_t = ρᵗ + (1 − ρᵗ)g² for a constant g, so the step is
    η g/√(ρᵗ + (1 − ρᵗ)g² + ε); v₀ = 0 gives the plain closed form, and the state starts there."""
    g, lr, rho, eps = mp("0.5"), mp("0.1"), mp("0.875"), mp("1e-10")
    records = trajectory(ALG, [1], [["0.5"]] * 4, states=True, lr="0.1", rho="0.875", eps="1e-10",
                         initial_square_avg="1")
    theta = mp(1)
    for t, r in enumerate(records, 1):
        v = rho ** t + (1 - rho ** t) * g * g
        theta -= lr * g / mpmath.sqrt(v + eps)
        assert close(r.state["x"]["square_avg"].data[0], v) and close(r.params["x"].data[0], theta)
    (first,), = trajectory(ALG, [1], [["0.5"]], lr="0.1", rho="0.875", eps="1e-10")
    assert close(first, 1 - lr * g / mpmath.sqrt((1 - rho) * g * g + eps))
    assert rmsprop.init(Tensor((2,), [mp(1), mp(2)]), Namespace(initial_square_avg=mp(1), centered=True, momentum=mp(0)),
                        Namespace())["square_avg"].data == [1, 1]


def test_tf_v1_starts_the_mean_square_at_one_and_every_other_profile_at_zero():
    assert ALG.resolve("tf_v1").initial_square_avg == 1 and "initial_square_avg" in ALG.profiles["tf_v1"].unsupported
    assert all(ALG.resolve(p).initial_square_avg == 0 for p in ALG.profiles if p != "tf_v1")


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


def test_a_vector_written_before_initial_square_avg_replays_at_zero():
    """A vector that does not list initial_square_avg (written before it existed, or pinned by a
    port) is read at the canonical default 0 and reproduces its own trajectory."""
    import json

    from optconform.reference.replay import case_from_vector
    from optconform.reference.scenarios import cases
    from optconform.reference.trajectory import run
    from optconform.reference.vectors import vector_document

    (case,) = [c for c in cases(ALG, ALG.profiles["torch"]) if c.scenario == "variant_momentum"]
    doc = json.loads(json.dumps(vector_document([case], base_spread={})))
    for group in doc["inputs"]["groups"]:
        assert group["hyper"].pop("initial_square_avg") == "0"
    old = case_from_vector(doc)
    assert old.groups[0][1].initial_square_avg == 0
    records = run(old)
    assert [r.params["w"].decimals() for r in records] == [s["params"]["w"] for s in doc["steps"]]
