"""Worker processes: every case of ``optconform check`` runs in one, under a time limit, and one
faulty case costs that case alone.

The parent (:class:`Pool`) starts up to ``jobs`` workers (spawned, each in its own process group)
and hands each a *piece*: cases that share an adapter, algorithm and code path, sent one by one
with the next already waiting in the pipe. A piece may name environment variables its worker must
start with (:class:`Piece`: an adapter's ``worker_environment``, e.g. the backend Keras fixes at
import); a worker runs only pieces of the environment it started with, and an idle worker whose
environment nothing pending needs makes room for one that is needed. A worker keeps what it has loaded — vectors, adapters,
the framework and its caches (torch.compile's, jax.jit's) — for every case it runs, and returns
each case's verdict as soon as the case ends; it runs them in order, so the parent always knows
which case a worker is running and since when:

* a case still running ``timeout`` seconds after it started (adapter loading included) is
  stopped: the worker writes its Python stack (faulthandler, SIGUSR1), then it and its process
  group are killed; the case's verdict is ``error``, "timed out after N s", with the stack in its
  notes. This holds for any hang (a sleep, a C loop that never releases the GIL), with any
  ``jobs``; the parent never runs a case itself.
* a worker that dies (a signal such as SIGSEGV or SIGABRT, ``os._exit``, the out-of-memory killer)
  costs the case it was running: ``error``, "the worker process died (signal SIGABRT) while
  running this case", with the tail of what the worker wrote (faulthandler's traceback of a crash
  included) in the case's notes.

In both cases the rest of the piece goes back to the queue and runs in another worker (a fresh
one replaces the dead one), each with its real verdict.

A piece's item is one case, or a *batch*: cases an adapter runs together (harness.run_batch, for
cases of equal ``batch_key``), sent as one message and answered with one result per case. A batch
that raises is run again case by case in the worker; a batch that times out or kills its worker
goes back to the queue as single cases, so a faulty case still costs that case alone (and the
time limit applies to the batch as to a case).

Framework noise stays off the user's terminal: a worker's file descriptors 1 and 2 (C++ logging of
TensorFlow and XLA writes there directly) go to a log file in a temporary folder, read only to
explain a death or a timeout (and the output of a case whose verdict is ``error``). The Python
warnings and log records (level WARNING and above) a case emits become its ``notes``
(:class:`Notes`). :func:`captured_output` gives the parent the same silence while it loads
adapters and plans the cases.

Imports no framework.
"""
from __future__ import annotations

import collections
import contextlib
import faulthandler
import logging
import os
import re
import signal
import sys
import tempfile
import time
import warnings
from pathlib import Path

DEFAULT_TIMEOUT = 300.0  # seconds; see the --timeout help in cli.py
# A process may hold 65,530 memory mappings (Linux's vm.max_map_count), and every compiled program
# a framework keeps (XLA executables, TensorFlow functions) holds some: a worker that has run
# thousands of cases retires past this many, after its case, and a fresh one takes its place
# (OPTCONFORM_WORKER_MAPPINGS overrides it; 0: never).
RETIRE_MAPPINGS = 40000
COUNT_EVERY = 2.0  # seconds between two counts of a worker's memory mappings
STARTUP_LIMIT = 120.0  # seconds a fresh worker may take to import optconform and read the manifest
MAX_NOTES = 20
NOTE_CHARS = 500
TAIL_LINES = 30
TAIL_CHARS = 4000

# the frameworks' own log levels, for versions that honour them (TensorFlow 2.21 logs through absl
# and ignores TF_CPP_MIN_LOG_LEVEL: its banners are caught by the redirection instead)
QUIET_ENV = {"TF_CPP_MIN_LOG_LEVEL": "2", "GRPC_VERBOSITY": "ERROR", "GLOG_minloglevel": "2"}


def quiet_environment() -> None:
    """Set :data:`QUIET_ENV` where the user has not chosen otherwise."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


@contextlib.contextmanager
def captured_output():
    """Descriptors 1 and 2 (and ``sys.stdout``/``sys.stderr``) go to a temporary file inside the
    block, which is discarded; the parent's planning (importing a framework to list its devices)
    thus prints nothing. Exceptions pass through after the descriptors are restored."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                for stream in (sys.stdout, sys.stderr):
                    with contextlib.suppress(Exception):
                        stream.flush()
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
    finally:
        for fd in saved:
            os.close(fd)


# --- notes: a case's Python warnings and log records --------------------------------------------


def _short(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= NOTE_CHARS else text[:NOTE_CHARS - 1] + "…"


class Notes:
    """Collects, while :meth:`recording`, the Python warnings and the log records of level WARNING
    and above, also of loggers that do not propagate to the root (torch's), through the log record
    factory. Warnings keep the process's filters; each case shows its own."""

    def __init__(self):
        self.current: list | None = None
        previous = logging.getLogRecordFactory()

        def factory(*args, **kwargs):
            record = previous(*args, **kwargs)
            if self.current is not None and record.levelno >= logging.WARNING:
                try:
                    text = record.getMessage()
                except Exception:  # noqa: BLE001 - a malformed record is the framework's business
                    text = str(record.msg)
                self.current.append(f"{record.levelname.lower()} [{record.name}]: {text}")
            return record

        logging.setLogRecordFactory(factory)

    @contextlib.contextmanager
    def recording(self):
        """Yields the list that holds the notes once the block ends (deduplicated, at most
        :data:`MAX_NOTES`)."""
        out: list = []
        self.current = []
        try:
            with warnings.catch_warnings(record=True) as caught:
                yield out
        finally:
            found = list(self.current)
            self.current = None
            found += [f"{w.category.__name__}: {w.message} ({Path(w.filename).name}:{w.lineno})" for w in caught]
            unique = list(dict.fromkeys(_short(n) for n in found))
            out += unique[:MAX_NOTES]
            if len(unique) > MAX_NOTES:
                out.append(f"... and {len(unique) - MAX_NOTES} more")


# --- output of a worker -------------------------------------------------------------------------


def read_tail(path, offset: int = 0) -> str:
    """The last :data:`TAIL_LINES` lines (at most :data:`TAIL_CHARS` characters) written to
    ``path`` after ``offset``."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except OSError:
        return ""
    text = data.decode("utf-8", "replace").strip("\n")
    lines = [line.rstrip() for line in text.splitlines()][-TAIL_LINES:]
    return "\n".join(lines)[-TAIL_CHARS:]


_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+) in (?P<func>\S+)')


def innermost_frame(dump: str) -> str:
    """``file:line in function`` of the case's innermost Python frame in a faulthandler dump: the
    first frame of the thread whose stack holds the worker's loop (all threads are dumped)."""
    blocks, block = [], []
    for line in dump.splitlines():
        if line.rstrip().endswith("(most recent call first):"):
            block = []
            blocks.append(block)
        elif _FRAME.match(line):
            block.append(_FRAME.match(line))
    stacks = [b for b in blocks if b]
    if not stacks:
        return ""
    mine = next((b for b in stacks if any(m["func"] == "_serve" for m in b)), stacks[0])
    m = mine[0]
    return f"{Path(m['file']).name}:{m['line']} in {m['func']}"


def _first_line(dump: str, prefix: str) -> str:
    return next((line.strip() for line in dump.splitlines() if line.strip().startswith(prefix)), "")


def death_cause(exitcode) -> str:
    if exitcode is None:
        return "unknown cause"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = " (killed from outside: the out-of-memory killer?)" if name == "SIGKILL" else ""
        return f"signal {name}{hint}"
    return f"exit code {exitcode}"


# --- the worker process -------------------------------------------------------------------------


class Piece(list):
    """Cases ``(index, adapter target, Case)`` for one worker, with the environment variables the
    worker must start with (``env``: what an adapter's ``worker_environment`` asks for, e.g. the
    Keras backend, which Keras fixes at import). Pieces whose environments differ never share a
    worker. A plain list is a piece with no environment of its own."""

    def __init__(self, items=(), env: dict | None = None, affinity=None):
        super().__init__(items)
        self.env = dict(env or {})
        self.affinity = affinity  # pieces of equal affinity go to the same worker where they can


def _environment_key(piece) -> tuple:
    return tuple(sorted(getattr(piece, "env", {}).items()))


def _worker_main(conn, directory: str, log_path: str, paths: list, env: tuple = ()) -> None:
    """Entry point of a worker: the piece's environment variables set before anything imports a
    framework, its own process group (the parent kills it with its children), output to
    ``log_path``, faulthandler on fatal signals and SIGUSR1, then :func:`_serve`."""
    os.environ.update(dict(env))
    if hasattr(os, "setpgid"):
        with contextlib.suppress(OSError):
            os.setpgid(0, 0)
    if sys.platform.startswith("linux"):  # a parent killed outright (SIGKILL, CI cancel) takes its workers along
        with contextlib.suppress(Exception):
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if os.getppid() == 1:
        return  # the parent is already gone
    log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="replace", closefd=False)
    faulthandler.enable(all_threads=True)
    if hasattr(faulthandler, "register"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    quiet_environment()
    for path in reversed(paths):
        if path not in sys.path:
            sys.path.insert(0, path)
    try:
        _serve(conn, Path(directory), log_path)
    except (EOFError, OSError, KeyboardInterrupt):
        pass  # the parent went away


def _serve(conn, directory: Path, log_path: str) -> None:
    """Run the cases the parent sends, one ``(target, case)`` per message, until ``None``."""
    from .harness import VectorCache, blank_result, run_batch, run_case
    from .registry import load

    vectors = VectorCache(directory)
    notes = Notes()
    adapters: dict = {}
    conn.send(("ready", os.fstat(2).st_size))
    while True:
        item = conn.recv()
        if item is None:
            return
        target, case = item
        start = time.perf_counter()
        offset = os.fstat(2).st_size
        with notes.recording() as recorded:
            try:
                if target not in adapters:
                    try:
                        adapters[target] = load(target)
                    except BaseException as exc:  # noqa: BLE001 - reported for every case of it
                        adapters[target] = exc
                adapter = adapters[target]
                if isinstance(adapter, BaseException):
                    raise RuntimeError(f"loading adapter {target} in the worker failed: "
                                       f"{type(adapter).__name__}: {adapter}")
                if isinstance(case, list):
                    results = run_batch(adapter, case, vectors)
                else:
                    results = [run_case(adapter, case, vectors)]
            except BaseException as exc:  # noqa: BLE001 - SystemExit and the like cost this case only
                results = []
                for one in (case if isinstance(case, list) else [case]):
                    result = blank_result(one)
                    result.verdict = "error"
                    result.message = f"{type(exc).__name__}: {exc}"
                    result.seconds = time.perf_counter() - start
                    results.append(result)
        sys.stdout.flush()
        sys.stderr.flush()
        tail = read_tail(log_path, offset) if any(r.verdict == "error" for r in results) else ""
        for result in results:
            result.notes = list(result.notes) + recorded
            if result.verdict == "error" and tail:
                result.notes.append("output:\n" + tail)
        message = ("results", results) if isinstance(case, list) else ("result", results[0])
        conn.send(message + (os.fstat(2).st_size,))  # where the next case's output starts
        if _worn_out():
            conn.send(("retire",))  # the cases handed over after this one go to a fresh worker
            return


_LAST_COUNT = [float("-inf")]


def _worn_out() -> bool:
    """Whether this process holds more memory mappings than :data:`RETIRE_MAPPINGS` (Linux; never
    elsewhere). Counted at most once every :data:`COUNT_EVERY` seconds: reading /proc/self/maps
    takes about a millisecond per thousand mappings, and a worker gains a few hundred a second at
    most, far from the 25,000 between the limit and the kernel's."""
    limit = int(os.environ.get("OPTCONFORM_WORKER_MAPPINGS", RETIRE_MAPPINGS))
    if limit <= 0:
        return False
    now = time.monotonic()
    if now - _LAST_COUNT[0] < COUNT_EVERY:
        return False
    _LAST_COUNT[0] = now
    try:
        with open("/proc/self/maps", "rb") as maps:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: maps.read(1 << 20), b"")) > limit
    except OSError:
        return False


# --- the parent's side --------------------------------------------------------------------------


class _Worker:
    """One worker process as the parent sees it: its pipe, its log, and the cases handed to it.

    Two cases are in flight (the next one waits in the pipe, so the worker never waits for the
    parent); the worker runs them in order, so the first in flight is the one running, since the
    previous result came back."""

    IN_FLIGHT = 2

    def __init__(self, context, directory: Path, folder: Path, serial: int, paths: list, env: tuple = ()):
        self.log = folder / f"worker-{serial}.log"
        self.log.touch()
        self.env = env  # the environment key of the pieces it runs
        self.affinity = None  # of the last piece it took
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, str(directory), str(self.log), paths, env),
                                       name=f"optconform-worker-{serial}")
        self.process.start()
        child.close()
        self.ready = False
        self.piece: collections.deque = collections.deque()  # (index, target, case) not yet handed over
        self.inflight: collections.deque = collections.deque()  # handed over; the first is running
        self.started = time.monotonic()  # of the running case, or of the process while not ready
        self.offset = 0  # of the running case's output in the log
        self.retiring = False  # it said it leaves after its case (too many memory mappings)

    @property
    def busy(self) -> bool:
        return bool(self.piece) or bool(self.inflight)

    @property
    def current(self):
        """The (index, target, case) running, or None."""
        return self.inflight[0] if self.inflight else None

    def fill(self) -> None:
        """Hand over cases of the piece until :attr:`IN_FLIGHT` are in flight (after ``ready``). A
        worker that died keeps the case in its piece (its death is noticed by the next poll)."""
        while self.ready and self.piece and len(self.inflight) < self.IN_FLIGHT:
            item = self.piece.popleft()
            if not self.inflight:
                self.started = time.monotonic()
            try:
                self.conn.send(item[1:])
            except OSError:
                self.piece.appendleft(item)
                return
            self.inflight.append(item)

    def finished(self, offset: int) -> tuple:
        """The running case ended (its output ends at ``offset``); the next one starts now."""
        item = self.inflight.popleft()
        self.started = time.monotonic()
        self.offset = offset
        self.fill()
        return item

    def unfinished(self) -> collections.deque:
        """The cases after the running one, handed over or not: they go to another worker."""
        rest = collections.deque(list(self.inflight)[1:] + list(self.piece))
        self.inflight.clear()
        self.piece.clear()
        return rest

    def kill(self) -> None:
        """Kill the worker and its process group (compiler subprocesses included)."""
        pid = self.process.pid
        if pid is not None and hasattr(os, "killpg"):
            with contextlib.suppress(OSError):
                os.killpg(pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.process.kill()
        self.process.join(5)
        self.conn.close()

    def dump_stack(self) -> str:
        """Ask the worker for its Python stack (faulthandler on SIGUSR1); what it wrote."""
        if not hasattr(signal, "SIGUSR1") or self.process.pid is None:
            return ""
        size = self.log.stat().st_size
        with contextlib.suppress(OSError):
            os.kill(self.process.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 1.0
        last = size
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.log.stat().st_size
            if now > size and now == last:
                break
            last = now
        return read_tail(self.log, size)


class Pool:
    """Up to ``jobs`` worker processes over the vectors in ``directory``, each case limited to
    ``timeout`` seconds (0: no limit). Workers outlive :meth:`run` (a pytest session runs one case
    per call); :meth:`close` stops them."""

    def __init__(self, directory: Path, jobs: int = 1, timeout: float = DEFAULT_TIMEOUT, paths: list | None = None):
        import multiprocessing

        self.directory = Path(directory)
        self.jobs = max(1, jobs)
        self.timeout = timeout
        self.paths = list(paths or [])
        self.context = multiprocessing.get_context("spawn")
        self.folder = tempfile.TemporaryDirectory(prefix="optconform-workers-")
        self.workers: list = []
        self.stopped: list = []  # workers asked to exit (their environment is no longer needed)
        self.serial = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    def close(self) -> None:
        for w in self.workers:
            with contextlib.suppress(Exception):
                w.conn.send(None)
        for w in self.workers + self.stopped:
            w.process.join(10)
            if w.process.is_alive():
                w.kill()
            with contextlib.suppress(Exception):
                w.conn.close()
        self.workers = []
        self.stopped = []
        with contextlib.suppress(Exception):
            self.folder.cleanup()

    def _spawn(self, env: tuple = ()) -> _Worker:
        from .registry import import_paths

        self.serial += 1
        paths = list(dict.fromkeys(self.paths + import_paths()))  # the current directory, for module:attr
        w = _Worker(self.context, self.directory, Path(self.folder.name), self.serial, paths, env)
        self.workers.append(w)
        return w

    def _stop(self, w: _Worker) -> None:
        """Ask an idle worker to exit (joined in :meth:`close`), freeing its place for a worker
        with another environment."""
        with contextlib.suppress(Exception):
            w.conn.send(None)
        self.workers.remove(w)
        self.stopped.append(w)

    def _assign(self, pending: collections.deque) -> None:
        """Hand pending pieces to workers: an idle worker takes the first piece of its own
        environment with the affinity of its last piece (the programs it compiled), else one whose
        affinity no other worker holds, else the first of its environment; up to ``jobs`` workers are started for the rest; idle workers
        whose environment no pending piece has make room for the environments that are waiting."""
        for w in [w for w in self.workers if w.retiring and not w.busy]:  # gone, with nothing of ours
            w.process.join(5)
            self._retire(w)
        for w in self.workers:
            if not w.busy:
                mine = [i for i, (env, _, _) in enumerate(pending) if env == w.env]
                if mine:
                    held = {v.affinity for v in self.workers if v is not w}
                    i = next((i for i in mine if pending[i][2] is not None and pending[i][2] == w.affinity),
                             next((i for i in mine if pending[i][2] not in held), mine[0]))
                    self._give(w, pending, i)
        while pending and len(self.workers) < self.jobs:
            w = self._spawn(pending[0][0])
            self._give(w, pending, self._unclaimed(pending))
        while pending:
            idle = [w for w in self.workers if not w.busy]
            if not idle:
                break
            self._stop(idle[0])
            w = self._spawn(pending[0][0])
            self._give(w, pending, self._unclaimed(pending))

    def _unclaimed(self, pending: collections.deque) -> int:
        """The first pending piece of the first environment whose affinity no live worker has
        (so that a new worker starts on programs nobody compiled yet); else the first of it."""
        env = pending[0][0]
        taken = {w.affinity for w in self.workers if w.env == env}
        return next((i for i, (e, _, a) in enumerate(pending) if e == env and a not in taken), 0)

    @staticmethod
    def _give(w: _Worker, pending: collections.deque, i: int) -> None:
        _env, items, affinity = pending[i]
        del pending[i]
        w.piece, w.affinity = items, affinity
        w.fill()

    def _retire(self, w: _Worker) -> None:
        self.workers.remove(w)
        with contextlib.suppress(Exception):
            w.conn.close()

    def run(self, pieces: list, total: int, on_result=None) -> list:
        """Verdicts of ``pieces`` (lists of (index, adapter target, Case), indices < ``total``), as a
        list by index; ``on_result(index, result)`` is called as each case ends."""
        from multiprocessing.connection import wait

        from .harness import blank_result

        results: list = [None] * total
        pending = collections.deque((_environment_key(p), collections.deque(p), getattr(p, "affinity", None))
                                    for p in pieces if p)

        def finish(index, result):
            results[index] = result
            if on_result:
                on_result(index, result)

        def killed(w: _Worker, message: str, notes: list) -> None:
            """The worker is gone while running ``w.current``: that case is an error, the cases
            after it go back to the queue."""
            if w.current is not None and isinstance(w.current[2], list):
                # a batch: which case caused it is unknown, so each runs again alone
                indices, target, cases = w.current
                alone = [(i, target, c) for i, c in zip(indices, cases)]
                rest = w.unfinished()
                pending.appendleft((w.env, collections.deque(alone + list(rest)), w.affinity))
                self._retire(w)
                return
            if w.current is not None:
                index, _target, case = w.current
                result = blank_result(case)
                result.verdict = "error"
                result.message = message
                result.notes = [n for n in notes if n]
                result.seconds = time.monotonic() - w.started
                finish(index, result)
            rest = w.unfinished()
            if rest:
                pending.appendleft((w.env, rest, w.affinity))
            self._retire(w)

        def retired(w: _Worker) -> None:
            """The worker retired after a case: the cases handed over to it but not run, and the
            rest of its piece, go back to the queue; nothing is an error."""
            rest = collections.deque(list(w.inflight) + list(w.piece))
            w.inflight.clear()
            w.piece.clear()
            if rest:
                pending.appendleft((w.env, rest, w.affinity))
            self._retire(w)

        def not_started(w: _Worker, why: str) -> None:
            """A fresh worker failed before it could run anything: its piece is reported as errors
            (a broken environment must not respawn workers forever)."""
            tail = read_tail(w.log)
            for indices, _target, cases in w.unfinished():  # nothing was handed over: it never was ready
                for index, case in (zip(indices, cases) if isinstance(cases, list) else [(indices, cases)]):
                    result = blank_result(case)
                    result.verdict = "error"
                    result.message = f"the worker process could not start ({why})"
                    result.notes = [f"output:\n{tail}"] if tail else []
                    finish(index, result)
            self._retire(w)

        try:
            while pending or any(w.busy for w in self.workers):
                self._assign(pending)
                busy = [w for w in self.workers if w.busy]
                waits = [w.started + (self.timeout if w.ready else max(self.timeout, STARTUP_LIMIT))
                         for w in busy if self.timeout > 0 or not w.ready]
                limit = max(0.0, min(waits) - time.monotonic()) if waits else None
                wait([w.conn for w in busy] + [w.process.sentinel for w in busy], limit)
                for w in busy:
                    self._poll(w, finish, killed, not_started, retired)
        finally:
            if sys.exc_info()[0] is not None:  # interrupted: nothing may outlive the parent
                for w in list(self.workers):
                    w.kill()
                self.workers = []
        return results

    def _poll(self, w: _Worker, finish, killed, not_started, retired) -> None:
        """Read what ``w`` sent; handle its death or its time limit."""

        def drain() -> bool:
            """Handle every message waiting; True once the pipe is closed (the worker is gone)."""
            try:
                while w.conn.poll():
                    message = w.conn.recv()
                    if message[0] == "ready":
                        w.ready = True
                        w.offset = message[1]
                        w.fill()
                    elif message[0] == "result":
                        index, _target, _case = w.finished(message[2])
                        finish(index, message[1])
                    elif message[0] == "results":  # a batch: one result per case, in order
                        indices, _target, _cases = w.finished(message[2])
                        for index, result in zip(indices, message[1]):
                            finish(index, result)
                    elif message[0] == "retire":
                        w.retiring = True
            except (EOFError, OSError):
                return True
            return False

        dead = drain()
        if not dead and w.process.exitcode is not None:
            drain()  # what it sent before it exited counts
            dead = True
        if not dead:
            now = time.monotonic()
            if not w.ready and now - w.started > max(self.timeout, STARTUP_LIMIT):
                w.kill()
                not_started(w, f"it did not start within {max(self.timeout, STARTUP_LIMIT):g} s")
            elif w.ready and w.current is not None and self.timeout > 0 and now - w.started > self.timeout:
                stack = w.dump_stack()
                w.kill()
                where = innermost_frame(stack)
                message = f"timed out after {self.timeout:g} s" + (f" (in {where})" if where else "")
                killed(w, message, [f"stack when stopped:\n{stack}" if stack else ""])
            return
        w.process.join(5)
        if w not in self.workers:
            return
        if w.retiring:  # it left on its own between cases: whatever it held runs elsewhere
            retired(w)
            return
        cause = death_cause(w.process.exitcode)
        if not w.ready:
            not_started(w, cause)
            return
        if w.current is None:  # died between cases: nothing to blame, the piece goes on elsewhere
            killed(w, "", [])
            return
        tail = read_tail(w.log, w.offset)
        detail = _first_line(tail, "Fatal Python error")
        where = innermost_frame(tail)
        extra = ", ".join(x for x in (detail, f"in {where}" if where else "") if x)
        killed(w, f"the worker process died ({cause}) while running this case" + (f" ({extra})" if extra else ""),
               [f"worker output before it died:\n{tail}" if tail else ""])


# --- one function in a process started with a given environment ------------------------------------


_EXECUTORS: dict = {}


def _start_worker(env: dict, quiet: bool) -> None:
    """A worker's initializer: ``env`` set before anything imports a framework; when ``quiet``, the
    frameworks' log levels lowered and its output (TensorFlow's C++ logging writes to the
    descriptors) dropped."""
    os.environ.update(env)
    if quiet:
        quiet_environment()
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)


def satisfied(env: dict) -> bool:
    """Whether this process already has ``env``."""
    return all(os.environ.get(k) == v for k, v in env.items())


def call_in(env: dict, fn, *args, quiet: bool = True):
    """``fn(*args)`` here when this process has ``env``, else in a worker process spawned with it
    and kept for the process's life (``fn`` importable by module and name, its arguments and result
    picklable): how a command reaches a code path that needs another environment (Keras fixes its
    backend at import). ``quiet``: the function's output is dropped (here: captured_output)."""
    if satisfied(env):
        if not quiet:
            return fn(*args)
        with captured_output():
            return fn(*args)
    key = (tuple(sorted(env.items())), quiet)
    if key not in _EXECUTORS:
        import atexit
        import concurrent.futures
        import multiprocessing

        _EXECUTORS[key] = executor = concurrent.futures.ProcessPoolExecutor(
            1, mp_context=multiprocessing.get_context("spawn"), initializer=_start_worker, initargs=(env, quiet))
        atexit.register(executor.shutdown, cancel_futures=True)
    return _EXECUTORS[key].submit(fn, *args).result()
