"""The catalog of audit targets: every deliberately faulty and every faithful implementation of this
package, as data. Tests read :data:`TARGETS` (the faults and the reordered faithful ones) and
:data:`BASES` (the faithful bases the faults derive from); importing this module imports no
framework.

Each :class:`AuditTarget` says what ``optconform audit`` is given (``target``, ``algorithm``,
``framework``) and what it should conclude: a faithful target passes every case; a faulty one
fails, on the scenarios ``needs`` names, and where ``axis`` is set its trajectory is the one the
reference computes with that axis at ``value`` (the diagnosis should name it). ``revealed`` is
False where no shipped scenario can expose the fault (``needs`` says what would).

``counterpart``, ``check`` and ``options`` drive tests/test_audit_targets_selfcheck.py, which runs
each target next to its real counterpart (a profile-style ``api`` string,
optconform.adapters.frameworks.engine.resolve_api) on the small problem ``check`` with the
keyword arguments ``options``, chosen to expose the fault.
"""
from __future__ import annotations

from dataclasses import dataclass, field

TORCH_COUNTERPARTS = {
    "adam": "torch.optim.Adam", "adamw": "torch.optim.AdamW", "amsgrad": "torch.optim.Adam(amsgrad=True)",
    "nadam": "torch.optim.NAdam", "radam": "torch.optim.RAdam", "adamax": "torch.optim.Adamax",
    "sgd": "torch.optim.SGD", "rmsprop": "torch.optim.RMSprop", "adagrad": "torch.optim.Adagrad",
    "adadelta": "torch.optim.Adadelta", "step": "torch.optim.lr_scheduler.StepLR",
    "multistep": "torch.optim.lr_scheduler.MultiStepLR", "exponential": "torch.optim.lr_scheduler.ExponentialLR",
    "cosine": "torch.optim.lr_scheduler.CosineAnnealingLR", "linear_warmup": "torch.optim.lr_scheduler.LinearLR",
}
OPTAX_COUNTERPARTS = {
    "adam": "optax.adam", "amsgrad": "optax.amsgrad", "adamax": "optax.adamax", "radam": "optax.radam",
    "sgd": "optax.sgd", "rmsprop": "optax.rmsprop", "adagrad": "optax.adagrad",
    "cosine": "optax.cosine_decay_schedule", "step": "optax.exponential_decay(staircase=True)",
}
SCHEDULES = {"step", "multistep", "exponential", "cosine", "linear_warmup"}

# the self-check's problems (tests/test_audit_targets_selfcheck.py defines them)
CHECKS = ("random", "zero_grad", "inf_grad", "param_groups", "resume", "scheduled", "long", "same_shape", "schedule")

EVERY = "every scenario"
WITH_2D = "every scenario with a 2-d tensor (defaults, probe, multi_tensor, zero_grad, ...)"
# RAdam's threshold test: for each framework one of the two vectors reveals the swap, the other one
# cannot, because its float64 spread is 1e13–1e14 ulps from the step whose branch the roundings decide
TORCH_RHO = ("rho_on_five_below (float64, t = 7); not rho_on_five, whose float64 torch spread from step 6 is "
             "2.4e13 ulps (the rounding emulations straddle ρ = 5, so either branch passes)")
OPTAX_RHO = ("rho_on_five (float64, t = 6); not rho_on_five_below, whose float64 optax spread from step 7 is "
             "1.5e14 ulps (the rounding emulations straddle ρ = 5, so either branch passes)")
INF_STATE = "inf_grad (the state from step 4 on; θ is NaN either way)"
BETA2_RHO_ON_FIVE = 0.8397685748659791  # scenario rho_on_five of reference/scenarios.py


@dataclass(frozen=True)
class AuditTarget:
    target: str  # module:Name
    algorithm: str
    framework: str  # torch | optax
    faithful: bool
    fault: str  # the fault in a few words (for a faithful target: what is reordered)
    axis: str | None = None  # the semantic axis the fault is a value of (None: no axis names it)
    value: str | None = None  # the value of that axis the fault computes
    needs: str = EVERY  # the shipped scenario(s) expected to reveal it
    counterpart: str = ""  # the real implementation
    check: str = "random"  # the self-check's problem
    options: dict = field(default_factory=dict, hash=False)  # keywords for target and counterpart
    revealed: bool = True  # False: no shipped scenario can reveal it

    @property
    def name(self) -> str:
        return self.target.rpartition(":")[2]

    @property
    def kind(self) -> str:
        return "schedule" if self.algorithm in SCHEDULES else "optimizer"


def _target(module, framework, name, algorithm, fault, faithful=False, **kw) -> AuditTarget:
    counterparts = TORCH_COUNTERPARTS if framework == "torch" else OPTAX_COUNTERPARTS
    kw.setdefault("check", "schedule" if algorithm in SCHEDULES else "random")
    return AuditTarget(f"tests.audit_targets.{module}:{name}", algorithm, framework, faithful, fault,
                       counterpart=counterparts[algorithm], **kw)


def torch_fault(name, algorithm, fault, **kw):
    return _target("torch_faults", "torch", name, algorithm, fault, **kw)


def optax_fault(name, algorithm, fault, **kw):
    return _target("optax_faults", "optax", name, algorithm, fault, **kw)


WD = {"weight_decay": 0.1}
BIG_EPS = {"eps": 1e-3}
MOMENTUM = {"momentum": 0.9}

TORCH_FAULTS = (
    # Adam: every axis, then the faults no axis names
    torch_fault("AdamEpsInsideRoot", "adam", "ε inside the square root", axis="eps_placement", value="inside",
                options=BIG_EPS),
    torch_fault("AdamEpsHat", "adam", "ε hat: ε on the raw root", axis="eps_placement", value="hat",
                needs="every scenario (tiny_grad most)", options=BIG_EPS),
    torch_fault("AdamNoBiasCorrection", "adam", "no bias correction", axis="bias_correction", value="off"),
    torch_fault("AdamDecoupledDecay", "adam", "decoupled weight decay θ(1 − ηλ)", axis="weight_decay",
                value="decoupled_lr", needs="weight_decay", options=WD),
    torch_fault("AdamMixFirstMoment", "adam", "m ← β₁m + (1 − β₁)g instead of lerp", axis="first_moment",
                value="mix", needs=INF_STATE, check="inf_grad"),
    torch_fault("AdamDeltaSecondMoment", "adam", "v ← v + (1 − β₂)(g² − v)", axis="second_moment", value="delta",
                needs=INF_STATE, check="inf_grad"),
    torch_fault("AdamEpsInsideRootAfterStep50", "adam", "ε inside the root after step 50",
                needs="long_run, quadratic, rosenbrock (more than 50 steps)", check="long", options=BIG_EPS),
    torch_fault("AdamSharedState", "adam", "one m, v for all tensors of one shape",
                needs="multi_tensor (its vectors b and u have one shape)", check="same_shape"),
    torch_fault("AdamLazy", "adam", "lazy: θ, m, v untouched where g = 0", needs="zero_grad", check="zero_grad"),
    torch_fault("AdamFirstGroupHypers", "adam", "group 0's hyperparameters for every group", needs="param_groups",
                check="param_groups"),
    torch_fault("AdamStaleGradient", "adam", "step t uses g_{t−1}"),
    torch_fault("AdamLosesStepOnLoad", "adam", "load_state_dict restarts the step count at 0", needs="resume",
                check="resume"),
    torch_fault("AdamStepTwice", "adam", "the step count advances by 2"),
    torch_fault("AdamDecayMissesSecondMoment", "adam", "coupled decay enters m but not v", needs="weight_decay",
                options=WD),
    # AdamW
    torch_fault("AdamWDecayScheduleOnly", "adamw", "decay θ(1 − (η_t/η₀)λ), scaled by the schedule only",
                axis="weight_decay", value="decoupled_schedule", needs="every scenario (AdamW's λ is never 0)",
                options=WD),
    torch_fault("AdamWEpsHat", "adamw", "ε hat", axis="eps_placement", value="hat", options=BIG_EPS),
    torch_fault("AdamWNoBiasCorrection", "adamw", "no bias correction", axis="bias_correction", value="off"),
    torch_fault("AdamWMixFirstMoment", "adamw", "m ← β₁m + (1 − β₁)g instead of lerp", axis="first_moment",
                value="mix", needs=INF_STATE, check="inf_grad"),
    torch_fault("AdamWDeltaSecondMoment", "adamw", "v ← v + (1 − β₂)(g² − v)", axis="second_moment", value="delta",
                needs=INF_STATE, check="inf_grad"),
    # AMSGrad
    torch_fault("AMSGradMaxOfVHat", "amsgrad", "maximum over v̂ instead of v", axis="amsgrad_form", value="v_hat"),
    torch_fault("AMSGradDecoupledDecay", "amsgrad", "decoupled weight decay", axis="weight_decay",
                value="decoupled_lr", needs="weight_decay", options=WD),
    torch_fault("AMSGradMixFirstMoment", "amsgrad", "m ← β₁m + (1 − β₁)g instead of lerp", axis="first_moment",
                value="mix", needs=INF_STATE, check="inf_grad"),
    torch_fault("AMSGradDeltaSecondMoment", "amsgrad", "v ← v + (1 − β₂)(g² − v)", axis="second_moment",
                value="delta", needs=INF_STATE, check="inf_grad"),
    # NAdam
    torch_fault("NAdamUnscaledSchedule", "nadam", "μ_t = β₁(1 − ½·0.96ᵗ), ψ ignored", axis="nadam_momentum",
                value="unscaled"),
    torch_fault("NAdamConstantMomentum", "nadam", "μ_t = β₁", axis="nadam_momentum", value="constant"),
    torch_fault("NAdamDecoupledDecay", "nadam", "decoupled weight decay", axis="weight_decay", value="decoupled_lr",
                needs="weight_decay", options=WD),
    torch_fault("NAdamMixFirstMoment", "nadam", "m ← β₁m + (1 − β₁)g instead of lerp", axis="first_moment",
                value="mix", needs=INF_STATE, check="inf_grad"),
    torch_fault("NAdamDeltaSecondMoment", "nadam", "v ← v + (1 − β₂)(g² − v)", axis="second_moment", value="delta",
                needs=INF_STATE, check="inf_grad"),
    torch_fault("NAdamBiasCorrectionFromZero", "nadam", "c₂ = 1 − β₂^{t−1} (the count before the increment)"),
    # RAdam
    torch_fault("RAdamThresholdGe5", "radam", "rectified when ρ_t ≥ 5 (torch: > 5)", axis="rectify_threshold",
                value="rho_ge_5", needs=TORCH_RHO, options={"betas": (0.9, BETA2_RHO_ON_FIVE)}),
    torch_fault("RAdamThresholdGt4", "radam", "rectified when ρ_t > 4", axis="rectify_threshold", value="rho_gt_4",
                needs="every scenario of 5 steps or more"),
    torch_fault("RAdamSkipBelowThreshold", "radam", "no update below the threshold", axis="below_threshold",
                value="skip"),
    torch_fault("RAdamEpsStd", "radam", "ε after bias correction: 1/(√v̂ + ε)", axis="eps_placement", value="std",
                needs="every scenario of 6 steps or more (tiny_grad most)", options=BIG_EPS),
    torch_fault("RAdamDecoupledDecay", "radam", "decoupled weight decay", axis="weight_decay", value="decoupled_lr",
                needs="weight_decay", options=WD),
    torch_fault("RAdamMixFirstMoment", "radam", "m ← β₁m + (1 − β₁)g instead of lerp", axis="first_moment",
                value="mix", needs=INF_STATE, check="inf_grad"),
    # Adamax
    torch_fault("AdamaxEpsOutsideMax", "adamax", "u ← max(β₂u, |g|), divide by u + ε", axis="adamax_eps",
                value="outside_max", needs="every scenario (tiny_grad most)", options=BIG_EPS),
    torch_fault("AdamaxDecoupledDecay", "adamax", "decoupled weight decay", axis="weight_decay", value="decoupled_lr",
                needs="weight_decay", options=WD),
    torch_fault("AdamaxMixFirstMoment", "adamax", "m ← β₁m + (1 − β₁)g instead of lerp", axis="first_moment",
                value="mix", needs=INF_STATE, check="inf_grad"),
    torch_fault("AdamaxTransposedGradient", "adamax", "2-d gradients read transposed", needs=WITH_2D),
    # SGD
    torch_fault("SGDDecoupledDecay", "sgd", "decoupled weight decay θ(1 − ηλ)", axis="weight_decay",
                value="decoupled_lr", needs="weight_decay (with momentum)", options={**WD, **MOMENTUM}),
    torch_fault("SGDDampenedFirstBuffer", "sgd", "b₁ = (1 − τ)g", axis="first_momentum", value="dampened",
                needs="variant_dampening", options={**MOMENTUM, "dampening": 0.25}),
    torch_fault("SGDLrInsideBuffer", "sgd", "b ← μb + η_t g, θ ← θ − b", axis="lr_placement", value="inside",
                needs="scheduled, one_cycle (θ); momentum_buffer in every scenario with momentum",
                check="scheduled", options=MOMENTUM),
    torch_fault("SGDNesterovStaleBuffer", "sgd", "Nesterov look-ahead with b_{t−1}: plain momentum",
                needs="variant_nesterov",
                options={**MOMENTUM, "nesterov": True}),
    # RMSprop
    torch_fault("RMSpropEpsInsideRoot", "rmsprop", "ε inside the root", axis="eps_root", value="inside",
                options=BIG_EPS),
    torch_fault("RMSpropLrInsideBuffer", "rmsprop", "b ← μb + η_t g/a, θ ← θ − b", axis="lr_placement",
                value="inside", needs="scheduled (θ); momentum_buffer in variant_momentum, variant_centered_momentum",
                check="scheduled", options=MOMENTUM),
    torch_fault("RMSpropDecoupledDecay", "rmsprop", "decoupled weight decay", axis="weight_decay",
                value="decoupled_lr", needs="weight_decay", options=WD),
    torch_fault("RMSpropFloat32State", "rmsprop", "float32 state for float64 parameters",
                needs="every scenario, in float64"),
    # Adagrad
    torch_fault("AdagradEpsInsideRoot", "adagrad", "ε inside the root", axis="eps_root", value="inside",
                needs="every scenario (tiny_grad most)", options=BIG_EPS),
    torch_fault("AdagradDecoupledDecay", "adagrad", "decoupled weight decay", axis="weight_decay",
                value="decoupled_lr", needs="weight_decay", options=WD),
    torch_fault("AdagradIgnoresInitialAccumulator", "adagrad", "initial_accumulator_value ignored (s₀ = 0)",
                needs="every scenario but defaults (s₀ = 0.0625 elsewhere)",
                options={"initial_accumulator_value": 0.5}),
    torch_fault("AdagradMaximizeIgnored", "adagrad", "maximize ignored", needs="maximize",
                options={"maximize": True}),
    # Adadelta
    torch_fault("AdadeltaDecoupledDecay", "adadelta", "decoupled weight decay", axis="weight_decay",
                value="decoupled_lr", needs="weight_decay", options=WD),
    torch_fault("AdadeltaStaleGradient", "adadelta", "step t uses g_{t−1}"),
    # schedules
    torch_fault("StepLRBoundaryAfter", "step", "γ applied from k = s + 1 (k > s)", axis="boundary", value="after",
                needs="defaults, probe, past_horizon", options={"step_size": 3, "gamma": 0.5}),
    torch_fault("MultiStepLRBoundaryAfter", "multistep", "γ applied from k = m + 1 (k > m)", axis="boundary",
                value="after", needs="defaults, probe, past_horizon",
                options={"milestones": [3, 7, 7, 12], "gamma": 0.5}),
    torch_fault("ExponentialLRFromOne", "exponential", "η_k = η·γ^{k+1}", options={"gamma": 0.875}),
    torch_fault("CosineAnnealingLRShifted", "cosine", "the cosine evaluated at k + 1",
                options={"T_max": 16, "eta_min": 0.125}),
    torch_fault("CosineAnnealingLRClamped", "cosine", "η_min held past T_max", axis="past_horizon", value="clamped",
                needs="past_horizon", options={"T_max": 16, "eta_min": 0.125}),
    torch_fault("LinearLRFromZero", "linear_warmup", "warmup from 0 instead of start_factor",
                needs="defaults, probe, past_horizon (variant_constant is ConstantLR, not this class)",
                options={"start_factor": 0.25, "total_iters": 4}),
)


def torch_faithful(name, algorithm, fault, **kw):
    return _target("torch_faithful", "torch", name, algorithm, fault, faithful=True, **kw)


TORCH_FAITHFUL = (
    torch_faithful("AdamReciprocal", "adam", "m·(1/c₁)/(√v·(1/√c₂) + ε), then ·η", options={"amsgrad": True}),
    torch_faithful("AdamWMultiplied", "adamw", "θ − (ηλ)θ and η·(m/c₁)/d"),
    torch_faithful("SGDMomentumSubtract", "sgd", "θ − ηb, Nesterov θ − (ηg + (ημ)b)",
                   options={**MOMENTUM, "nesterov": True}),
    torch_faithful("RMSpropReciprocal", "rmsprop", "g·(1/a), θ − η·b", options={**MOMENTUM, "centered": True}),
    torch_faithful("AdagradReordered", "adagrad", "η·(1/(1 + (t − 1)κ)), (g/(√s + ε))·η_t",
                   options={"lr_decay": 0.25, "initial_accumulator_value": 0.5}),
    torch_faithful("AdamaxReordered", "adamax", "((m/u)·η)/(1 − β₁ᵗ)"),
    _target("torch_base", "torch", "StepLR", "step", "η·γ^⌊k/s⌋ in closed form (torch: ×γ at each boundary)",
            faithful=True, options={"step_size": 3, "gamma": 0.5}),
    _target("torch_base", "torch", "CosineAnnealingLR", "cosine", "the cosine in closed form (torch: a ratio "
            "recursion)", faithful=True, options={"T_max": 16, "eta_min": 0.125}),
)

OPTAX_FAULTS = (
    optax_fault("AdamEpsInsideRoot", "adam", "ε inside the square root", axis="eps_placement", value="inside",
                options=BIG_EPS),
    optax_fault("AdamEpsHat", "adam", "ε hat: ε on the raw root", axis="eps_placement", value="hat",
                needs="every scenario (tiny_grad most)", options=BIG_EPS),
    optax_fault("AdamNoBiasCorrection", "adam", "no bias correction", axis="bias_correction", value="off"),
    optax_fault("AdamLerpFirstMoment", "adam", "m ← lerp(m, g, 1 − β₁)", axis="first_moment", value="lerp",
                needs=INF_STATE, check="inf_grad"),
    optax_fault("AdamDeltaSecondMoment", "adam", "v ← v + (1 − β₂)(g² − v)", axis="second_moment", value="delta",
                needs=INF_STATE, check="inf_grad"),
    optax_fault("AdamBiasCorrectionFromZero", "adam", "c_i = 1 − β_i^{t−1}: NaN from step 1"),
    optax_fault("AdamFloat32State", "adam", "mu, nu stored in float32", needs="every scenario, in float64"),
    optax_fault("AmsgradMaxOfRawV", "amsgrad", "maximum over the raw ν", axis="amsgrad_form", value="raw_v"),
    optax_fault("AdamaxEpsOutsideMax", "adamax", "ν ← max(|g|, β₂ν), divide by ν + ε", axis="adamax_eps",
                value="outside_max", needs="every scenario (tiny_grad most)", options=BIG_EPS),
    optax_fault("RadamThresholdGt5", "radam", "rectified when ρ_t > 5 (optax: ≥ 5)", axis="rectify_threshold",
                value="rho_gt_5", needs=OPTAX_RHO, options={"b2": BETA2_RHO_ON_FIVE}),
    optax_fault("SgdLrInsideTrace", "sgd", "t ← η_t g + μt, u = −t", axis="lr_placement", value="inside",
                needs="scheduled (θ); trace in every scenario with momentum", check="scheduled", options=MOMENTUM),
    optax_fault("SgdNesterovIgnored", "sgd", "nesterov ignored", needs="variant_nesterov",
                options={**MOMENTUM, "nesterov": True}),
    optax_fault("RmspropEpsOutsideRoot", "rmsprop", "ε outside the root", axis="eps_root", value="outside",
                options=BIG_EPS),
    optax_fault("AdagradIgnoresInitialAccumulator", "adagrad", "initial_accumulator_value ignored (s₀ = 0)",
                options={"initial_accumulator_value": 0.5}),
    # schedules
    optax_fault("CosineDecayAbsoluteFloor", "cosine", "alpha read as an absolute floor", axis="floor",
                value="absolute", needs="probe, past_horizon, variant_exponent (a non-zero floor)",
                options={"init_value": 0.5, "decay_steps": 16, "alpha": 0.125}),
    optax_fault("CosineDecayPeriodic", "cosine", "not clamped past decay_steps", axis="past_horizon",
                value="periodic", needs="past_horizon, variant_exponent",
                options={"init_value": 0.5, "decay_steps": 16, "alpha": 0.125}),
    optax_fault("ExponentialDecayStaircaseAfter", "step", "staircase decays from k = nT + 1", axis="boundary",
                value="after", needs="defaults, probe, past_horizon",
                options={"init_value": 0.5, "transition_steps": 3, "decay_rate": 0.5, "staircase": True}),
)


def optax_faithful(name, algorithm, fault, **kw):
    return _target("optax_faithful", "optax", name, algorithm, fault, faithful=True, **kw)


OPTAX_FAITHFUL = (
    optax_faithful("Adam", "adam", "(1/c₁)·m/(√v/√c₂ + ε)"),
    optax_faithful("Sgd", "sgd", "−(ηg + (ημ)t)", options={**MOMENTUM, "nesterov": True}),
    optax_faithful("Rmsprop", "rmsprop", "((1 − ρ)g)·g in ν", options={**MOMENTUM, "centered": True}),
    optax_faithful("Adagrad", "adagrad", "r·(−ηg) instead of −η·(r·g)", options={"initial_accumulator_value": 0.5}),
)

TARGETS = TORCH_FAULTS + TORCH_FAITHFUL + OPTAX_FAULTS + OPTAX_FAITHFUL


def _base(module, framework, name, algorithm, **kw):
    return _target(module, framework, name, algorithm, "the faithful base the faults derive from", faithful=True,
                   **kw)


# the faithful bases (torch's and optax's own arithmetic), with options that exercise their features
BASES = (
    _base("torch_base", "torch", "Adam", "adam", options=WD),
    _base("torch_base", "torch", "AdamW", "adamw", options=WD),
    _base("torch_base", "torch", "AMSGrad", "amsgrad", options=WD),
    _base("torch_base", "torch", "NAdam", "nadam", options=WD),
    _base("torch_base", "torch", "RAdam", "radam", options=WD),
    _base("torch_base", "torch", "Adamax", "adamax", options=WD),
    _base("torch_base", "torch", "SGD", "sgd", options={**WD, **MOMENTUM, "dampening": 0.25}),
    _base("torch_base", "torch", "RMSprop", "rmsprop", options={**WD, **MOMENTUM, "centered": True}),
    _base("torch_base", "torch", "Adagrad", "adagrad", options={**WD, "lr_decay": 0.25,
                                                                 "initial_accumulator_value": 0.5}),
    _base("torch_base", "torch", "Adadelta", "adadelta", options=WD),
    _base("torch_base", "torch", "MultiStepLR", "multistep", options={"milestones": [3, 7, 7, 12], "gamma": 0.5}),
    _base("torch_base", "torch", "ExponentialLR", "exponential", options={"gamma": 0.875}),
    _base("torch_base", "torch", "LinearLR", "linear_warmup", options={"start_factor": 0.25, "total_iters": 4}),
    _base("optax_base", "optax", "adam", "adam"),
    _base("optax_base", "optax", "amsgrad", "amsgrad"),
    _base("optax_base", "optax", "adamax", "adamax"),
    _base("optax_base", "optax", "radam", "radam"),
    _base("optax_base", "optax", "sgd", "sgd", options={**MOMENTUM, "nesterov": True}),
    _base("optax_base", "optax", "rmsprop", "rmsprop", options={**MOMENTUM, "centered": True}),
    _base("optax_base", "optax", "adagrad", "adagrad"),
)
