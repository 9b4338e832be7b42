"""Muon (K. Jordan et al., 2024, github.com/KellerJordan/Muon muon.py): momentum orthogonalized by a
Newton–Schulz iteration, with the axes on which implementations differ.

For a 2-D tensor θ of shape r × c, with g_t the gradient, η_t the learning rate of this step, μ the
momentum, λ the weight decay, ε the pre-normalization constant, (a, b, c) the Newton–Schulz
coefficients, k = ns_steps and b₀ = 0:

    (θ, g_t) ← weight_decay(θ, g_t)            axis ``weight_decay`` (common.py): decoupled_lr
                                               θ ← θ(1 − η_t λ) (the original, every framework); l2
    w = 1 − μ                                  ``momentum_form`` = average (original, torch, optax)
      = 1                                      ``momentum_form`` = sum (Moonlight, Keras)
    b_t = μ b_{t−1} + w g_t                    ``first_moment`` = mix (optax, Moonlight)
        = torch.lerp(b_{t−1}, g_t, 1 − μ)       ``first_moment`` = lerp, the average (original, torch)
        = b_{t−1} + (g_t + (μ − 1) b_{t−1})     ``first_moment`` = lerp, the sum (Keras)
    c_t = 1 − μᵗ,  c'_t = 1 − μ^{t+1}          ``bias_correction`` = on (optax); c = c' = 1 off
    u_t = μ b_t / c'_t + w g_t / c_t           when nesterov
        = b_t / c_t                            otherwise
    X₀ = u_t, transposed when r > c            (as the original; X ↦ p(XXᵀ)X commutes with ᵀ)
    X₀ ← X₀ / (‖X₀‖_F + ε)                     ``prenorm`` = add (original, optax, Keras)
       ← X₀ / max(‖X₀‖_F, ε)                   ``prenorm`` = max (torch)
    A = X_{j−1} X_{j−1}ᵀ,  B = bA + cA²,  X_j = a X_{j−1} + B X_{j−1}     j = 1 … k
    O_t = X_k, transposed back when r > c
    s = √max(1, r/c)                           ``adjust_lr`` = rows_over_cols (original, torch)
      = √max(1, c/r)                           ``adjust_lr`` = cols_over_rows (optax)
      = ρ √max(r, c)                           ``adjust_lr`` = match_rms (Moonlight, Keras; torch
                                               adjust_lr_fn="match_rms_adamw"; optax consistent_rms)
    θ_t = θ − η_t s O_t

‖X‖_F of a matrix holding NaN is NaN and max(NaN, ε) is NaN (numeric.fmax), so one NaN or
infinite element makes the whole update NaN, as in every framework.

A tensor that is not 2-D goes through an AdamW (axis ``non_matrix``; torch refuses it), with
η_a = ρ_a η_t (ρ_a = adam_lr_ratio), β₁, β₂ = adam_beta1, adam_beta2, λ_a = adam_weight_decay,
m the same ``momentum_buffer`` and v the ``exp_avg_sq``:

* ``adamw_aux`` — the original's MuonWithAuxAdam: θ ← θ(1 − η_a λ_a);
  m ← lerp(m, g, 1 − β₁), v ← lerp(v, g², 1 − β₂); θ ← θ − η_a (m/(1 − β₁ᵗ))/(√(v/(1 − β₂ᵗ)) + ε_a),
  ε_a = adam_eps (adam.py: eps_placement std, second_moment delta);
* ``adamw_std`` — optax.contrib.muon's optax.adamw(nesterov=nesterov, eps=ε): θ ← θ(1 − η_a λ_a);
  m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g²; θ ← θ − (c_g g + c_m m)/(√(v/(1 − β₂ᵗ)) + ε) with
  Muon's ε, c_g = η_a(1 − β₁)/(1 − β₁ᵗ), c_m = η_a β₁/(1 − β₁^{t+1}) when nesterov, else c_g = 0,
  c_m = η_a/(1 − β₁ᵗ) (nadam.py's update);
* ``adamw_hat`` — Keras's _adamw_update_step: θ ← θ(1 − η_t λ_a) (the decay with η_t, not η_a);
  m ← m + (g − m)(1 − β₁), v ← v + (g² − v)(1 − β₂); θ ← θ − η_a (√(1 − β₂ᵗ)/(1 − β₁ᵗ)) m/(√v + ε_a)
  (adam.py: eps_placement hat).

The AdamW's first moment is written as the profile's ``first_moment`` says, its second moment as
its value says (mix for adamw_std, the delta form, which is torch.lerp's for 1 − β₂ < ½, else).

State: ``momentum_buffer`` = b_t (m_t for a tensor that is not 2-D), ``exp_avg_sq`` = v_t (tensors
that are not 2-D only).

Precision emulations (``VARIANTS``, selected by a profile's declared effects through ``ctx.effects``):

* ``step_torch_bfloat16`` (effects ``newton_schulz``, ``newton_schulz_accumulate``; torch.optim.Muon
  on the CPU): the Newton–Schulz iteration runs in the format of ``newton_schulz`` (bfloat16)
  whatever the parameters' dtype, each of its operations computed in the format of
  ``newton_schulz_accumulate`` (float32, torch's opmath) and its result stored:
  :func:`newton_schulz_torch`;
* ``step_keras`` (effects ``scale_root``, ``prenorm_norm``, ``momentum_decay``,
  ``nesterov_momentum``; Keras): √max(r, c) of the match_rms scale is computed in the format of
  ``scale_root`` (ops.sqrt of an integer gives floatx); where ``prenorm_norm`` is declared (the jax
  and torch backends with float64 variables), the pre-normalization's norm and denominator in its
  format (:func:`keras_denominator`); μ − 1 in m + (g + m(μ − 1)) and μ in Nesterov's g + μm in the
  formats of ``momentum_decay``, ``nesterov_momentum`` (the torch backend); bracketed: the
  backends' float32 norms are faithful to 2 ulps, not correctly rounded.
"""
from __future__ import annotations

import dataclasses
import operator

import mpmath
from mpmath.libmp import mpf_add, mpf_mul

try:  # MPFR through gmpy2 (optional, as for mpmath itself): the Newton–Schulz iteration's speed
    import gmpy2
except ImportError:  # pragma: no cover - the pure-Python backend
    gmpy2 = None

from ..algorithm import Variant
from ..common import first_moment_value, weight_decay
from ..effects import cast
from ..errors import UserError
from ..model import Namespace
from ..numeric import div, fmax, from_mpfr, isfinite, mpf, mpfr_active, num, sqrt, to_mpfr
from ..tensor import Tensor, norm, tmap, zeros_like
from . import adam, nadam


def init(p, h, sem):
    if p.ndim == 2:
        return {"momentum_buffer": zeros_like(p)}
    return {"momentum_buffer": zeros_like(p), "exp_avg_sq": zeros_like(p)}


def validate(h, where):
    if h.ns_steps < 0:
        raise UserError(f"{where}: ns_steps must be >= 0, got {h.ns_steps}")


# --- the momentum --------------------------------------------------------------------------------


def gradient_weight(h, sem):
    """w, the weight of g_t in b_t = μb_{t−1} + w g_t (axis ``momentum_form``)."""
    if sem.momentum_form == "average":
        return 1 - h.momentum
    if sem.momentum_form == "sum":
        return num(1)
    raise ValueError(f"unknown momentum_form {sem.momentum_form!r}")


def momentum_value(b, g, mu, w, sem, decay=None):
    """One element of b_t = μb + w g, written as the ``first_moment`` axis says: mix as above;
    lerp: torch.lerp(b, g, 1 − μ) for the average (common.first_moment_value), b + (g + (μ − 1)b)
    for the sum (Keras: m + (g + m(μ − 1)); ``decay``: μ − 1 as a variant holds it). Equal in exact
    arithmetic; once b is infinite and g finite, lerp gives ∞ − ∞ = NaN where mix stays infinite."""
    if sem.first_moment == "mix":
        return mu * b + w * g
    if sem.first_moment == "lerp":
        if sem.momentum_form == "average":
            return first_moment_value(b, g, mu, "lerp")
        return b + (g + b * (mu - 1 if decay is None else decay))
    raise ValueError(f"unknown first_moment {sem.first_moment!r}")


def bias_corrections(mu, t, sem):
    """(c_t, c'_t) = (1 − μᵗ, 1 − μ^{t+1}), or (1, 1) when ``bias_correction`` = off."""
    return (1 - mu ** t, 1 - mu ** (t + 1)) if sem.bias_correction == "on" else (1, 1)


# --- the Newton–Schulz iteration --------------------------------------------------------------------


def _rows(t: Tensor) -> list:
    r, c = t.shape
    return [t.data[i * c:(i + 1) * c] for i in range(r)]


def _transpose(x: list) -> list:
    return [list(col) for col in zip(*x)]


def _raw(x):
    return x._mpf_ if isinstance(x, mpmath.mpf) else mpf(x)._mpf_


def _matmul(p: list, q: list) -> list:
    """P Q, each sum accumulated left to right: s = p₀q₀ⱼ, then s = s + pₗqₗⱼ, every product and
    sum rounded at the working precision (exactly what mpf's * and + do, on mpmath's raw values:
    the iteration is most of the cost of generating Muon's vectors)."""
    prec, rounding = mpmath.mp._prec_rounding
    make = mpmath.mp.make_mpf
    cols = [[_raw(v) for v in col] for col in zip(*q)]
    out = []
    for row in p:
        r = [_raw(v) for v in row]
        line = []
        for col in cols:
            s = mpf_mul(r[0], col[0], prec, rounding)
            for l in range(1, len(col)):
                s = mpf_add(s, mpf_mul(r[l], col[l], prec, rounding), prec, rounding)
            line.append(make(s))
        out.append(line)
    return out


def iterate_mpf(x: list, a, b, c, steps: int) -> list:
    """``steps`` quintic steps X ← aX + (bA + cA²)X with A = XXᵀ, in mpf arithmetic at the working
    precision (every product and sum rounded, sums left to right)."""
    for _ in range(steps):
        am = _matmul(x, _transpose(x))
        aa = _matmul(am, am)
        bm = [[b * am[i][j] + c * aa[i][j] for j in range(len(am))] for i in range(len(am))]
        bx = _matmul(bm, x)
        x = [[a * x[i][j] + bx[i][j] for j in range(len(x[0]))] for i in range(len(x))]
    return x


def _context(prec: int):
    """MPFR arithmetic at ``prec`` bits, to nearest with ties to even, with the widest exponents."""
    return gmpy2.context(precision=prec, round=gmpy2.RoundToNearest,
                         emax=gmpy2.get_emax_max(), emin=gmpy2.get_emin_min())


def iterate_gmpy(x: list, a, b, c, steps: int) -> list:
    """:func:`iterate_mpf` in gmpy2's MPFR arithmetic at the same precision, rounded to nearest
    with ties to even as mpmath rounds: the same values (every operation is correctly rounded in
    both; exponents do not reach MPFR's range), several times faster — the iteration is most of
    the cost of generating Muon's vectors. In an MPFR emulation (numeric.mpfr_arithmetic) the
    values are MPFR's already and stay so."""
    prec = mpmath.mp.prec
    native = mpfr_active()
    with _context(prec):
        if not native:
            x = [[to_mpfr(v) for v in row] for row in x]
            a, b, c = to_mpfr(a), to_mpfr(b), to_mpfr(c)
        for _ in range(steps):
            am = [[_dot(ri, rj) for rj in x] for ri in x]  # X Xᵀ: row by row
            aa = [[_dot(ri, cj) for cj in zip(*am)] for ri in am]
            bm = [[b * am[i][j] + c * aa[i][j] for j in range(len(am))] for i in range(len(am))]
            cols = list(zip(*x))
            bx = [[_dot(ri, cj) for cj in cols] for ri in bm]
            x = [[a * x[i][j] + bx[i][j] for j in range(len(x[0]))] for i in range(len(x))]
        return x if native else [[from_mpfr(v) for v in row] for row in x]


def _dot(r, col):
    """r₀c₀ + r₁c₁ + …, left to right (sum starts from an exact 0, which changes nothing)."""
    return sum(map(operator.mul, r, col))


iterate = iterate_gmpy if gmpy2 is not None else iterate_mpf


def prenormalized(x: list, n, h, sem) -> list:
    """X/(‖X‖_F + ε) (``prenorm`` = add) or X/max(‖X‖_F, ε) (max), with n = ‖X‖_F."""
    if sem.prenorm == "add":
        d = n + h.eps
    elif sem.prenorm == "max":
        d = fmax(n, h.eps)
    else:
        raise ValueError(f"unknown prenorm {sem.prenorm!r}")
    return [[div(v, d) for v in row] for row in x]


def newton_schulz(u: Tensor, h, sem, ctx, denominator=None) -> Tensor:
    """O = NS(u): the k quintic Newton–Schulz steps on the pre-normalized u (transposed while
    r > c), exact; ``denominator(u, h, sem, ctx)``, where a variant gives it, replaces the
    pre-normalization's ‖u‖_F + ε or max(‖u‖_F, ε)."""
    r, c = u.shape
    x = _rows(u)
    if r > c:
        x = _transpose(x)
    if denominator is None:
        x = prenormalized(x, norm(u), h, sem)
    else:
        d = denominator(u, h, sem, ctx)
        x = [[div(v, d) for v in row] for row in x]
    x = iterate(x, h.ns_a, h.ns_b, h.ns_c, h.ns_steps)
    if r > c:
        x = _transpose(x)
    return Tensor(u.shape, [v for row in x for v in row])


def scale(shape, h, sem, root=lambda x: x):
    """s of θ ← θ − η s O (axis ``adjust_lr``); ``root`` rounds √max(r, c) where a variant says."""
    r, c = (num(n) for n in shape)
    if sem.adjust_lr == "rows_over_cols":
        return sqrt(fmax(1, r / c))
    if sem.adjust_lr == "cols_over_rows":
        return sqrt(fmax(1, c / r))
    if sem.adjust_lr == "match_rms":
        return h.rms_scale * root(sqrt(fmax(r, c)))
    raise ValueError(f"unknown adjust_lr {sem.adjust_lr!r}")


# --- the step ----------------------------------------------------------------------------------------


def exact(name, x):
    """The exact value of a quantity that a variant may hold in a narrower format."""
    return x


def muon(p, g, state, h, sem, ctx, orthogonalize=newton_schulz, held=exact):
    """The update of a 2-D tensor, line by line the module docstring's equations; ``orthogonalize``
    computes O from u (the exact iteration, or a variant's emulation of a framework's), and
    ``held(name, x)`` gives a quantity as a variant holds it (exactly in ``step``)."""
    mu, w = h.momentum, gradient_weight(h, sem)
    p, g = weight_decay(p, g, h, sem, ctx)
    decay = held("momentum_decay", mu - 1)
    b = state["momentum_buffer"] = tmap(lambda bi, gi: momentum_value(bi, gi, mu, w, sem, decay),
                                        state["momentum_buffer"], g)
    c, c_next = bias_corrections(mu, ctx.t, sem)
    if h.nesterov:
        mu_u = held("nesterov_momentum", mu)
        u = tmap(lambda bi, gi: mu_u * bi / c_next + w * gi / c, b, g)
    else:
        u = tmap(lambda bi: bi / c, b)
    o = orthogonalize(u, h, sem, ctx)
    s = scale(p.shape, h, sem, lambda x: held("scale_root", x))
    return tmap(lambda pi, oi: pi - h.lr * s * oi, p, o)


ADAMW_AUX = Namespace(eps_placement="std", weight_decay="decoupled_lr", bias_correction="on", second_moment="delta")
ADAMW_HAT = Namespace(eps_placement="hat", weight_decay="decoupled_lr", bias_correction="on", second_moment="delta")
ADAMW_STD = Namespace(weight_decay="decoupled_lr", second_moment="mix")


def adamw(p, g, state, h, sem, ctx):
    """The update of a tensor that is not 2-D (axis ``non_matrix``, module docstring)."""
    lr_a = h.lr * h.adam_lr_ratio
    ha = Namespace(lr=lr_a, beta1=h.adam_beta1, beta2=h.adam_beta2, weight_decay=h.adam_weight_decay,
                   eps=h.adam_eps)
    moments = {"exp_avg": state["momentum_buffer"], "exp_avg_sq": state["exp_avg_sq"]}
    form = sem.non_matrix
    if form == "adamw_aux":
        out = adam.step(p, g, moments, ha, Namespace(ADAMW_AUX, first_moment=sem.first_moment), ctx_lr(ctx, lr_a))
    elif form == "adamw_hat":
        out = adam.step(p, g, moments, ha, Namespace(ADAMW_HAT, first_moment=sem.first_moment), ctx)
    elif form == "adamw_std":
        b1, b2, t = ha.beta1, ha.beta2, ctx.t
        asem = Namespace(ADAMW_STD, first_moment=sem.first_moment)
        p, g = weight_decay(p, g, ha, asem, ctx_lr(ctx, lr_a))
        m, v = nadam.moments(g, moments, b1, b2, asem)
        if h.nesterov:
            cg, cm = lr_a * (1 - b1) / (1 - b1 ** t), lr_a * b1 / (1 - b1 ** (t + 1))
        else:
            cg, cm = 0, lr_a / (1 - b1 ** t)
        out = nadam.update(p, g, m, v, cg, cm, 1 - b2 ** t, h.eps)
    else:
        raise ValueError(f"unknown non_matrix {form!r}")
    state["momentum_buffer"], state["exp_avg_sq"] = moments["exp_avg"], moments["exp_avg_sq"]
    return out


def ctx_lr(ctx, lr):
    """``ctx`` with η_t replaced by the AdamW's own rate (the original and optax decay with it)."""
    if dataclasses.is_dataclass(ctx):
        return dataclasses.replace(ctx, lr=lr)
    return Namespace(ctx, lr=lr)


def step(p, g, state, h, sem, ctx):
    if p.ndim == 2:
        return muon(p, g, state, h, sem, ctx)
    return adamw(p, g, state, h, sem, ctx)


# --- precision emulations ---------------------------------------------------------------------------


def _fsum(terms, fl):
    """Σ terms accumulated left to right, every partial sum rounded by ``fl``."""
    s = num(0)
    for x in terms:
        s = fl(s + x)
    return s


def _fsum_ilp4(terms, fl):
    """Σ terms as torch's CPU gemm kernel for reduced-precision types sums a dot product
    (aten/src/ATen/native/cpu/BlasKernel.cpp ``sum``): four interleaved partial sums (term l goes to
    partial l mod 4 while four remain, the rest to partial 0), then the partials added in order,
    every addition rounded by ``fl``. Equal to :func:`_fsum` for up to four terms."""
    terms = list(terms)
    parts = [num(0)] * 4
    i = 0
    while i + 4 <= len(terms):
        for k in range(4):
            parts[k] = fl(parts[k] + terms[i + k])
        i += 4
    for x in terms[i:]:
        parts[0] = fl(parts[0] + x)
    return _fsum(parts, fl)


def newton_schulz_torch(u: Tensor, h, sem, ctx) -> Tensor:
    """O = NS(u) as torch.optim.Muon computes it on the CPU (torch/optim/_muon.py
    _zeropower_via_newtonschulz), with st(x) = x stored in the format of ``newton_schulz`` and fl(x)
    rounded to that of ``newton_schulz_accumulate``:

        X = st(fl(u))                      grad.bfloat16(): a float64 gradient goes through float32
        n = st(fl(√(Σ fl x²)))             norm(): squares summed in u's row-major order in fl
        n ← max(n, st(fl(ε)))              clamp(min=eps) (prenorm = max; add: st(fl(n + ε)))
        X = st(fl(X / n))                  div_
        A = st(Σ fl X_il X_jl)             X @ X.T: left to right
        B = st(fl(b·A + fl(c·Σ₄ A A)))     addmm(A, A, A, beta=b, alpha=c): a fused multiply-add
        X = st(fl(a·X + Σ₄ B X))           addmm(X, B, X, beta=a)

    with b, c, a the coefficients in fl, products of stored values exact in fl, and Σ₄ the
    four-way interleaved sum of :func:`_fsum_ilp4`. Measured against torch 2.13 on this CPU
    (spec/algorithms/muon.md): equal on every tested matrix up to 5 × 5."""
    fx = ctx.effects
    store, acc = fx.format("newton_schulz"), fx.format("newton_schulz_accumulate")

    def st(x):
        return cast(x, store)

    def fl(x):
        return cast(x, acc)

    r, c = u.shape
    x = [[st(fl(v)) for v in row] for row in _rows(u)]
    n = st(fl(sqrt(_fsum((v * v for row in x for v in row), fl))))  # in memory order: u's rows
    if r > c:
        x = _transpose(x)
    if sem.prenorm == "max":
        n = fmax(n, st(fl(h.eps)))
    elif sem.prenorm == "add":
        n = st(fl(n + fl(h.eps)))
    else:
        raise ValueError(f"unknown prenorm {sem.prenorm!r}")
    x = [[st(fl(div(v, n))) for v in row] for row in x]
    a, b, cc = fl(h.ns_a), fl(h.ns_b), fl(h.ns_c)
    m, k = len(x), len(x[0])
    for _ in range(h.ns_steps):
        am = [[st(_fsum((x[i][l] * x[j][l] for l in range(k)), fl)) for j in range(m)] for i in range(m)]
        bm = [[st(fl(b * am[i][j] + fl(cc * _fsum_ilp4((am[i][l] * am[l][j] for l in range(m)), fl))))
               for j in range(m)] for i in range(m)]
        x = [[st(fl(a * x[i][j] + _fsum_ilp4((bm[i][l] * x[l][j] for l in range(m)), fl)))
              for j in range(k)] for i in range(m)]
    if r > c:
        x = _transpose(x)
    return Tensor(u.shape, [v for row in x for v in row])


def step_torch_bfloat16(p, g, state, h, sem, ctx):
    """``step`` with the Newton–Schulz iteration of torch.optim.Muon (:func:`newton_schulz_torch`)."""
    if p.ndim == 2:
        return muon(p, g, state, h, sem, ctx, orthogonalize=newton_schulz_torch)
    return adamw(p, g, state, h, sem, ctx)


def keras_denominator(u: Tensor, h, sem, ctx):
    """Keras's pre-normalization denominator where ``prenorm_norm`` declares a format f (its jax and
    torch backends, float64): ops.norm casts X to f first (dtypes.result_type(float64, float) is
    floatx) and returns n in f, and the constant is added in f: d = f(n + f(ε)) (prenorm add;
    max: max(n, f(ε))). The backends' float32 norms are within 2 ulps of the correctly rounded
    ‖f(X)‖_F but not always equal to it (XLA's and torch's summation orders), so the reruns that
    bracket the variant (``ctx.effects.nudge``) take n two ulps up and down."""
    from ..tolerance import ulp

    fx = ctx.effects
    fmt = fx.format("prenorm_norm")
    n = cast(norm(tmap(lambda v: cast(v, fmt), u)), fmt)
    if fx.nudge[0] and isfinite(n):
        n = n + fx.nudge[0] * 2 * ulp(n, fmt)
    if sem.prenorm == "add":
        return cast(n + cast(h.eps, fmt), fmt)
    return fmax(n, cast(h.eps, fmt))


def step_keras(p, g, state, h, sem, ctx):
    """``step`` with Keras's precisions: √max(r, c) of the match_rms scale in the format of
    ``scale_root``; where they are declared, the pre-normalization's norm in that of
    ``prenorm_norm`` (:func:`keras_denominator`), and μ − 1 of m + (g + m(μ − 1)) and μ of Nesterov's
    g + μm in those of ``momentum_decay`` and ``nesterov_momentum`` (the torch backend converts a
    Python float operand of ops.multiply to a floatx tensor)."""
    if p.ndim != 2:
        return adamw(p, g, state, h, sem, ctx)
    fx = ctx.effects
    denominator = keras_denominator if fx.format("prenorm_norm") else None

    def orthogonalize(u, h, sem, ctx):
        return newton_schulz(u, h, sem, ctx, denominator)

    return muon(p, g, state, h, sem, ctx, orthogonalize=orthogonalize, held=fx.rounded)


VARIANTS = {
    "torch_bfloat16": Variant(step_torch_bfloat16, ("newton_schulz", "newton_schulz_accumulate"),
                              doc="torch: the Newton–Schulz iteration in bfloat16 (float32 arithmetic) whatever the dtype"),
    "keras": Variant(step_keras, ("scale_root", "prenorm_norm", "momentum_decay", "nesterov_momentum"), bracketed=True,
                     doc="Keras: √max(r, c) of the match_rms scale, on jax and torch the norm of a float64 X, on torch μ − 1 and Nesterov's μ, in float32"),
}

