"""Lookahead: trajectories derived by hand in fractions, the paper's two nested loops re-derived in
plain numpy float64, the limits α = 1 (the inner SGD) and k = 1 (SGD at rate αη), every axis on a
case it separates, and the two torch packages (torch-optimizer, pytorch-optimizer) run in float64
against the profiles that describe them."""
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest

from optconform.reference.errors import UserError
from optconform.reference.model import get

from ._trajectory_util import F, close, trajectory as _trajectory

LOOKAHEAD = get("lookahead")
run = partial(_trajectory, LOOKAHEAD)

GRADS = [["0.5", "-1", "0.25"], ["-0.75", "0.5", "1"], ["0.125", "2", "-0.5"], ["1", "-0.25", "0.75"],
         ["-0.5", "1.5", "0.5"], ["0.25", "-2", "1"], ["0.75", "0.25", "-1"], ["-1", "0.5", "0.125"],
         ["0.5", "0.5", "-0.25"], ["-0.25", "1", "2"], ["1.5", "-0.5", "0.25"], ["0.125", "-1", "-0.75"]]
THETA0 = ["1", "-0.5", "2"]


def fr(values):
    return [Fraction(v) for v in values]


def slow(record):
    return [F(v) for v in record.state["x"]["slow"].data]


def test_constant_gradient_by_hand():
    """θ₀ = 1, g = 1, η = 1/4, μ = 0, k = 2, α = 1/2: θ₁ = 3/4; θ' = 1/2 at t = 2 and φ = 1 + (1/2 − 1)/2 = 3/4 = θ₂;
    θ₃ = 1/2; θ' = 1/4 at t = 4, φ = 3/4 + (1/4 − 3/4)/2 = 1/2 = θ₄: two steps forward, one back."""
    records = run(["1"], [["1"]] * 4, states=True, lr="0.25", sync_period=2, slow_step_size="0.5")
    assert [F(r.params["x"].data[0]) for r in records] == [Fraction(3, 4), Fraction(3, 4), Fraction(1, 2), Fraction(1, 2)]
    assert [slow(r) for r in records] == [[1], [Fraction(3, 4)], [Fraction(3, 4)], [Fraction(1, 2)]]


def test_torch_optimizer_synchronizes_at_the_first_step():
    """sync_phase = after_1: φ is copied from θ₁ = 3/4 at t = 1, the next syncs are t = 3, 5: θ₃ = 3/4 + (1/4 − 3/4)/2."""
    records = run(["1"], [["1"]] * 4, profile="torch_optimizer", states=True, lr="0.25", sync_period=2,
                  slow_step_size="0.5")
    assert [F(r.params["x"].data[0]) for r in records] == [Fraction(3, 4), Fraction(1, 2), Fraction(1, 2), Fraction(1, 4)]
    assert [slow(r) for r in records] == [[Fraction(3, 4)], [Fraction(3, 4)], [Fraction(1, 2)], [Fraction(1, 2)]]


def nested_loops(theta0, grads, lr, mu, k, alpha, reset=False):
    """The paper's Algorithm 1 in numpy float64, as two loops: θ ← φ; k steps of heavy-ball SGD on θ; φ ← φ + α(θ − φ).
    Returns the fast weights after every step (θ ← φ at a sync) and φ."""
    phi = numpy.array(theta0, dtype=numpy.float64)
    theta, buf = phi.copy(), numpy.zeros_like(phi)
    fast, slows = [], []
    it = iter(numpy.array(grads, dtype=numpy.float64))
    for _ in range(len(grads) // k):
        theta = phi.copy()
        for _ in range(k):
            buf = mu * buf + next(it)
            theta = theta - lr * buf
            fast.append(theta.copy())
            slows.append(phi.copy())
        phi = phi + alpha * (theta - phi)
        fast[-1], slows[-1] = phi.copy(), phi.copy()
        if reset:
            buf = numpy.zeros_like(buf)
    return fast, slows


@pytest.mark.parametrize("profile,reset", [("spec", False), ("optax", False), ("optax_reset", True),
                                           ("pytorch_optimizer_reset", True)])
def test_matches_the_papers_nested_loops_in_float64(profile, reset):
    fast, slows = nested_loops([float(x) for x in THETA0], [[float(x) for x in g] for g in GRADS], 0.125, 0.875, 3,
                               0.625, reset)
    records = run(THETA0, GRADS, profile=profile, states=True, lr="0.125", momentum="0.875", sync_period=3,
                  slow_step_size="0.625")
    for r, want, want_slow in zip(records, fast, slows):
        numpy.testing.assert_allclose([float(x) for x in r.params["x"].data], want, rtol=1e-13, atol=1e-15)
        numpy.testing.assert_allclose([float(x) for x in r.state["x"]["slow"].data], want_slow, rtol=1e-13, atol=1e-15)


def heavy_ball(theta0, grads, lr, mu):
    theta, buf, out = fr(theta0), [Fraction(0)] * len(theta0), []
    for g in grads:
        buf = [mu * b + gi for b, gi in zip(buf, fr(g))]
        theta = [t - lr * b for t, b in zip(theta, buf)]
        out.append(theta)
    return out


@pytest.mark.parametrize("profile", ["spec", "optax", "torch_optimizer"])
def test_alpha_one_is_the_inner_sgd(profile):
    """α = 1: φ jumps to θ', θ = θ', so Lookahead is heavy-ball SGD whatever k and the phase."""
    got = run(THETA0, GRADS, profile=profile, lr="0.125", momentum="0.875", sync_period=3, slow_step_size="1")
    want = heavy_ball(THETA0, GRADS, Fraction(1, 8), Fraction(7, 8))
    assert all(close(x, w) for row, wrow in zip(got, want) for x, w in zip(row, wrow))


def test_every_step_sync_is_sgd_at_alpha_times_the_rate():
    """k = 1 with the buffer kept: θ_t = θ + α(θ − ηb − θ) = θ − αη b_t, heavy-ball SGD at rate αη."""
    got = run(THETA0, GRADS, lr="0.125", momentum="0.875", sync_period=1, slow_step_size="0.625")
    want = heavy_ball(THETA0, GRADS, Fraction(5, 64), Fraction(7, 8))
    assert all(close(x, w) for row, wrow in zip(got, want) for x, w in zip(row, wrow))


def test_inner_state_at_a_sync():
    """μ = 1/2, g = 1, 1, k = 2, α = 1/2: b₁ = 1, b₂ = 3/2 before the sync. keep leaves 3/2; reset sets 0;
    pullback sets β + α(b − β) = 0 + (3/2)/2 = 3/4 and β = 3/4."""
    kw = dict(states=True, lr="0.25", momentum="0.5", sync_period=2, slow_step_size="0.5")
    keep = run(["1"], [["1"]] * 2, **kw)[-1].state["x"]
    reset = run(["1"], [["1"]] * 2, profile="optax_reset", **kw)[-1].state["x"]
    pull = run(["1"], [["1"]] * 2, profile="pytorch_optimizer_pullback", **kw)[-1].state["x"]
    assert F(keep["momentum_buffer"].data[0]) == Fraction(3, 2)
    assert F(reset["momentum_buffer"].data[0]) == 0
    assert F(pull["momentum_buffer"].data[0]) == Fraction(3, 4) and F(pull["slow_momentum"].data[0]) == Fraction(3, 4)
    assert "slow_momentum" not in keep


@pytest.mark.parametrize("inner", ["keep", "reset"])
def test_blend_equals_branch_on_finite_values(inner):
    kw = dict(states=True, lr="0.125", momentum="0.875", sync_period=3, slow_step_size="0.625")
    a = run(THETA0, GRADS, semantics={"sync_form": "branch", "inner_state": inner}, **kw)
    b = run(THETA0, GRADS, semantics={"sync_form": "blend", "inner_state": inner}, **kw)
    for ra, rb in zip(a, b):
        for key in ("momentum_buffer", "slow"):
            assert all(close(x, y, 45) for x, y in zip(ra.state["x"][key].data, rb.state["x"][key].data))
        assert all(close(x, y, 45) for x, y in zip(ra.params["x"].data, rb.params["x"].data))


def test_blend_turns_an_infinite_weight_into_nan():
    """g₂ = +∞ at a step that does not synchronize (k = 3): branch has θ₂ = −∞ and φ₂ = φ₀ = 1 untouched, then
    at the sync t = 3 φ₃ = θ₃ = −∞; blend's d = −∞ enters both updates as 0·d = NaN, so θ₂ and φ₂ are NaN at once."""
    kw = dict(states=True, lr="0.25", momentum="0.5", sync_period=3, slow_step_size="0.5")
    grads = [["0.5"], ["inf"], ["1"]]
    branch = run(["1"], grads, **kw)
    blend = run(["1"], grads, profile="optax", **kw)
    assert F(branch[1].state["x"]["slow"].data[0]) == 1 and branch[1].params["x"].data[0] == -mpmath.inf
    assert branch[2].params["x"].data[0] == -mpmath.inf and branch[2].state["x"]["slow"].data[0] == -mpmath.inf
    assert mpmath.isnan(blend[1].state["x"]["slow"].data[0]) and mpmath.isnan(blend[1].params["x"].data[0])
    assert F(blend[0].state["x"]["slow"].data[0]) == 1


def test_reset_blend_keeps_a_nan_buffer():
    """optax's reset (1 − s)·b + s·0 is 0·NaN = NaN for a NaN buffer; the branch reset writes 0."""
    kw = dict(states=True, lr="0.25", momentum="0.5", sync_period=2, slow_step_size="0.5")
    grads = [["0.5"], ["nan"]]
    blend = run(["1"], grads, profile="optax_reset", **kw)
    branch = run(["1"], grads, profile="pytorch_optimizer_reset", **kw)
    assert mpmath.isnan(blend[1].state["x"]["momentum_buffer"].data[0])
    assert branch[1].state["x"]["momentum_buffer"].data[0] == 0


def test_ranges_are_checked():
    with pytest.raises(UserError):
        LOOKAHEAD.resolve("spec", {"sync_period": "0"})
    with pytest.raises(UserError):
        LOOKAHEAD.resolve("spec", {"slow_step_size": "1.5"})


# --- the torch packages in float64 ----------------------------------------------------------------


def _package_run(make, grads, k, alpha, **options):
    """The package's Lookahead around torch.optim.SGD(lr=1/8, momentum=7/8) in float64: the fast weights and the
    slow copy after every step (the slow copy as the package stores it: None before it exists)."""
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.tensor([float(x) for x in THETA0], dtype=torch.float64))
    opt = make(torch.optim.SGD([p], lr=0.125, momentum=0.875), k=k, alpha=alpha, **options)
    out = []
    for g in grads:
        p.grad = torch.tensor([float(x) for x in g], dtype=torch.float64)
        opt.step()
        state = opt.state[p]
        copy = state.get("slow_param", state.get("slow_params"))
        out.append((p.detach().tolist(), copy.tolist()))
    return out


PACKAGES = [
    ("torch_optimizer", "torch_optimizer", {}),
    ("pytorch_optimizer", "pytorch_optimizer", {}),
    ("pytorch_optimizer_reset", "pytorch_optimizer", {"pullback_momentum": "reset"}),
    ("pytorch_optimizer_pullback", "pytorch_optimizer", {"pullback_momentum": "pullback"}),
]


@pytest.mark.parametrize("profile,module,options", PACKAGES, ids=[p[0] for p in PACKAGES])
def test_package_matches_its_profile_in_float64(profile, module, options):
    """The installed package, float64, k = 3, α = 5/8, 12 steps: fast weights and slow copy within 1e-14 of the
    exact reference under the profile, and not within 1e-6 of the spec where the profile differs from it."""
    package = pytest.importorskip(module)
    got = _package_run(package.Lookahead, GRADS, 3, 0.625, **options)
    kw = dict(states=True, lr="0.125", momentum="0.875", sync_period=3, slow_step_size="0.625")
    records = run(THETA0, GRADS, profile=profile, **kw)
    for (fast, copy), r in zip(got, records):
        numpy.testing.assert_allclose(fast, [float(x) for x in r.params["x"].data], rtol=1e-14, atol=1e-15)
        numpy.testing.assert_allclose(copy, [float(x) for x in r.state["x"]["slow"].data], rtol=1e-14, atol=1e-15)
    if LOOKAHEAD.profiles[profile].semantics != LOOKAHEAD.profiles["spec"].semantics:
        spec = run(THETA0, GRADS, **kw)
        assert max(abs(a - float(x)) for (fast, _), r in zip(got, spec) for a, x in zip(fast, r.params["x"].data)) > 1e-6
