"""Stochastic Weight Averaging (Izmailov, Podoprikhin, Garipov, Vetrov & Wilson, 2018, "Averaging
Weights Leads to Wider Optima and Better Generalization", UAI 2018, arXiv:1803.05407, Algorithm 1)
around plain SGD: the equal-weight running mean of the weights at the end of every cycle of c steps.

Per tensor: the parameters θ (what SGD moves, where the gradient is taken), their running mean a
(state ``average``) and the number n of weights in it (state ``n_averaged``). With g_t the gradient,
η_t the learning rate of this step and c = ``period``:

    θ_t = θ_{t−1} − η_t g_t                       plain SGD
    at t ≡ 0 (mod c), with x = θ_t:
        ``swa_start`` = initial (the paper):  a₀ = θ₀, n₀ = 1 (the starting weights are the first
                                              model of the mean); a ← mean(a, x, n), n ← n + 1
        ``swa_start`` = copy (torch):         the first average copies, a = x, n = 1; then
                                              a ← mean(a, x, n), n ← n + 1
    mean(a, x, n) = (a·n + x)/(n + 1)             ``swa_form`` = weighted (the paper's Algorithm 1)
                  = a + (x − a)/(n + 1)           ``swa_form`` = increment (torch's get_swa_avg_fn,
                                                  the CPU path of AveragedModel's default)
                  = torch.lerp(a, x, 1/(n + 1))   ``swa_form`` = lerp (get_swa_multi_avg_fn, the
                                                  default on CUDA: torch._foreach_lerp_)

The three forms are equal in exact arithmetic; with x = ±∞ they part: weighted keeps ±∞ (also once a
is infinite), increment and lerp give ∞ − ∞ = NaN once a is infinite, and lerp's weight 1/(n + 1) = ½
at n = 1 takes its second branch x − (x − a)·½, NaN for an infinite x and a finite a.

State: ``average`` = a, ``n_averaged`` = n (a scalar, the same for every tensor).
"""
from __future__ import annotations

from ..common import first_moment_value
from ..numeric import num
from ..tensor import tmap


def init(p, h, sem):
    if sem.swa_start == "initial":
        return {"average": p.copy(), "n_averaged": num(1)}
    if sem.swa_start == "copy":
        return {"average": p.copy(), "n_averaged": num(0)}
    raise ValueError(f"unknown swa_start {sem.swa_start!r}")


def mean(a, x, n, form: str):
    """One element of the running mean of n values a and the new value x (axis ``swa_form``)."""
    if form == "weighted":
        return (a * n + x) / (n + 1)
    if form == "increment":
        return a + (x - a) / (n + 1)
    if form == "lerp":
        return first_moment_value(a, x, 1 - num(1) / (n + 1), "lerp")
    raise ValueError(f"unknown swa_form {form!r}")


def step(p, g, state, h, sem, ctx):
    p = tmap(lambda pi, gi: pi - h.lr * gi, p, g)
    if ctx.t % h.period == 0:
        n = state["n_averaged"]
        if n == 0:
            state["average"] = p.copy()
        else:
            state["average"] = tmap(lambda ai, xi: mean(ai, xi, n, sem.swa_form), state["average"], p)
        state["n_averaged"] = n + 1
    return p
