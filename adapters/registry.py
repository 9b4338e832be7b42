"""Finding adapters: the built-in ones, entry points, and ``module:attr`` targets.

* Built-in names: ``torch``, ``optax``, ``keras`` (Keras 3), ``tf_keras`` (Keras 2).
* Third-party adapters register under the entry-point group ``optconform.adapters``
  (``[project.entry-points."optconform.adapters"] myport = "my_pkg.conformance:MyAdapter"``).
* Any class or instance reachable as ``module:attr`` or ``path/to/file.py:attr`` works on the
  command line without registering anything: ``optconform check --adapter my_pkg.conformance:MyAdapter``.

``module:attr`` targets import from the current directory, as pytest and uvicorn do (it is put
first on ``sys.path``; :func:`import_paths` gives what was added, for the worker processes).

Loading an adapter imports its module only; the framework is imported when it runs. A module
whose import fails (its framework is not installed, or raises while loading) makes the adapter
:class:`Unavailable`, as does ``available()`` saying no or raising (:func:`availability`): the
command reports it and runs the other adapters. An unknown name, a missing attribute or an object
that is not an adapter are usage errors.
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from importlib import metadata
from pathlib import Path

from optconform.reference.errors import UserError

BUILTIN = {
    "torch": "optconform.adapters.frameworks.torch_adapter:TorchAdapter",
    "optax": "optconform.adapters.frameworks.optax_adapter:OptaxAdapter",
    "keras": "optconform.adapters.frameworks.keras_adapter:KerasAdapter",
    "tf_keras": "optconform.adapters.frameworks.keras_adapter:TfKerasAdapter",
}
ENTRY_POINT_GROUP = "optconform.adapters"
_ADDED_PATHS: list = []
AUDIT_PREFIX = "optconform-audit:"  # adapters/audit.py PREFIX: an audit target wrapped as an adapter


class Unavailable(UserError):
    """An adapter that cannot run here: its module or its framework fails to import."""

    def __init__(self, name: str, reason: str):
        super().__init__(f"adapter {name!r} is unavailable: {reason}")
        self.name, self.reason = name, reason


def _on_path(folder: str) -> None:
    folder = os.path.abspath(folder)
    if folder not in sys.path:
        sys.path.insert(0, folder)
        _ADDED_PATHS.append(folder)


def import_paths() -> list:
    """The folders this process put on ``sys.path`` to import adapters (workers need them too)."""
    return list(_ADDED_PATHS)


def _failure(exc: BaseException) -> str:
    first = next((line.strip() for line in str(exc).splitlines() if line.strip()), "")
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _entry_points() -> dict:
    try:
        return {ep.name: ep for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
    except Exception:  # noqa: BLE001 - a broken third-party distribution must not break check
        return {}


def known_names() -> list[str]:
    return list(BUILTIN) + [n for n in _entry_points() if n not in BUILTIN]


def _import_target(target: str, user: bool = True):
    """The adapter ``target`` names (``user``: a target the user gave, imported from the current
    directory too)."""
    return _instance(target, import_object(target, user=user))


def import_object(target: str, user: bool = True, what: str = "adapter"):
    """The object ``module:attr`` or ``path/to/file.py:attr`` names, not instantiated (``user``:
    imported from the current directory too); UserError or :class:`Unavailable` with one line."""
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        expected = "NAME, module:attr or path/to/file.py:attr" if what == "adapter" else "module:Name or path/to/file.py:Name"
        raise UserError(f"{what} {target!r}: expected {expected}")
    if module_name.endswith(".py") or "/" in module_name:
        path = Path(module_name)
        if not path.exists():
            raise UserError(f"{what} {target!r}: file {path} does not exist")
        _on_path(str(path.parent))  # its sibling modules, as pytest imports a test file
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:  # noqa: BLE001 - any failure while importing: the adapter cannot run
            raise Unavailable(target, f"importing {path} failed: {_failure(exc)}") from None
    else:
        if user:
            _on_path(os.getcwd())
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # noqa: BLE001 - ImportError or anything its import raises
            raise Unavailable(target, f"importing {module_name} failed: {_failure(exc)}") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise UserError(f"{what} {target!r}: {module_name} has no attribute {attr!r}") from None
    return obj


def _instance(name: str, obj):
    """``obj``, or an instance of it if it is a class (whose constructor may fail like an import)."""
    if not isinstance(obj, type):
        return obj
    try:
        return obj()
    except Exception as exc:  # noqa: BLE001 - e.g. a constructor that imports its framework
        raise Unavailable(name, f"creating {obj.__name__}() failed: {_failure(exc)}") from None


def load(name: str):
    """An adapter instance by built-in name, entry-point name or ``module:attr`` target; raises
    :class:`Unavailable` when its module fails to import, :class:`UserError` for a bad name."""
    if name in BUILTIN:
        try:
            return _import_target(BUILTIN[name], user=False)
        except Unavailable as exc:
            raise Unavailable(name, exc.reason) from None
    eps = _entry_points()
    if name in eps:
        try:
            obj = eps[name].load()
        except Exception as exc:  # noqa: BLE001 - a broken or half-installed distribution
            raise Unavailable(name, f"loading entry point {eps[name].value} failed: {_failure(exc)}") from None
        return _instance(name, obj)
    if name.startswith(AUDIT_PREFIX):  # an audit's target, wrapped (adapters/audit.py)
        from .audit import adapter_for

        return adapter_for(name)
    if ":" in name:
        adapter = _import_target(name)
        for attribute in ("name", "profiles", "implementations", "run"):
            if not hasattr(adapter, attribute):
                raise UserError(f"adapter {name!r} lacks {attribute!r}: see optconform.adapters.protocol")
        return adapter
    raise UserError(f"unknown adapter {name!r}; known: {', '.join(known_names())} (or give module:attr)")


def availability(adapter) -> tuple[bool, str]:
    """``adapter.available()`` as (ok, reason); an adapter that raises there is unavailable."""
    try:
        answer = adapter.available()
    except Exception as exc:  # noqa: BLE001 - a failing framework import inside available()
        return False, f"available() raised {_failure(exc)}"
    if isinstance(answer, tuple):
        ok, reason = (answer + ("",))[:2]
        return bool(ok), str(reason or "")
    return bool(answer), ""
