"""Find the binary β₂ at which a framework's rounded ρ_t decides RAdam's tractability test
differently from the exact ρ_t (spec/algorithms/radam.md, "Where the rounded ρ_t decides").

For fixed t, ρ_t(β₂) = 2/(1 − β₂) − 1 − 2tβ₂ᵗ/(1 − β₂ᵗ) increases with β₂ and crosses 5 once
for every t ≥ 6, at a root β*_t that tends to 2/3 as t grows. The exact ρ_t is never 5 at a
binary β₂ (the spec page proves it), but torch and optax compute ρ_t in floating point
(reference/optimizers/radam.py ``framework_rho``), and within a few ulps of β*_t the rounded
ρ_t can

* land exactly on 5.0 (``on``): torch's ``rho_t > 5.0`` is false (SGD step), optax's
  ``ro >= 5.0`` true (rectified step);
* fall on the other side of 5 than the exact value (``straddle``): both frameworks disagree
  with the exact test (and with each other's exact-arithmetic description).

For each t the script scans the float64 numbers within ``--width`` ulps of β*_t and prints each
edge: the step t, β₂ (repr, 17 digits), the exact ρ_t − 5, the rounded ρ_t with pow (torch,
optax under jax.jit) and with jax's integer_pow (optax run eagerly), and the branch the exact test,
torch's (> 5) and optax's (≥ 5, jit and eager) take. ``--python`` and ``--jax`` check the
emulation against ρ_t computed with Python floats as torch writes it and with jax as optax does,
on every β₂ scanned; ``--frameworks`` runs torch and optax (float64, θ = 1, g = 0.5, lr = 0.1,
β₁ = 0.9) at each edge and prints which step each took.

    python benchmarks/radam_rho_edges.py                       # t = 6 .. 40, float64
    python benchmarks/radam_rho_edges.py --t-max 100 --python  # and check against Python floats
    python benchmarks/radam_rho_edges.py --frameworks --limit 6
    python benchmarks/radam_rho_edges.py --show 0.999 --t-min 4 --t-max 6   # ρ_t at one β₂
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mpmath  # noqa: E402

from optconform.reference.numeric import round_to  # noqa: E402
from optconform.reference.optimizers.radam import framework_rho, rho  # noqa: E402

FIVE = mpmath.mpf(5)


def root(t: int) -> mpmath.mpf:
    """β*_t: ρ_t(β*) = 5, by bisection on (2/3, 1) (ρ_t increases with β₂)."""
    lo, hi = mpmath.mpf(2) / 3, mpmath.mpf(1) - mpmath.mpf(2) ** -60
    for _ in range(200):
        mid = (lo + hi) / 2
        if rho(t, mid)[1] < FIVE:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def python_rho(t: int, beta2: float) -> float:
    """ρ_t exactly as torch's _single_tensor_radam writes it, in Python floats."""
    rho_inf = 2 / (1 - beta2) - 1
    return rho_inf - 2 * float(t) * (beta2 ** float(t)) / (1 - beta2 ** float(t))


def jax_rho(t: int, betas: list) -> tuple[list, list]:
    """ρ_t as optax's scale_by_radam computes it (float64, jax_enable_x64), under jax.jit (the
    count a traced int32) and eagerly (a concrete count), for each β₂."""
    import jax

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp

    def ro(b2, count):
        ro_inf = 2.0 / (1.0 - b2) - 1.0
        b2t = b2 ** count
        return ro_inf - 2 * count * b2t / (1 - b2t)

    count = jnp.asarray(t, jnp.int32)
    jitted = jax.jit(lambda b: ro(b, count + 0))  # + 0: the count is traced, as in a jitted update
    jit_values = [float(jitted(jnp.float64(b))) for b in betas]
    eager_values = [float(ro(b, count)) for b in betas]
    return jit_values, eager_values


TESTS = (("torch", ">", False), ("optax jit", ">=", False), ("optax eager", ">=", True))


def _branch(rho_t, op: str) -> str:
    return "rectified" if (rho_t > FIVE if op == ">" else rho_t >= FIVE) else "sgd"


def scan(t: int, width: int, fmt: str = "float64") -> list:
    """Every float64 β₂ within ``width`` ulps of β*_t: (β₂, exact ρ_t, {(pow form): rounded ρ_t})."""
    beta = float(round_to(root(t), "float64"))
    for _ in range(width):
        beta = math.nextafter(beta, 0.0)
    out = []
    for _ in range(2 * width + 1):
        exact = rho(t, mpmath.mpf(beta))[1]
        rounded = {sq: framework_rho(t, mpmath.mpf(beta), fmt, sq)[1] for sq in (False, True)}
        out.append((beta, exact, rounded))
        beta = math.nextafter(beta, 1.0)
    return out


def is_edge(exact, rounded: dict) -> bool:
    """Some framework's test decides otherwise than the exact one (or than another framework)."""
    exact_branch = "rectified" if exact > FIVE else "sgd"
    return any(_branch(rounded[sq], op) != exact_branch for _, op, sq in TESTS)


def framework_branches(beta2: float, t: int) -> tuple[str, str, str]:
    """The step torch, optax under jax.jit and optax eagerly take at step t (θ = 1, g = 0.5,
    lr = 0.1, β₁ = 0.9, float64): 'sgd' or 'rectified', from θ_t − θ_{t−1} against the SGD step
    (a constant gradient gives m̂_t = 0.5: the SGD step is exactly lr·0.5 = 0.05)."""
    import jax
    import torch

    jax.config.update("jax_enable_x64", True)
    import jax.numpy as jnp
    import optax

    p = torch.tensor([1.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RAdam([p], lr=0.1, betas=(0.9, beta2))
    before = 1.0
    for _ in range(t):
        before = p.item()
        p.grad = torch.tensor([0.5], dtype=torch.float64)
        opt.step()
    kinds = ["sgd" if abs((before - p.item()) - 0.05) < 1e-12 else "rectified"]
    tx = optax.radam(0.1, b1=0.9, b2=beta2)
    for update in (jax.jit(tx.update), tx.update):
        x = jnp.array([1.0], dtype=jnp.float64)
        state = tx.init(x)
        for _ in range(t):
            before = float(x[0])
            u, state = update(jnp.array([0.5], dtype=jnp.float64), state, x)
            x = optax.apply_updates(x, u)
        kinds.append("sgd" if abs((before - float(x[0])) - 0.05) < 1e-12 else "rectified")
    return tuple(kinds)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--t-min", type=int, default=6)
    parser.add_argument("--t-max", type=int, default=40)
    parser.add_argument("--width", type=int, default=24, help="ulps of β₂ scanned on each side of β*_t")
    parser.add_argument("--python", action="store_true", help="check the emulation against Python floats (torch)")
    parser.add_argument("--jax", action="store_true", help="check the emulation against jax (optax's ρ_t, jit and eager)")
    parser.add_argument("--frameworks", action="store_true", help="run torch and optax (jit, eager) at each edge")
    parser.add_argument("--limit", type=int, default=0, help="stop after this many edges (0: all)")
    parser.add_argument("--show", metavar="BETA2", help="print ρ_t for t = t-min..t-max at this β₂ instead")
    args = parser.parse_args(argv)
    mpmath.mp.prec = 256
    if args.show:
        beta = mpmath.mpf(args.show)
        print(f"beta2 = {args.show}: rho_inf = {mpmath.nstr(rho(1, beta)[0], 10)}")
        for t in range(args.t_min, args.t_max + 1):
            exact = rho(t, beta)[1]
            print(f"t={t}: exact rho_t = {mpmath.nstr(exact, 10)} (rho_t - 5 = {mpmath.nstr(exact - FIVE, 3)}); "
                  f"float64 {float(framework_rho(t, beta, 'float64')[1])!r} (pow), "
                  f"{float(framework_rho(t, beta, 'float64', True)[1])!r} (integer_pow)")
        return 0
    found = mismatches = scanned = 0
    print(f"{'t':>3}  {'beta2':<20} {'exact-5':>9}  {'rho_t (pow)':<18} {'rho_t (squaring)':<18} "
          f"exact      torch      optax-jit  optax-eager" + ("  | ran: torch optax-jit optax-eager" if args.frameworks else ""))
    for t in range(args.t_min, args.t_max + 1):
        rows = scan(t, args.width)
        scanned += len(rows)
        if args.python or args.jax:
            betas = [b for b, _, _ in rows]
            checks = []
            if args.python:
                checks.append(("Python", False, [python_rho(t, b) for b in betas]))
            if args.jax:
                jit_values, eager_values = jax_rho(t, betas)
                checks += [("jax jit", False, jit_values), ("jax eager", True, eager_values)]
            for name, sq, values in checks:
                for (beta, _, rounded), value in zip(rows, values):
                    if value != float(rounded[sq]):
                        mismatches += 1
                        print(f"  emulation {float(rounded[sq])!r} != {name} {value!r} at t={t} beta2={beta!r}")
        for beta, exact, rounded in rows:
            if not is_edge(exact, rounded):
                continue
            line = (f"{t:>3}  {beta!r:<20} {mpmath.nstr(exact - FIVE, 3):>9}  {float(rounded[False])!r:<18} "
                    f"{float(rounded[True])!r:<18} {'rectified' if exact > FIVE else 'sgd':<10} "
                    + " ".join(f"{_branch(rounded[sq], op):<10}" for _, op, sq in TESTS))
            if args.frameworks:
                line += " | " + " ".join(f"{k:<9}" for k in framework_branches(beta, t))
            print(line.rstrip())
            found += 1
            if args.limit and found >= args.limit:
                break
        if args.limit and found >= args.limit:
            break
    print(f"{found} edge(s) among {scanned} float64 beta2 (t = {args.t_min}..{args.t_max}, ±{args.width} ulps of each root)"
          + (f"; {mismatches} emulation mismatch(es)" if args.python or args.jax else ""))
    return 1 if mismatches else 0


if __name__ == "__main__":
    sys.exit(main())
