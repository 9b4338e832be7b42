"""torch's OneCycleLR against optax's cosine_onecycle_schedule shifted by one update
(spec/algorithms/one_cycle.md): T = 20, pct_start 0.3, η = 0.1, div 25, final_div 1e4, float64.
Prints the updates k at which torch[k] == optax[k + 1] exactly, and the largest |torch[k] − optax[k]|
before the peak.

    python benchmarks/one_cycle_shift.py
"""
from __future__ import annotations

import warnings

import jax

jax.config.update("jax_enable_x64", True)
import optax  # noqa: E402
import torch  # noqa: E402

T = 20
p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
opt = torch.optim.SGD([p], lr=0.1)
sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=T, pct_start=0.3, div_factor=25,
                                            final_div_factor=1e4, cycle_momentum=False)
torch_lr = []
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    for k in range(T + 1):  # update T is allowed (extrapolates); T + 1 raises
        torch_lr.append(sched.get_last_lr()[0])
        opt.step()
        if k < T:
            sched.step()
schedule = optax.cosine_onecycle_schedule(T, 0.1, pct_start=0.3, div_factor=25, final_div_factor=1e4)
optax_lr = [float(schedule(k)) for k in range(T + 2)]
equal = [k for k in range(T + 1) if torch_lr[k] == optax_lr[k + 1]]
print(f"torch[k] == optax[k+1] for k = {', '.join(map(str, equal))}")
print(f"k = {T}: torch {torch_lr[T]:.6g}, optax[{T + 1}] {optax_lr[T + 1]:.6g}")
print(f"largest |torch[k] - optax[k]| for k < 6: {max(abs(a - b) for a, b in zip(torch_lr[:6], optax_lr[:6])):.4g}")
