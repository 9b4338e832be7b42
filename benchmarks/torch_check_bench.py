"""Benchmark: `optconform check --adapter torch` over the CPU matrix, and the adapter's overhead
over a bare hand-written torch loop doing the same steps, side by side in one process.

    python benchmarks/torch_check_bench.py

1. The whole CPU matrix except the compiled path (forloop, foreach, fused, differentiable,
   scheduler; every dtype), through the same harness `optconform check` uses; then the compiled
   path on its own (it recompiles for every case).
2. Overhead: for every Adam and SGD vector in float32 on the forloop path, the adapter's `run`
   against a bare loop that builds the optimizer once, assigns pre-built gradient tensors and
   calls step() — the same steps, reading the parameters back after every step as the adapter
   does. Ratio = adapter / bare, best of 3.
"""
from __future__ import annotations

import time

from optconform.adapters.harness import Selection, VectorCache, plan, run_case
from optconform.adapters.protocol import Implementation
from optconform.adapters.torch_adapter import TorchAdapter
from optconform.reference import vectors as V


def matrix(paths) -> tuple[float, dict]:
    adapter, directory = TorchAdapter(), V.default_vector_dir()
    vectors = VectorCache(directory)
    cases = plan(adapter, directory, Selection(code_paths=paths, devices=("cpu",)), vectors.manifest)
    start = time.perf_counter()
    counts: dict = {}
    for case in cases:
        verdict = run_case(adapter, case, vectors).verdict
        counts[verdict] = counts.get(verdict, 0) + 1
    return time.perf_counter() - start, counts


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


def overhead() -> tuple[float, float, int]:
    adapter, directory = TorchAdapter(), V.default_vector_dir()
    manifest = V.read_manifest(directory)
    docs = []
    for rel, entry in manifest["files"].items():
        alg = rel.split("/", 1)[0]
        if alg in ("adam", "sgd") and "torch" in entry["profiles"]:
            doc = V.load_vector(directory, rel, manifest)
            if "grads" in doc["inputs"] and len(doc["inputs"]["groups"]) == 1 and "schedule" not in doc["inputs"] \
                    and "checkpoint_at" not in doc["inputs"] and "float32" in doc["dtypes"]:
                docs.append(doc)
    impl = Implementation("torch", "forloop", "cpu", "float32")
    best_adapter = best_bare = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for doc in docs:
            adapter.run(doc, impl)
        best_adapter = min(best_adapter, time.perf_counter() - start)
        start = time.perf_counter()
        for doc in docs:
            bare(doc)
        best_bare = min(best_bare, time.perf_counter() - start)
    return best_adapter, best_bare, len(docs)


def main() -> None:
    seconds, counts = matrix(("forloop", "foreach", "fused", "differentiable", "scheduler"))
    print(f"torch CPU matrix without the compiled path: {sum(counts.values())} cases in {seconds:.1f} s {counts}")
    seconds, counts = matrix(("compiled",))
    print(f"torch compiled path: {sum(counts.values())} cases in {seconds:.1f} s {counts}")
    a, b, n = overhead()
    print(f"adapter overhead on {n} Adam/SGD vectors (float32, forloop): adapter {a:.3f} s, bare loop {b:.3f} s, "
          f"ratio {a / b:.2f}x")


if __name__ == "__main__":
    main()
