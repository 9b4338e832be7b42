"""Benchmark: `optconform check --adapter optax` over the CPU matrix (optimizers and schedules),
cold and warm, with the share of time spent compiling; and the adapter's overhead over a bare
hand-written jitted optax loop doing the same steps, side by side in one process.

    python benchmarks/optax_check_bench.py [--quick] [--jobs N]

1. Wall time of the command as a user runs it, `optconform check --adapter optax --quiet --device
   cpu` (code paths jit and eager, every dtype, trajectory mode; schedules on their code paths),
   with the default number of worker processes: first with an empty persistent compilation cache
   (``OPTCONFORM_JAX_CACHE`` pointed at a fresh folder: every structure and every eager primitive is
   compiled), then again with that cache filled (the executables are loaded, but every program is
   still traced and lowered: jax's cache key is the lowered program). The workers report what they
   spent tracing, lowering and compiling (jax's own monitoring events, summed over the workers:
   ``OPTCONFORM_OPTAX_STATS``) and the time their cases took; the compile share is the first over
   the second. (`--quick` skips the warm run.)
2. Overhead: for every Adam and SGD vector with an explicit gradient stream and one parameter group
   in float32 on the jit path, the adapter's `run` against a bare loop: a jitted optax step taking
   the hyperparameters as arguments (compiled once per shape, as the adapter does), the gradients
   converted once, a Python loop over the steps that reads the parameters back after every step as
   the adapter does (the adapter also reads the state, which the checker needs). Compilation is
   outside both (a warm-up round first). Ratio = adapter / bare, best of 5, alternating the two.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time

from optconform.adapters.frameworks import optax_adapter
from optconform.adapters.frameworks.optax_adapter import OptaxAdapter
from optconform.adapters.protocol import Implementation
from side_by_side import best_of, plain_vectors

_BARE: dict = {}


def bare(doc) -> None:
    """The same steps as a user's training loop runs them: one jitted update per shape."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    import optax

    inputs = doc["inputs"]
    h = inputs["groups"][0]["hyper"]
    if doc["algorithm"] == "adam":
        hyper = (float(h["lr"]), float(h["beta1"]), float(h["beta2"]), float(h["eps"]))
        make = lambda lr, b1, b2, eps: optax.adam(lr, b1=b1, b2=b2, eps=eps)  # noqa: E731
    else:
        hyper = (float(h["lr"]), float(h["momentum"]))
        nesterov = bool(h["nesterov"])
        make = lambda lr, mu: optax.sgd(lr, momentum=mu, nesterov=nesterov)  # noqa: E731
    params = {n: jnp.asarray(np.asarray([float(v) for v in t["values"]], np.float32).reshape(t["shape"]))
              for n, t in inputs["params"].items()}
    key = (doc["algorithm"], tuple((n, p.shape) for n, p in params.items()), doc["algorithm"] == "sgd" and nesterov)
    if key not in _BARE:
        def step(p, s, g, hyper):
            updates, s = make(*hyper).update(g, s, p)
            return optax.apply_updates(p, updates), s

        _BARE[key] = jax.jit(step)
    step = _BARE[key]
    state = make(*hyper).init(params)
    grads = {n: np.asarray([[float(v) for v in g[n]] for g in inputs["grads"]], np.float32).reshape(
        (len(inputs["grads"]),) + tuple(inputs["params"][n]["shape"])) for n in params}
    out = []
    for i in range(len(inputs["grads"])):
        params, state = step(params, state, {n: grads[n][i] for n in params}, hyper)
        out.append({n: np.asarray(p).astype(np.float64).reshape(-1).tolist() for n, p in params.items()})
    return out


def overhead_docs() -> list:
    # the defaults scenario passes no keywords, which the bare loop's hyperparameter tuple needs
    return plain_vectors("optax", skip_scenarios=("defaults",))


def overhead(rounds: int = 5) -> tuple[float, float, int]:
    adapter, docs = OptaxAdapter(), overhead_docs()
    impl = Implementation("optax", "jit", "cpu", "float32")
    with optax_adapter.precision_context("float32"):
        for doc in docs:  # warm-up: both compile here, outside the measurement
            adapter.run(doc, impl)
            bare(doc)
        best_adapter, best_bare = best_of(lambda doc: adapter.run(doc, impl), bare, docs, rounds)
    return best_adapter, best_bare, len(docs)


def command(cache: str, jobs: int | None) -> tuple[float, dict, dict]:
    """Wall time, summary and the workers' summed compile statistics of one `optconform check` run
    (a fresh process, as a user runs it) with the persistent compilation cache in ``cache``."""
    with tempfile.TemporaryDirectory() as tmp:
        report, stats_dir = f"{tmp}/r.json", f"{tmp}/stats"
        os.mkdir(stats_dir)
        env = dict(os.environ, OPTCONFORM_JAX_CACHE=cache, OPTCONFORM_OPTAX_STATS=stats_dir)
        args = ["--jobs", str(jobs)] if jobs else []
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "optconform.adapters", "check", "--adapter", "optax", "--quiet",
                        "--device", "cpu", "--json", report, *args], check=False, capture_output=True, env=env)
        seconds = time.perf_counter() - start
        summary = json.load(open(report))["summary"]
        totals: dict = {}
        for name in os.listdir(stats_dir):
            if name.endswith(".json"):
                for key, value in json.load(open(os.path.join(stats_dir, name))).items():
                    totals[key] = totals.get(key, 0) + value
    return seconds, {k: summary[k] for k in ("total", "pass", "fail", "error", "known", "skip", "jobs")}, totals


def main() -> None:
    quick = "--quick" in sys.argv
    jobs = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else None
    with tempfile.TemporaryDirectory() as cache:
        for label in ("cold: empty compilation cache", "warm: the cache of the cold run")[:1 if quick else 2]:
            seconds, summary, totals = command(cache, jobs)
            share = totals.get("jax_compile_seconds", 0.0) / max(totals.get("run_seconds", 0.0), 1e-9)
            print(f"optconform check --adapter optax ({label}): {seconds:.1f} s wall, {summary}")
            print(f"  workers: {totals.get('runs', 0)} vectors run in {totals.get('run_seconds', 0.0):.1f} s, of which "
                  f"{totals.get('jax_compile_seconds', 0.0):.1f} s tracing, lowering and compiling ({share:.0%}); "
                  f"{totals.get('compilations', 0)} jitted steps compiled (one per structure and worker), "
                  f"{totals.get('xla_compilations', 0)} XLA programs in all (eager primitives included)")
    best_a, best_b, n = overhead(rounds=5)
    print(f"adapter overhead on {n} Adam/SGD vectors (float32, jit): adapter {best_a:.3f} s, "
          f"bare jitted loop {best_b:.3f} s, ratio {best_a / best_b:.2f}x")


if __name__ == "__main__":
    main()
