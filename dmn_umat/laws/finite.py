"""Finite-strain kinematics for the phase laws (numba, allocation-free): 3x3 helpers, the
symmetric eigen-decomposition behind log / exp of symmetric tensors and their derivative,
and the conversions of a law's (F, P, dP/dF) to Cauchy stress and to the Abaqus UMAT tangent.

Finite-strain law interface (:mod:`~dmn_umat.laws.hyperelastic`,
:mod:`~dmn_umat.laws.finite_j2`)::

    status = update_fs(props, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, ws)

- ``props``  (nprops,) law id then constants
- ``F_old``, ``F_new`` (3,3) deformation gradient at the start / end of the increment
- ``P``      (3,3) out: first Piola–Kirchhoff stress at the end (units of the moduli)
- ``A``      (9,9) out: consistent tangent dP/dF, row ``3 i + j`` for P_ij, column
  ``3 k + l`` for F_kl (row-major flattening of both)
- ``state_old`` / ``state_new`` (nstate,) internal variables; ``ws`` (≥ nws,) scratch
- returns 0 ok, 1 not converged (cut back), 2 bad input (non-finite F, det F ≤ 0, invalid
  constants, short props / state / scratch); never raises

Conversions (any law of this interface):

- :func:`cauchy`: σ = P Fᵀ / J
- :func:`umat_tangent`: the Abaqus/Standard UMAT ``DDSDDE`` under NLGEOM, i.e. the tangent
  C of the Jaumann rate of the Kirchhoff stress, ``τ^∇J = J C : D``, 6x6 in Abaqus' order
  11, 22, 33, 12, 13, 23 with engineering shear strains (column ``J`` of a shear pair is
  C_ijkl, not 2 C_ijkl).  With a = ∂τ/∂F · F (a_ijkm = A_iJkL F_jJ F_mL) and D = sym(l)::

      J C_ijkl = sym_kl(a_ijkl) + ½ (τ_ik δ_jl + τ_il δ_jk)

  which equals the derivative of τ / J along the perturbation Abaqus' documentation uses
  for the numerical material Jacobian, F → F + (ε/2)(e_k⊗e_l + e_l⊗e_k) F.
"""

from __future__ import annotations

import math

from numba import njit

from ..sources import guard_numba_cache

#: Abaqus / CalculiX Voigt order of the six stress / strain components (11, 22, 33, 12, 13, 23)
VOIGT_I = (0, 1, 2, 0, 0, 1)
VOIGT_J = (0, 1, 2, 1, 2, 2)


@njit(cache=True)
def det3(F):
    """Determinant of a (3,3)."""
    return (F[0, 0] * (F[1, 1] * F[2, 2] - F[1, 2] * F[2, 1])
            - F[0, 1] * (F[1, 0] * F[2, 2] - F[1, 2] * F[2, 0])
            + F[0, 2] * (F[1, 0] * F[2, 1] - F[1, 1] * F[2, 0]))


@njit(cache=True)
def inv3(F, out):
    """Write F⁻¹ into ``out`` (3,3); returns det F (``out`` undefined when det F = 0)."""
    d = det3(F)
    if d == 0.0:
        return d
    out[0, 0] = (F[1, 1] * F[2, 2] - F[1, 2] * F[2, 1]) / d
    out[0, 1] = (F[0, 2] * F[2, 1] - F[0, 1] * F[2, 2]) / d
    out[0, 2] = (F[0, 1] * F[1, 2] - F[0, 2] * F[1, 1]) / d
    out[1, 0] = (F[1, 2] * F[2, 0] - F[1, 0] * F[2, 2]) / d
    out[1, 1] = (F[0, 0] * F[2, 2] - F[0, 2] * F[2, 0]) / d
    out[1, 2] = (F[0, 2] * F[1, 0] - F[0, 0] * F[1, 2]) / d
    out[2, 0] = (F[1, 0] * F[2, 1] - F[1, 1] * F[2, 0]) / d
    out[2, 1] = (F[0, 1] * F[2, 0] - F[0, 0] * F[2, 1]) / d
    out[2, 2] = (F[0, 0] * F[1, 1] - F[0, 1] * F[1, 0]) / d
    return d


@njit(cache=True)
def matmul3(a, b, out):
    """out = a b (3,3); ``out`` must not alias ``a`` or ``b``."""
    for i in range(3):
        for j in range(3):
            s = 0.0
            for k in range(3):
                s += a[i, k] * b[k, j]
            out[i, j] = s


@njit(cache=True)
def matmul3_bt(a, b, out):
    """out = a bᵀ (3,3); ``out`` must not alias ``a`` or ``b``."""
    for i in range(3):
        for j in range(3):
            s = 0.0
            for k in range(3):
                s += a[i, k] * b[j, k]
            out[i, j] = s


@njit(cache=True)
def finite_matrix(F):
    """True when all entries of the (3,3) ``F`` are finite."""
    for i in range(3):
        for j in range(3):
            if not math.isfinite(F[i, j]):
                return False
    return True


@njit(cache=True)
def eigh3(S, lam, R):
    """Eigen-decomposition of a symmetric (3,3) ``S`` (cyclic Jacobi, to round-off):
    ``S = R diag(lam) Rᵀ``, eigenvectors in the columns of ``R`` (3,3), values in ``lam`` (3,).
    ``S`` is read only; repeated eigenvalues are fine."""
    a00, a11, a22 = S[0, 0], S[1, 1], S[2, 2]
    a01, a02, a12 = 0.5 * (S[0, 1] + S[1, 0]), 0.5 * (S[0, 2] + S[2, 0]), 0.5 * (S[1, 2] + S[2, 1])
    for i in range(3):
        for j in range(3):
            R[i, j] = 1.0 if i == j else 0.0
    scale = abs(a00) + abs(a11) + abs(a22) + abs(a01) + abs(a02) + abs(a12)
    for _ in range(50):
        off = abs(a01) + abs(a02) + abs(a12)
        if off <= 1e-300 or off <= 1e-18 * scale:
            break
        for p, q in ((0, 1), (0, 2), (1, 2)):
            if p == 0 and q == 1:
                apq, app, aqq = a01, a00, a11
            elif p == 0:
                apq, app, aqq = a02, a00, a22
            else:
                apq, app, aqq = a12, a11, a22
            if apq == 0.0:
                continue
            theta = (aqq - app) / (2.0 * apq)
            t = (1.0 if theta >= 0.0 else -1.0) / (abs(theta) + math.sqrt(theta * theta + 1.0))
            c = 1.0 / math.sqrt(t * t + 1.0)
            s = t * c
            # rotate rows/columns p, q of the symmetric matrix (r = the third index)
            if p == 0 and q == 1:
                a00 = app - t * apq
                a11 = aqq + t * apq
                a01 = 0.0
                arp, arq = a02, a12
                a02 = c * arp - s * arq
                a12 = s * arp + c * arq
            elif p == 0:
                a00 = app - t * apq
                a22 = aqq + t * apq
                a02 = 0.0
                arp, arq = a01, a12
                a01 = c * arp - s * arq
                a12 = s * arp + c * arq
            else:
                a11 = app - t * apq
                a22 = aqq + t * apq
                a12 = 0.0
                arp, arq = a01, a02
                a01 = c * arp - s * arq
                a02 = s * arp + c * arq
            for k in range(3):
                rkp = R[k, p]
                rkq = R[k, q]
                R[k, p] = c * rkp - s * rkq
                R[k, q] = s * rkp + c * rkq
    lam[0] = a00
    lam[1] = a11
    lam[2] = a22


@njit(cache=True)
def log_divided(la, lb):
    """(ln la − ln lb) / (la − lb) for la, lb > 0 (1 / la when equal), round-off accurate."""
    d = la - lb
    if d == 0.0:
        return 1.0 / la
    u = d / lb
    if abs(u) < 0.5:
        return math.log1p(u) / d
    return (math.log(la) - math.log(lb)) / d


@njit(cache=True)
def to_basis(R, X, out):
    """out = Rᵀ X R (components of the (3,3) X in the basis of R's columns)."""
    for a in range(3):
        for b in range(3):
            s = 0.0
            for i in range(3):
                for j in range(3):
                    s += R[i, a] * X[i, j] * R[j, b]
            out[a, b] = s


@njit(cache=True)
def from_basis(R, X, out):
    """out = R X Rᵀ."""
    for i in range(3):
        for j in range(3):
            s = 0.0
            for a in range(3):
                for b in range(3):
                    s += R[i, a] * X[a, b] * R[j, b]
            out[i, j] = s


@njit(cache=True)
def kirchhoff_column(Finv, P, dtau, k, l, A):
    """Column ``3 k + l`` of dP/dF from dτ (3,3) = ∂τ/∂F_kl: P = τ F⁻ᵀ gives
    dP_ij = (dτ F⁻ᵀ)_ij − P_il F⁻¹_jk."""
    for i in range(3):
        for j in range(3):
            s = 0.0
            for m in range(3):
                s += dtau[i, m] * Finv[j, m]
            A[3 * i + j, 3 * k + l] = s - P[i, l] * Finv[j, k]


@njit(cache=True)
def cauchy(F, P, sigma):
    """Cauchy stress σ = P Fᵀ / det F into ``sigma`` (3,3)."""
    J = det3(F)
    for i in range(3):
        for j in range(3):
            s = 0.0
            for K in range(3):
                s += P[i, K] * F[j, K]
            sigma[i, j] = s / J


@njit(cache=True)
def cauchy_voigt(F, P, out):
    """Cauchy stress (6,) in Abaqus order 11, 22, 33, 12, 13, 23 (the UMAT's STRESS)."""
    J = det3(F)
    for n in range(6):
        i = VOIGT_I[n]
        j = VOIGT_J[n]
        s = 0.0
        for K in range(3):
            s += 0.5 * (P[i, K] * F[j, K] + P[j, K] * F[i, K])
        out[n] = s / J


@njit(cache=True)
def umat_tangent(F, P, A, ddsdde):
    """Abaqus UMAT material Jacobian (6,6) under NLGEOM from F, P and A = dP/dF (9,9).

    ``ddsdde[I, J]`` = C_ijkl with (i, j) = pair I, (k, l) = pair J of the order 11, 22, 33,
    12, 13, 23, where J C is the tangent of the Jaumann rate of Kirchhoff stress (module doc).
    """
    J = det3(F)
    for n in range(6):
        i = VOIGT_I[n]
        j = VOIGT_J[n]
        for m in range(6):
            k = VOIGT_I[m]
            l = VOIGT_J[m]
            # a_ijkl + a_ijlk with a_ijkm = A[3i+I, 3k+L] F_jI F_mL; symmetrised in (i, j) too
            # (exact for frame-indifferent laws, whose a:D + τ D is symmetric)
            s = 0.0
            for I in range(3):
                for L in range(3):
                    s += (A[3 * i + I, 3 * k + L] * F[j, I] * F[l, L]
                          + A[3 * i + I, 3 * l + L] * F[j, I] * F[k, L]
                          + A[3 * j + I, 3 * k + L] * F[i, I] * F[l, L]
                          + A[3 * j + I, 3 * l + L] * F[i, I] * F[k, L])
            s *= 0.25
            # ½ (τ_ik δ_jl + τ_il δ_jk), symmetrised in (i, j)
            t = 0.0
            for K in range(3):
                if j == l:
                    t += P[i, K] * F[k, K]
                if j == k:
                    t += P[i, K] * F[l, K]
                if i == l:
                    t += P[j, K] * F[k, K]
                if i == k:
                    t += P[j, K] * F[l, K]
            ddsdde[n, m] = (s + 0.25 * t) / J


guard_numba_cache(det3, __file__)
