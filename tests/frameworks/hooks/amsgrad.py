"""AMSGrad is a flag on torch and Keras Adam: add amsgrad=True to the renamed arguments."""
from __future__ import annotations

from tests.frameworks.drivers import renamed_kwargs


def torch_kwargs(h, profile, defaults_only):
    return {**renamed_kwargs(h, profile, only_required=defaults_only), "amsgrad": True}


def keras_kwargs(h, profile, defaults_only):
    return {**renamed_kwargs(h, profile, only_required=defaults_only), "amsgrad": True}
