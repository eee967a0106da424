"""Linear elastic laws (``elastic``: isotropic E, nu; ``aniso``: 21 Mandel constants), numba.

Helpers shared with the other laws: the isotropic moduli and stiffness fill.  Layouts of
``props``: :mod:`dmn_umat.laws`.
"""

from __future__ import annotations

from numba import njit

from ..sources import guard_numba_cache


@njit(cache=True)
def bulk_shear(E, nu):
    """Bulk and shear moduli (K, G) of Young's modulus E and Poisson ratio nu."""
    K = E / (3.0 * (1.0 - 2.0 * nu))
    G = E / (2.0 * (1.0 + nu))
    return K, G


@njit(cache=True)
def isotropic_fill(K, G, C):
    """Write the isotropic Mandel stiffness 3K P_vol + 2G P_dev (6,6) into ``C``."""
    a = K - 2.0 * G / 3.0
    for i in range(6):
        for j in range(6):
            C[i, j] = 0.0
    for i in range(3):
        for j in range(3):
            C[i, j] = a
        C[i, i] = a + 2.0 * G
        C[i + 3, i + 3] = 2.0 * G


@njit(cache=True)
def isotropic_stiffness(props, C):
    """Elastic Mandel stiffness (6,6) of a law whose ``props`` start ``[id, E, nu, ...]``."""
    K, G = bulk_shear(props[1], props[2])
    isotropic_fill(K, G, C)


@njit(cache=True)
def aniso_stiffness(props, C):
    """Mandel stiffness (6,6) from ``props = [id, C11, C12, ..., C66]`` (upper triangle, row by row)."""
    k = 1
    for i in range(6):
        for j in range(i, 6):
            C[i, j] = props[k]
            C[j, i] = props[k]
            k += 1


@njit(cache=True)
def linear_stress(C, eps, stress):
    """stress (6,) = C (6,6) eps (6,)."""
    for i in range(6):
        s = 0.0
        for j in range(6):
            s += C[i, j] * eps[j]
        stress[i] = s


guard_numba_cache(bulk_shear, __file__)
