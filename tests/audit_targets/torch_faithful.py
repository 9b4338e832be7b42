"""Faithful torch optimizers and schedulers whose arithmetic is reordered: each computes what its
torch.optim counterpart computes, exactly in real arithmetic, with different roundings (a few
ulps per step). An audit must pass every one of them.

The optimizers reuse the faithful bases of torch_base.py (state, keywords, groups) and rewrite
only the arithmetic of the step. The faithful schedulers are torch_base.py's closed forms (torch's
own schedulers recurse on the current rate).
"""
from __future__ import annotations

import math

from .torch_base import SGD, Adagrad, Adam, Adamax, AdamW, RMSprop


class AdamReciprocal(Adam):
    """Adam's step m̂/(√v̂ + ε) computed as m·(1/c₁)/(√v·(1/√c₂) + ε), then multiplied by η."""

    def update(self, p, g, state, group):
        t = self.advance(state)
        beta1, beta2 = group["betas"]
        self.accumulate(p, g, state, group)
        c1, c2 = self.corrections(t, beta1, beta2)
        denom = self.second_raw(state, group).sqrt().mul_(1 / math.sqrt(c2)).add_(group["eps"])
        p.sub_(state["exp_avg"].mul(1 / c1).div_(denom).mul_(group["lr"]))


class AdamWMultiplied(AdamW):
    """AdamW's decay θ(1 − ηλ) applied as θ − (ηλ)·θ, and the step as η·(m/c₁)/(√v/√c₂ + ε)."""

    def decay(self, p, g, group):
        if group["weight_decay"] != 0:
            p.sub_(p * (group["lr"] * group["weight_decay"]))
        return g

    def update(self, p, g, state, group):
        t = self.advance(state)
        beta1, beta2 = group["betas"]
        self.accumulate(p, g, state, group)
        c1, c2 = self.corrections(t, beta1, beta2)
        denom = self.denominator(state, group, c2)
        p.sub_((state["exp_avg"] / c1).div_(denom).mul_(group["lr"]))


class SGDMomentumSubtract(SGD):
    """SGD with momentum written as b ← μb + ((1 − τ)g) and θ ← θ − ηd with d multiplied first:
    Nesterov as θ − (ηg + (ημ)b)."""

    def update(self, p, g, state, group):
        g = self.decay(p, g, group)
        lr, mu = group["lr"], group["momentum"]
        if mu == 0:
            p.sub_(g * lr)
            return
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.clone()
        else:
            buf.mul_(mu).add_(g * (1 - group["dampening"]))
        p.sub_(g * lr + buf * (lr * mu) if group["nesterov"] else buf * lr)


class RMSpropReciprocal(RMSprop):
    """RMSprop's g/(√v + ε) computed as g·(1/(√v + ε)), and θ ← θ − (η·that) (or θ − η·b with momentum)."""

    def apply(self, p, g, avg, state, group):
        scaled = g * avg.reciprocal()
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).add_(scaled)
            p.sub_(buf * group["lr"])
        else:
            p.sub_(scaled.mul_(group["lr"]))


class AdagradReordered(Adagrad):
    """Adagrad with s ← s + g·g, the decayed rate η·(1/(1 + (t − 1)κ)) and θ ← θ − (g/(√s + ε))·η_t."""

    def update(self, p, g, state, group):
        t = self.advance(state)
        g = self.decay(p, g, group)
        clr = group["lr"] * (1 / (1 + (t - 1) * group["lr_decay"]))
        state["sum"].add_(g * g)
        p.sub_((g / self.denominator(state["sum"], group["eps"])).mul_(clr))


class AdamaxReordered(Adamax):
    """Adamax's (η/(1 − β₁ᵗ))·m/u computed as ((m/u)·η)/(1 − β₁ᵗ)."""

    def update(self, p, g, state, group):
        t = self.advance(state)
        g = self.decay(p, g, group)
        beta1, beta2 = group["betas"]
        self.first_moment(state["exp_avg"], g, beta1)
        u = self.norm(state["exp_inf"], g, beta2, group["eps"])
        p.sub_((state["exp_avg"] / u).mul_(group["lr"]).div_(1 - beta1 ** t))
