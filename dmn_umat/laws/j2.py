"""J2 (von Mises) elasto-plasticity with isotropic (linear + Voce) and linear kinematic
hardening, numba, allocation-free.

Yield ``sqrt(3/2)|dev σ − X| − (sy + R(p)) ≤ 0`` with ``R(p) = H p + Q (1 − exp(−b p))`` and
``X = (2/3) Hk εp``; associative flow, radial return (exact for linear hardening, scalar Newton
otherwise), algorithmic tangent.  ``props = [2, E, nu, sy, H, Q, b, Hk]``; state (7): plastic
strain εp (6, Mandel) then accumulated plastic strain p.
"""

from __future__ import annotations

import math

from numba import njit

from ..sources import guard_numba_cache
from .catalogue import BY_ID, LAW_J2, STATUS_NONCONVERGED, STATUS_OK
from .elastic import bulk_shear, isotropic_fill

_NSTATE = BY_ID[LAW_J2].nstate
_SQ32 = math.sqrt(1.5)


@njit(cache=True)
def j2_update(props, eps, state_old, stress, tangent, state_new, xi):
    """J2 update of one point writing its (6,) trial-direction scratch into ``xi`` (no
    allocation).  Returns STATUS_OK or STATUS_NONCONVERGED."""
    sy = props[3]
    H = props[4]
    Q = props[5]
    b = props[6]
    Hk = props[7]
    K, G = bulk_shear(props[1], props[2])
    p_old = state_old[6]

    # trial state: s_tr = 2G dev(eps - eps_p), xi = s_tr - X, X = 2/3 Hk eps_p
    tr = eps[0] + eps[1] + eps[2]
    xnorm2 = 0.0
    for i in range(6):
        e = eps[i] - state_old[i]
        if i < 3:
            e -= tr / 3.0  # eps_p is deviatoric
        xi[i] = 2.0 * G * e - (2.0 / 3.0) * Hk * state_old[i]
        xnorm2 += xi[i] * xi[i]
    xnorm = math.sqrt(xnorm2)
    q_tr = _SQ32 * xnorm
    R_old = H * p_old + Q * (1.0 - math.exp(-b * p_old))
    f_tr = q_tr - (sy + R_old)

    for i in range(_NSTATE):
        state_new[i] = state_old[i]

    if f_tr <= 1e-12 * sy:
        # elastic: sigma = K tr(eps) 1 + s_tr
        for i in range(6):
            s_tr = xi[i] + (2.0 / 3.0) * Hk * state_old[i]
            stress[i] = s_tr + (K * tr if i < 3 else 0.0)
        isotropic_fill(K, G, tangent)
        return STATUS_OK

    # plastic: solve q_tr - (3G + Hk) dp - sy - R(p_old + dp) = 0 for dp (Newton, monotone)
    dp = 0.0
    dR = 0.0
    converged = False
    for _ in range(50):
        p = p_old + dp
        ex = math.exp(-b * p)
        R = H * p + Q * (1.0 - ex)
        dR = H + Q * b * ex
        g = q_tr - (3.0 * G + Hk) * dp - sy - R
        dg = 3.0 * G + Hk + dR
        step = g / dg
        dp += step
        if abs(step) <= 1e-14 * (1.0 + abs(dp)) and abs(g) <= 1e-10 * sy:
            converged = True
            break
    if not converged or not (dp > 0.0) or not math.isfinite(dp):
        return STATUS_NONCONVERGED
    p = p_old + dp
    dR = H + Q * b * math.exp(-b * p)

    # update: eps_p += sqrt(3/2) dp n, sigma = sigma_tr - 2G sqrt(3/2) dp n
    for i in range(6):
        n_i = xi[i] / xnorm
        state_new[i] = state_old[i] + _SQ32 * dp * n_i
        s_tr = xi[i] + (2.0 / 3.0) * Hk * state_old[i]
        stress[i] = s_tr - 2.0 * G * _SQ32 * dp * n_i + (K * tr if i < 3 else 0.0)
    state_new[6] = p

    # C_ep = 3K P_vol + 2G(1 - 3G dp/q_tr) P_dev - 2G(3G/(3G+Hk+R') - 3G dp/q_tr) n⊗n
    theta = 1.0 - 3.0 * G * dp / q_tr
    gam = 3.0 * G / (3.0 * G + Hk + dR) - 3.0 * G * dp / q_tr
    for i in range(6):
        n_i = xi[i] / xnorm
        for j in range(6):
            n_j = xi[j] / xnorm
            v = -2.0 * G * gam * n_i * n_j
            if i == j:
                v += 2.0 * G * theta
            if i < 3 and j < 3:
                v += K - 2.0 * G * theta / 3.0
            tangent[i, j] = v
    return STATUS_OK


guard_numba_cache(j2_update, __file__)
