"""torch NAdam's ``mu_product`` after 10 steps (float64 parameters, torch's default float32
default dtype), against the two float32 emulations spec/algorithms/nadam.md compares:
Π_t = fl32(Π_{t−1}·fl32(μ_t)) (μ rounded to float32 first, the declared precision effect) and
Π_t = fl32(Π_{t−1}·μ_t) (μ kept in double), for the scenarios ``probe`` (ψ = 0.004) and
``variant_fast_schedule`` (ψ = 0.25), β₁ = 0.875 (the probe value).

    python benchmarks/nadam_mu_product.py
"""
from __future__ import annotations

import numpy as np
import torch

BETA1 = 0.875


def mu(t: int, psi: float) -> float:
    return BETA1 * (1.0 - 0.5 * 0.96 ** (t * psi))


def emulate(psi: float, steps: int, round_mu: bool) -> float:
    product = np.float32(1.0)
    for t in range(1, steps + 1):
        m = np.float32(mu(t, psi)) if round_mu else mu(t, psi)
        product = np.float32(float(product) * float(m))
    return float(product)


def torch_mu_product(psi: float, steps: int) -> float:
    p = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.NAdam([p], lr=0.015625, betas=(BETA1, 0.9990234375), momentum_decay=psi)
    for _ in range(steps):
        p.grad = torch.full((3,), 0.5, dtype=torch.float64)
        opt.step()
    return float(opt.state[p]["mu_product"])


for name, psi in (("probe", 0.004), ("variant_fast_schedule", 0.25)):
    print(f"{name}: psi={psi} step 10: torch {torch_mu_product(psi, 10):.9e}  "
          f"fl32(mu) {emulate(psi, 10, True):.9e}  double mu {emulate(psi, 10, False):.9e}")
