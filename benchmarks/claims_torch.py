"""torch scheduler facts the spec pages quote, one line each: how many float64 ulps the recursive
schedulers (ExponentialLR, StepLR, MultiStepLR) drift from the exact rate, ConstantLR's undoing of
its factor, ChainedScheduler with an absolute child after a recursive one, and ChainedScheduler of
ExponentialLR and CosineAnnealingLR against the product of the two run alone (a product only for
eta_min = 0).

The exact rate is computed in rationals from the decimal hyperparameters (η = 0.1, γ = 0.95 is
η·γᵏ exactly), and an error is |lr − exact| in ulps of the exact value (math.ulp of the float64
nearest to it).

    python benchmarks/claims_torch.py
"""
from __future__ import annotations

import math
from fractions import Fraction

import torch


def _scheduler_lrs(make, steps: int, lr: float = 0.1) -> list[float]:
    """The learning rate of updates k = 0 … steps − 1 (torch's get_last_lr after k scheduler steps)."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)
    sched = make(opt)
    out = []
    for _ in range(steps):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return out


def _ulps(got: float, exact: Fraction) -> float:
    return float(abs(Fraction(got) - exact) / Fraction(math.ulp(float(exact))))


def main() -> None:
    eta = Fraction("0.1")
    lrs = _scheduler_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.95), 20)
    errors = [_ulps(x, eta * Fraction("0.95") ** k) for k, x in enumerate(lrs)]
    worst = max(range(len(errors)), key=errors.__getitem__)
    print(f"ExponentialLR gamma=0.95 lr=0.1: {errors[17]:.2g} ulp at k=17; largest over k=0..19 "
          f"{errors[worst]:.2g} ulp at k={worst}")
    lrs = _scheduler_lrs(lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=10, gamma=0.1), 31)
    print("StepLR step_size=10 gamma=0.1 lr=0.1: " + ", ".join(
        f"{_ulps(lrs[k], eta * Fraction('0.1') ** (k // 10)):.2g} ulp at k={k}" for k in (10, 20, 30)))
    milestones = (30, 60, 80)
    lrs = _scheduler_lrs(lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=list(milestones), gamma=0.1), 81)
    print("MultiStepLR milestones=30,60,80 gamma=0.1 lr=0.1: " + ", ".join(
        f"{_ulps(lrs[k], eta * Fraction('0.1') ** sum(k >= m for m in milestones)):.2g} ulp at k={k}"
        for k in milestones))
    lrs = _scheduler_lrs(lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=0.1, total_iters=5), 7)
    print(f"ConstantLR factor=0.1 total_iters=5 lr=0.1: k=4 {lrs[4]!r}, k=5 {lrs[5]!r}")

    def chained(o):
        return torch.optim.lr_scheduler.ChainedScheduler([
            torch.optim.lr_scheduler.MultiplicativeLR(o, lambda k: 0.875),
            torch.optim.lr_scheduler.LambdaLR(o, lambda k: 1 / (1 + k / 2))])

    lrs = _scheduler_lrs(chained, 5)
    print("ChainedScheduler [MultiplicativeLR(0.875), LambdaLR(1/(1 + k/2))] lr=0.1: "
          + " ".join(f"k={k} {x:.10g}" for k, x in enumerate(lrs)))
    print("0.1/(1 + k/2): " + " ".join(f"k={k} {0.1 / (1 + k / 2):.10g}" for k in range(5)))
    exponential = _scheduler_lrs(lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9), 4)
    for eta_min in (0.0, 0.01):
        def cosine(o, eta_min=eta_min):
            return torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=4, eta_min=eta_min)

        def both(o, cosine=cosine):
            return torch.optim.lr_scheduler.ChainedScheduler([torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
                                                              cosine(o)])
        chained, alone = _scheduler_lrs(both, 4), _scheduler_lrs(cosine, 4)
        product = [e * c / 0.1 for e, c in zip(exponential, alone)]
        print(f"ChainedScheduler [ExponentialLR(0.9), CosineAnnealingLR(T_max=4, eta_min={eta_min})] lr=0.1: "
              + " ".join(f"k={k} {x:.6g}" for k, x in enumerate(chained)) + "; product of the two alone: "
              + " ".join(f"k={k} {x:.6g}" for k, x in enumerate(product)))


if __name__ == "__main__":
    main()
