"""Finite-strain hyperelastic phase laws (numba, allocation-free): compressible neo-Hookean
and Saint-Venant–Kirchhoff.  Interface ``update_fs`` and conversions: :mod:`~dmn_umat.laws.finite`.

Neo-Hookean (CalculiX ``*HYPERELASTIC, NEO HOOKE``; J = det F, b = F Fᵀ, Ī1 = J^(−2/3) tr b)::

    W = C10 (Ī1 − 3) + (J − 1)² / D1
    τ = J σ = 2 C10 J^(−2/3) dev b + (2 / D1) J (J − 1) 1,     P = τ F⁻ᵀ

small-strain moduli μ = 2 C10, K = 2 / D1 (:func:`neohooke_props` converts E, ν).

Saint-Venant–Kirchhoff (for tests; E_G = ½ (FᵀF − 1), λ, μ the Lamé constants of E, ν)::

    S = λ tr(E_G) 1 + 2 μ E_G,     P = F S

==========  ==================  ======  ======  ====  ======================================
law         props               nprops  nstate  nws   id
==========  ==================  ======  ======  ====  ======================================
neohooke    [id, C10, D1]       3       0       27    ``LAW_NEOHOOKE`` = 6 (catalogue)
svk         [id, E, nu]         3       0       18    ``LAW_SVK`` = 7 (catalogue)
==========  ==================  ======  ======  ====  ======================================

C10 > 0, D1 > 0 (D1 = 0, CalculiX's incompressible limit, is not supported: status 2);
E > 0, −1 < ν < 0.5.  ``F_old``, ``state``, ``dt`` and the temperatures are not used (the
laws are path independent and isothermal).  The catalogue assigns the final ids.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..sources import guard_numba_cache
from .catalogue import STATUS_BADINPUT, STATUS_OK
from .elastic import bulk_shear
from .finite import det3, finite_matrix, inv3, kirchhoff_column

LAW_NEOHOOKE = 6
LAW_SVK = 7
NPROPS_NEOHOOKE = 3
NPROPS_SVK = 3
NWS_NEOHOOKE = 27
NWS_SVK = 18


def neohooke_props(C10: float | None = None, D1: float | None = None, *, E: float | None = None,
                   nu: float | None = None) -> np.ndarray:
    """props (3,) of the neo-Hookean law from (C10, D1) or from the small-strain (E, ν):
    C10 = μ / 2, D1 = 2 / K."""
    if E is not None or nu is not None:
        if E is None or nu is None or C10 is not None or D1 is not None:
            raise ValueError("give either C10 and D1 or E and nu")
        K = E / (3.0 * (1.0 - 2.0 * nu))
        G = E / (2.0 * (1.0 + nu))
        C10, D1 = G / 2.0, 2.0 / K
    if C10 is None or D1 is None:
        raise ValueError("give either C10 and D1 or E and nu")
    return np.array([float(LAW_NEOHOOKE), float(C10), float(D1)])


@njit(cache=True)
def neohooke_update(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws):
    """Compressible neo-Hookean: P (3,3) and A = dP/dF (9,9) at F_new (module doc)."""
    if props.shape[0] < NPROPS_NEOHOOKE or ws.shape[0] < NWS_NEOHOOKE:
        return STATUS_BADINPUT
    C10 = props[1]
    D1 = props[2]
    if not (C10 > 0.0 and D1 > 0.0 and C10 < np.inf and D1 < np.inf):
        return STATUS_BADINPUT
    if not finite_matrix(F_new):
        return STATUS_BADINPUT
    w = ws[:27].reshape((3, 3, 3))
    Finv = w[0]
    devb = w[1]
    dtau = w[2]
    J = inv3(F_new, Finv)
    if not (J > 0.0):
        return STATUS_BADINPUT
    F = F_new
    Jm = J ** (-2.0 / 3.0)
    trb = 0.0
    for i in range(3):
        for j in range(3):
            s = 0.0
            for K in range(3):
                s += F[i, K] * F[j, K]
            devb[i, j] = s
        trb += devb[i, i]
    for i in range(3):
        devb[i, i] -= trb / 3.0
    pv = (2.0 / D1) * J * (J - 1.0)
    # P = τ F⁻ᵀ, τ = 2 C10 Jm dev b + pv 1
    for i in range(3):
        for j in range(3):
            s = 0.0
            for m in range(3):
                s += 2.0 * C10 * Jm * devb[i, m] * Finv[j, m]
            P[i, j] = s + pv * Finv[j, i]
    # dτ/dF_kl: dJ = J F⁻¹_lk, d(Jm) = −(2/3) Jm F⁻¹_lk, db_ij = δ_ik F_jl + F_il δ_jk
    dpv = (2.0 / D1) * (2.0 * J - 1.0) * J
    for k in range(3):
        for l in range(3):
            g = Finv[l, k]
            for i in range(3):
                for j in range(3):
                    db = (F[j, l] if i == k else 0.0) + (F[i, l] if j == k else 0.0)
                    if i == j:
                        db -= 2.0 * F[k, l] / 3.0
                    v = 2.0 * C10 * Jm * (db - (2.0 / 3.0) * g * devb[i, j])
                    if i == j:
                        v += dpv * g
                    dtau[i, j] = v
            kirchhoff_column(Finv, P, dtau, k, l, A)
    return STATUS_OK


@njit(cache=True)
def svk_update(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws):
    """Saint-Venant–Kirchhoff: P = F S (3,3) and A = dP/dF (9,9) at F_new (module doc)."""
    if props.shape[0] < NPROPS_SVK or ws.shape[0] < NWS_SVK:
        return STATUS_BADINPUT
    E = props[1]
    nu = props[2]
    if not (E > 0.0 and E < np.inf and -1.0 < nu < 0.5):
        return STATUS_BADINPUT
    if not finite_matrix(F_new):
        return STATUS_BADINPUT
    w = ws[:18].reshape((2, 3, 3))
    S = w[0]
    FFt = w[1]
    F = F_new
    if not (det3(F) > 0.0):
        return STATUS_BADINPUT
    K, mu = bulk_shear(E, nu)
    lam = K - 2.0 * mu / 3.0
    trE = 0.0
    for i in range(3):
        for j in range(3):
            c = 0.0
            f = 0.0
            for K_ in range(3):
                c += F[K_, i] * F[K_, j]
                f += F[i, K_] * F[j, K_]
            S[i, j] = c - (1.0 if i == j else 0.0)  # 2 E_G
            FFt[i, j] = f
        trE += 0.5 * S[i, i]
    for i in range(3):
        for j in range(3):
            S[i, j] = mu * S[i, j] + (lam * trE if i == j else 0.0)
    for i in range(3):
        for j in range(3):
            s = 0.0
            for m in range(3):
                s += F[i, m] * S[m, j]
            P[i, j] = s
    # dP_ij/dF_kl = δ_ik S_lj + λ F_ij F_kl + μ (δ_lj (F Fᵀ)_ik + F_il F_kj)
    for i in range(3):
        for j in range(3):
            for k in range(3):
                for l in range(3):
                    v = lam * F[i, j] * F[k, l] + mu * F[i, l] * F[k, j]
                    if i == k:
                        v += S[l, j]
                    if l == j:
                        v += mu * FFt[i, k]
                    A[3 * i + j, 3 * k + l] = v
    return STATUS_OK


guard_numba_cache(neohooke_update, __file__)
