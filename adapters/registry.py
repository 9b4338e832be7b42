"""Finding adapters: the built-in ones, entry points, and ``module:attr`` targets.

* Built-in names: ``torch``, ``optax`` (more frameworks are added as their adapters land).
* Third-party adapters register under the entry-point group ``optconform.adapters``
  (``[project.entry-points."optconform.adapters"] myport = "my_pkg.conformance:MyAdapter"``).
* Any class or instance reachable as ``module:attr`` or ``path/to/file.py:attr`` works on the
  command line without registering anything: ``optconform check --adapter my_pkg.conformance:MyAdapter``.

Loading an adapter imports its module only; the framework is imported when it runs.
"""
from __future__ import annotations

import importlib
import importlib.util
from importlib import metadata
from pathlib import Path

from optconform.reference.errors import UserError

BUILTIN = {
    "torch": "optconform.adapters.frameworks.torch_adapter:TorchAdapter",
    "optax": "optconform.adapters.frameworks.optax_adapter:OptaxAdapter",
}
ENTRY_POINT_GROUP = "optconform.adapters"


def _entry_points() -> dict:
    try:
        return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    except Exception:  # noqa: BLE001 - a broken third-party distribution must not break check
        return {}


def known_names() -> list[str]:
    return list(BUILTIN) + [n for n in _entry_points() if n not in BUILTIN]


def _import_target(target: str):
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise UserError(f"adapter {target!r}: expected NAME, module:attr or path/to/file.py:attr")
    if module_name.endswith(".py") or "/" in module_name:
        path = Path(module_name)
        if not path.exists():
            raise UserError(f"adapter {target!r}: file {path} does not exist")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001
            raise UserError(f"adapter {target!r}: importing {path} failed: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            raise UserError(f"adapter {target!r}: cannot import {module_name} ({exc})") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise UserError(f"adapter {target!r}: {module_name} has no attribute {attr!r}") from None
    return obj() if isinstance(obj, type) else obj


def load(name: str):
    """An adapter instance by built-in name, entry-point name or ``module:attr`` target."""
    if name in BUILTIN:
        return _import_target(BUILTIN[name])
    eps = _entry_points()
    if name in eps:
        obj = eps[name].load()
        return obj() if isinstance(obj, type) else obj
    if ":" in name:
        adapter = _import_target(name)
        for attribute in ("name", "profiles", "implementations", "run"):
            if not hasattr(adapter, attribute):
                raise UserError(f"adapter {name!r} lacks {attribute!r}: see optconform.adapters.protocol")
        return adapter
    raise UserError(f"unknown adapter {name!r}; known: {', '.join(known_names())} (or give module:attr)")
