"""How far float64 cosine schedules are from the exact values, as T grows
(spec/algorithms/cosine.md, spec/tolerance.md).

For each horizon T, torch's CosineAnnealingLR (η = 0.1, eta_min = 0: its recursive get_lr) and
optax's cosine_decay_schedule (init_value 0.1, decay_steps T, alpha 0; jax_enable_x64) give
η_k for k = 0 .. T − 1; each is compared with the exact η_k = η(1 + cos(πk/T))/2 (mpmath).
Printed per implementation: the largest error in ulps of the value itself (near k = T − 1,
1 + cos(πk/T) ≈ (π/T)²/2 cancels, so this grows like T²), and the largest error in ulps of
σ_k = max(|η_k|, |η_{k−1}|, |η|), the scale of the float64 check (spec/tolerance.md), against that
check's bound 8(k + 1) ulps at the same k.

    python benchmarks/cosine_float64_error.py 20 100 1000
"""
from __future__ import annotations

import sys
import warnings

import mpmath

mpmath.mp.prec = 200
ETA = 0.1


def exact(T: int) -> list:
    return [mpmath.mpf(ETA) * (1 + mpmath.cos(mpmath.pi * k / T)) / 2 for k in range(T)]


def ulp(x: float) -> float:
    import math

    return math.ulp(abs(x)) if x else math.ulp(0.0)


def torch_values(T: int) -> list:
    import torch

    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=ETA)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=T, eta_min=0.0)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(T):
            out.append(sched.get_last_lr()[0])
            opt.step()
            sched.step()
    return out


def optax_values(T: int) -> list:
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    schedule = optax.cosine_decay_schedule(jnp.float64(ETA), T, 0.0)
    return [float(schedule(k)) for k in range(T)]


def report(name: str, T: int, values: list) -> str:
    """The largest error in ulps of the value (and its k), and in ulps of σ_k (the check's scale,
    and its k), and the smallest margin to the check's bound 8(k + 1) over all k."""
    truth = exact(T)
    worst_value = worst_sigma = 0.0
    at_value = at_sigma = 0
    within = True
    for k, (got, want) in enumerate(zip(values, truth)):
        err = abs(mpmath.mpf(got) - want)
        in_value = float(err / ulp(float(want)))
        sigma = max(abs(float(want)), abs(float(truth[k - 1])) if k else 0.0, ETA)
        in_sigma = float(err / ulp(sigma))
        within = within and in_sigma <= 8 * (k + 1)
        if in_value > worst_value:
            worst_value, at_value = in_value, k
        if in_sigma > worst_sigma:
            worst_sigma, at_sigma = in_sigma, k
    return (f"T={T} {name}: {round(worst_value, -1 if worst_value >= 100 else 0):.0f} ulps of the value at k={at_value}; "
            f"{worst_sigma:.1f} ulps of sigma at k={at_sigma}; "
            f"{'within' if within else 'OUTSIDE'} the float64 bound 8(k+1) at every k")


def main(argv: list) -> int:
    for T in [int(a) for a in argv] or [20, 100, 1000]:
        print(report("torch", T, torch_values(T)))
        print(report("optax", T, optax_values(T)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
