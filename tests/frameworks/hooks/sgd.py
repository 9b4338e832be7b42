"""SGD: Keras is given weight_decay=None (its default) when λ = 0.

Keras runs its decoupled decay θ ← θ − θ·λ·η whenever weight_decay is not None, so an explicit
weight_decay=0.0 turns a ±inf parameter into NaN (−inf·0); the default None skips the decay.
"""
from __future__ import annotations

from tests.frameworks.drivers import renamed_kwargs


def keras_kwargs(h, profile, defaults_only):
    kwargs = renamed_kwargs(h, profile, only_required=defaults_only)
    if kwargs.get("weight_decay") == 0:
        del kwargs["weight_decay"]
    return kwargs
