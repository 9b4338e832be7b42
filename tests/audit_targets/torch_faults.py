"""torch optimizers and LR schedulers with exactly one fault each, relative to torch.optim.

Every optimizer is a faithful base of torch_base.py with one hook overridden — either directly
(the fault names the algorithm) or through a mixin below that can be put in front of any base
(faults no algorithm owns: lazy updates, shared state, float32 state, ...). Every scheduler is a
closed-form scheduler of torch_base.py whose index or exponent is off in one place.
tests/audit_targets/catalog.py lists them with the semantic axis value each computes and the
scenarios expected to reveal it.
"""
from __future__ import annotations

import bisect

import torch

from .torch_base import (SGD, Adadelta, Adagrad, Adam, Adamax, AdamW, AMSGrad, CosineAnnealingLR, ExponentialLR,
                         LinearLR, MultiStepLR, NAdam, RAdam, RMSprop, StepLR)

# --- faults any algorithm can have (mixins: put them before a base) -------------------------------


class DecoupledDecay:
    """Weight decay decoupled and scaled by the learning rate, θ ← θ(1 − ηλ), where torch couples it (g + λθ)."""

    def decay(self, p, g, group):
        if group["weight_decay"] != 0:
            p.mul_(1 - group["lr"] * group["weight_decay"])
        return g


class MixFirstMoment:
    """m ← β₁m + (1 − β₁)g where torch uses lerp: an infinite m stays infinite after a finite g (torch: NaN)."""

    def first_moment(self, m, g, beta):
        m.mul_(beta).add_(g, alpha=1 - beta)


class DeltaSecondMoment:
    """v ← v + (1 − β₂)(g² − v) where torch writes βv + (1 − β)g²: an infinite v becomes NaN after a finite g."""

    def second_moment(self, v, g, beta):
        v.add_(g.square().sub_(v), alpha=1 - beta)


class EpsHat:
    """Adam-type 'epsilon hat': the denominator (√v + ε)/√c₂, so θ ← θ − η(√c₂/c₁)·m/(√v + ε)."""

    def denominator(self, state, group, c2):
        return self.second_raw(state, group).sqrt().add_(group["eps"]).div_(c2 ** 0.5)


class NoBiasCorrection:
    """Adam-type without bias correction: c₁ = c₂ = 1."""

    def corrections(self, t, beta1, beta2):
        return 1.0, 1.0


class Lazy:
    """Lazy update: elements whose gradient is exactly 0 keep θ and every state entry (torch updates them)."""

    def update(self, p, g, state, group):
        skip = g == 0
        before = {k: v.clone() for k, v in state.items() if torch.is_tensor(v) and v.shape == p.shape}
        old = p.clone()
        super().update(p, g, state, group)
        p.copy_(torch.where(skip, old, p))
        for key, value in before.items():
            state[key].copy_(torch.where(skip, value, state[key]))


class SharedState:
    """One set of state tensors for all parameters of one shape and dtype: the second tensor of a shape
    accumulates into the first one's m and v (the step counts stay separate)."""

    def init_state(self, p, group, state):
        super().init_state(p, group, state)
        first = self.__dict__.setdefault("_shared", {}).setdefault((tuple(p.shape), p.dtype), state)
        for key, value in first.items():
            if key != "step":
                state[key] = value


class Float32State:
    """State tensors stored in float32 whatever the parameter dtype: rounded to float32 after every step."""

    def init_state(self, p, group, state):
        super().init_state(p, group, state)
        for key, value in state.items():
            if key != "step":
                state[key] = value.float()

    def update(self, p, g, state, group):
        work = {k: v if k == "step" else v.to(p.dtype) for k, v in state.items()}
        super().update(p, g, work, group)
        for key, value in work.items():
            state[key] = value if key == "step" else value.float()


class LosesStepOnLoad:
    """load_state_dict restores every state entry but the step count, which restarts at 0."""

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for state in self.state.values():
            if "step" in state:
                state["step"] = torch.tensor(0.0)


class StepTwice:
    """The step count is incremented twice per step: t ← t + 2, so the corrections use 2t."""

    def advance(self, state):
        state["step"] += 1
        return super().advance(state)


class StaleGradient:
    """Step t uses the previous step's gradient g_{t−1} (step 1 its own)."""

    def gradient(self, p, group):
        g = super().gradient(p, group)
        previous = self.__dict__.setdefault("_previous", {})
        stale = previous.get(p, g)
        previous[p] = g.clone()
        return stale


class TransposedGradient:
    """A 2-d gradient is read in transposed (column-major) order: g ← reshape(gᵀ, shape)."""

    def gradient(self, p, group):
        g = super().gradient(p, group)
        return g.t().reshape(g.shape) if g.dim() == 2 else g


class FirstGroupHypers:
    """Every parameter group is updated with the hyperparameters of group 0."""

    def hyper(self, group):
        return self.param_groups[0]


class MaximizeIgnored:
    """maximize is accepted and ignored: g is never negated."""

    def gradient(self, p, group):
        return p.grad


# --- Adam ------------------------------------------------------------------------------------------


class AdamEpsInsideRoot(Adam):
    """ε inside the square root: θ ← θ − η·m̂/√(v̂ + ε)."""

    def denominator(self, state, group, c2):
        return (self.second_raw(state, group) / c2).add_(group["eps"]).sqrt_()


class AdamEpsHat(EpsHat, Adam):
    """'Epsilon hat': θ ← θ − η(√c₂/c₁)·m/(√v + ε), ε on the raw root."""


class AdamNoBiasCorrection(NoBiasCorrection, Adam):
    """No bias correction: θ ← θ − η·m/(√v + ε)."""


class AdamDecoupledDecay(DecoupledDecay, Adam):
    """Adam's weight decay decoupled: θ ← θ(1 − ηλ), then the Adam step on g (torch: g + λθ)."""


class AdamMixFirstMoment(MixFirstMoment, Adam):
    """m ← β₁m + (1 − β₁)g instead of lerp(m, g, 1 − β₁): after an infinite gradient m stays ±∞ (torch: NaN)."""


class AdamDeltaSecondMoment(DeltaSecondMoment, Adam):
    """v ← v + (1 − β₂)(g² − v): after an infinite gradient v becomes NaN (torch: +∞)."""


class AdamEpsInsideRootAfterStep50(Adam):
    """From step 51 on ε moves inside the root: θ ← θ − η·m̂/√(v̂ + ε) for t > 50."""

    def denominator(self, state, group, c2):
        if state["step"].item() > 50:
            return (self.second_raw(state, group) / c2).add_(group["eps"]).sqrt_()
        return super().denominator(state, group, c2)


class AdamSharedState(SharedState, Adam):
    """Adam whose tensors of one shape share m and v."""


class AdamLazy(Lazy, Adam):
    """Adam that leaves θ, m and v untouched wherever g = 0 (torch decays m and v and moves θ)."""


class AdamFirstGroupHypers(FirstGroupHypers, Adam):
    """Adam that updates every group with group 0's lr, betas, eps and weight decay."""


class AdamStaleGradient(StaleGradient, Adam):
    """Adam fed g_{t−1} at step t."""


class AdamLosesStepOnLoad(LosesStepOnLoad, Adam):
    """Adam whose loaded state restarts the step count at 0: the bias corrections start over after resuming."""


class AdamStepTwice(StepTwice, Adam):
    """Adam whose step count advances by 2: c_i = 1 − β_i^{2t}."""


class AdamDecayMissesSecondMoment(Adam):
    """Coupled decay reaches m only: m ← lerp(m, g + λθ, 1 − β₁) but v ← β₂v + (1 − β₂)g²."""

    def accumulate(self, p, g, state, group):
        beta1, beta2 = group["betas"]
        self.first_moment(state["exp_avg"], self.decay(p, g, group), beta1)
        self.second_moment(state["exp_avg_sq"], g, beta2)


# --- AdamW -----------------------------------------------------------------------------------------


class AdamWDecayScheduleOnly(AdamW):
    """Decay scaled by the schedule multiplier only (AdamW paper): θ ← θ(1 − (η_t/η₀)λ), η₀ the constructor's lr."""

    def __init__(self, params, *args, **kwargs):
        super().__init__(params, *args, **kwargs)
        for group in self.param_groups:
            group.setdefault("initial_lr", group["lr"])

    def decay(self, p, g, group):
        if group["weight_decay"] != 0:
            p.mul_(1 - group["lr"] / group["initial_lr"] * group["weight_decay"])
        return g


class AdamWEpsHat(EpsHat, AdamW):
    """AdamW with 'epsilon hat': θ ← θ − η(√c₂/c₁)·m/(√v + ε)."""


class AdamWNoBiasCorrection(NoBiasCorrection, AdamW):
    """AdamW without bias correction: θ ← θ − η·m/(√v + ε)."""


class AdamWMixFirstMoment(MixFirstMoment, AdamW):
    """AdamW with m ← β₁m + (1 − β₁)g (torch: lerp)."""


class AdamWDeltaSecondMoment(DeltaSecondMoment, AdamW):
    """AdamW with v ← v + (1 − β₂)(g² − v) (torch: β₂v + (1 − β₂)g²)."""


# --- AMSGrad ---------------------------------------------------------------------------------------


class AMSGradMaxOfVHat(AMSGrad):
    """The running maximum is over the bias-corrected v̂: v̄ ← max(v̄, v/c₂), θ ← θ − (η/c₁)·m/(√v̄ + ε)."""

    def denominator(self, state, group, c2):
        v_max = torch.maximum(state["max_exp_avg_sq"], state["exp_avg_sq"] / c2, out=state["max_exp_avg_sq"])
        return v_max.sqrt().add_(group["eps"])


class AMSGradDecoupledDecay(DecoupledDecay, AMSGrad):
    """AMSGrad with θ ← θ(1 − ηλ) instead of g + λθ."""


class AMSGradMixFirstMoment(MixFirstMoment, AMSGrad):
    """AMSGrad with m ← β₁m + (1 − β₁)g (torch: lerp)."""


class AMSGradDeltaSecondMoment(DeltaSecondMoment, AMSGrad):
    """AMSGrad with v ← v + (1 − β₂)(g² − v) (torch: β₂v + (1 − β₂)g²)."""


# --- NAdam -----------------------------------------------------------------------------------------


class NAdamUnscaledSchedule(NAdam):
    """The momentum schedule ignores ψ: μ_t = β₁(1 − ½·0.96ᵗ)."""

    def momentum(self, t, group):
        return group["betas"][0] * (1.0 - 0.5 * (0.96 ** t))


class NAdamConstantMomentum(NAdam):
    """No momentum schedule: μ_t = β₁, so Π_t = β₁ᵗ."""

    def momentum(self, t, group):
        return group["betas"][0]


class NAdamDecoupledDecay(DecoupledDecay, NAdam):
    """NAdam with θ ← θ(1 − ηλ) instead of g + λθ."""


class NAdamMixFirstMoment(MixFirstMoment, NAdam):
    """NAdam with m ← β₁m + (1 − β₁)g (torch: lerp)."""


class NAdamDeltaSecondMoment(DeltaSecondMoment, NAdam):
    """NAdam with v ← v + (1 − β₂)(g² − v) (torch: β₂v + (1 − β₂)g²)."""


class NAdamBiasCorrectionFromZero(NAdam):
    """The second-moment correction uses the count before it is incremented: c₂ = 1 − β₂^{t−1}, so at
    t = 1 v/0 = ∞ (θ does not move; NaN where v = 0) and every later step uses the previous step's c₂."""

    def correction2(self, t, beta2):
        return 1 - beta2 ** (t - 1)


# --- RAdam -----------------------------------------------------------------------------------------


class RAdamThresholdGe5(RAdam):
    """The rectified step is taken when ρ_t ≥ 5 (torch: ρ_t > 5): differs where the float64 ρ_t is exactly 5."""

    def tractable(self, rho_t):
        return rho_t >= 5.0


class RAdamThresholdGt4(RAdam):
    """The paper's test ρ_t > 4: with β₂ = 0.999 the rectified step starts at t = 5 (torch: t = 6)."""

    def tractable(self, rho_t):
        return rho_t > 4.0


class RAdamSkipBelowThreshold(RAdam):
    """Below the threshold θ does not move (the moments still accumulate); torch takes θ − ηm̂."""

    def below_threshold(self, p, m_hat, lr):
        pass


class RAdamEpsStd(RAdam):
    """ε after bias correction: the adaptive factor is 1/(√(v/c₂) + ε) (torch: √c₂/(√v + ε))."""

    def adaptive(self, v, c2, eps):
        return 1 / (v.sqrt() / c2 ** 0.5).add_(eps)


class RAdamDecoupledDecay(DecoupledDecay, RAdam):
    """RAdam with θ ← θ(1 − ηλ) instead of g + λθ."""


class RAdamMixFirstMoment(MixFirstMoment, RAdam):
    """RAdam with m ← β₁m + (1 − β₁)g (torch: lerp)."""


# --- Adamax ----------------------------------------------------------------------------------------


class AdamaxEpsOutsideMax(Adamax):
    """ε outside the max: u ← max(β₂u, |g|), θ ← θ − (η/c₁)·m/(u + ε) (torch: u ← max(β₂u, |g| + ε))."""

    def norm(self, u, g, beta2, eps):
        return torch.maximum(u.mul_(beta2), g.abs(), out=u).add(eps)


class AdamaxDecoupledDecay(DecoupledDecay, Adamax):
    """Adamax with θ ← θ(1 − ηλ) instead of g + λθ."""


class AdamaxMixFirstMoment(MixFirstMoment, Adamax):
    """Adamax with m ← β₁m + (1 − β₁)g (torch: lerp)."""


class AdamaxTransposedGradient(TransposedGradient, Adamax):
    """Adamax that reads a 2-d gradient transposed."""


# --- SGD -------------------------------------------------------------------------------------------


class SGDDecoupledDecay(DecoupledDecay, SGD):
    """SGD with θ ← θ(1 − ηλ) before the step instead of g + λθ (differs once momentum carries the decay)."""


class SGDDampenedFirstBuffer(SGD):
    """The first momentum buffer is dampened: b₁ = (1 − τ)g (torch: b₁ = g)."""

    def first_buffer(self, g, group):
        return g.mul(1 - group["dampening"])


class SGDLrInsideBuffer(SGD):
    """The learning rate inside the buffer: b ← μb + η_t(1 − τ)g (b₁ = η₁g), θ ← θ − b (Nesterov: θ − (η_t g + μb))."""

    def update(self, p, g, state, group):
        g = self.decay(p, g, group)
        lr, mu = group["lr"], group["momentum"]
        if mu == 0:
            p.add_(g, alpha=-lr)
            return
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.mul(lr)
        else:
            buf.mul_(mu).add_(g, alpha=lr * (1 - group["dampening"]))
        p.sub_(g.mul(lr).add_(buf, alpha=mu) if group["nesterov"] else buf)


class SGDNesterovStaleBuffer(SGD):
    """Nesterov's look-ahead uses the buffer before this step's update: d = g + μb_{t−1} (torch: g + μb_t);
    with τ = 0 (which Nesterov requires) that is b_t itself, the plain momentum step."""

    def update(self, p, g, state, group):
        if not group["nesterov"] or group["momentum"] == 0:
            return super().update(p, g, state, group)
        g = self.decay(p, g, group)
        mu = group["momentum"]
        buf = state.get("momentum_buffer")
        look_ahead = g.add(buf, alpha=mu) if buf is not None else g
        if buf is None:
            state["momentum_buffer"] = self.first_buffer(g, group)
        else:
            buf.mul_(mu).add_(g, alpha=1 - group["dampening"])
        p.add_(look_ahead, alpha=-group["lr"])


# --- RMSprop ---------------------------------------------------------------------------------------


class RMSpropEpsInsideRoot(RMSprop):
    """ε inside the root: a = √(v + ε) (torch: √v + ε)."""

    def denominator(self, v, eps):
        return v.add(eps).sqrt_()


class RMSpropLrInsideBuffer(RMSprop):
    """The learning rate inside the momentum buffer: b ← μb + η_t·g/a, θ ← θ − b
    (torch: b ← μb + g/a, θ ← θ − η_t b)."""

    def apply(self, p, g, avg, state, group):
        if group["momentum"] > 0:
            buf = state["momentum_buffer"]
            buf.mul_(group["momentum"]).addcdiv_(g, avg, value=group["lr"])
            p.sub_(buf)
        else:
            super().apply(p, g, avg, state, group)


class RMSpropDecoupledDecay(DecoupledDecay, RMSprop):
    """RMSprop with θ ← θ(1 − ηλ) instead of g + λθ (the decay no longer enters v)."""


class RMSpropFloat32State(Float32State, RMSprop):
    """RMSprop whose square_avg (and buffers) are float32 for float64 parameters."""


# --- Adagrad ---------------------------------------------------------------------------------------


class AdagradEpsInsideRoot(Adagrad):
    """ε inside the root: θ ← θ − η_t·g/√(s + ε) (torch: √s + ε)."""

    def denominator(self, s, eps):
        return s.add(eps).sqrt_()


class AdagradDecoupledDecay(DecoupledDecay, Adagrad):
    """Adagrad with θ ← θ(1 − ηλ) instead of g + λθ."""


class AdagradIgnoresInitialAccumulator(Adagrad):
    """initial_accumulator_value is accepted and ignored: s₀ = 0."""

    def init_state(self, p, group, state):
        super().init_state(p, group, state)
        state["sum"].zero_()


class AdagradMaximizeIgnored(MaximizeIgnored, Adagrad):
    """Adagrad that descends even with maximize=True."""


# --- Adadelta --------------------------------------------------------------------------------------


class AdadeltaDecoupledDecay(DecoupledDecay, Adadelta):
    """Adadelta with θ ← θ(1 − ηλ) instead of g + λθ."""


class AdadeltaStaleGradient(StaleGradient, Adadelta):
    """Adadelta fed g_{t−1} at step t."""


# --- schedules -------------------------------------------------------------------------------------


class StepLRBoundaryAfter(StepLR):
    """StepLR whose decays come one update late: η_k = η·γ^⌊(k − 1)/s⌋ for k ≥ 1 (torch: γ^⌊k/s⌋)."""

    def exponent(self, k):
        return max(k - 1, 0) // self.step_size


class MultiStepLRBoundaryAfter(MultiStepLR):
    """MultiStepLR applying γ after a milestone m, from k = m + 1 (k > m; torch: k ≥ m)."""

    def passed(self, k):
        return bisect.bisect_left(self.milestones, k)


class ExponentialLRFromOne(ExponentialLR):
    """ExponentialLR that decays from the first update: η_k = η·γ^{k+1} (torch: γᵏ)."""

    def exponent(self, k):
        return k + 1


class CosineAnnealingLRShifted(CosineAnnealingLR):
    """CosineAnnealingLR evaluated one update ahead: the cosine at k + 1 (the first rate is already below η)."""

    def point(self, k):
        return k + 1


class CosineAnnealingLRClamped(CosineAnnealingLR):
    """CosineAnnealingLR that holds η_min past T_max: the cosine at min(k, T) (torch rises again, period 2T)."""

    def point(self, k):
        return min(k, self.T_max)


class LinearLRFromZero(LinearLR):
    """LinearLR whose warmup starts at 0 instead of start_factor: factor(k) = e·min(k, T)/T
    (torch: s + (e − s)·min(k, T)/T)."""

    def start(self):
        return 0.0
