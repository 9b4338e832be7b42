"""Benchmark: `optconform check --adapter torch` over the CPU matrix, and the adapter's overhead
over a bare hand-written torch loop doing the same steps, side by side in one process.

    python benchmarks/torch_check_bench.py [--quick]

1. Wall time of the command itself, `optconform check --adapter torch --quiet` (every CPU code
   path including the compiled one, every dtype, trajectory mode), with the default number of
   worker processes (one per CPU) and with `--jobs 1`; then `--mode one-step`. (`--quick` skips
   the single-process and one-step runs.)
2. Overhead: for every Adam and SGD vector in float32 on the forloop path, the adapter's `run`
   against a bare loop that builds the optimizer once, assigns pre-built gradient tensors and
   calls step() — the same steps, reading the parameters back after every step as the adapter
   does (the adapter also reads the state back, which the checker needs). Ratio = adapter /
   bare, best of 5, alternating the two.
"""
from __future__ import annotations

import time

from optconform.adapters.protocol import Implementation
from optconform.adapters.frameworks.torch_adapter import TorchAdapter
from side_by_side import best_of, plain_vectors


def bare(doc) -> None:
    import torch

    inputs = doc["inputs"]
    params = {n: torch.nn.Parameter(torch.tensor([float(v) for v in t["values"]], dtype=torch.float32)
                                    .reshape(t["shape"])) for n, t in inputs["params"].items()}
    h = doc["inputs"]["groups"][0]["hyper"]
    if doc["algorithm"] == "adam":
        opt = torch.optim.Adam(list(params.values()), lr=float(h["lr"]), betas=(float(h["beta1"]), float(h["beta2"])),
                               eps=float(h["eps"]), weight_decay=float(h["weight_decay"]), foreach=False)
    else:
        opt = torch.optim.SGD(list(params.values()), lr=float(h["lr"]), momentum=float(h["momentum"]),
                              dampening=float(h["dampening"]), nesterov=bool(h["nesterov"]),
                              weight_decay=float(h["weight_decay"]), foreach=False)
    grads = [{n: torch.tensor([float(v) for v in g], dtype=torch.float32).reshape(params[n].shape)
              for n, g in step.items()} for step in inputs["grads"]]
    out = []
    for step in grads:
        for n, g in step.items():
            params[n].grad = g
        opt.step()
        out.append({n: p.detach().double().reshape(-1).tolist() for n, p in params.items()})


def overhead(rounds: int = 3) -> tuple[float, float, int]:
    adapter, docs = TorchAdapter(), plain_vectors("torch")
    impl = Implementation("torch", "forloop", "cpu", "float32")
    best_adapter, best_bare = best_of(lambda doc: adapter.run(doc, impl), bare, docs, rounds)
    return best_adapter, best_bare, len(docs)


def command(*args: str) -> tuple[float, dict]:
    """Wall time and summary of one `optconform check` run (a fresh process, as a user runs it)."""
    import json
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        report = f"{tmp}/r.json"
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "optconform.adapters", "check", "--adapter", "torch", "--quiet",
                        "--device", "cpu", "--json", report, *args], check=False, capture_output=True)
        seconds = time.perf_counter() - start
        summary = json.load(open(report))["summary"]
    return seconds, {k: summary[k] for k in ("total", "pass", "fail", "error", "known", "skip", "jobs")}


def main() -> None:
    import sys

    quick = "--quick" in sys.argv
    runs = [("trajectory, default jobs", ())]
    if not quick:
        runs += [("trajectory, --jobs 1", ("--jobs", "1")), ("one-step, default jobs", ("--mode", "one-step"))]
    for label, args in runs:
        seconds, summary = command(*args)
        print(f"optconform check --adapter torch ({label}): {seconds:.1f} s wall, {summary}")
    best_a = best_b = float("inf")
    for _ in range(5):
        a, b, n = overhead(rounds=1)
        best_a, best_b = min(best_a, a), min(best_b, b)
    print(f"adapter overhead on {n} Adam/SGD vectors (float32, forloop): adapter {best_a:.3f} s, "
          f"bare loop {best_b:.3f} s, ratio {best_a / best_b:.2f}x")


if __name__ == "__main__":
    main()
