"""Benchmark: `optconform check` as a user runs it — every installed adapter by default, or the
ones named — first with empty caches, then again with them filled, with where the time goes.

    python benchmarks/check_bench.py [--adapter NAME ...] [--jobs N] [--runs K] [--unbatched]

Each run is `optconform check [--adapter NAME ...] --quiet --device cpu --json FILE --no-html`
in a fresh process with the default number of workers (one per CPU). The first run starts from
empty caches: fresh OPTCONFORM_CACHE (the reference's results under declared precision effects),
OPTCONFORM_JAX_CACHE (jax's persistent compilation cache: optax, jax.example_libraries, Keras on
jax) and TORCHINDUCTOR_CACHE_DIR (torch.compile's) folders — what a first run on a machine costs.
The next runs (``--runs``, default 2 in all) reuse them. ``--unbatched`` adds a run with
OPTCONFORM_BATCH=off (every case alone, caches filled), to measure batching side by side.

For each run: the wall time, the summary, and the seconds the cases took inside the workers
(summed over the workers, so about jobs × wall) per adapter and per adapter × code path. The
machine's load average before each run is printed beside it: the numbers mean something only on
an idle machine.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time


def command(adapters: list, jobs: int | None, env: dict) -> tuple[float, dict, dict]:
    """Wall time, summary and {(adapter, code path): [cases, seconds]} of one `optconform check`."""
    with tempfile.TemporaryDirectory() as tmp:
        report = f"{tmp}/r.json"
        args = [a for name in adapters for a in ("--adapter", name)] + (["--jobs", str(jobs)] if jobs else [])
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "optconform.adapters", "check", "--quiet", "--device", "cpu",
                        "--json", report, "--no-html", *args], check=False, capture_output=True,
                       env={**os.environ, **env})
        seconds = time.perf_counter() - start
        doc = json.load(open(report))
    paths: dict = collections.defaultdict(lambda: [0, 0.0])
    for case in doc["cases"]:
        entry = paths[(case["adapter"], case["code_path"])]
        entry[0] += 1
        entry[1] += case["seconds"]
    summary = {k: doc["summary"][k] for k in ("total", "pass", "fail", "error", "known", "skip", "jobs")}
    return seconds, summary, dict(paths)


def report(label: str, seconds: float, load: float, summary: dict, paths: dict) -> None:
    print(f"{label}: {seconds:.1f} s wall (load average before: {load:.2f}), {summary}")
    by_adapter: dict = collections.defaultdict(lambda: [0, 0.0])
    for (adapter, _), (cases, spent) in paths.items():
        by_adapter[adapter][0] += cases
        by_adapter[adapter][1] += spent
    for adapter, (cases, spent) in sorted(by_adapter.items(), key=lambda kv: -kv[1][1]):
        print(f"  {adapter:10s} {cases:5d} cases  {spent:7.1f} s in the workers")
        for (a, path), (n, s) in sorted(paths.items(), key=lambda kv: -kv[1][1]):
            if a == adapter:
                print(f"    {path:22s} {n:5d} cases  {s:7.1f} s")


def main(argv: list | None = None, default_adapters: tuple = ()) -> None:
    argv = sys.argv[1:] if argv is None else argv
    jobs = int(argv[argv.index("--jobs") + 1]) if "--jobs" in argv else None
    runs = int(argv[argv.index("--runs") + 1]) if "--runs" in argv else 2
    adapters = [argv[i + 1] for i, a in enumerate(argv) if a == "--adapter"] or list(default_adapters)
    name = " ".join(f"--adapter {a}" for a in adapters) or "(every installed adapter)"
    with tempfile.TemporaryDirectory() as cache:
        caches = {"OPTCONFORM_CACHE": f"{cache}/reference", "OPTCONFORM_JAX_CACHE": f"{cache}/jax",
                  "TORCHINDUCTOR_CACHE_DIR": f"{cache}/inductor"}
        plan = [("empty caches", caches)] + [("caches filled", caches)] * (runs - 1)
        if "--unbatched" in argv:
            plan.append(("caches filled, OPTCONFORM_BATCH=off", {**caches, "OPTCONFORM_BATCH": "off"}))
        for label, env in plan:
            load = os.getloadavg()[0]
            seconds, summary, paths = command(adapters, jobs, env)
            report(f"optconform check {name} ({label})", seconds, load, summary, paths)


if __name__ == "__main__":
    main()
