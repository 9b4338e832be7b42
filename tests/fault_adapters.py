"""Small faulty adapters for the fault tests (tests/test_faults.py), built on toy_adapters.ExactAdapter.

Each replays the exact reference (so every other case passes) and misbehaves in one scenario:

* ``AbortAdapter``: ``os.abort()`` in ``probe`` (SIGABRT: the worker dies);
* ``ExitAdapter``: ``os._exit(3)`` in ``probe``; ``SysExitAdapter``: ``sys.exit(4)`` there;
* ``SleepAdapter``: ``time.sleep`` for ever in ``probe``;
* ``BusyAdapter``: a regular expression that backtracks for ever in ``probe``: C code that holds
  the GIL and never checks for signals, so nothing inside the process can interrupt it;
* ``EnvironmentAdapter``: three code paths that each need their own worker environment;
* ``BatchAdapter``: runs every vector of an algorithm as one batch; ``BatchAbortAdapter``,
  ``BatchRaiseAdapter``: the same, of an algorithm as one batch
  and the batch that holds ``probe``
  dies (SIGABRT) or raises, as does ``probe`` run alone;
* ``UnavailableAdapter``: ``available()`` reports a failed framework import;
  ``RaisingAvailableAdapter``: ``available()`` raises;
* ``NoisyAdapter``: writes to stdout and stderr from Python and straight to file descriptors 1
  and 2 (as TensorFlow's C++ logging does), emits a Python warning and log records, one of them
  through a logger that does not propagate (as torch's loggers do), in every case; its
  ``available()`` (run in the parent) writes a banner to descriptor 2.

``IMPORT_FAILS`` and ``IMPORT_RAISES`` are the sources of port modules whose import fails (a
framework that is not installed; one whose import raises something else): tests write them into
a folder and name them as ``module:attr``.
"""
import logging
import os
import re
import sys
import time
import warnings

from optconform.adapters.protocol import Implementation
from tests.toy_adapters import ExactAdapter

FAULTY_SCENARIO = "probe"


class AbortAdapter(ExactAdapter):
    name = "abort"

    def run(self, doc, impl):
        if doc["scenario"] == FAULTY_SCENARIO:
            os.abort()
        return super().run(doc, impl)


class ExitAdapter(ExactAdapter):
    name = "exit"

    def run(self, doc, impl):
        if doc["scenario"] == FAULTY_SCENARIO:
            os._exit(3)
        return super().run(doc, impl)


class SysExitAdapter(ExactAdapter):
    name = "sysexit"

    def run(self, doc, impl):
        if doc["scenario"] == FAULTY_SCENARIO:
            sys.exit(4)
        return super().run(doc, impl)


class SleepAdapter(ExactAdapter):
    name = "sleep"

    def run(self, doc, impl):
        if doc["scenario"] == FAULTY_SCENARIO:
            while True:
                time.sleep(3600)
        return super().run(doc, impl)


class BusyAdapter(ExactAdapter):
    name = "busy"

    def run(self, doc, impl):
        if doc["scenario"] == FAULTY_SCENARIO:
            # catastrophic backtracking: 2**60 paths, all inside the C regex engine
            re.match(r"(a+)+$", "a" * 60 + "!")
        return super().run(doc, impl)


class UnavailableAdapter(ExactAdapter):
    name = "unavailable"

    def available(self):
        return False, "fakeframework failed to import: libfake.so: cannot open shared object file"


class RaisingAvailableAdapter(ExactAdapter):
    name = "raising"

    def available(self):
        raise OSError("libcudart.so.12: cannot open shared object file")


_QUIET_LOGGER = logging.getLogger("fakeframework._dynamo")
_QUIET_LOGGER.propagate = False
_QUIET_LOGGER.addHandler(logging.StreamHandler(sys.stderr))


class NoisyAdapter(ExactAdapter):
    name = "noisy"

    def available(self):
        os.write(2, b"NOISE fd2 banner while the parent plans (a framework imported to list devices)\n")
        return True, ""

    def run(self, doc, impl):
        print("NOISE python stdout")
        print("NOISE python stderr", file=sys.stderr)
        os.write(1, b"NOISE fd1 banner\n")
        os.write(2, b"NOISE fd2 I0000 cpu_feature_guard.cc] This binary is optimized\n")
        warnings.warn(f"fake deprecation in {doc['scenario']}", UserWarning)
        logging.getLogger("fakeframework").warning("recompiling for %s", doc["scenario"])
        _QUIET_LOGGER.warning("graph break in %s", doc["scenario"])
        logging.getLogger("fakeframework").info("an info record is not a note")
        return super().run(doc, impl)


ENVIRONMENT_VARIABLE = "OPTCONFORM_TEST_WORKER_ENVIRONMENT"


class EnvironmentAdapter(ExactAdapter):
    """Three code paths, each needing its own worker environment (as Keras needs its backend set
    before it is imported): ``run`` fails unless the worker started with the code path's value,
    and notes which process ran the case."""

    name = "environment"
    CODE_PATHS = ("tensorflow", "jax", "torch")

    def implementations(self, algorithm):
        return [Implementation(self.name, path, "cpu", "float64") for path in self.CODE_PATHS]

    def worker_environment(self, impl):
        return {ENVIRONMENT_VARIABLE: impl.code_path}

    def run(self, doc, impl):
        found = os.environ.get(ENVIRONMENT_VARIABLE)
        if found != impl.code_path:
            raise RuntimeError(f"ran in a worker started for {found!r}, not {impl.code_path!r}")
        result = super().run(doc, impl)
        result.notes.append(f"pid {os.getpid()}")
        return result


class BatchAdapter(ExactAdapter):
    """Every trajectory case of an algorithm in one batch; each case's run notes the batch size."""

    name = "batch"

    def batch_key(self, doc, impl, mode):
        return doc["algorithm"] if mode == "trajectory" else None

    def fault(self):
        pass

    def run(self, doc, impl):
        if doc["scenario"] == FAULTY_SCENARIO:
            self.fault()
        return super().run(doc, impl)

    def run_batch(self, items):
        if any(doc["scenario"] == FAULTY_SCENARIO for doc, _ in items):
            self.fault()
        runs = [super(BatchAdapter, self).run(doc, impl) for doc, impl in items]
        for run in runs:
            run.notes.append(f"batch of {len(items)}")
        return runs


class BatchAbortAdapter(BatchAdapter):
    name = "batchabort"

    def fault(self):
        os.abort()


class BatchRaiseAdapter(BatchAdapter):
    name = "batchraise"

    def fault(self):
        raise ValueError("probe fails")


IMPORT_FAILS = '''
import optconform_fakeframework_that_is_not_installed  # noqa: F401


class Adapter:
    pass
'''

IMPORT_RAISES = '''
raise RuntimeError("CUDA driver initialization failed")
'''
