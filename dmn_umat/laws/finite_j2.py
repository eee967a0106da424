"""Finite-strain J2 elasto-plasticity (numba, allocation-free): multiplicative F = Fe Fp,
Hencky elasticity in the logarithmic elastic strain, exponential-map return (Simo 1992;
Simo & Hughes, *Computational Inelasticity*, ch. 9; de Souza Neto et al., ch. 14), the
isotropic hardening of the small-strain ``j2`` law, consistent analytic tangent dP/dF.
Interface ``update_fs`` and conversions: :mod:`~dmn_umat.laws.finite`.

Model (be = Fe Feᵀ elastic left Cauchy–Green, εe = ½ ln be, τ Kirchhoff stress)::

    τ = K tr(εe) 1 + 2G dev(εe)                         (Hencky; = the small-strain law in εe)
    f = sqrt(3/2) |dev τ| − σy(p),   σy(p) = sy + H p + Q (1 − exp(−b p))
    Lv be = −2 ṗ N be,  N = (3/2) dev τ / q              (associative, isochoric plastic flow)

Update (one increment, state Cp⁻¹ = Fp⁻¹ Fp⁻ᵀ at the start)::

    be_tr = F Cp⁻¹ Fᵀ,  εe_tr = ½ ln be_tr,  τ_tr from εe_tr
    radial return in εe (the small-strain j2 return, exact exponential map):
        εe = εe_tr − Δp N_tr,  τ = K tr εe_tr 1 + 2G (1 − 3G Δp / q_tr) dev εe_tr
    be = exp(2 εe),  Cp⁻¹ = F⁻¹ be F⁻ᵀ  (det Cp⁻¹ stays 1: det Fp = 1),  P = τ F⁻ᵀ

Tangent: dP = dτ F⁻ᵀ − τ F⁻ᵀ dFᵀ F⁻ᵀ with dτ = D : ½ L : dbe_tr, D the small-strain
algorithmic tangent (K 1⊗1 + 2G θ P_dev − 2G γ̄ n⊗n), L = d ln(be)/d be evaluated in the
eigenbasis of be_tr (divided differences of ln, :func:`~dmn_umat.laws.finite.log_divided`),
dbe_tr = dF Cp⁻¹ Fᵀ + F Cp⁻¹ dFᵀ: exact linearisation of the discrete update.

Kinematic hardening is omitted (the exponential-map return with a back-stress is not
coaxial in general); ``props[7]`` of a ``j2`` vector is not read.

==========  ====================================  ======  =====================================
props       ``[id, E, nu, sy, H, Q, b]``          nprops  7 (``NPROPS``)
state       Cp⁻¹ − 1 (6, plain components in the order 11, 22, 33, 23, 13, 12) [0:6], p [6]
            — nstate 7 (``NSTATE``); zeros = virgin material (Fp = 1)
scratch     ws ≥ 96 floats (``NWS``)
id          ``LAW_FJ2`` = 8 (the catalogue row ``fj2``)
==========  ====================================  ======  =====================================

The state is Lagrangian (Cp), so a superposed rotation of F leaves it unchanged, and
``F_old``, ``dt`` and the temperatures are not used.  Returns 0 ok, 1 the scalar Newton did
not converge, 2 bad input (non-finite F or state, det F ≤ 0, state with be_tr not positive
definite, E ≤ 0, ν ∉ (−1, 0.5), sy ≤ 0, H, Q or b < 0, short props/state/scratch).
"""

from __future__ import annotations

import math

from numba import njit

from ..sources import guard_numba_cache
from .catalogue import STATUS_BADINPUT, STATUS_NONCONVERGED, STATUS_OK
from .elastic import bulk_shear
from .finite import eigh3, finite_matrix, from_basis, inv3, kirchhoff_column, log_divided, matmul3

LAW_FJ2 = 8
NPROPS = 7
NSTATE = 7
NWS = 96

#: (i, j) of the six state components of Cp⁻¹ − 1 (order 11, 22, 33, 23, 13, 12)
_SI = (0, 1, 2, 1, 0, 0)
_SJ = (0, 1, 2, 2, 2, 1)
_SQ32 = math.sqrt(1.5)


@njit(cache=True)
def fj2_update(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws):
    """Finite-strain J2 update of one point (layout and equations: module doc)."""
    if props.shape[0] < NPROPS or ws.shape[0] < NWS or state_old.shape[0] < NSTATE:
        return STATUS_BADINPUT
    if state_new.shape[0] < NSTATE:
        return STATUS_BADINPUT
    E, nu, sy, H, Q, b = props[1], props[2], props[3], props[4], props[5], props[6]
    for v in (E, nu, sy, H, Q, b):
        if not math.isfinite(v):
            return STATUS_BADINPUT
    if not (E > 0.0 and -1.0 < nu < 0.5 and sy > 0.0 and H >= 0.0 and Q >= 0.0 and b >= 0.0):
        return STATUS_BADINPUT
    for i in range(NSTATE):
        if not math.isfinite(state_old[i]):
            return STATUS_BADINPUT
    if not finite_matrix(F_new):
        return STATUS_BADINPUT
    W = ws[:81].reshape((9, 3, 3))
    Finv, Cpi, M, be, R, MR, X, Y, Z = W[0], W[1], W[2], W[3], W[4], W[5], W[6], W[7], W[8]
    lam = ws[81:84]
    tau_a = ws[84:87]
    nhat = ws[87:90]
    F = F_new
    J = inv3(F, Finv)
    if not (J > 0.0):
        return STATUS_BADINPUT
    K, G = bulk_shear(E, nu)

    # trial: be_tr = F Cp⁻¹ Fᵀ = F M, M = Cp⁻¹ Fᵀ; principal log strains
    for n in range(6):
        v = state_old[n] + (1.0 if n < 3 else 0.0)
        Cpi[_SI[n], _SJ[n]] = v
        Cpi[_SJ[n], _SI[n]] = v
    for i in range(3):
        for j in range(3):
            s = 0.0
            for m in range(3):
                s += Cpi[i, m] * F[j, m]
            M[i, j] = s
    matmul3(F, M, be)
    eigh3(be, lam, R)
    for a in range(3):
        if not (lam[a] > 0.0):
            return STATUS_BADINPUT
    e0 = 0.5 * math.log(lam[0])
    e1 = 0.5 * math.log(lam[1])
    e2 = 0.5 * math.log(lam[2])
    tr = e0 + e1 + e2
    d0 = e0 - tr / 3.0
    d1 = e1 - tr / 3.0
    d2 = e2 - tr / 3.0
    snorm = 2.0 * G * math.sqrt(d0 * d0 + d1 * d1 + d2 * d2)
    q_tr = _SQ32 * snorm
    p_old = state_old[6]
    R_old = H * p_old + Q * (1.0 - math.exp(-b * p_old))
    dp = 0.0
    theta = 1.0
    gam = 0.0
    if q_tr - (sy + R_old) > 1e-12 * sy:
        # scalar Newton on q_tr − 3G Δp − σy(p_n + Δp) = 0 (monotone: converges from 0)
        converged = False
        for _ in range(50):
            p = p_old + dp
            ex = math.exp(-b * p)
            g = q_tr - 3.0 * G * dp - sy - H * p - Q * (1.0 - ex)
            step = g / (3.0 * G + H + Q * b * ex)
            dp += step
            if abs(step) <= 1e-14 * (1.0 + abs(dp)) and abs(g) <= 1e-10 * sy:
                converged = True
                break
        if not converged or not (dp > 0.0) or not math.isfinite(dp):
            return STATUS_NONCONVERGED
        dR = H + Q * b * math.exp(-b * (p_old + dp))
        theta = 1.0 - 3.0 * G * dp / q_tr
        gam = 3.0 * G / (3.0 * G + dR) - 3.0 * G * dp / q_tr
    # principal Kirchhoff stresses, unit deviator direction, new elastic log strains
    tau_a[0] = K * tr + 2.0 * G * theta * d0
    tau_a[1] = K * tr + 2.0 * G * theta * d1
    tau_a[2] = K * tr + 2.0 * G * theta * d2
    for a in range(3):
        da = d0 if a == 0 else (d1 if a == 1 else d2)
        nhat[a] = 2.0 * G * da / snorm if snorm > 0.0 else 0.0
    # state: be = R exp(2 εe) Rᵀ with εe_a = e_a − Δp (3/2) s_a / q_tr; Cp⁻¹ = F⁻¹ be F⁻ᵀ
    for a in range(3):
        for c in range(3):
            X[a, c] = 0.0
        ea = 0.5 * math.log(lam[a]) - dp * _SQ32 * nhat[a]
        X[a, a] = math.exp(2.0 * ea)
    from_basis(R, X, be)
    matmul3(Finv, be, Y)
    for i in range(3):
        for j in range(3):
            s = 0.0
            for m in range(3):
                s += Y[i, m] * Finv[j, m]
            Z[i, j] = s
    for n in range(6):
        i = _SI[n]
        j = _SJ[n]
        state_new[n] = 0.5 * (Z[i, j] + Z[j, i]) - (1.0 if n < 3 else 0.0)
    state_new[6] = p_old + dp

    # stress: τ = R diag(τ_a) Rᵀ, P = τ F⁻ᵀ  (Y = τ)
    for a in range(3):
        for c in range(3):
            X[a, c] = tau_a[a] if a == c else 0.0
    from_basis(R, X, Y)
    for i in range(3):
        for j in range(3):
            s = 0.0
            for m in range(3):
                s += Y[i, m] * Finv[j, m]
            P[i, j] = s

    # tangent, column (k, l): dbe' = Rᵀ dbe R with dbe = e_k ⊗ M_l· + M_l· ⊗ e_k,
    # dε'_ab = ½ g_ab dbe'_ab, dτ' = D : dε' (n̂ diagonal in the eigenbasis), dτ = R dτ' Rᵀ
    matmul3(M, R, MR)
    for a in range(3):
        for c in range(3):
            Cpi[a, c] = 0.5 * log_divided(lam[a], lam[c])  # ½ g_ac (Cp⁻¹ no longer needed)
    for k in range(3):
        for l in range(3):
            trd = 0.0
            nd = 0.0
            for a in range(3):
                for c in range(3):
                    X[a, c] = Cpi[a, c] * (R[k, a] * MR[l, c] + MR[l, a] * R[k, c])
                trd += X[a, a]
                nd += nhat[a] * X[a, a]
            for a in range(3):
                for c in range(3):
                    v = 2.0 * G * theta * X[a, c]
                    if a == c:
                        v += (K - 2.0 * G * theta / 3.0) * trd - 2.0 * G * gam * nhat[a] * nd
                    Z[a, c] = v
            from_basis(R, Z, Y)
            kirchhoff_column(Finv, P, Y, k, l, A)
    return STATUS_OK


guard_numba_cache(fj2_update, __file__)
