"""Muon: the Newton–Schulz iteration against an independent float64 computation and exact closed
forms, the invariances of the orthogonalized step, every axis on a hand-derived first step, and
the torch bfloat16 emulation against an independent per-operation rounding in fractions."""
import math
from fractions import Fraction
from functools import partial

import mpmath
import numpy
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from optconform.reference.algorithm import StepContext
from optconform.reference.effects import Effects
from optconform.reference.errors import UserError
from optconform.reference.model import Namespace, get
from optconform.reference.numeric import representable
from optconform.reference.optimizers import muon
from optconform.reference.tensor import Tensor

from ._trajectory_util import close, mp, trajectory as _trajectory

MUON = get("muon")
trajectory = partial(_trajectory, MUON)
COEFFS = (Fraction("3.4445"), Fraction("-4.7750"), Fraction("2.0315"))
G23 = ["0.5", "-1.25", "2", "0.75", "0.25", "-1.5"]  # a 2 x 3 gradient of full rank


def spec_h(**overrides):
    return MUON.resolve("spec", {k: str(v) for k, v in overrides.items()})


def ns(values, shape, semantics=None, **hyper):
    """O = NS(u) of the exact reference for the matrix ``values`` of ``shape``."""
    sem = Namespace(MUON.semantics("spec"), **(semantics or {}))
    out = muon.newton_schulz(Tensor.from_values(values, shape), spec_h(**hyper), sem, None)
    return out


def numpy_ns(g, steps, eps):
    """The iteration written out in numpy float64, independently of the reference."""
    x = numpy.array(g, dtype=numpy.float64)
    transposed = x.shape[0] > x.shape[1]
    if transposed:
        x = x.T
    x = x / (numpy.linalg.norm(x) + eps)
    a, b, c = (float(v) for v in COEFFS)
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if transposed else x


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("shape", [(2, 3), (3, 2)])
def test_newton_schulz_matches_a_float64_computation(steps, shape):
    """The reference at 64 digits agrees with numpy's float64 iteration to float64 accuracy (the
    iteration is well conditioned here: a few ulps, never more than 1e-14 relative)."""
    g = numpy.array([float(v) for v in G23]).reshape(shape)
    got = ns(G23, shape, ns_steps=steps, eps="1e-7")
    want = numpy_ns(g, steps, 1e-7).reshape(-1)
    for x, y in zip(got.data, want):
        assert abs(float(x) - y) <= 1e-14 * max(1.0, abs(y))


def test_one_newton_schulz_step_in_fractions():
    """One step on the 2 x 3 matrix with ε = 0: X₀ = G/‖G‖_F, A = X₀X₀ᵀ, X₁ = aX₀ + (bA + cA²)X₀,
    with ‖G‖² = 8.6875 exact, so X₁ = G·(a + (bS + cS²))/‖G‖_F with S = GGᵀ/‖G‖², in fractions."""
    g = [[Fraction(v) for v in G23[:3]], [Fraction(v) for v in G23[3:]]]
    n2 = sum(v * v for row in g for v in row)
    assert n2 == Fraction(139, 16)
    s = [[sum(g[i][k] * g[j][k] for k in range(3)) / n2 for j in range(2)] for i in range(2)]
    a, b, c = COEFFS
    s2 = [[sum(s[i][k] * s[k][j] for k in range(2)) for j in range(2)] for i in range(2)]
    poly = [[(a if i == j else 0) + b * s[i][j] + c * s2[i][j] for j in range(2)] for i in range(2)]
    x1 = [[sum(poly[i][k] * g[k][j] for k in range(2)) for j in range(3)] for i in range(2)]
    got = ns(G23, (2, 3), ns_steps=1, eps=0)
    root = mpmath.sqrt(mpmath.mpf(139) / 16)
    for x, want in zip(got.data, [v for row in x1 for v in row]):
        assert close(x * root, want)


def test_rank_one_matrix_follows_the_scalar_polynomial():
    """G = uvᵀ has one singular value; after the normalization it is 1 (ε = 0), and each step maps
    σ ↦ aσ + bσ³ + cσ⁵, so O = σ₅·G/‖G‖_F with σ₅ the fifth iterate from 1 (exact fractions)."""
    u, v = [Fraction(1), Fraction(-2)], [Fraction(3, 4), Fraction(1, 2), Fraction(-1)]
    g = [ui * vj for ui in u for vj in v]
    a, b, c = COEFFS
    sigma = Fraction(1)
    for _ in range(5):
        sigma = a * sigma + b * sigma ** 3 + c * sigma ** 5
    norm = mpmath.sqrt(mpmath.mpf(sum(x * x for x in g).numerator) / sum(x * x for x in g).denominator)
    got = ns([str(x) for x in g], (2, 3), eps=0)
    for x, gi in zip(got.data, g):
        assert close(x * norm, sigma * gi)
    s = 1.0  # the same iterates in Python floats: 0.701, 1.1136, ...
    for _ in range(5):
        s = 3.4445 * s - 4.7750 * s ** 3 + 2.0315 * s ** 5
    assert float(sigma) == pytest.approx(s, rel=1e-12) and 0.5 < s < 1.5  # S' in (0.5, 1.5), not 1


def test_orthogonal_rows_stay_orthogonal():
    """G with orthogonal rows of equal norm has both singular values 1/√2 after normalization (ε = 0):
    O = p⁵(1/√2)·√2·G/‖G‖_F, the same polynomial for every element."""
    g = ["3", "0", "0", "0", "0", "3"]
    a, b, c = (mpmath.mpf(x.numerator) / x.denominator for x in COEFFS)
    sigma = 1 / mpmath.sqrt(2)
    for _ in range(5):
        sigma = a * sigma + b * sigma ** 3 + c * sigma ** 5
    got = ns(g, (2, 3), eps=0)
    assert close(got.data[0], sigma) and close(got.data[5], sigma)
    assert all(x == 0 for i, x in enumerate(got.data) if i not in (0, 5))


def test_transposing_the_input_transposes_the_output():
    """p(XXᵀ)X = X p(XᵀX): the iteration on the tall matrix is the transpose of that on the wide one."""
    wide = ns(G23, (2, 3)).data
    tall_input = [G23[0], G23[3], G23[1], G23[4], G23[2], G23[5]]  # Gᵀ, row-major
    tall = ns(tall_input, (3, 2)).data
    assert all(close(tall[2 * j + i], wide[3 * i + j]) for i in range(2) for j in range(3))


def test_zero_steps_is_the_normalized_momentum():
    got = ns(G23, (2, 3), ns_steps=0, eps="0.5")
    norm = mpmath.sqrt(mpmath.mpf(139) / 16)
    assert all(close(x, mpmath.mpf(v) / (norm + mpmath.mpf("0.5"))) for x, v in zip(got.data, G23))
    got = ns(G23, (2, 3), semantics={"prenorm": "max"}, ns_steps=0, eps="4")  # ‖G‖ ≈ 2.95 < 4
    assert all(close(x, mpmath.mpf(v) / 4) for x, v in zip(got.data, G23))


def test_without_eps_the_trajectory_ignores_the_gradient_scale():
    """With ε = 0 and no weight decay, b_t and u_t scale with the gradients and the normalization
    removes the factor: every step is the same for g and 8g (and for momentum average or sum)."""
    grads = [G23, ["1", "0.5", "-0.25", "2", "-3", "0.125"], ["-0.5", "1", "1", "0.25", "-2", "0.75"]]
    base = trajectory(["1"] * 6, grads, shape=(2, 3), eps=0, lr="0.125")
    scaled = trajectory(["1"] * 6, [[str(8 * Fraction(v)) for v in g] for g in grads], shape=(2, 3), eps=0, lr="0.125")
    summed = trajectory(["1"] * 6, grads, shape=(2, 3), semantics={"momentum_form": "sum"}, eps=0, lr="0.125")
    for a, b, c in zip(base, scaled, summed):
        assert all(close(x, y) and close(x, z) for x, y, z in zip(a, b, c))
    with_eps = trajectory(["1"] * 6, grads, shape=(2, 3), semantics={"momentum_form": "sum"}, eps="0.25", lr="0.125")
    assert not close(with_eps[-1][0], base[-1][0], digits=6)


def test_average_momentum_is_the_sum_times_one_minus_mu():
    grads = [G23, ["1", "0.5", "-0.25", "2", "-3", "0.125"]]
    avg = trajectory(["1"] * 6, grads, shape=(2, 3), states=True, momentum="0.875")
    total = trajectory(["1"] * 6, grads, shape=(2, 3), states=True, semantics={"momentum_form": "sum"},
                       momentum="0.875")
    for a, s in zip(avg, total):
        assert all(close(x, y / 8) for x, y in zip(a.state["x"]["momentum_buffer"].data,
                                                  s.state["x"]["momentum_buffer"].data))


def first_step(semantics=None, profile="spec", params=("1",) * 6, grad=G23, **hyper):
    return trajectory(list(params), [grad], profile=profile, shape=(2, 3), semantics=semantics, **hyper)[0]


@pytest.mark.parametrize("axis_value,scale", [
    ("rows_over_cols", mpmath.mpf(1)),  # √max(1, 2/3)
    ("cols_over_rows", mpmath.sqrt(mpmath.mpf(3) / 2)),  # √max(1, 3/2)
    ("match_rms", mpmath.mpf("0.2") * mpmath.sqrt(3)),  # 0.2·√max(2, 3)
])
def test_the_scale_of_each_adjust_lr_value(axis_value, scale):
    """θ₁ = θ₀ − η·s·O with O the same for every value: the step is proportional to s."""
    step = [1 - x for x in first_step({"adjust_lr": axis_value}, lr="0.125")]
    ref = [1 - x for x in first_step(lr="0.125")]  # rows_over_cols: s = 1
    assert all(close(a, scale * b) for a, b in zip(step, ref))


def test_first_step_of_the_spec_is_the_orthogonalized_gradient():
    """b₁ = (1 − μ)g and Nesterov u₁ = μb₁ + (1 − μ)g = (1 − μ²)g: with ε = 0 the step is
    −η·NS(g) (the normalization removes (1 − μ²)); θ ← θ(1 − ηλ) first."""
    theta = first_step(lr="0.125", eps=0, weight_decay="0.5")
    o = ns(G23, (2, 3), eps=0)
    assert all(close(t, mpmath.mpf(1) * (1 - mpmath.mpf("0.0625")) - mpmath.mpf("0.125") * oi)
               for t, oi in zip(theta, o.data))


def test_optax_nesterov_is_bias_corrected():
    """bias_correction = on: u₁ = μ(1 − μ)g/(1 − μ²) + (1 − μ)g/(1 − μ) = (1 + μ/(1 + μ))g, a positive
    multiple of g, so with ε = 0 the first step equals the uncorrected one; with ε > 0 the
    normalization sees u₁ = (1 + μ/(1 + μ))g instead of (1 − μ²)g."""
    mu = Fraction(7, 8)
    on = first_step({"bias_correction": "on"}, lr="0.125", eps="0.5", momentum="0.875")
    want_u = [str((1 + mu / (1 + mu)) * Fraction(v)) for v in G23]
    o = ns(want_u, (2, 3), eps="0.5")
    assert all(close(t, 1 - mpmath.mpf("0.125") * oi) for t, oi in zip(on, o.data))
    off = first_step(lr="0.125", eps="0.5", momentum="0.875")
    o_off = ns([str((1 - mu * mu) * Fraction(v)) for v in G23], (2, 3), eps="0.5")
    assert all(close(t, 1 - mpmath.mpf("0.125") * oi) for t, oi in zip(off, o_off.data))


def test_prenorm_max_and_add_differ_by_eps():
    """‖u₁‖_F = (1 − μ²)‖g‖_F ≈ 0.691 with μ = 0.875: add divides by ‖u₁‖ + ε, max by ‖u₁‖ (> ε),
    so max's O is exactly NS with ε = 0."""
    mx = first_step({"prenorm": "max"}, lr="0.125", eps="0.25", momentum="0.875")
    zero = first_step(lr="0.125", eps=0, momentum="0.875")
    add = first_step(lr="0.125", eps="0.25", momentum="0.875")
    assert all(close(a, b) for a, b in zip(mx, zero))
    assert not close(add[0], zero[0], digits=3)


def test_nesterov_off_orthogonalizes_the_buffer():
    grads = [G23, ["1", "0.5", "-0.25", "2", "-3", "0.125"]]
    steps = trajectory(["1"] * 6, grads, shape=(2, 3), nesterov=False, eps=0, lr="0.125", momentum="0.5")
    b2 = [Fraction(1, 2) * Fraction(1, 2) * Fraction(a) + Fraction(1, 2) * Fraction(b) for a, b in zip(*grads)]
    o2 = ns([str(x) for x in b2], (2, 3), eps=0)
    assert all(close(y - x, -mpmath.mpf("0.125") * o) for x, y, o in zip(steps[0], steps[1], o2.data))


def test_weight_decay_forms():
    """decoupled_lr: θ₁(λ) = θ₀(1 − ηλ) + (θ₁(0) − θ₀); l2 feeds λθ₀ into the momentum."""
    params = ["1", "-2", "0.5", "1.5", "-1", "3"]
    plain = first_step(params=params, lr="0.125")
    decayed = first_step(params=params, lr="0.125", weight_decay="0.5")
    assert all(close(d, mpmath.mpf(p) * mpmath.mpf("0.9375") + (q - mpmath.mpf(p)))
               for d, p, q in zip(decayed, params, plain))
    l2 = first_step({"weight_decay": "l2"}, params=params, lr="0.125", weight_decay="0.5", eps=0)
    o = ns([str(Fraction(g) + Fraction(1, 2) * Fraction(p)) for g, p in zip(G23, params)], (2, 3), eps=0)
    assert all(close(x, mpmath.mpf(p) - mpmath.mpf("0.125") * oi) for x, p, oi in zip(l2, params, o.data))


def test_lerp_and_sum_forms_turn_an_infinite_momentum_into_nan():
    """first_moment = lerp (torch's average, Keras's sum): b = ∞ after an infinite gradient, NaN at
    the next finite one; mix stays ∞. The parameters are NaN either way."""
    grads = [["inf", "1", "1", "1", "1", "1"], G23]
    for form, sem in (("average", "lerp"), ("sum", "lerp"), ("average", "mix"), ("sum", "mix")):
        steps = trajectory(["1"] * 6, grads, shape=(2, 3), states=True,
                           semantics={"momentum_form": form, "first_moment": sem})
        b1, b2 = (s.state["x"]["momentum_buffer"].data[0] for s in steps)
        assert b1 == mpmath.inf
        assert (mpmath.isnan(b2) if sem == "lerp" else b2 == mpmath.inf)
        assert all(mpmath.isnan(x) for s in steps for x in s.params["x"].data)


# --- tensors that are not 2-D --------------------------------------------------------------------


def vector_step(profile, semantics=None, **hyper):
    (theta,) = trajectory(["2", "-1"], [["0.5", "-0.25"]], profile=profile, semantics=semantics, **hyper)
    return theta


@pytest.mark.parametrize("form", ["adamw_aux", "adamw_std", "adamw_hat"])
def test_first_adamw_step_of_a_vector(form):
    """t = 1: m₁ = (1 − β₁)g, v₁ = (1 − β₂)g², so
    aux: θ(1 − η_aλ_a) − η_a g/(|g| + ε_a);
    std (Nesterov): m̄ = (1 − β₁)g/(1 − β₁) + β₁m₁/(1 − β₁²) = g(1 + β₁/(1 + β₁)), θ(1 − η_aλ_a) − η_a m̄/(|g| + ε);
    hat: θ(1 − ηλ_a) − η_a (√(1 − β₂)/(1 − β₁))·m₁/(√v₁ + ε_a) = θ(1 − ηλ_a) − η_a g/(|g| + ε_a/√(1 − β₂))."""
    hyper = dict(lr="0.25", adam_lr_ratio="0.5", adam_beta1="0.75", adam_beta2="0.9375", adam_eps="0.125",
                 eps="0.0625", adam_weight_decay="0.5")
    theta = vector_step("spec", {"non_matrix": form}, **hyper)
    eta, eta_a, b1, lam = Fraction(1, 4), Fraction(1, 8), Fraction(3, 4), Fraction(1, 2)
    for t, p, g in zip(theta, (Fraction(2), Fraction(-1)), (Fraction(1, 2), Fraction(-1, 4))):
        if form == "adamw_aux":
            want = p * (1 - eta_a * lam) - eta_a * g / (abs(g) + Fraction(1, 8))
        elif form == "adamw_std":
            mbar = g * (1 + b1 / (1 + b1))
            want = p * (1 - eta_a * lam) - eta_a * mbar / (abs(g) + Fraction(1, 16))
        else:
            root = mpmath.sqrt(mpmath.mpf(1) / 16)  # √(1 − β₂) = 1/4
            want = mp(p * (1 - eta * lam)) - mp(eta_a) * mp(g) / (abs(mp(g)) + mpmath.mpf(1) / 8 / root)
        assert close(t, want)


def test_optax_adamw_without_nesterov_is_plain_adamw():
    hyper = dict(lr="0.25", adam_lr_ratio="1", adam_beta1="0.75", adam_beta2="0.9375", eps="0.0625",
                 nesterov=False)
    theta = vector_step("spec", {"non_matrix": "adamw_std"}, **hyper)
    assert all(close(t, p - Fraction(1, 4) * g / (abs(g) + Fraction(1, 16)))
               for t, p, g in zip(theta, (Fraction(2), Fraction(-1)), (Fraction(1, 2), Fraction(-1, 4))))


def test_state_of_matrices_and_of_other_tensors():
    h, sem = spec_h(), MUON.semantics("spec")
    assert set(muon.init(Tensor.from_values([1] * 6, (2, 3)), h, sem)) == {"momentum_buffer"}
    assert set(muon.init(Tensor.from_values([1] * 4, (4,)), h, sem)) == {"momentum_buffer", "exp_avg_sq"}


def test_ns_steps_must_not_be_negative():
    with pytest.raises(UserError, match="ns_steps"):
        MUON.resolve("spec", {"ns_steps": "-1"})


def test_defaults():
    spec, torch_, optax_, keras_ = (MUON.resolve(p) for p in ("spec", "torch", "optax", "keras"))
    assert (spec.lr, spec.weight_decay, spec.eps) == (mpmath.mpf("0.02"), 0, mpmath.mpf("1e-7"))
    assert (torch_.lr, torch_.weight_decay) == (mpmath.mpf("0.001"), mpmath.mpf("0.1"))
    assert optax_.eps == mpmath.mpf("1e-8") and optax_.weight_decay == 0
    assert (keras_.weight_decay, keras_.adam_weight_decay) == (mpmath.mpf("0.004"), mpmath.mpf("0.004"))
    assert all(p.momentum == mpmath.mpf("0.95") and p.nesterov for p in (spec, torch_, optax_, keras_))


# --- the precision emulations --------------------------------------------------------------------


def _round(q: Fraction, bits: int) -> Fraction:
    """q rounded to ``bits`` significand bits, ties to even (written here again, on fractions)."""
    if q == 0:
        return q
    sign, q = (-1 if q < 0 else 1), abs(q)
    e = q.numerator.bit_length() - q.denominator.bit_length()
    if Fraction(2) ** e > q:
        e -= 1
    quantum = Fraction(2) ** (e - bits + 1)
    m = q / quantum
    whole = m.numerator // m.denominator
    rest = m - whole
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and whole % 2):
        whole += 1
    return sign * whole * quantum


def _fraction(x) -> Fraction:
    return Fraction(mpmath.nstr(x, 80)) if x != 0 else Fraction(0)


def test_torch_bfloat16_step_matches_a_per_operation_rounding_in_fractions():
    """One bfloat16 Newton–Schulz step of torch.optim.Muon (the variant's model): each result
    stored in bfloat16 (8 bits) from float32 (24 bits) arithmetic; sums of at most three terms, so
    the order of the partial sums does not matter; addmm as fl32(β·M + fl32(α·dot))."""
    b16, f32 = partial(_round, bits=8), partial(_round, bits=24)
    g = [[Fraction(v) * Fraction(1, 3) for v in G23[:3]], [Fraction(v) * Fraction(1, 3) for v in G23[3:]]]
    x = [[b16(f32(v)) for v in row] for row in g]
    s = Fraction(0)
    for row in x:
        for v in row:
            s = f32(s + v * v)
    n = b16(f32(_fraction(mpmath.sqrt(mpmath.mpf(s.numerator) / s.denominator))))
    x = [[b16(f32(v / n)) for v in row] for row in x]
    a, b, c = (f32(v) for v in COEFFS)
    gram = [[b16(f32(f32(x[i][0] * x[j][0] + x[i][1] * x[j][1]) + x[i][2] * x[j][2])) for j in range(2)]
            for i in range(2)]
    gg = [[f32(gram[i][0] * gram[0][j] + gram[i][1] * gram[1][j]) for j in range(2)] for i in range(2)]
    bm = [[b16(f32(b * gram[i][j] + f32(c * gg[i][j]))) for j in range(2)] for i in range(2)]
    want = [b16(f32(a * x[i][j] + f32(bm[i][0] * x[0][j] + bm[i][1] * x[1][j]))) for i in range(2) for j in range(3)]
    fx = Effects.build({"newton_schulz": "bfloat16", "newton_schulz_accumulate": "float32"}, MUON)
    ctx = StepContext(t=1, lr=mpmath.mpf(1), effects=fx)
    u = Tensor.from_values([str(v) for row in g for v in row], (2, 3))
    got = muon.newton_schulz_torch(u, spec_h(ns_steps=1), Namespace(MUON.semantics("torch")), ctx)
    assert [_fraction(v) for v in got.data] == want
    assert all(representable(v, "bfloat16") for v in got.data)


def test_torch_profile_selects_the_bfloat16_variant_and_moves_the_step_by_about_2_to_the_minus_9():
    case_fx = Effects.build({"newton_schulz": "bfloat16", "newton_schulz_accumulate": "float32"}, MUON)
    assert case_fx.variant == "torch_bfloat16"
    h, sem = spec_h(), MUON.semantics("torch")
    u = Tensor.from_values(G23, (2, 3))
    exact = muon.newton_schulz(u, h, sem, None)
    emulated = muon.newton_schulz_torch(u, h, sem, StepContext(t=1, lr=h.lr, effects=case_fx))
    worst = max(abs(x - y) / abs(x) for x, y in zip(exact.data, emulated.data))
    assert mpmath.mpf(2) ** -12 < worst < mpmath.mpf(2) ** -5


def test_keras_rounds_the_square_root_of_the_scale_to_float32():
    fx = Effects.build({"scale_root": "float32"}, MUON)
    h, sem = MUON.resolve("keras", {"lr": "0.125", "weight_decay": "0"}), MUON.semantics("keras")
    p, g = Tensor.from_values(["1"] * 6, (2, 3)), Tensor.from_values(G23, (2, 3))
    ctx = StepContext(t=1, lr=h.lr, effects=fx)
    exact = muon.step(p, g, muon.init(p, h, sem), h, sem, ctx)
    rounded = muon.step_keras(p, g, muon.init(p, h, sem), h, sem, ctx)
    root32 = _round(_fraction(mpmath.sqrt(3)), 24)
    ratio = (1 - rounded.data[0]) / (1 - exact.data[0])
    assert close(ratio, mpmath.mpf(root32.numerator) / root32.denominator / mpmath.sqrt(3))


_ENTRY = st.one_of(st.floats(-4, 4, allow_nan=False), st.sampled_from([0.0, 1e-300, math.inf, -math.inf, math.nan]))


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.sampled_from([None, 8, 11, 24]), st.data())
def test_the_newton_schulz_matmul_rounds_every_product_and_sum_as_mpf_arithmetic(r, k, c, bits, data):
    """_matmul works on mpmath's raw values for speed: each entry equals the left-to-right sum
    p₀q₀ⱼ + p₁q₁ⱼ + … written with mpf's own * and +, at every working precision, NaN and ∞ included."""
    from optconform.reference.numeric import precision
    from optconform.reference.optimizers.muon import _matmul

    with precision(None, bits):
        p = [[mpmath.mpf(data.draw(_ENTRY)) for _ in range(k)] for _ in range(r)]
        q = [[mpmath.mpf(data.draw(_ENTRY)) for _ in range(c)] for _ in range(k)]
        got = _matmul(p, q)
        for i in range(r):
            for j in range(c):
                want = p[i][0] * q[0][j]
                for m in range(1, k):
                    want = want + p[i][m] * q[m][j]
                assert got[i][j]._mpf_ == want._mpf_ or (mpmath.isnan(got[i][j]) and mpmath.isnan(want))


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 3), st.integers(1, 4), st.sampled_from([None, 8, 11, 24, 53]), st.data())
def test_the_mpfr_newton_schulz_iteration_equals_the_mpf_one(r, c, bits, data):
    """With gmpy2 installed, the quintic iteration runs in MPFR (the speed of Muon's vector
    generation); without it, in mpf. Both round every product and sum to nearest at the working
    precision, so they give the same values bit for bit, NaN and ∞ included — also for inputs wider
    than the precision (rounded once, inside the first products)."""
    from optconform.reference.numeric import precision
    from optconform.reference.optimizers import muon

    if muon.gmpy2 is None:
        pytest.skip("gmpy2 is not installed: only the mpf iteration exists")
    coeffs = [mpmath.mpf(v) for v in ("3.4445", "-4.775", "2.0315")]
    x = [[mpmath.mpf(data.draw(_ENTRY)) / 3 for _ in range(c)] for _ in range(r)]  # 53-bit /3: wider than 8 or 11
    with precision(None, bits):
        want = muon.iterate_mpf(x, *coeffs, 5)
        got = muon.iterate_gmpy(x, *coeffs, 5)
    for w, g in zip(sum(want, []), sum(got, [])):
        assert g._mpf_ == w._mpf_ or (mpmath.isnan(g) and mpmath.isnan(w))
