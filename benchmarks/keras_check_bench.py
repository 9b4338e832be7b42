"""Benchmark: `optconform check --adapter keras` (Keras 3 on every backend) and `--adapter tf_keras`
over their CPU matrices, as a user runs them, with where the time goes.

    python benchmarks/keras_check_bench.py [--jobs N] [--adapter keras|tf_keras ...] [--unbatched]

For each adapter: the wall time of `optconform check --adapter NAME --quiet --device cpu --json
FILE` (a fresh process, the default number of workers: one per CPU), first with an empty cache of
reference results (a fresh OPTCONFORM_CACHE folder: what a first run on a machine costs), then
again with that cache filled; with --unbatched a third run with OPTCONFORM_BATCH=off (every case
alone, the cache filled), so batching is measured side by side. Its summary, and per code
path the number of cases and the seconds they took inside the workers (summed over the workers:
each backend runs in workers of its own, which import TensorFlow, jax or torch once and keep it
for every case they run). The machine's load average before the run is printed beside it: the
numbers mean something only on an idle machine.
"""
from __future__ import annotations

import collections
import json
import os
import subprocess
import sys
import tempfile
import time


def command(adapter: str, jobs: int | None, env: dict) -> tuple[float, dict, dict]:
    """Wall time, summary and per-code-path (cases, seconds) of one `optconform check` run."""
    with tempfile.TemporaryDirectory() as tmp:
        report = f"{tmp}/r.json"
        args = ["--jobs", str(jobs)] if jobs else []
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "optconform.adapters", "check", "--adapter", adapter, "--quiet",
                        "--device", "cpu", "--json", report, "--no-html", *args], check=False, capture_output=True,
                       env={**os.environ, **env})
        seconds = time.perf_counter() - start
        doc = json.load(open(report))
    paths: dict = collections.defaultdict(lambda: [0, 0.0])
    for case in doc["cases"]:
        entry = paths[case["code_path"]]
        entry[0] += 1
        entry[1] += case["seconds"]
    summary = {k: doc["summary"][k] for k in ("total", "pass", "fail", "error", "known", "skip", "jobs")}
    return seconds, summary, dict(paths)


def main() -> None:
    jobs = int(sys.argv[sys.argv.index("--jobs") + 1]) if "--jobs" in sys.argv else None
    adapters = [sys.argv[i + 1] for i, a in enumerate(sys.argv) if a == "--adapter"] or ["keras", "tf_keras"]
    for adapter in adapters:
        with tempfile.TemporaryDirectory() as cache:
            runs = [("empty reference cache", {"OPTCONFORM_CACHE": cache}),
                    ("reference cache filled", {"OPTCONFORM_CACHE": cache})]
            if "--unbatched" in sys.argv:
                runs.append(("cache filled, OPTCONFORM_BATCH=off", {"OPTCONFORM_CACHE": cache, "OPTCONFORM_BATCH": "off"}))
            for label, env in runs:
                load = os.getloadavg()[0]
                seconds, summary, paths = command(adapter, jobs, env)
                print(f"optconform check --adapter {adapter} ({label}): {seconds:.1f} s wall "
                      f"(load average before: {load:.2f}), {summary}")
                for path, (cases, spent) in sorted(paths.items(), key=lambda kv: -kv[1][1]):
                    print(f"  {path:22s} {cases:5d} cases  {spent:7.1f} s in the workers")


if __name__ == "__main__":
    main()
