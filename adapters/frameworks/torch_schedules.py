"""torch.optim.lr_scheduler builders for every schedule with a torch profile, and the vector runner.

One place that knows how each canonical schedule is built in torch (the float64 profile checks in
the profile checks reach them through the adapter):

* :func:`build` ``(optimizer, name, h, profile=None, metrics=None)`` returns an object with
  ``step()`` for the resolved canonical hyperparameters ``h`` (``model.get(name).resolve("torch",
  ...)``): the torch scheduler itself, or a thin wrapper where torch needs more (OneCycleLR
  raising past its horizon, ReduceLROnPlateau fed from a metric stream);
* :func:`run_schedule` ``(doc)`` runs a schedule vector: an SGD optimizer on one float64
  parameter, built with the schedule's ``lr``; for each update k the group's learning rate (and,
  where the vector has it, the momentum — ``momentum`` or ``betas[0]``) is recorded, then
  ``optimizer.step()`` and ``scheduler.step()`` (``scheduler.step(metric_k)`` for
  reduce_on_plateau, whose metric k is observed after update k and decides update k + 1).

Hyperparameters left at the profile's *declared* default are not passed (see :func:`optional`),
so the ``defaults`` scenario checks the declared default against torch's own. A combination a
profile declares not driven (no torch form) raises :class:`NotDriven`, which is both the adapter
protocol's :class:`Unsupported` (a ``skip``) and ``NotImplementedError`` (what the profile
checks skip on). Imports torch only when a builder runs.
"""
from __future__ import annotations

import math

from optconform.reference.model import get

from .engine import declared_default, optional, pyvalue, renamed_kwargs, resolve_api
from ..protocol import Unsupported


class NotDriven(Unsupported, NotImplementedError):
    """torch has no form for this schedule or hyperparameter combination (the profile says so)."""


# --- helpers --------------------------------------------------------------------------------------


def lr_lambda(fn, c):
    """The factor f(k) of lambda_lr / multiplicative as a Python float function."""
    c = float(c)
    table = {"constant": lambda k: c, "power": lambda k: c ** k, "inverse": lambda k: 1.0 / (1.0 + c * k),
             "inverse_sqrt": lambda k: 1.0 / math.sqrt(1.0 + c * k)}
    if fn not in table:
        raise NotDriven(f"no torch lr_lambda for fn = {fn!r}")
    return table[fn]


def _int(x):
    if x != int(x):
        raise NotDriven("torch needs integer cycle lengths (T_mult must be a Python int)")
    return int(x)


def _S():
    import torch

    return torch.optim.lr_scheduler


# --- builders: (optimizer, h, profile) -> scheduler ------------------------------------------------


def constant(optimizer, h, profile):
    return _S().LambdaLR(optimizer, lr_lambda=lambda k: 1.0)


def step(optimizer, h, profile):
    return _S().StepLR(optimizer, step_size=int(h.step_size), **optional(h, profile, {"gamma": "gamma"}))


def multistep(optimizer, h, profile):
    return _S().MultiStepLR(optimizer, milestones=[int(m) for m in h.milestones],
                            **optional(h, profile, {"gamma": "gamma"}))


def exponential(optimizer, h, profile):
    return _S().ExponentialLR(optimizer, gamma=float(h.gamma))


def polynomial(optimizer, h, profile):
    return _S().PolynomialLR(optimizer, **optional(h, profile, {"total_steps": "total_iters", "power": "power"}))


def cosine(optimizer, h, profile):
    return _S().CosineAnnealingLR(optimizer, T_max=int(h.total_steps), **optional(h, profile, {"eta_min": "eta_min"}))


def cosine_restarts(optimizer, h, profile):
    return _S().CosineAnnealingWarmRestarts(
        optimizer, T_0=int(h.first_cycle),
        **optional(h, profile, {"t_mult": "T_mult", "eta_min": "eta_min"}, convert={"t_mult": _int}))


def linear_warmup(optimizer, h, profile):
    if h.warmup_start == 0:
        raise NotDriven("torch LinearLR/ConstantLR require a start factor > 0")
    S = _S()
    cls = S.LinearLR if h.shape == "linear" else S.ConstantLR
    start = "start_factor" if h.shape == "linear" else "factor"
    return cls(optimizer, **optional(h, profile, {"warmup_start": start, "warmup_steps": "total_iters"}))


def warmup_cosine(optimizer, h, profile):
    S = _S()
    W, T = int(h.warmup_steps), int(h.total_steps)
    lr, start = float(h.lr), float(h.warmup_start)
    if start > 0:
        warm = S.LinearLR(optimizer, start_factor=start / lr, total_iters=W)
    else:  # LinearLR requires start_factor > 0: a warmup from 0 is LambdaLR (as transformers builds it)
        warm = S.LambdaLR(optimizer, lr_lambda=lambda k: k / W if k < W else 1.0)
    cos = S.CosineAnnealingLR(optimizer, T_max=T - W, eta_min=float(h.eta_min))
    return S.SequentialLR(optimizer, [warm, cos], milestones=[W])


def warmup_linear(optimizer, h, profile):
    S = _S()
    W, T = int(h.warmup_steps), int(h.total_steps)
    warm = S.LambdaLR(optimizer, lambda k: k / W)
    decay = S.LinearLR(optimizer, start_factor=1.0, end_factor=0.0, total_iters=T - W)
    return S.SequentialLR(optimizer, [warm, decay], milestones=[W])


def wsd(optimizer, h, profile):
    S = _S()
    W, D, T = int(h.warmup_steps), int(h.decay_steps), int(h.total_steps)
    stable = T - W - D
    lr, r = float(h.lr), float(h.min_lr_ratio)
    if h.decay_shape == "cosine":
        decay = S.CosineAnnealingLR(optimizer, T_max=D, eta_min=r * lr)
    elif h.decay_shape == "linear":
        decay = S.LinearLR(optimizer, start_factor=1.0, end_factor=r, total_iters=D)
    else:
        raise NotDriven("torch has no 1-sqrt scheduler (LambdaLR only): not driven")
    children = [S.LambdaLR(optimizer, lambda k: k / W), S.ConstantLR(optimizer, factor=1.0, total_iters=stable), decay]
    return S.SequentialLR(optimizer, children, milestones=[W, W + stable])


class StopsAtRaise:
    """Wraps torch's OneCycleLR: once ``step()`` raises (update index > total_steps) ``raised``
    is set and the group learning rate reads +inf, which no continuing reference can match (the
    reference marks those updates ``raises`` with lr = +inf)."""

    def __init__(self, sched, optimizer):
        self.sched, self.optimizer, self.raised = sched, optimizer, False

    def step(self):
        if self.raised:
            return
        try:
            self.sched.step()
        except ValueError as exc:
            if "Tried to step" not in str(exc):
                raise
            self.raised = True
            for group in self.optimizer.param_groups:
                group["lr"] = math.inf


def one_cycle(optimizer, h, profile):
    return StopsAtRaise(_S().OneCycleLR(optimizer, **renamed_kwargs(h, profile)), optimizer)


def cyclic(optimizer, h, profile):
    cls, extra = resolve_api(profile.api)
    return cls(optimizer, **{**renamed_kwargs(h, profile), **extra})


class Replay:
    """ReduceLROnPlateau: ``step()`` passes the next metric of the stream to ``step(metric)``."""

    def __init__(self, sched, metrics):
        self.sched, self.metrics, self.j = sched, list(metrics), 0

    def step(self):
        if self.j >= len(self.metrics):
            raise IndexError(f"the metric stream has only {len(self.metrics)} values")
        self.sched.step(self.metrics[self.j])
        self.j += 1


def reduce_on_plateau(optimizer, h, profile, metrics=None):
    if metrics is None:
        raise ValueError("reduce_on_plateau needs a metric stream")
    if h.atol == 0:
        mode, threshold = "rel", float(h.rtol)
    elif h.rtol == 0:
        mode, threshold = "abs", float(h.atol)
    else:
        raise NotDriven("torch has one threshold mode at a time (a combined rtol and atol has no torch form)")
    sched = _S().ReduceLROnPlateau(
        optimizer, mode=h.mode, factor=float(h.factor), patience=int(h.patience), threshold=threshold,
        threshold_mode=mode, cooldown=int(h.cooldown), min_lr=float(h.min_lr), eps=float(h.eps))
    return Replay(sched, [float(m) for m in metrics])


def lambda_lr(optimizer, h, profile):
    return _S().LambdaLR(optimizer, lr_lambda=lr_lambda(h.fn, h.c))


def multiplicative(optimizer, h, profile):
    return _S().MultiplicativeLR(optimizer, lr_lambda=lr_lambda(h.fn, h.c))


CHILDREN = {"lambda_lr": lambda_lr, "multiplicative": multiplicative}


def child(optimizer, table):
    """A registry child table ``{"algorithm": ..., "hyper": {...}}`` of sequential / chained."""
    name = table["algorithm"]
    if name not in CHILDREN:
        raise NotDriven(f"no torch child for {name}")
    alg = get(name)
    h = alg.resolve("torch", table.get("hyper", {}))
    return CHILDREN[name](optimizer, h, alg.profiles["torch"])


def sequential(optimizer, h, profile):
    children = [child(optimizer, t) for t in h.children]
    return _S().SequentialLR(optimizer, children, milestones=[int(m) for m in h.milestones])


def chained(optimizer, h, profile):
    return _S().ChainedScheduler([child(optimizer, t) for t in h.children])


def swalr(optimizer, h, profile):
    import torch

    return torch.optim.swa_utils.SWALR(optimizer, swa_lr=float(h.swa_lr),
                                       **optional(h, profile, {"anneal_epochs": "anneal_epochs",
                                                               "anneal_strategy": "anneal_strategy"}))


BUILDERS = {
    "constant": constant, "step": step, "multistep": multistep, "exponential": exponential,
    "polynomial": polynomial, "cosine": cosine, "cosine_restarts": cosine_restarts,
    "linear_warmup": linear_warmup, "warmup_cosine": warmup_cosine, "warmup_linear": warmup_linear,
    "wsd": wsd, "one_cycle": one_cycle, "cyclic": cyclic, "reduce_on_plateau": reduce_on_plateau,
    "lambda_lr": lambda_lr, "multiplicative": multiplicative, "sequential": sequential, "chained": chained,
    "swalr": swalr,
}


def build(optimizer, name: str, h, profile=None, metrics=None):
    """The torch scheduler (or stepping wrapper) of schedule ``name`` for resolved hyperparameters ``h``."""
    if name not in BUILDERS:
        raise NotDriven(f"no torch scheduler builder for {name}")
    profile = profile if profile is not None else get(name).profile("torch")
    if name == "reduce_on_plateau":
        return reduce_on_plateau(optimizer, h, profile, metrics)
    return BUILDERS[name](optimizer, h, profile)


def make_optimizer(h):
    """The optimizer a schedule drives: SGD (it has momentum, for cycled momentum) on one float64 parameter."""
    import torch

    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    return torch.optim.SGD([p], lr=float(h.lr))


def _momentum(group) -> float:
    if "betas" in group:
        return float(group["betas"][0])
    return float(group["momentum"])


# --- the vector runner ------------------------------------------------------------------------------


def run_schedule(doc: dict, builder=None) -> list:
    """Per update k of ``doc["steps"]``: ``{"k", "lr"}`` (+ ``momentum`` where the vector has it;
    ``raises`` with lr = +inf, momentum NaN once torch has raised). ``builder(optimizer, h,
    metrics)``: another scheduler than torch's own (``optconform audit`` of a third-party
    LRScheduler), built for the resolved hyperparameters ``h``."""
    name = doc["algorithm"]
    alg = get(name)
    if "torch" not in alg.profiles:
        raise Unsupported(f"{name} has no torch profile")
    profile = alg.profiles["torch"]
    h = alg.resolve("torch", doc["inputs"]["groups"][0]["hyper"])
    metrics = doc["inputs"].get("metrics")
    metrics = [float(m) for m in metrics] if metrics is not None else None
    if builder is None:
        for name_ in profile.unsupported:
            if name_ in h and h[name_] != declared_default(profile, name_):
                raise NotDriven(f"torch {name} has no {name_} (the profile lists it unsupported)")
    optimizer = make_optimizer(h)
    sched = build(optimizer, name, h, profile, metrics=metrics) if builder is None else builder(optimizer, h, metrics)
    group = optimizer.param_groups[0]
    want_momentum = any("momentum" in s for s in doc["steps"])
    out = []
    for i, record in enumerate(doc["steps"]):
        raised = getattr(sched, "raised", False)
        rec = {"k": record["k"], "lr": math.inf if raised else float(group["lr"])}
        if want_momentum:
            rec["momentum"] = math.nan if raised else _momentum(group)
        if raised:
            rec["raises"] = True
        out.append(rec)
        if i + 1 < len(doc["steps"]):
            optimizer.step()
            sched.step()
    return out


__all__ = ["BUILDERS", "NotDriven", "build", "child", "declared_default", "lr_lambda", "make_optimizer",
           "optional", "run_schedule"]
