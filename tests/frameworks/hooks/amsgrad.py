"""AMSGrad is a flag on torch and Keras Adam: add amsgrad=True to the renamed arguments.

Keras is given weight_decay=None (its default) when λ = 0: an explicit weight_decay=0.0 still runs
θ ← θ − θ·0·η, which turns a ±inf parameter into NaN.
"""
from __future__ import annotations

from tests.frameworks.drivers import renamed_kwargs


def torch_kwargs(h, profile, defaults_only):
    return {**renamed_kwargs(h, profile, only_required=defaults_only), "amsgrad": True}


def keras_kwargs(h, profile, defaults_only):
    kwargs = renamed_kwargs(h, profile, only_required=defaults_only)
    if kwargs.get("weight_decay") == 0:
        del kwargs["weight_decay"]
    return {**kwargs, "amsgrad": True}
