"""A pytest plugin: run optconform's conformance cases from any project's own test suite.

Enable it (``-p optconform.adapters.pytest_plugin`` on the command line, or
``pytest_plugins = ["optconform.adapters.pytest_plugin"]`` in a conftest) and write one test::

    def test_optconform(optconform_case):
        optconform_case.check()

then name the adapter: ``pytest --optconform-adapter my_port.conformance:MyAdapter``
(repeatable; built-in names such as ``torch`` work too). Each case becomes one test with a
readable id, e.g. ``adam-spec-tiny_grad-torch-fused-cpu-float32``. Narrow the matrix with
``--optconform-only GLOB`` (algorithms), ``--optconform-scenario GLOB``, ``--optconform-code-path
GLOB``, ``--optconform-dtype D``, ``--optconform-mode trajectory|one-step`` (default both; one-step
only for adapters that inject state), and use another vector set with ``--optconform-vectors DIR``.
A case whose verdict is ``skip`` is reported as skipped with its reason; ``fail`` and ``error``
fail the test with the checker's message; a case the profile declares as a finding is a strict
expected failure.

Cases run in the pytest process by default, where ``--pdb``, breakpoints and coverage see the
adapter's code (pytest-xdist isolates processes). ``--optconform-timeout SECONDS`` runs each case
in a worker process instead, as ``optconform check`` does: a case that hangs longer fails with
"timed out after N s", one that crashes its worker fails alone, and the worker is reused by the
next case.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from optconform.reference.errors import UserError


def pytest_addoption(parser):
    group = parser.getgroup("optconform", "optconform conformance cases")
    group.addoption("--optconform-adapter", action="append", default=[], metavar="NAME",
                    help="adapter name or module:attr whose cases become tests (repeatable)")
    group.addoption("--optconform-only", action="append", default=[], metavar="GLOB", help="algorithms")
    group.addoption("--optconform-scenario", action="append", default=[], metavar="GLOB", help="scenarios")
    group.addoption("--optconform-code-path", action="append", default=[], metavar="GLOB", help="code paths")
    group.addoption("--optconform-dtype", action="append", default=[], metavar="D", help="dtypes")
    group.addoption("--optconform-mode", action="append", default=[], metavar="M",
                    help="trajectory or one-step (repeatable; default both, one-step where the adapter injects state)")
    group.addoption("--optconform-vectors", default=None, metavar="DIR", help="vector folder")
    group.addoption("--optconform-timeout", type=float, default=None, metavar="SECONDS",
                    help="run each case in a worker process under this time limit (default: in this process)")


def pytest_configure(config):
    """Name errors in --optconform-adapter are usage errors, reported before collection."""
    from .registry import load

    for name in config.getoption("--optconform-adapter", default=[]) or []:
        try:
            load(name)
        except UserError as exc:
            raise pytest.UsageError(f"optconform: {exc}") from None
    timeout = config.getoption("--optconform-timeout", default=None)
    if timeout is not None and not timeout >= 0:
        raise pytest.UsageError(f"optconform: --optconform-timeout must be >= 0 seconds, got {timeout}")


_POOLS: dict = {}  # one worker pool per pytest session (config), with --optconform-timeout


def pytest_unconfigure(config):
    pool = _POOLS.pop(id(config), None)
    if pool is not None:
        pool.close()


def _pool(config, directory: Path):
    from .workers import Pool

    if id(config) not in _POOLS:
        _POOLS[id(config)] = Pool(directory, jobs=1, timeout=config.getoption("--optconform-timeout"))
    return _POOLS[id(config)]


_ENVIRONMENT_POOLS: dict = {}  # vector folder -> workers for cases that need their own environment
ENVIRONMENT_WORKERS = 3  # kept alive at once: one per Keras backend


def _environment_pool(directory: Path):
    """Workers (default time limit) for cases that need an environment this process lacks; one
    worker per environment stays alive, up to :data:`ENVIRONMENT_WORKERS`, closed at exit."""
    import atexit

    from .workers import Pool

    key = str(directory)
    if key not in _ENVIRONMENT_POOLS:
        _ENVIRONMENT_POOLS[key] = pool = Pool(directory, jobs=ENVIRONMENT_WORKERS)
        atexit.register(pool.close)
    return _ENVIRONMENT_POOLS[key]


class ConformanceCase:
    """One case: ``run()`` gives the checker's result, ``check()`` asserts conformance."""

    def __init__(self, adapter, case, vectors, target: str | None = None, pool=None):
        self.adapter, self.case, self.vectors = adapter, case, vectors
        self.target, self.pool = target, pool  # with a pool: run in its worker, loading ``target``

    @property
    def id(self) -> str:
        return self.case.id

    def declared_findings(self) -> list:
        """The findings the case's profile declares for it (a framework bug no axis explains)."""
        from optconform.reference.model import get

        case = self.case
        profile = get(case.algorithm).profiles.get(case.profile)
        return [f for f in (profile.findings if profile else ())
                if f.matches(case.scenario, case.impl.code_path, case.impl.device, case.impl.dtype, case.mode)]

    def run(self):
        """The checker's result, in this process, or in a worker of the pool: the session's
        (``--optconform-timeout``), or, for a case whose adapter needs a worker environment this
        process lacks (Keras on another backend than the one it may already have imported), a
        pool of workers started with it. A case with a declared finding is not diagnosed: its
        expected failure is decided by the verdict and the finding alone (:meth:`check`)."""
        import dataclasses
        import os

        from .harness import run_case, worker_environment
        from .workers import Piece

        case = dataclasses.replace(self.case, diagnose=False) if self.declared_findings() else self.case
        env = worker_environment(self.adapter, case.impl)
        pool = self.pool
        if pool is None and self.target is not None and any(os.environ.get(k) != v for k, v in env.items()):
            pool = _environment_pool(self.vectors.directory)
        if pool is not None and self.target is not None:
            return pool.run([Piece([(0, self.target, case)], env)], 1)[0]
        return run_case(self.adapter, case, self.vectors)

    def check(self):
        """Pass, skip with the checker's reason, or fail with its message. A case its profile
        declares as a finding is an expected failure, strictly: if the verdict is no longer the
        declared one, the test fails and asks for the profile to be updated."""
        result = self.run()
        if result.verdict == "skip":
            pytest.skip(result.message)
        declared = self.declared_findings()
        if declared:
            if result.known_finding:
                pytest.xfail(f"declared finding: {result.known_finding}")
            pytest.fail(f"{result.id}: the profile declares a finding here ({declared[0].note}) but the verdict is "
                        f"{result.verdict}: {result.message or 'no message'}; update the profile's findings",
                        pytrace=False)
        if result.verdict != "pass":
            why = (result.diagnosis or {}).get("summary")
            pytest.fail(f"{result.id}: {result.verdict}: {result.message}" + (f"; diagnosis: {why}" if why else ""),
                        pytrace=False)
        return result


def conformance_cases(config, default_adapters=()) -> list:
    from optconform.reference.vectors import default_vector_dir

    from .harness import Selection, VectorCache, plan
    from .registry import availability, load

    names = config.getoption("--optconform-adapter") or list(default_adapters)
    directory = Path(config.getoption("--optconform-vectors") or default_vector_dir())
    selection = Selection(algorithms=tuple(config.getoption("--optconform-only") or ["*"]),
                          scenarios=tuple(config.getoption("--optconform-scenario") or ["*"]),
                          code_paths=tuple(config.getoption("--optconform-code-path") or ["*"]),
                          dtypes=tuple(config.getoption("--optconform-dtype") or ()),
                          modes=tuple(config.getoption("--optconform-mode") or ("trajectory", "one-step")))
    try:
        vectors = VectorCache(directory)
        pool = _pool(config, directory) if config.getoption("--optconform-timeout") is not None else None
        out = []
        for name in names:
            adapter = load(name)
            ok, _reason = availability(adapter)
            if not ok:
                continue
            out += [ConformanceCase(adapter, c, vectors, name, pool)
                    for c in plan(adapter, directory, selection, vectors.manifest)]
    except UserError as exc:
        raise pytest.UsageError(f"optconform: {exc}") from None
    return out


def pytest_generate_tests(metafunc):
    if "optconform_case" in metafunc.fixturenames:
        default = getattr(metafunc.module, "OPTCONFORM_DEFAULT_ADAPTERS", ())
        cases = conformance_cases(metafunc.config, default)
        metafunc.parametrize("optconform_case", cases, ids=[c.id for c in cases])
