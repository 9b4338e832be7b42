"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019, Algorithm 2).

For each tensor, with g_t the gradient (negated first when ``maximize``), η_t the learning rate
of this step, s_t = η_t/η the schedule multiplier (1 without a schedule), λ the weight decay and
m₀ = v₀ = 0:

    θ ← θ (1 − s_t λ)          ``weight_decay`` = decoupled_schedule (the paper: η_t λ θ with
                                η_t its schedule multiplier, not the learning rate α)
    θ ← θ (1 − η_t λ)          ``weight_decay`` = decoupled_lr (torch, optax, Keras: λ times lr)
    m_t = β₁ m_{t−1} + (1 − β₁) g_t                      ``first_moment`` = mix (common.py)
        = torch.lerp(m_{t−1}, g_t, 1 − β₁)                ``first_moment`` = lerp
    v_t = β₂ v_{t−1} + (1 − β₂) g_t²                      ``second_moment`` = mix (common.py)
        = v_{t−1} + (1 − β₂)(g_t² − v_{t−1})              ``second_moment`` = delta
    u_t = adam.direction(m_t, v_t)          axes ``eps_placement``, ``bias_correction`` (adam.py)
    θ_t = θ − η_t u_t

The decay multiplies θ_{t−1} and the Adam direction does not depend on θ, so decaying first or
adding λθ_{t−1} to the update (the paper, optax) is the same equation.

torch.lerp(m, g, w) is m + w(g − m) for w < ½, else g − (g − m)(1 − w): equal to the mix in exact
arithmetic, NaN (∞ − ∞) once m is infinite and g finite, where the mix stays infinite; the delta
form of v (Keras, tf_keras) likewise once v is infinite.

State: ``exp_avg`` = m_t, ``exp_avg_sq`` = v_t. The precision emulations are Adam's (``VARIANTS``).
"""
from __future__ import annotations

# The equations are Adam's (adam.py); AdamW differs only in its profiles' weight_decay values
# (decoupled_schedule for the paper, decoupled_lr for the frameworks), which common.weight_decay
# implements, so the update itself is shared rather than copied.
from .adam import VARIANTS, init, step  # noqa: F401
