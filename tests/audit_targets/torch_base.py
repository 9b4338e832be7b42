"""Faithful from-scratch torch optimizers: what torch.optim's for-loop path computes, in the same
order of operations, written as a few hooks that the faults of torch_faults.py override one at a
time.

Each class takes torch's keywords with torch's defaults (``foreach``, ``fused``,
``differentiable`` and ``capturable`` are accepted and ignored: there is one code path), names its
state entries as torch does (``step`` a float32 0-d tensor, ``exp_avg``, ``exp_avg_sq``,
``max_exp_avg_sq``, ``momentum_buffer``, ``square_avg``, ``grad_avg``, ``sum``, ``acc_delta``,
``exp_inf``, ``mu_product``), works in the parameters' dtype and handles several parameter groups
and tensors. torch's Optimizer provides state_dict / load_state_dict (which casts every state
entry but ``step`` to the parameter's dtype, as for torch's own classes).

The LR schedulers at the end are torch's schedulers in closed form, η_k = η·factor(k) (torch's own
recurse on the current rate: the same values to a few ulps), with torch's keywords and a hook for
the index or the exponent the faults shift.

The hooks (:class:`Base`): :meth:`~Base.gradient` (g, negated for maximize), :meth:`~Base.hyper`
(the hyperparameters of a group), :meth:`~Base.init_state`, :meth:`~Base.advance` (t ← t + 1),
:meth:`~Base.decay` (weight decay), :meth:`~Base.first_moment` (m ← lerp(m, g, 1 − β)),
:meth:`~Base.second_moment` (v ← βv + (1 − β)g²) and each algorithm's :meth:`~Base.update`.
"""
from __future__ import annotations

import bisect
import math

import torch
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler

PATH_OPTIONS = ("foreach", "fused", "differentiable", "capturable")


class Base(Optimizer):
    """The loop every optimizer here shares: for each parameter with a gradient, its state is
    created on first use and :meth:`update` applies one step."""

    def __init__(self, params, defaults: dict, paths: dict):
        unknown = sorted(set(paths) - set(PATH_OPTIONS))
        if unknown:
            raise TypeError(f"{type(self).__name__}() got unexpected keyword arguments {unknown}")
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    self.init_state(p, group, state)
                self.update(p, self.gradient(p, group), state, self.hyper(group))
        return loss

    def gradient(self, p, group):
        """g, or −g with maximize (a new tensor: p.grad is never written)."""
        return -p.grad if group["maximize"] else p.grad

    def hyper(self, group) -> dict:
        """The hyperparameters that update ``group``'s parameters: its own."""
        return group

    def state_entries(self, group) -> tuple:
        """Names of the state tensors shaped like the parameter (zeros at first)."""
        return ()

    def init_state(self, p, group, state) -> None:
        state["step"] = torch.tensor(0.0)  # torch: a 0-d tensor of the default dtype (float32)
        for key in self.state_entries(group):
            state[key] = torch.zeros_like(p, memory_format=torch.preserve_format)

    def advance(self, state) -> float:
        """t ← t + 1; returns t as a Python float (torch reads it with .item())."""
        state["step"] += 1
        return state["step"].item()

    def decay(self, p, g, group):
        """Coupled L2, g ← g + λθ; with decoupled_weight_decay θ ← θ(1 − ηλ) first and g unchanged."""
        wd = group["weight_decay"]
        if wd == 0:
            return g
        if group.get("decoupled_weight_decay", False):
            p.mul_(1 - group["lr"] * wd)
            return g
        return g.add(p, alpha=wd)

    def first_moment(self, m, g, beta) -> None:
        """m ← lerp(m, g, 1 − β) (torch's lerp: m + w(g − m) for w < ½)."""
        m.lerp_(g, 1 - beta)

    def second_moment(self, v, g, beta) -> None:
        """v ← βv + (1 − β)g²."""
        v.mul_(beta).addcmul_(g, g, value=1 - beta)

    def update(self, p, g, state, group) -> None:
        raise NotImplementedError


class Adam(Base):
    """torch.optim.Adam: g ← g + λθ (decoupled: θ ← θ(1 − ηλ)); m ← lerp(m, g, 1 − β₁);
    v ← β₂v + (1 − β₂)g² (AMSGrad: v̄ ← max(v̄, v) replaces v below);
    θ ← θ − (η/c₁)·m/(√v/√c₂ + ε) with c_i = 1 − β_iᵗ."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 maximize=False, decoupled_weight_decay=False, **paths):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, decoupled_weight_decay=decoupled_weight_decay), paths)

    def state_entries(self, group):
        return ("exp_avg", "exp_avg_sq") + (("max_exp_avg_sq",) if group["amsgrad"] else ())

    def update(self, p, g, state, group):
        t = self.advance(state)
        beta1, beta2 = group["betas"]
        self.accumulate(p, g, state, group)
        c1, c2 = self.corrections(t, beta1, beta2)
        p.addcdiv_(state["exp_avg"], self.denominator(state, group, c2), value=-group["lr"] / c1)

    def accumulate(self, p, g, state, group) -> None:
        """Weight decay, then both moments of the (decayed) gradient."""
        beta1, beta2 = group["betas"]
        g = self.decay(p, g, group)
        self.first_moment(state["exp_avg"], g, beta1)
        self.second_moment(state["exp_avg_sq"], g, beta2)

    def corrections(self, t, beta1, beta2) -> tuple:
        """(c₁, c₂) = (1 − β₁ᵗ, 1 − β₂ᵗ)."""
        return 1 - beta1 ** t, 1 - beta2 ** t

    def second_raw(self, state, group):
        """v, or for AMSGrad the running maximum v̄ ← max(v̄, v) of the raw v."""
        if group["amsgrad"]:
            return torch.maximum(state["max_exp_avg_sq"], state["exp_avg_sq"], out=state["max_exp_avg_sq"])
        return state["exp_avg_sq"]

    def denominator(self, state, group, c2):
        """√v/√c₂ + ε."""
        return (self.second_raw(state, group).sqrt() / c2 ** 0.5).add_(group["eps"])


class AdamW(Adam):
    """torch.optim.AdamW: Adam with θ ← θ(1 − ηλ) before the step, λ = 0.01 by default."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, **paths):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=True, **paths)


class AMSGrad(Adam):
    """torch.optim.Adam(amsgrad=True): v̄ ← max(v̄, v), θ ← θ − (η/c₁)·m/(√v̄/√c₂ + ε)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=True, *,
                 maximize=False, decoupled_weight_decay=False, **paths):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         decoupled_weight_decay=decoupled_weight_decay, **paths)


class NAdam(Base):
    """torch.optim.NAdam: μ_t = β₁(1 − ½·0.96^{tψ}), Π_t = Π_{t−1}μ_t (a float32 0-d tensor, torch's
    default dtype); m ← lerp(m, g, 1 − β₁), v ← β₂v + (1 − β₂)g², d = √(v/c₂) + ε;
    θ ← θ − η(1 − μ_t)/(1 − Π_t)·g/d − ημ_{t+1}/(1 − Π_tμ_{t+1})·m/d."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, maximize=False, **paths):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize), paths)

    def state_entries(self, group):
        return ("exp_avg", "exp_avg_sq")

    def init_state(self, p, group, state):
        super().init_state(p, group, state)
        state["mu_product"] = torch.tensor(1.0)

    def momentum(self, t, group) -> float:
        """μ_t = β₁(1 − ½·0.96^{tψ}), ψ = momentum_decay."""
        return group["betas"][0] * (1.0 - 0.5 * (0.96 ** (t * group["momentum_decay"])))

    def correction2(self, t, beta2) -> float:
        """c₂ = 1 − β₂ᵗ."""
        return 1 - beta2 ** t

    def update(self, p, g, state, group):
        t = self.advance(state)
        lr, (beta1, beta2), eps = group["lr"], group["betas"], group["eps"]
        c2 = self.correction2(t, beta2)
        g = self.decay(p, g, group)
        mu, mu_next = self.momentum(t, group), self.momentum(t + 1, group)
        state["mu_product"] *= mu
        self.first_moment(state["exp_avg"], g, beta1)
        self.second_moment(state["exp_avg_sq"], g, beta2)
        denom = state["exp_avg_sq"].div(c2).sqrt().add_(eps)
        product = state["mu_product"].item()
        product_next = product * mu_next
        p.addcdiv_(g, denom, value=-lr * (1.0 - mu) / (1.0 - product))
        p.addcdiv_(state["exp_avg"], denom, value=-lr * mu_next / (1.0 - product_next))


class RAdam(Base):
    """torch.optim.RAdam: m ← lerp(m, g, 1 − β₁), v ← β₂v + (1 − β₂)g², m̂ = m/c₁;
    ρ_∞ = 2/(1 − β₂) − 1, ρ_t = ρ_∞ − 2tβ₂ᵗ/c₂ (Python floats); if ρ_t > 5:
    θ ← θ − m̂·η·√c₂/(√v + ε)·r_t, r_t = √((ρ_t − 4)(ρ_t − 2)ρ_∞/((ρ_∞ − 4)(ρ_∞ − 2)ρ_t)); else θ ← θ − ηm̂."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, maximize=False, **paths):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      decoupled_weight_decay=decoupled_weight_decay, maximize=maximize), paths)

    def state_entries(self, group):
        return ("exp_avg", "exp_avg_sq")

    def update(self, p, g, state, group):
        t = self.advance(state)
        g = self.decay(p, g, group)
        lr, (beta1, beta2) = group["lr"], group["betas"]
        self.first_moment(state["exp_avg"], g, beta1)
        self.second_moment(state["exp_avg_sq"], g, beta2)
        c1, c2 = 1 - beta1 ** t, 1 - beta2 ** t
        m_hat = state["exp_avg"] / c1
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / c2
        if self.tractable(rho_t):
            rect = ((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)) ** 0.5
            p.add_(m_hat * lr * self.adaptive(state["exp_avg_sq"], c2, group["eps"]) * rect, alpha=-1.0)
        else:
            self.below_threshold(p, m_hat, lr)

    def tractable(self, rho_t) -> bool:
        """The rectified step is taken when ρ_t > 5."""
        return rho_t > 5.0

    def adaptive(self, v, c2, eps):
        """√c₂/(√v + ε): ε on the raw root (the 'epsilon hat' form)."""
        return (c2 ** 0.5) / v.sqrt().add_(eps)

    def below_threshold(self, p, m_hat, lr) -> None:
        """SGD with the bias-corrected momentum: θ ← θ − ηm̂."""
        p.add_(m_hat * lr, alpha=-1.0)


class Adamax(Base):
    """torch.optim.Adamax: m ← lerp(m, g, 1 − β₁), u ← max(β₂u, |g| + ε) (ε inside the max);
    θ ← θ − (η/(1 − β₁ᵗ))·m/u."""

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False, **paths):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                                      maximize=maximize), paths)

    def state_entries(self, group):
        return ("exp_avg", "exp_inf")

    def update(self, p, g, state, group):
        t = self.advance(state)
        g = self.decay(p, g, group)
        beta1, beta2 = group["betas"]
        self.first_moment(state["exp_avg"], g, beta1)
        u = self.norm(state["exp_inf"], g, beta2, group["eps"])
        p.addcdiv_(state["exp_avg"], u, value=-group["lr"] / (1 - beta1 ** t))

    def norm(self, u, g, beta2, eps):
        """u ← max(β₂u, |g| + ε); the divisor is u itself."""
        return torch.maximum(u.mul_(beta2), g.abs().add_(eps), out=u)


class SGD(Base):
    """torch.optim.SGD: g ← g + λθ; with momentum μ: b₁ = g, b ← μb + (1 − τ)g,
    d = g + μb (Nesterov) or b; θ ← θ − ηd. No step count."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 **paths):
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize), paths)

    def init_state(self, p, group, state):
        """torch's SGD keeps only momentum_buffer, created by the first step."""

    def update(self, p, g, state, group):
        g = self.decay(p, g, group)
        mu = group["momentum"]
        if mu != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = self.first_buffer(g, group)
            else:
                buf.mul_(mu).add_(g, alpha=1 - group["dampening"])
            g = g.add(buf, alpha=mu) if group["nesterov"] else buf
        p.add_(g, alpha=-group["lr"])

    def first_buffer(self, g, group):
        """b₁ = g (dampening ignored on the first step)."""
        return torch.clone(g).detach()


class RMSprop(Base):
    """torch.optim.RMSprop: v ← αv + (1 − α)g²; centered: ḡ ← lerp(ḡ, g, 1 − α), a = √(v − ḡ²) + ε,
    else a = √v + ε; momentum μ: b ← μb + g/a, θ ← θ − ηb; else θ ← θ − ηg/a."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *,
                 maximize=False, **paths):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, maximize=maximize), paths)

    def state_entries(self, group):
        return (("square_avg",) + (("momentum_buffer",) if group["momentum"] > 0 else ())
                + (("grad_avg",) if group["centered"] else ()))

    def update(self, p, g, state, group):
        self.advance(state)
        g = self.decay(p, g, group)
        alpha = group["alpha"]
        v = state["square_avg"]
        self.second_moment(v, g, alpha)
        if group["centered"]:
            state["grad_avg"].lerp_(g, 1 - alpha)
            v = v.addcmul(state["grad_avg"], state["grad_avg"], value=-1)
        self.apply(p, g, self.denominator(v, group["eps"]), state, group)

    def denominator(self, v, eps):
        """a = √v + ε (ε outside the root)."""
        return v.sqrt().add_(eps)

    def apply(self, p, g, avg, state, group) -> None:
        """b ← μb + g/a, θ ← θ − ηb (the learning rate outside the buffer), or θ ← θ − ηg/a."""
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).addcdiv_(g, avg)
            p.add_(buf, alpha=-group["lr"])
        else:
            p.addcdiv_(g, avg, value=-group["lr"])


class Adagrad(Base):
    """torch.optim.Adagrad: s₀ = initial_accumulator_value, s ← s + g², η_t = η/(1 + (t − 1)κ);
    θ ← θ − η_t·g/(√s + ε)."""

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, **paths):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps,
                                      maximize=maximize), dict(paths, foreach=foreach))

    def init_state(self, p, group, state):
        """step = 0 and sum = s₀ (torch takes s₀ from the constructor, for every group)."""
        super().init_state(p, group, state)
        state["sum"] = torch.full_like(p, self.defaults["initial_accumulator_value"],
                                       memory_format=torch.preserve_format)

    def update(self, p, g, state, group):
        t = self.advance(state)
        g = self.decay(p, g, group)
        clr = group["lr"] / (1 + (t - 1) * group["lr_decay"])
        state["sum"].addcmul_(g, g, value=1)
        p.addcdiv_(g, self.denominator(state["sum"], group["eps"]), value=-clr)

    def denominator(self, s, eps):
        """√s + ε (ε outside the root)."""
        return s.sqrt().add_(eps)


class Adadelta(Base):
    """torch.optim.Adadelta: v ← ρv + (1 − ρ)g², Δ = √(u + ε)/√(v + ε)·g, u ← ρu + (1 − ρ)Δ²;
    θ ← θ − ηΔ (v = square_avg, u = acc_delta)."""

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False, **paths):
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize), paths)

    def state_entries(self, group):
        return ("square_avg", "acc_delta")

    def update(self, p, g, state, group):
        self.advance(state)
        g = self.decay(p, g, group)
        rho, eps = group["rho"], group["eps"]
        v, u = state["square_avg"], state["acc_delta"]
        self.second_moment(v, g, rho)
        std = v.add(eps).sqrt_()
        delta = u.add(eps).sqrt_().div_(std).mul_(g)
        u.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        p.add_(delta, alpha=-group["lr"])


# --- LR schedulers in closed form ---------------------------------------------------------------------


class ClosedFormLR(LRScheduler):
    """The rate of update k is ``base_lr · factor(k)``."""

    def factor(self, k: int) -> float:
        raise NotImplementedError

    def get_lr(self):
        return [base * self.factor(self.last_epoch) for base in self.base_lrs]


class StepLR(ClosedFormLR):
    """torch.optim.lr_scheduler.StepLR in closed form: η_k = η·γ^⌊k/s⌋."""

    def __init__(self, optimizer, step_size, gamma=0.1, last_epoch=-1):
        self.step_size, self.gamma = step_size, gamma
        super().__init__(optimizer, last_epoch)

    def exponent(self, k):
        return k // self.step_size

    def factor(self, k):
        return self.gamma ** self.exponent(k)


class MultiStepLR(ClosedFormLR):
    """torch.optim.lr_scheduler.MultiStepLR in closed form: η_k = η·γⁿ, n the milestones m ≤ k (a
    milestone listed twice counts twice)."""

    def __init__(self, optimizer, milestones, gamma=0.1, last_epoch=-1):
        self.milestones, self.gamma = sorted(milestones), gamma
        super().__init__(optimizer, last_epoch)

    def passed(self, k):
        return bisect.bisect_right(self.milestones, k)

    def factor(self, k):
        return self.gamma ** self.passed(k)


class ExponentialLR(ClosedFormLR):
    """torch.optim.lr_scheduler.ExponentialLR in closed form: η_k = η·γᵏ."""

    def __init__(self, optimizer, gamma, last_epoch=-1):
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def exponent(self, k):
        return k

    def factor(self, k):
        return self.gamma ** self.exponent(k)


class LinearLR(ClosedFormLR):
    """torch.optim.lr_scheduler.LinearLR in closed form: factor(k) = s + (e − s)·min(k, T)/T."""

    def __init__(self, optimizer, start_factor=1.0 / 3, end_factor=1.0, total_iters=5, last_epoch=-1):
        self.start_factor, self.end_factor, self.total_iters = start_factor, end_factor, total_iters
        super().__init__(optimizer, last_epoch)

    def start(self):
        return self.start_factor

    def factor(self, k):
        s = self.start()
        return s + (self.end_factor - s) * min(k, self.total_iters) / self.total_iters


class CosineAnnealingLR(LRScheduler):
    """torch.optim.lr_scheduler.CosineAnnealingLR in closed form: η_k = η_min + (η − η_min)(1 + cos(πk/T))/2
    for every k (periodic past T, as torch's recursion)."""

    def __init__(self, optimizer, T_max, eta_min=0.0, last_epoch=-1):
        self.T_max, self.eta_min = T_max, eta_min
        super().__init__(optimizer, last_epoch)

    def point(self, k):
        return k

    def get_lr(self):
        c = (1 + math.cos(math.pi * self.point(self.last_epoch) / self.T_max)) / 2
        return [self.eta_min + (base - self.eta_min) * c for base in self.base_lrs]
