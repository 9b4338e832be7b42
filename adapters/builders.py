"""Framework-neutral helpers for building a framework's optimizer from profile data.

A profile's ``names`` map canonical hyperparameters to the framework's keyword names
(``betas[0]``-style entries assemble tuples); ``api`` names the callable, optionally with
literal keyword arguments (``torch.optim.Adam(amsgrad=True)``). Imports no framework.
"""
from __future__ import annotations

import ast
import importlib
import re

_INDEX = re.compile(r"^(\w+)\[(\d+)\]$")
_CALL = re.compile(r"^([\w.]+)\((.*)\)$", re.S)


def pyvalue(v):
    """A resolved hyperparameter as the plain Python value a framework takes."""
    if isinstance(v, (bool, int, str)):
        return v
    if isinstance(v, tuple):
        return [pyvalue(x) for x in v]
    return float(v)


def renamed_kwargs(h, profile, only_required: bool = False) -> dict:
    """Framework keyword arguments from canonical hyperparameters through ``profile.names``."""
    out: dict = {}
    tuples: dict = {}
    for canonical, fw_name in profile.names.items():
        if canonical in profile.unsupported or canonical not in h:
            continue
        if only_required and canonical not in profile.required:
            continue
        value = pyvalue(h[canonical])
        m = _INDEX.match(fw_name)
        if m:
            tuples.setdefault(m.group(1), {})[int(m.group(2))] = value
        elif " " in fw_name or "(" in fw_name:
            continue  # documentation, not a keyword: the adapter handles it
        else:
            out[fw_name] = value
    for name, parts in tuples.items():
        out[name] = tuple(parts[i] for i in sorted(parts))
    return out


def resolve_api(api: str):
    """``(callable, literal keyword arguments)`` for a profile's ``api`` string.

    ``torch.optim.SGD`` → (SGD, {}); ``torch.optim.Adam(amsgrad=True)`` → (Adam, {"amsgrad": True}).
    Parenthesised text that is not literal keywords (documentation) is ignored.
    """
    text = api.strip()
    extra: dict = {}
    m = _CALL.match(text)
    if m:
        text = m.group(1)
        try:
            call = ast.parse(f"f({m.group(2)})", mode="eval").body
            if isinstance(call, ast.Call) and not call.args:
                extra = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords}
        except (SyntaxError, ValueError):
            extra = {}
    else:
        text = text.split("(", 1)[0]
    module, _, attr = text.rpartition(".")
    return getattr(importlib.import_module(module), attr), extra
