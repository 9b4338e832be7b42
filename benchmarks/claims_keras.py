"""Keras 3 (TensorFlow backend) facts the spec pages quote, one line each, with TensorFlow imported
once: Keras's float32 casts of Python-float hyperparameters in float64 schedules and optimizers,
``weight_decay=0.0`` against ``None`` on an infinite parameter, ``relative_step`` of Adafactor,
the Adam family on bfloat16 variables (β cast to bfloat16 in the bias corrections: β₂ = 0.999 is 1),
and how far TensorFlow's ``tf.math.rsqrt`` (tf_keras RMSprop's increment) is from a correctly rounded
1/√x: 20000 inputs log-uniform on [1e-8, 1e4] (seed 0), the largest error in ulps of the exact value
and the share of results that are not the nearest representable number.

    python benchmarks/claims_keras.py
"""
from __future__ import annotations

import os

os.environ["KERAS_BACKEND"] = "tensorflow"  # the claims are about the TensorFlow backend
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import mpmath  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402  (the backend keras already imported)

schedules = keras.optimizers.schedules


def _run(optimizer, params: list[float], grads: list[list[float]], dtype: str = "float64") -> list[list[float]]:
    """The parameters (variables of ``dtype``) after each update of ``grads``, as Python floats."""
    var = keras.Variable(np.array(params, dtype=np.float64), dtype=dtype)
    out = []
    for g in grads:
        optimizer.apply([keras.ops.convert_to_tensor(np.array(g, dtype=np.float64), dtype=dtype)], [var])
        out.append([float(x) for x in keras.ops.convert_to_numpy(keras.ops.cast(var, "float64"))])
    return out


def _rsqrt_accuracy(dtype) -> tuple[float, float]:
    """(largest error in ulps, share not the nearest) of tf.math.rsqrt on the inputs above."""
    rng = np.random.default_rng(0)
    xs = np.exp(rng.uniform(np.log(1e-8), np.log(1e4), 20000)).astype(dtype)
    got = tf.math.rsqrt(tf.constant(xs)).numpy()
    mpmath.mp.prec = 160
    exact = [1 / mpmath.sqrt(mpmath.mpf(float(x))) for x in xs]
    nearest = np.array([float(e) for e in exact]).astype(dtype)
    ulps = [float(abs(mpmath.mpf(float(g)) - e)) / float(np.spacing(n)) for g, e, n in zip(got, exact, nearest)]
    return max(ulps), float(np.mean(got != nearest))


def main() -> None:
    print(f"keras {keras.__version__}, backend {keras.backend.backend()}")
    # exponential: decay_rate (a Python float) goes through float32 even in a float64 schedule
    value = float(schedules.ExponentialDecay(np.float64(0.1), 1, 0.95)(1))
    print(f"ExponentialDecay(np.float64(0.1), 1, 0.95)(1) = {value!r}")
    # cosine_restarts: alpha, t_mul and m_mul go through float32
    value = float(schedules.CosineDecayRestarts(np.float64(0.5), 4, alpha=0.1, m_mul=0.7)(5))
    print(f"CosineDecayRestarts(np.float64(0.5), 4, alpha=0.1, m_mul=0.7)(5) = {value!r}")
    # sgd: weight_decay=0.0 still multiplies θ by 0·η, which turns an infinite θ into NaN
    grads = [[1.0], [np.inf], [1.0]]
    for wd in (0.0, None):
        steps = _run(keras.optimizers.SGD(learning_rate=0.5, weight_decay=wd), [1.0], grads)
        print(f"SGD weight_decay={wd}: params after steps 1-3 {[s[0] for s in steps]}")
    # adagrad: initial_accumulator_value=0.1 builds a float64 accumulator through float32
    opt = keras.optimizers.Adagrad()
    var = keras.Variable(np.ones(1), dtype="float64")
    opt.build([var])
    print(f"Adagrad float64 accumulator starts at {float(opt._accumulators[0].numpy()[0])!r}")
    # adafactor: relative_step=False computes the same steps (ρ_t = min(lr, 1/√t) either way)
    grads = [[0.5, -0.25], [0.5, -0.25], [0.5, -0.25]]
    runs = {flag: _run(keras.optimizers.Adafactor(learning_rate=1.0, relative_step=flag), [2.0, 1.0], grads)
            for flag in (True, False)}
    for flag, steps in runs.items():
        print(f"Adafactor learning_rate=1 relative_step={flag}: params after step 3 {steps[-1]}")
    print(f"Adafactor relative_step True and False identical: {runs[True] == runs[False]}")
    # adam, adamw, amsgrad, lamb, nadam: bfloat16 variables raise a bfloat16 β to the step count
    for label, make in (("Adam", lambda: keras.optimizers.Adam(learning_rate=0.125)),
                        ("AdamW", lambda: keras.optimizers.AdamW(learning_rate=0.125)),
                        ("Adam amsgrad=True", lambda: keras.optimizers.Adam(learning_rate=0.125, amsgrad=True)),
                        ("Lamb", lambda: keras.optimizers.Lamb(learning_rate=0.125)),
                        ("Nadam", lambda: keras.optimizers.Nadam(learning_rate=0.125))):
        for dtype in ("bfloat16", "float32"):
            steps = _run(make(), [1.0], [[0.5]] * 3, dtype)
            print(f"{label} learning_rate=0.125 {dtype}, θ = 1, g = 0.5: params after steps 1-3 "
                  f"{[s[0] for s in steps]}")
    # rmsprop (tf_keras): tf.math.rsqrt is not correctly rounded
    for dtype in (np.float32, np.float64):
        worst, share = _rsqrt_accuracy(dtype)
        print(f"tf.math.rsqrt {np.dtype(dtype).name}: up to {worst:.3g} ulp, {share:.1%} not the nearest")


if __name__ == "__main__":
    main()
