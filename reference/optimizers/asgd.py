"""ASGD, averaged stochastic gradient descent (Polyak & Juditsky, 1992), in the form of Bottou
(2010, 2012) that torch.optim.ASGD implements, with the axes on which implementations differ.

For each tensor, with g_t the gradient at step t = 1, 2, … (negated first when ``maximize``), η the
learning rate, λ = ``lambd`` the decay term, α the power, t₀ the step at which averaging starts,
κ = ``weight_decay``, η₀ = η, μ₀ = 1 and ā₀ = 0:

    g_t ← g_t + κ θ                                 coupled L2 (torch's weight_decay)
    θ_t = θ (1 − λ η_{t−1}) − η_{t−1} g_t           ``decay_form`` = factor (Bottou, torch for-loop)
        = θ − η_{t−1} (g_t + λ θ)                   ``decay_form`` = gradient (torch foreach)
    ā_t = ā_{t−1} + μ_{t−1} (θ_t − ā_{t−1})         ``average_at_one`` = formula (Bottou, torch foreach)
        = θ_t where μ_{t−1} = 1                     ``average_at_one`` = copy (torch for-loop)
    η_t = η / (1 + λ η t)^α
    μ_t = 1 / max(1, t − t₀)

Step t uses η_{t−1} and μ_{t−1}, computed at the end of the step before: Bottou's γ_t and μ_t with
his 0-based t (t − 1 here), torch's eta and mu computed after ``step_t += 1``. So ā_t is θ_t while
t ≤ t₀ + 2 and then the mean of θ_{t₀+2}, …, θ_t. The forms of the two axes are equal in exact
arithmetic; they differ once θ or ā is infinite (∞ − ∞ = NaN).

State: ``ax`` = ā_t, ``eta`` = η_t, ``mu`` = μ_t (scalars, the same for every tensor).

Precision emulation (``VARIANTS``, selected by a profile's declared effects through ``ctx.effects``):
torch holds η_t and μ_t in 0-d tensors of its default dtype (float32), even for float64
parameters: ``eta`` and ``mu`` (η₀ = fl(η) too; loading a checkpoint casts them to the parameters'
dtype, ``eta@checkpoint``, ``mu@checkpoint``), and computes each new value in float32 whatever the
tensor it is stored in (``new_scalars``: torch.as_tensor of a Python float is a float32 tensor), so
after a checkpoint a float64 state still holds float32 values. Where ``eta_ops`` is declared (the
foreach and capturable paths), η_t is computed by float32 tensor operations instead of in double:

    x = fl(fl(λη)·t),  y = fl(1 + x),  z = pow(y, α),  η_t = fl(fl(1/z)·fl(η))

(λη is a Python product, then the 0-d float32 step tensor multiplies it; ``η / tensor`` is a
reciprocal and a product; with a correctly rounded pow this gives torch's η_t on every one of 15000
(η, λ, α, t) measured, spec/algorithms/asgd.md). Where ``decay_factor`` is declared (capturable, and
the for-loop path under torch.compile), 1 − λη_{t−1} is a 0-d tensor of eta's dtype:
d = fl(1 − fl(fl(λ)·η_{t−1})) in float32, in the parameters' dtype after a checkpoint
(``decay_factor@checkpoint``).
"""
from __future__ import annotations

from ..algorithm import Variant
from ..effects import cast
from ..numeric import fmax, num
from ..tensor import tmap, zeros_like


def init(p, h, sem):
    return {"ax": zeros_like(p), "eta": +h.lr, "mu": num(1)}


def decayed(p, g, eta, h, sem, factor=None):
    """θ(1 − λη) − ηg or θ − η(g + λθ) (axis ``decay_form``), after the coupled L2 term κθ;
    ``factor``: 1 − λη as a variant holds it."""
    if h.weight_decay:
        g = tmap(lambda gi, pi: gi + h.weight_decay * pi, g, p)
    if sem.decay_form == "factor":
        d = 1 - h.lambd * eta if factor is None else factor
        return tmap(lambda pi, gi: pi * d - eta * gi, p, g)
    if sem.decay_form == "gradient":
        return tmap(lambda pi, gi: pi - eta * (gi + h.lambd * pi), p, g)
    raise ValueError(f"unknown decay_form {sem.decay_form!r}")


def averaged(ax, p, mu, sem):
    """ā + μ(θ − ā), or θ itself where μ = 1 (axis ``average_at_one``)."""
    if sem.average_at_one == "copy" and mu == 1:
        return p.copy()
    if sem.average_at_one in ("copy", "formula"):
        return tmap(lambda ai, pi: ai + mu * (pi - ai), ax, p)
    raise ValueError(f"unknown average_at_one {sem.average_at_one!r}")


def eta_at(t, h):
    """η_t = η / (1 + λ η t)^α."""
    return h.lr / (1 + h.lambd * h.lr * t) ** h.alpha


def mu_at(t, h):
    """μ_t = 1 / max(1, t − t₀)."""
    return 1 / fmax(1, t - h.t0)


def step(p, g, state, h, sem, ctx):
    t = ctx.t
    p = decayed(p, g, state["eta"], h, sem)
    state["ax"] = averaged(state["ax"], p, state["mu"], sem)
    state["eta"] = eta_at(t, h)
    state["mu"] = mu_at(t, h)
    return p


# --- precision emulations ---------------------------------------------------------------------------


def eta_float32_ops(t, h, fmt):
    """η_t as torch's foreach and capturable paths compute it from the step tensor of format
    ``fmt`` (module docstring)."""
    x = cast(cast(cast(h.lambd, "float64") * cast(h.lr, "float64"), "float64"), fmt)
    x = cast(x * t, fmt)
    y = cast(1 + x, fmt)
    z = cast(y ** cast(h.alpha, fmt), fmt)
    return cast(cast(1 / z, fmt) * cast(h.lr, fmt), fmt)


def step_torch(p, g, state, h, sem, ctx):
    """``step`` with η_t and μ_t computed in the format of ``new_scalars`` (or η_t by the float32
    operations of ``eta_ops``) and then held in the formats of ``eta`` and ``mu``, and 1 − λη_{t−1}
    in the format of ``decay_factor`` where that is declared."""
    fx, t = ctx.effects, ctx.t
    eta = fx.rounded("eta", state["eta"])  # η₀ = lr is stored in the format too
    mu = fx.rounded("mu", state["mu"])
    d_fmt = fx.format("decay_factor")
    factor = cast(1 - cast(cast(h.lambd, d_fmt) * eta, d_fmt), d_fmt) if d_fmt else None
    p = decayed(p, g, eta, h, sem, factor)
    state["ax"] = averaged(state["ax"], p, mu, sem)
    ops = fx.format("eta_ops")
    new_eta = eta_float32_ops(t, h, ops) if ops else fx.rounded("new_scalars", eta_at(t, h))
    state["eta"] = fx.rounded("eta", new_eta)
    state["mu"] = fx.rounded("mu", fx.rounded("new_scalars", mu_at(t, h)))
    return p


VARIANTS = {
    "torch_float32_scalars": Variant(step_torch, ("eta", "mu", "new_scalars", "eta_ops", "decay_factor"),
                                     doc="torch: η_t and μ_t held in 0-d float32 tensors (foreach, capturable: η_t "
                                         "from float32 tensor operations; capturable: 1 − λη in float32)"),
}
