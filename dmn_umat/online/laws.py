"""Phase laws as allocation-free numba functions — shared by the online network solver,
the FFT DNS and the C ABI (one implementation).

Every law is reached through :func:`phase_update` with a flat parameter vector ``props``
whose first entry is the law id (layout below, built from a spec string by
:mod:`dmn_umat.phases`).  Total-strain form at small strain, Mandel convention
(:mod:`dmn_umat.tensors`):

    status = phase_update(props, eps, state_old, stress, tangent, state_new)

- ``eps``       (6,)   total strain at the end of the increment (Mandel)
- ``state_old`` (nsv,) internal variables at the start of the increment (read only)
- ``stress``    (6,)   out: Cauchy stress (Mandel), units of the moduli
- ``tangent``   (6,6)  out: consistent (algorithmic) tangent d stress / d eps
- ``state_new`` (nsv,) out: internal variables at the end of the increment
- returns 0 on success, ``STATUS_NONCONVERGED`` / ``STATUS_BADINPUT`` otherwise (never raises)

Law ids and ``props`` layouts (``nsv`` = number of state variables):

============  ==  ==========================================  ===
law           id  props                                        nsv
============  ==  ==========================================  ===
elastic       0   [0, E, nu]                                   0
aniso         1   [1, C11, C12, ..., C16, C22, ..., C66]       0
              (upper triangle of the Mandel 6x6, row by row, 21 values)
j2            2   [2, E, nu, sy, H, Q, b, Hk]                  7
============  ==  ==========================================  ===

J2: von Mises yield ``sqrt(3/2)|dev σ − X| − (sy + R(p)) ≤ 0`` with isotropic hardening
``R(p) = H p + Q (1 − exp(−b p))`` and linear kinematic hardening ``X = (2/3) Hk εp``;
associative flow, radial return (exact for linear hardening, scalar Newton otherwise),
algorithmic tangent. State: plastic strain εp (6, Mandel) then accumulated plastic strain p.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

LAW_ELASTIC = 0
LAW_ANISO = 1
LAW_J2 = 2

#: Length of ``props`` per law (including the id).
NPROPS = {LAW_ELASTIC: 3, LAW_ANISO: 22, LAW_J2: 8}
#: Number of state variables per law.
NSTATE = {LAW_ELASTIC: 0, LAW_ANISO: 0, LAW_J2: 7}
#: Longest props vector of any law (pad shorter ones with zeros in 2-D props tables).
MAX_NPROPS = 22
#: Largest state vector of any law.
MAX_NSTATE = 7

STATUS_OK = 0
STATUS_NONCONVERGED = 1
STATUS_BADINPUT = 2

_SQ32 = math.sqrt(1.5)


@njit(cache=True)
def law_nstate(props):
    """Number of state variables of the law in ``props``."""
    law = int(props[0])
    if law == LAW_J2:
        return 7
    return 0


@njit(cache=True)
def elastic_stiffness(props, C):
    """Write the elastic Mandel stiffness (6,6) of the law in ``props`` into ``C``.

    Returns 0, or STATUS_BADINPUT for an unknown law id.
    """
    law = int(props[0])
    if law == LAW_ELASTIC or law == LAW_J2:
        E = props[1]
        nu = props[2]
        K = E / (3.0 * (1.0 - 2.0 * nu))
        G = E / (2.0 * (1.0 + nu))
        a = K - 2.0 * G / 3.0
        for i in range(6):
            for j in range(6):
                C[i, j] = 0.0
        for i in range(3):
            for j in range(3):
                C[i, j] = a
            C[i, i] = a + 2.0 * G
            C[i + 3, i + 3] = 2.0 * G
        return STATUS_OK
    if law == LAW_ANISO:
        k = 1
        for i in range(6):
            for j in range(i, 6):
                C[i, j] = props[k]
                C[j, i] = props[k]
                k += 1
        return STATUS_OK
    return STATUS_BADINPUT


@njit(cache=True)
def _j2_update(props, eps, state_old, stress, tangent, state_new):
    return _j2_update_ws(props, eps, state_old, stress, tangent, state_new, np.empty(6))


@njit(cache=True)
def _j2_update_ws(props, eps, state_old, stress, tangent, state_new, xi):
    """J2 update writing its (6,) trial-direction scratch into ``xi`` (no allocation)."""
    E = props[1]
    nu = props[2]
    sy = props[3]
    H = props[4]
    Q = props[5]
    b = props[6]
    Hk = props[7]
    K = E / (3.0 * (1.0 - 2.0 * nu))
    G = E / (2.0 * (1.0 + nu))
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

    for i in range(7):
        state_new[i] = state_old[i]

    if f_tr <= 1e-12 * sy:
        # elastic: sigma = K tr(eps) 1 + s_tr
        for i in range(6):
            s_tr = xi[i] + (2.0 / 3.0) * Hk * state_old[i]
            stress[i] = s_tr + (K * tr if i < 3 else 0.0)
        a = K - 2.0 * G / 3.0
        for i in range(6):
            for j in range(6):
                tangent[i, j] = 0.0
        for i in range(3):
            for j in range(3):
                tangent[i, j] = a
            tangent[i, i] = a + 2.0 * G
            tangent[i + 3, i + 3] = 2.0 * G
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


@njit(cache=True)
def phase_update(props, eps, state_old, stress, tangent, state_new):
    """Stress, consistent tangent and new state of one material point (see module doc)."""
    for i in range(6):
        if not math.isfinite(eps[i]):
            return STATUS_BADINPUT
    law = int(props[0])
    if law == LAW_J2:
        return _j2_update(props, eps, state_old, stress, tangent, state_new)
    if law == LAW_ELASTIC or law == LAW_ANISO:
        # elastic laws: the tangent doubles as the stiffness buffer
        status = elastic_stiffness(props, tangent)
        if status != STATUS_OK:
            return status
        for i in range(6):
            s = 0.0
            for j in range(6):
                s += tangent[i, j] * eps[j]
            stress[i] = s
        return STATUS_OK
    return STATUS_BADINPUT


@njit(cache=True)
def phase_update_ws(props, eps, state_old, stress, tangent, state_new, ws):
    """:func:`phase_update` with a caller-provided scratch ``ws`` (≥ 6 floats): allocation-free,
    for hot loops (the online network kernel).  Same results as :func:`phase_update`."""
    for i in range(6):
        if not math.isfinite(eps[i]):
            return STATUS_BADINPUT
    if int(props[0]) == LAW_J2:
        return _j2_update_ws(props, eps, state_old, stress, tangent, state_new, ws)
    return phase_update(props, eps, state_old, stress, tangent, state_new)
