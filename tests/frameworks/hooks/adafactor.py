"""optax.adafactor takes the decay exponent with the opposite sign (decay_rate = 0.8)."""
from tests.frameworks.drivers import pyvalue, renamed_kwargs


def optax_kwargs(h, profile, defaults_only):
    kwargs = renamed_kwargs(h, profile, only_required=defaults_only)
    if not defaults_only:
        kwargs["decay_rate"] = -pyvalue(h.beta2_decay)
    return kwargs
