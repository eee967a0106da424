"""Tensor conventions: the one module that knows Mandel and Voigt.

Internal convention (everywhere but the UMAT boundary): **Mandel** 6-vectors in the
order 11, 22, 33, 23, 13, 12 with a factor sqrt(2) on the shear components, so that a
4th-order tensor with minor symmetries is a 6x6 matrix, the double contraction is the dot
product, and norms are tensor norms.

Abaqus / CalculiX boundary: **Voigt** order 11, 22, 33, 12, 13, 23, engineering shear
strain (gamma = 2 eps), tensor shear stress. NTENS = 6 (3D) or 4 (11, 22, 33, 12).

All functions are float64. The ``@njit`` ones are usable from Python and from numba code.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .sources import guard_numba_cache

SQ2 = np.sqrt(2.0)
ISQ2 = 1.0 / SQ2

#: Mandel position of tensor index pairs (i, j), 0-based.
MANDEL_IJ = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))
#: Human-readable component names in Mandel order (used in CLI/CSV/JSON).
COMPONENTS = ("11", "22", "33", "23", "13", "12")
#: Mandel index of each Voigt (Abaqus) component 11, 22, 33, 12, 13, 23.
VOIGT_TO_MANDEL = (0, 1, 2, 5, 4, 3)


@njit(cache=True)
def to_mandel(t):
    """Symmetric 3x3 tensor -> Mandel 6-vector."""
    out = np.empty(6)
    out[0] = t[0, 0]
    out[1] = t[1, 1]
    out[2] = t[2, 2]
    out[3] = SQ2 * t[1, 2]
    out[4] = SQ2 * t[0, 2]
    out[5] = SQ2 * t[0, 1]
    return out


@njit(cache=True)
def from_mandel(v):
    """Mandel 6-vector -> symmetric 3x3 tensor."""
    t = np.empty((3, 3))
    t[0, 0] = v[0]
    t[1, 1] = v[1]
    t[2, 2] = v[2]
    t[1, 2] = t[2, 1] = v[3] * ISQ2
    t[0, 2] = t[2, 0] = v[4] * ISQ2
    t[0, 1] = t[1, 0] = v[5] * ISQ2
    return t


def mandel_scale() -> np.ndarray:
    """(6,) factors s with mandel = s * tensor_components (1,1,1,√2,√2,√2)."""
    return np.array([1.0, 1.0, 1.0, SQ2, SQ2, SQ2])


def tensor_components_to_mandel(e: np.ndarray) -> np.ndarray:
    """(..., 6) tensor components e11,e22,e33,e23,e13,e12 (CLI/CSV) -> Mandel (..., 6)."""
    return np.asarray(e, dtype=np.float64) * mandel_scale()


def mandel_to_tensor_components(v: np.ndarray) -> np.ndarray:
    """(..., 6) Mandel -> tensor components e11,e22,e33,e23,e13,e12."""
    return np.asarray(v, dtype=np.float64) / mandel_scale()


# --------------------------------------------------------------------------- Voigt (UMAT)
@njit(cache=True)
def voigt_strain_to_mandel(ev, ntens, out):
    """Abaqus strain (ntens,) engineering shear -> Mandel (6,) written to ``out``.

    ntens = 6: 11,22,33,12,13,23; ntens = 4: 11,22,33,12 (13 = 23 = 0).
    """
    out[0] = ev[0]
    out[1] = ev[1]
    out[2] = ev[2]
    out[5] = ev[3] * ISQ2  # sqrt(2) * gamma/2
    if ntens == 6:
        out[4] = ev[4] * ISQ2
        out[3] = ev[5] * ISQ2
    else:
        out[4] = 0.0
        out[3] = 0.0


@njit(cache=True)
def mandel_stress_to_voigt(s, ntens, out):
    """Mandel stress (6,) -> Abaqus stress (ntens,) (tensor shear components)."""
    out[0] = s[0]
    out[1] = s[1]
    out[2] = s[2]
    out[3] = s[5] * ISQ2
    if ntens == 6:
        out[4] = s[4] * ISQ2
        out[5] = s[3] * ISQ2


@njit(cache=True)
def mandel_tangent_to_voigt(c, ntens, out):
    """Mandel tangent (6,6) -> Abaqus DDSDDE (ntens, ntens) in Voigt/engineering shear.

    ``out[i, j]`` = d sigma_i / d eps_j (Voigt).  The caller decides the memory order
    (Abaqus DDSDDE is column-major: pass the transposed view of a Fortran array, or note
    that the matrix is symmetric for the laws we ship).
    """
    for i in range(ntens):
        mi = VOIGT_TO_MANDEL[i]
        si = ISQ2 if i >= 3 else 1.0
        for j in range(ntens):
            mj = VOIGT_TO_MANDEL[j]
            sj = ISQ2 if j >= 3 else 1.0
            out[i, j] = c[mi, mj] * si * sj


# --------------------------------------------------------------------------- stiffnesses
def isotropic_stiffness(E: float, nu: float) -> np.ndarray:
    """Isotropic Mandel stiffness (6,6) from Young's modulus and Poisson's ratio."""
    K = E / (3.0 * (1.0 - 2.0 * nu))
    G = E / (2.0 * (1.0 + nu))
    return stiffness_from_bulk_shear(K, G)


def stiffness_from_bulk_shear(K: float, G: float) -> np.ndarray:
    """Isotropic Mandel stiffness 3K P_vol + 2G P_dev."""
    p_vol = np.zeros((6, 6))
    p_vol[:3, :3] = 1.0 / 3.0
    return 3.0 * K * p_vol + 2.0 * G * (np.eye(6) - p_vol)


def bulk_shear_moduli(C: np.ndarray) -> tuple[float, float]:
    """Isotropic projection (K, G) of a Mandel stiffness: K = (1·C·1)/9, G = (tr C − 3K)/10."""
    C = np.asarray(C)
    K = C[:3, :3].sum() / 9.0
    G = (np.trace(C) - 3.0 * K) / 10.0
    return float(K), float(G)


def orthotropic_stiffness(
    E1: float,
    E2: float,
    E3: float,
    nu12: float,
    nu13: float,
    nu23: float,
    G12: float,
    G13: float,
    G23: float,
) -> np.ndarray:
    """Orthotropic Mandel stiffness in its material frame (engineering constants)."""
    S = np.zeros((6, 6))
    S[0, 0], S[1, 1], S[2, 2] = 1 / E1, 1 / E2, 1 / E3
    S[0, 1] = S[1, 0] = -nu12 / E1
    S[0, 2] = S[2, 0] = -nu13 / E1
    S[1, 2] = S[2, 1] = -nu23 / E2
    S[3, 3], S[4, 4], S[5, 5] = 1 / (2 * G23), 1 / (2 * G13), 1 / (2 * G12)
    return np.linalg.inv(S)


# --------------------------------------------------------------------------- laminates
@njit(cache=True)
def h_matrix(n):
    """(6,3) matrix H(n) with H a = mandel(sym(a ⊗ n)); Hᵀ σ = σ·n (traction)."""
    H = np.zeros((6, 3))
    H[0, 0] = n[0]
    H[1, 1] = n[1]
    H[2, 2] = n[2]
    H[3, 1] = n[2] * ISQ2
    H[3, 2] = n[1] * ISQ2
    H[4, 0] = n[2] * ISQ2
    H[4, 2] = n[0] * ISQ2
    H[5, 0] = n[1] * ISQ2
    H[5, 1] = n[0] * ISQ2
    return H


def laminate_stiffness(C1: np.ndarray, C2: np.ndarray, f1: float, n: np.ndarray) -> np.ndarray:
    """Effective Mandel stiffness of a rank-1 laminate (normal n, volume fraction f1 of C1).

    C̄ = f1 C1 + f2 C2 − f1 f2 ΔC H (Hᵀ C̃ H)⁻¹ Hᵀ ΔC,  ΔC = C2 − C1,  C̃ = f2 C1 + f1 C2.
    """
    n = np.asarray(n, dtype=np.float64)
    n = n / np.linalg.norm(n)
    f2 = 1.0 - f1
    H = h_matrix(n)
    dC = C2 - C1
    Ct = f2 * C1 + f1 * C2
    A = H.T @ Ct @ H
    B = H.T @ dC
    return f1 * C1 + f2 * C2 - f1 * f2 * B.T @ np.linalg.solve(A, B)


# --------------------------------------------------------------------------- rotations
def normal_from_angles(theta: float, phi: float) -> np.ndarray:
    """Unit normal (sinθ cosφ, sinθ sinφ, cosθ) (θ polar from x3, φ azimuth in x1–x2)."""
    return np.array([np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta)])


def rotation_from_euler(a: float, b: float, c: float) -> np.ndarray:
    """Proper rotation R = Rz(a) Ry(b) Rz(c) (intrinsic z-y-z Euler angles)."""

    def rz(t):
        return np.array([[np.cos(t), -np.sin(t), 0.0], [np.sin(t), np.cos(t), 0.0], [0.0, 0.0, 1.0]])

    def ry(t):
        return np.array([[np.cos(t), 0.0, np.sin(t)], [0.0, 1.0, 0.0], [-np.sin(t), 0.0, np.cos(t)]])

    return rz(a) @ ry(b) @ rz(c)


@njit(cache=True)
def rotation_mandel(R):
    """(6,6) orthogonal Q with mandel(R ε Rᵀ) = Q mandel(ε); a stiffness rotates as Q C Qᵀ."""
    Q = np.empty((6, 6))
    for b in range(6):
        k, l = MANDEL_IJ[b]
        # basis tensor E_b: E_kl = E_lk = 1/sqrt2 (shear) or E_kk = 1 (normal)
        for a in range(6):
            i, j = MANDEL_IJ[a]
            if k == l:
                v = R[i, k] * R[j, k]
            else:
                v = (R[i, k] * R[j, l] + R[i, l] * R[j, k]) * ISQ2
            Q[a, b] = v * (1.0 if i == j else SQ2)
    return Q


def rotate_stiffness(C: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Stiffness of a material rotated by R: Q C Qᵀ."""
    Q = rotation_mandel(np.ascontiguousarray(R, dtype=np.float64))
    return Q @ C @ Q.T


def relative_error(C_pred: np.ndarray, C_ref: np.ndarray) -> np.ndarray:
    """Relative Frobenius error ‖C_pred − C_ref‖ / ‖C_ref‖ over the last two axes."""
    d = np.linalg.norm(np.asarray(C_pred) - np.asarray(C_ref), axis=(-2, -1))
    return d / np.linalg.norm(np.asarray(C_ref), axis=(-2, -1))


guard_numba_cache(to_mandel, __file__)
