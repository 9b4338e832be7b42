"""optax facts the spec pages quote, one line each, with jax imported once: amsgrad without bias
correction is Reddi et al.'s algorithm, what ``learning_rate=None`` (the default) means for
adafactor and adadelta, the rate of warmup_linear's join of two linear schedules past its horizon
inside a jitted ``optax.scale_by_schedule`` (int32 count: float32 division),
``jax.example_libraries.optimizers.adam`` on bfloat16 parameters (β₂ = 0.999 is 1 in bfloat16), the
float64 restart index of a cosine schedule with restarts, log(1 − (k/T₀)(1 − t))/log t with
T₀ = 4, t = 2, k = 28 (exactly 3), under jax.jit and eagerly, and how often XLA's float32
``jnp.linalg.norm`` (optax.lars's trust ratio) differs from a sequential float32 sum of squares:
2000 vectors of 15 standard normal float32 values (seed 0).

    python benchmarks/claims_optax.py
"""
from __future__ import annotations

import jax

jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from jax.example_libraries import optimizers  # noqa: E402

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


def _warmup_linear_past_horizon(lr=0.5, warmup=6, total=16, counts=(15, 16, 39)) -> dict:
    """Rate of update k of join_schedules([linear 0 → η over W, linear η → 0 over T − W], [W]),
    the warmup_linear past_horizon case (η = 0.5, W = 6, T = 16; exact 0 from k = T on), three ways:
    inside a jitted and an eager scale_by_schedule (optax's int32 count), and jax.jit(schedule)(k)
    with k a Python int."""
    fn = optax.join_schedules([optax.linear_schedule(0.0, lr, warmup),
                               optax.linear_schedule(lr, 0.0, total - warmup)], [warmup])
    tx = optax.scale_by_schedule(fn)
    ones = {"w": jnp.ones(1, jnp.float64)}
    out = {}
    for name, update in (("jitted scale_by_schedule", jax.jit(lambda s: tx.update(ones, s))),
                         ("eager scale_by_schedule", lambda s: tx.update(ones, s))):
        state, rates = tx.init(ones), []
        for _ in range(max(counts) + 1):
            scaled, state = update(state)
            rates.append(float(scaled["w"][0]))
        out[name] = [rates[k] for k in counts]
    out["jax.jit(schedule)(int)"] = [float(jax.jit(fn)(k)) for k in counts]
    return out


def _example_libraries_adam(dtype, lr=0.125, steps=3) -> list[float]:
    """θ after each step of jax.example_libraries.optimizers.adam(lr), θ₀ = 1, g = 0.5, in ``dtype``."""
    init, update, get_params = optimizers.adam(lr)
    state = init(jnp.array([1.0], dtype))
    out = []
    for i in range(steps):
        state = update(i, jnp.array([0.5], dtype), state)
        out.append(float(get_params(state)[0]))
    return out


def _restart_index(k):
    """Keras's CosineDecayRestarts cycle index before its floor, log(1 − (k/T₀)(1 − t))/log t, for
    T₀ = 4 and t = 2 written as constants (what XLA sees under jit: a division by the constant log 2)."""
    return jnp.log(1.0 - (k / 4.0) * (1.0 - 2.0)) / jnp.log(2.0)


def _norm_against_sequential(count=2000, size=15) -> tuple[float, list[int]]:
    """(share of float32 norms that differ, how many differ by 0, 1, 2, ... ulps) of jnp.linalg.norm
    under jit against √ of the squares summed one by one in float32."""
    xs = np.random.default_rng(0).standard_normal((count, size)).astype(np.float32)
    norm = jax.jit(jnp.linalg.norm)
    got = np.array([np.asarray(norm(jnp.asarray(x))) for x in xs], dtype=np.float32)
    sequential = []
    for x in xs:
        total = np.float32(0)
        for v in x:
            total = np.float32(total + np.float32(v * v))
        sequential.append(np.sqrt(total))
    sequential = np.array(sequential, dtype=np.float32)
    ulps = np.abs(got.astype(np.float64) - sequential.astype(np.float64)) / np.spacing(sequential)
    return float(np.mean(got != sequential)), np.bincount(np.rint(ulps).astype(int)).tolist()


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
    for how, rates in _warmup_linear_past_horizon().items():
        print(f"warmup_linear lr=0.5 W=6 T=16, {how}: k=15 {rates[0]!r}, k=16 {rates[1]!r}, k=39 {rates[2]!r}")
    for dtype in (jnp.bfloat16, jnp.float32):
        print(f"jax.example_libraries adam(0.125) {jnp.dtype(dtype).name}, θ = 1, g = 0.5: params after steps 1-3 "
              f"{_example_libraries_adam(dtype)}")
    k = jnp.float64(28.0)
    print(f"log(1 - (k/4)(1 - 2))/log(2) at k = 28, float64: jax.jit {float(jax.jit(_restart_index)(k))!r}, "
          f"eager {float(_restart_index(k))!r}")
    share, by_ulps = _norm_against_sequential()
    print(f"jnp.linalg.norm (jit) of 2000 float32 vectors of 15 elements: {share:.1%} differ from a sequential "
          f"float32 sum; by 0, 1, 2, ... ulps: {by_ulps}")


if __name__ == "__main__":
    main()
