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


def declared_default(profile, name):
    from optconform.reference.model import get

    hyper = get(profile.algorithm).hypers[name]
    return hyper.parse(profile.defaults.get(name, hyper.default))


def pyval(v):
    if isinstance(v, (bool, int, str)):
        return v
    return float(v)


def optional(h, profile, mapping, convert=None):
    out = {}
    for canonical, fw_name in mapping.items():
        if h[canonical] != declared_default(profile, canonical):
            out[fw_name] = (convert or {}).get(canonical, pyval)(h[canonical])
    return out


def f64(x):
    import numpy as np

    return np.float64(float(x))
