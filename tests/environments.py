"""Run a function in a process started with a given environment: the tests' way to reach a code
path that needs one this pytest process lacks (Keras on its jax or torch backend: Keras fixes its
backend at import; harness.worker_environment says what a code path needs). One spawned worker per
environment, kept for the session and shut down at exit: adapters/workers.call_in, with the
worker's output left on the terminal (a failing test shows it)."""
from __future__ import annotations

from optconform.adapters.workers import call_in as _call_in
from optconform.adapters.workers import satisfied

__all__ = ["call_in", "satisfied"]


def call_in(env: dict, fn, *args):
    """``fn(*args)`` here when this process has ``env``, else in the worker started with it."""
    return _call_in(env, fn, *args, quiet=False)
