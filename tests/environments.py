"""Run a function in a process started with a given environment: the tests' way to reach a code
path that needs one this pytest process lacks (Keras on its jax or torch backend: Keras fixes its
backend at import; harness.worker_environment says what a code path needs). One spawned worker per
environment, kept for the session and shut down at exit."""
from __future__ import annotations

import atexit
import os

_EXECUTORS: dict = {}


def _set_environment(env: dict) -> None:
    os.environ.update(env)


def satisfied(env: dict) -> bool:
    """Whether this process already has ``env``."""
    return all(os.environ.get(k) == v for k, v in env.items())


def call_in(env: dict, fn, *args):
    """``fn(*args)`` here when this process has ``env``, else in the worker started with it (``fn``
    must be importable by module and name, its arguments and result picklable)."""
    if satisfied(env):
        return fn(*args)
    key = tuple(sorted(env.items()))
    if key not in _EXECUTORS:
        import concurrent.futures
        import multiprocessing

        _EXECUTORS[key] = executor = concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_set_environment, initargs=(env,))
        atexit.register(executor.shutdown, cancel_futures=True)
    return _EXECUTORS[key].submit(fn, *args).result()
