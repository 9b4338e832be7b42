"""optax facts the spec pages quote, one line each, with jax imported once: amsgrad without bias
correction is Reddi et al.'s algorithm, and what ``learning_rate=None`` (the default) means for
adafactor and adadelta.

    python benchmarks/claims_optax.py
"""
from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402

GRADS = [0.5, -2.0, 0.25, 1.0, -0.125]


def _updates(opt, grads=GRADS, param=1.0) -> list[float]:
    p = jnp.array([param], dtype=jnp.float64)
    state = opt.init(p)
    out = []
    for g in grads:
        u, state = opt.update(jnp.array([g], dtype=jnp.float64), state, p)
        out.append(float(u[0]))
        p = optax.apply_updates(p, u)
    return out


def _paper_amsgrad(lr=0.1, b1=0.9, b2=0.999, eps=1e-8) -> list[float]:
    """Reddi et al. 2018, Algorithm 2: m = β₁m + (1 − β₁)g, v = β₂v + (1 − β₂)g², v̂ = max(v̂, v),
    update −η m/(√v̂ + ε), no bias correction."""
    m = v = vhat = 0.0
    out = []
    for g in GRADS:
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        vhat = max(vhat, v)
        out.append(-lr * m / (np.sqrt(vhat) + eps))
    return out


def main() -> None:
    print(f"optax {optax.__version__}, jax {jax.__version__}")
    ours = _updates(optax.amsgrad(0.1, bias_correction_mu=False, bias_correction_nu=False))
    paper = _paper_amsgrad()
    worst = max(abs(a - b) / abs(b) for a, b in zip(ours, paper))
    print(f"amsgrad(bias_correction_mu=False, bias_correction_nu=False) vs Reddi et al. Algorithm 2, "
          f"5 steps: largest relative difference {worst:.1g}")
    with_bc = _updates(optax.amsgrad(0.1))
    print(f"amsgrad default (bias corrected) step 1: {with_bc[0]:.6g}; paper step 1: {paper[0]:.6g}")
    for name in ("adafactor", "adadelta"):
        default, one = (_updates(getattr(optax, name)(**kw), grads=[0.5]) for kw in ({}, {"learning_rate": 1.0}))
        print(f"{name}: update of θ = 1, g = 0.5 with learning_rate=None {default[0]:.7g}, "
              f"with learning_rate=1.0 {one[0]:.7g}")


if __name__ == "__main__":
    main()
