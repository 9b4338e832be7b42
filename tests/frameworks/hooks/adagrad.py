"""torch.optim.Adagrad builds its ``sum`` state in ``__init__`` from the constructor's
``initial_accumulator_value``; a value given in a parameter group is stored in the group but
ignored. The value therefore goes to the constructor (all groups of a case share it)."""
from __future__ import annotations

from tests.frameworks.drivers import pyvalue


def torch_constructor_kwargs(h, profile, defaults_only):
    if defaults_only:
        return {}
    return {"initial_accumulator_value": pyvalue(h.initial_accumulator_value)}
