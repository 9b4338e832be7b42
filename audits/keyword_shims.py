"""Keyword adaptors for targets whose parameters are not the spec's one-to-one.

The audit maps each canonical hyperparameter to one keyword of the target (adapters/audit.py).
Where a package takes an equivalent parametrisation under other keywords, or has a hyperparameter
built in at one value, a function here converts the keywords and calls the package's own code with
nothing else changed. Every target that goes through one says so in its note (audits/targets.toml)
and in its report.
"""
from __future__ import annotations

import inspect


def implicit(cls, **fixed):
    """``cls`` with extra keywords for hyperparameters it has built in at one value: each keyword
    accepts only that value (exactly) and raises ValueError otherwise, so the audit runs the vectors
    that use the built-in value and reports the others not applicable, instead of skipping all.
    Example: ``implicit(RMSpropTF, initial_square_avg=1.0)`` — timm starts the accumulator at 1."""

    def build(params, **kwargs):
        for name, value in fixed.items():
            given = kwargs.pop(name, value)
            if given != value:
                raise ValueError(f"{cls.__module__}.{cls.__qualname__} has {name} = {value!r} built in, "
                                 f"not {given!r}")
        return cls(params, **kwargs)

    sig = inspect.signature(cls)
    extra = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=v) for n, v in fixed.items()]
    params = list(sig.parameters.values())
    var_kw = [p for p in params if p.kind == p.VAR_KEYWORD]
    params = [p for p in params if p.kind != p.VAR_KEYWORD] + extra + var_kw
    build.__signature__ = sig.replace(parameters=params)
    build.__name__ = build.__qualname__ = cls.__name__
    build.__doc__ = f"{cls.__module__}.{cls.__qualname__} with {fixed} built in (audits/keyword_shims.py)"
    return build


# --- pytorch_optimizer ----------------------------------------------------------------------------


def pytorch_optimizer_wsd(optimizer, num_warmup_steps: int, num_decay_steps: int, num_training_steps: int,
                          min_lr_ratio: float = 0.0, cooldown_type: str = "1-sqrt"):
    """pytorch_optimizer.lr_scheduler.get_wsd_schedule given the total T instead of the stable length
    S: the spec's wsd (spec/algorithms/wsd.md) has warmup W, stable S = T − W − D, decay D ending at
    T, and this passes exactly S = T − W − D."""
    from pytorch_optimizer.lr_scheduler import get_wsd_schedule

    return get_wsd_schedule(optimizer, num_warmup_steps=num_warmup_steps,
                            num_stable_steps=num_training_steps - num_warmup_steps - num_decay_steps,
                            num_decay_steps=num_decay_steps, min_lr_ratio=min_lr_ratio, cooldown_type=cooldown_type)


# --- transformers -------------------------------------------------------------------------------


def transformers_hard_restarts(optimizer, first_cycle: int, num_cycles: int = 1):
    """transformers.get_cosine_with_hard_restarts_schedule_with_warmup without warmup, given the
    cycle length T₀ and the number of cycles: its horizon is num_training_steps = T₀·cycles (its
    cycles are equal: the spec's t_mult = 1)."""
    from transformers import get_cosine_with_hard_restarts_schedule_with_warmup

    return get_cosine_with_hard_restarts_schedule_with_warmup(optimizer, num_warmup_steps=0,
                                                              num_training_steps=first_cycle * num_cycles,
                                                              num_cycles=num_cycles)


def transformers_reduce_on_plateau(optimizer, mode: str = "min", factor: float = 0.1, patience: int = 10,
                                   rtol: float = 1e-4, atol: float = 0.0, cooldown: int = 0, min_lr: float = 0.0,
                                   eps: float = 1e-8, total_steps: int | None = None):
    """transformers.get_reduce_on_plateau_schedule(optimizer, **kwargs) with its keywords named (its
    signature is **kwargs only, so the audit could map none). torch's ReduceLROnPlateau takes one
    threshold, relative or absolute: rtol becomes threshold_mode='rel', atol threshold_mode='abs'
    (both nonzero has no torch equivalent: ValueError, so the audit reports the vector not applicable).
    total_steps is the vector's length, not a parameter of the schedule: accepted and not used."""
    from transformers import get_reduce_on_plateau_schedule

    if rtol and atol:
        raise ValueError("ReduceLROnPlateau has either a relative or an absolute threshold, not both")
    threshold, mode_ = (atol, "abs") if atol else (rtol, "rel")
    return get_reduce_on_plateau_schedule(optimizer, mode=mode, factor=factor, patience=patience, threshold=threshold,
                                          threshold_mode=mode_, cooldown=cooldown, min_lr=min_lr, eps=eps)


# --- timm ---------------------------------------------------------------------------------------


def _timm_rmsproptf():
    import timm_shim  # audits/timm_shim.py (the audit puts this folder on sys.path)

    return implicit(timm_shim.RMSpropTF, initial_square_avg=1.0)


def __getattr__(name: str):
    """The wrapped optimizers, built on first use (importing this module imports no package)."""
    makers = {"timm_rmsproptf": _timm_rmsproptf}
    if name in makers:
        value = makers[name]()
        globals()[name] = value
        return value
    raise AttributeError(name)
