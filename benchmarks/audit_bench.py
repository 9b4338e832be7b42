"""Wall time of ``optconform audit`` as a user runs it (issue budget: at most 20 s per optimizer,
every scenario in float64 and float32, diagnosis included), for one target of each framework,
with the reference cache empty (a first audit on a machine) and filled.

    python benchmarks/audit_bench.py [--only torch|optax|keras]

Prints, per target: cases, exit status and both wall times, and the load average before each run.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

TARGETS = {
    "torch": ("torch.optim:Adam", "adam"),
    "optax": ("optax:adam", "adam"),
    "keras": ("keras.optimizers:Adam", "adam"),
}


def one(target: str, algorithm: str, cache: str) -> tuple[float, int, int]:
    with tempfile.TemporaryDirectory() as out:
        report = os.path.join(out, "a.json")
        env = dict(os.environ, OPTCONFORM_CACHE=cache, PYTHONWARNINGS="ignore")
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-m", "optconform.adapters", "audit", target, "--algorithm", algorithm,
                               "--quiet", "--json", report], capture_output=True, text=True, env=env, cwd=out)
        wall = time.perf_counter() - start
        cases = len(json.load(open(report))["cases"]) if os.path.exists(report) else 0
    return wall, proc.returncode, cases


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", choices=sorted(TARGETS))
    args = parser.parse_args()
    for name, (target, algorithm) in TARGETS.items():
        if args.only not in (None, name):
            continue
        with tempfile.TemporaryDirectory() as cache:
            load = os.getloadavg()[0]
            cold, code, cases = one(target, algorithm, cache)
            warm, _, _ = one(target, algorithm, cache)
        print(f"{target:<24} {cases:>4} cases  exit {code}  empty cache {cold:5.1f} s  cache filled {warm:5.1f} s  "
              f"(load average {load:.1f} before)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
