"""Helpers shared by the schedule hooks (constant, step, multistep, ... linear_warmup).

``optional(h, profile, {canonical: framework_name})`` returns the keyword arguments whose value
differs from the profile's *declared* default: the others are left out, so the framework's own
default is used and the ``defaults`` scenario checks the declared default against it.

Keras schedules compute in the dtype of ``initial_learning_rate``; the hooks pass it as
``np.float64`` so the schedule runs in float64.  Every other hyperparameter is passed as a
Python float, as users do: where Keras casts it through float32 the profile declares that as a
precision effect.
"""
from __future__ import annotations

# one definition, shared with the torch schedule builders (adapters/torch_schedules.py)
from optconform.adapters.frameworks.torch_schedules import declared_default, optional  # noqa: F401


def f64(x):
    import numpy as np

    return np.float64(float(x))
