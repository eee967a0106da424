"""Numba kernels of the FFT solver on the rotated staggered grid (Willot 2015).

Discretization (see ``docs/fft.md``): periodic grid of cubic voxels of unit size; the
displacement fluctuation ``u`` lives on the voxel corners (nodes), ``u[c, i, j, k]`` is
component c at the node with the lowest coordinates of voxel (i, j, k).  The strain of a voxel
is the gradient of the trilinear interpolation evaluated at the voxel centre (trilinear hex
element, reduced one-point integration), i.e.

    du_c/dx_0 = 1/4 sum_{b,c'} [u_c(i+1, j+b, k+c') - u_c(i, j+b, k+c')]     (and cyclic),

whose Fourier symbol is ``i e^{i(x0+x1+x2)/2} g(xi)`` with
``g_d = 2 sin(xi_d/2) prod_{e != d} cos(xi_e/2)`` (Willot's modified wave vector).
``divergence`` is the exact transpose of ``strain`` for the Mandel dot product, so the
stiffness operator ``D^T C D`` is symmetric positive semidefinite.

Arrays: ``u``/``f`` (3, nx, ny, nz) float64; strain/stress fields (nx*ny*nz, 6) Mandel,
point-major, voxel index ``v = (i*ny + j)*nz + k`` (the finite-strain solver's first
Piola–Kirchhoff fields: (nx*ny*nz, 9) row-major, :func:`divergence_dot` serves both).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..laws import update as laws
from ..sources import guard_numba_cache

SQ2 = math.sqrt(2.0)
ISQ2 = 1.0 / SQ2


@njit(cache=True, inline="always")
def _level(u, c, i, ip, j, jp, k):
    """Face sums of component c over the 4 nodes (i|ip, j|jp) at node level k: (S, X, Y)."""
    u00 = u[c, i, j, k]
    u10 = u[c, ip, j, k]
    u01 = u[c, i, jp, k]
    u11 = u[c, ip, jp, k]
    return u00 + u10 + u01 + u11, (u10 - u00) + (u11 - u01), (u01 - u00) + (u11 - u10)


@njit(parallel=True, cache=True)
def strain_stress(u, E, table, idx, out, partial, mode):
    """Voxel strains E + sym grad u (mode 0: out = strain) or stresses (mode 1: out =
    table[idx[v]] @ strain; mode 2: isotropic, table[idx[v], 0, 0] = lambda, [.., 0, 1] = 2 mu,
    out = lambda tr(e) 1 + 2 mu e), partial[i] = sum of the stresses of slab i; out (N, 6).

    Sliding window along z: the node-level face sums of level k+1 are reused for voxel k+1.
    """
    _, nx, ny, nz = u.shape
    for i in prange(nx):
        ip = i + 1 if i + 1 < nx else 0
        a0 = a1 = a2 = a3 = a4 = a5 = 0.0
        for j in range(ny):
            jp = j + 1 if j + 1 < ny else 0
            sL0, xL0, yL0 = _level(u, 0, i, ip, j, jp, 0)
            sL1, xL1, yL1 = _level(u, 1, i, ip, j, jp, 0)
            sL2, xL2, yL2 = _level(u, 2, i, ip, j, jp, 0)
            for k in range(nz):
                kp = k + 1 if k + 1 < nz else 0
                sU0, xU0, yU0 = _level(u, 0, i, ip, j, jp, kp)
                sU1, xU1, yU1 = _level(u, 1, i, ip, j, jp, kp)
                sU2, xU2, yU2 = _level(u, 2, i, ip, j, jp, kp)
                # grad[c][d] = du_c/dx_d
                g00 = 0.25 * (xL0 + xU0)
                g01 = 0.25 * (yL0 + yU0)
                g02 = 0.25 * (sU0 - sL0)
                g10 = 0.25 * (xL1 + xU1)
                g11 = 0.25 * (yL1 + yU1)
                g12 = 0.25 * (sU1 - sL1)
                g20 = 0.25 * (xL2 + xU2)
                g21 = 0.25 * (yL2 + yU2)
                g22 = 0.25 * (sU2 - sL2)
                e0 = E[0] + g00
                e1 = E[1] + g11
                e2 = E[2] + g22
                e3 = E[3] + ISQ2 * (g12 + g21)
                e4 = E[4] + ISQ2 * (g02 + g20)
                e5 = E[5] + ISQ2 * (g01 + g10)
                v = (i * ny + j) * nz + k
                if mode == 2:
                    p = idx[v]
                    lt = table[p, 0, 0] * (e0 + e1 + e2)
                    m2 = table[p, 0, 1]
                    t0 = m2 * e0 + lt
                    t1 = m2 * e1 + lt
                    t2 = m2 * e2 + lt
                    t3 = m2 * e3
                    t4 = m2 * e4
                    t5 = m2 * e5
                    out[v, 0] = t0
                    out[v, 1] = t1
                    out[v, 2] = t2
                    out[v, 3] = t3
                    out[v, 4] = t4
                    out[v, 5] = t5
                    a0 += t0
                    a1 += t1
                    a2 += t2
                    a3 += t3
                    a4 += t4
                    a5 += t5
                elif mode == 0:
                    out[v, 0] = e0
                    out[v, 1] = e1
                    out[v, 2] = e2
                    out[v, 3] = e3
                    out[v, 4] = e4
                    out[v, 5] = e5
                else:
                    p = idx[v]
                    t0 = (table[p, 0, 0] * e0 + table[p, 0, 1] * e1 + table[p, 0, 2] * e2
                          + table[p, 0, 3] * e3 + table[p, 0, 4] * e4 + table[p, 0, 5] * e5)
                    t1 = (table[p, 1, 0] * e0 + table[p, 1, 1] * e1 + table[p, 1, 2] * e2
                          + table[p, 1, 3] * e3 + table[p, 1, 4] * e4 + table[p, 1, 5] * e5)
                    t2 = (table[p, 2, 0] * e0 + table[p, 2, 1] * e1 + table[p, 2, 2] * e2
                          + table[p, 2, 3] * e3 + table[p, 2, 4] * e4 + table[p, 2, 5] * e5)
                    t3 = (table[p, 3, 0] * e0 + table[p, 3, 1] * e1 + table[p, 3, 2] * e2
                          + table[p, 3, 3] * e3 + table[p, 3, 4] * e4 + table[p, 3, 5] * e5)
                    t4 = (table[p, 4, 0] * e0 + table[p, 4, 1] * e1 + table[p, 4, 2] * e2
                          + table[p, 4, 3] * e3 + table[p, 4, 4] * e4 + table[p, 4, 5] * e5)
                    t5 = (table[p, 5, 0] * e0 + table[p, 5, 1] * e1 + table[p, 5, 2] * e2
                          + table[p, 5, 3] * e3 + table[p, 5, 4] * e4 + table[p, 5, 5] * e5)
                    out[v, 0] = t0
                    out[v, 1] = t1
                    out[v, 2] = t2
                    out[v, 3] = t3
                    out[v, 4] = t4
                    out[v, 5] = t5
                    a0 += t0
                    a1 += t1
                    a2 += t2
                    a3 += t3
                    a4 += t4
                    a5 += t5
                sL0, xL0, yL0 = sU0, xU0, yU0
                sL1, xL1, yL1 = sU1, xU1, yU1
                sL2, xL2, yL2 = sU2, xU2, yU2
        if mode != 0:
            partial[i, 0] = a0
            partial[i, 1] = a1
            partial[i, 2] = a2
            partial[i, 3] = a3
            partial[i, 4] = a4
            partial[i, 5] = a5


def strain(u, E, eps):
    """eps[v] = E + sym grad u (Mandel) for every voxel; eps (N, 6)."""
    strain_stress(u, E, _DUMMY_TABLE, _DUMMY_IDX, eps, _DUMMY_PARTIAL, 0)


def stress_linear(u, E, table, idx, sig, partial, iso=None):
    """sig[v] = table[idx[v]] @ (E + sym grad u)[v]; partial[i] = sum of sig over slab i.

    ``table`` (m, 6, 6) stiffnesses (per phase, or per voxel with idx = arange(N)); ``iso``
    optional (m, 6, 6) array holding lambda, 2 mu in [:, 0, 0], [:, 0, 1] when every entry of
    ``table`` is isotropic (faster path, see :func:`isotropic_table`).
    """
    if iso is not None:
        strain_stress(u, E, iso, idx, sig, partial, 2)
    else:
        strain_stress(u, E, table, idx, sig, partial, 1)


def isotropic_table(table: np.ndarray, rtol: float = 1e-13) -> np.ndarray | None:
    """(m, 6, 6) array with lambda, 2 mu in [:, 0, 0], [:, 0, 1] if every stiffness of
    ``table`` is isotropic (to ``rtol``), else None."""
    out = np.zeros((table.shape[0], 6, 6))
    for p, C in enumerate(table):
        lam = C[0, 1]
        m2 = C[0, 0] - lam
        ref = np.zeros((6, 6))
        ref[:3, :3] = lam
        ref += m2 * np.eye(6)
        if np.abs(C - ref).max() > rtol * np.abs(C).max():
            return None
        out[p, 0, 0] = lam
        out[p, 0, 1] = m2
    return out


_DUMMY_TABLE = np.zeros((1, 6, 6))
_DUMMY_IDX = np.zeros(1, dtype=np.int64)
_DUMMY_PARTIAL = np.zeros((1, 6))


@njit(cache=True, inline="always")
def _div_level(sig, i, im, j, jm, k, ny, nz):
    """Voxel-level sums for the nodal forces of node column (i, j) from voxel level k.

    The 4 voxels (i - a, j - b, k) carry signs s0 = 2a - 1, s1 = 2b - 1.  Returns
    (Px, Py, Pz, Qx, Qy, Qz): in-plane parts and the sums multiplied by s2 later.
    """
    v00 = (i * ny + j) * nz + k  # a = 0, b = 0
    v10 = (im * ny + j) * nz + k  # a = 1
    v01 = (i * ny + jm) * nz + k  # b = 1
    v11 = (im * ny + jm) * nz + k
    # s0: -1 for a = 0, +1 for a = 1 ; s1: -1 for b = 0, +1 for b = 1
    d0_0 = (sig[v10, 0] + sig[v11, 0]) - (sig[v00, 0] + sig[v01, 0])
    d0_5 = (sig[v10, 5] + sig[v11, 5]) - (sig[v00, 5] + sig[v01, 5])
    d0_4 = (sig[v10, 4] + sig[v11, 4]) - (sig[v00, 4] + sig[v01, 4])
    d1_5 = (sig[v01, 5] + sig[v11, 5]) - (sig[v00, 5] + sig[v10, 5])
    d1_1 = (sig[v01, 1] + sig[v11, 1]) - (sig[v00, 1] + sig[v10, 1])
    d1_3 = (sig[v01, 3] + sig[v11, 3]) - (sig[v00, 3] + sig[v10, 3])
    s4 = sig[v00, 4] + sig[v10, 4] + sig[v01, 4] + sig[v11, 4]
    s3 = sig[v00, 3] + sig[v10, 3] + sig[v01, 3] + sig[v11, 3]
    s2 = sig[v00, 2] + sig[v10, 2] + sig[v01, 2] + sig[v11, 2]
    Px = d0_0 + ISQ2 * d1_5
    Py = ISQ2 * d0_5 + d1_1
    Pz = ISQ2 * (d0_4 + d1_3)
    return Px, Py, Pz, ISQ2 * s4, ISQ2 * s3, s2


@njit(cache=True, inline="always")
def _div_level9(P, i, im, j, jm, k, ny, nz):
    """:func:`_div_level` of a full (N, 9) row-major field ``P`` (first Piola–Kirchhoff stress,
    component ``3 c + d``, the adjoint of the full gradient of ``fft_finite.grad_field``)."""
    v00 = (i * ny + j) * nz + k
    v10 = (im * ny + j) * nz + k
    v01 = (i * ny + jm) * nz + k
    v11 = (im * ny + jm) * nz + k
    px = ((P[v10, 0] + P[v11, 0]) - (P[v00, 0] + P[v01, 0])
          + (P[v01, 1] + P[v11, 1]) - (P[v00, 1] + P[v10, 1]))
    py = ((P[v10, 3] + P[v11, 3]) - (P[v00, 3] + P[v01, 3])
          + (P[v01, 4] + P[v11, 4]) - (P[v00, 4] + P[v10, 4]))
    pz = ((P[v10, 6] + P[v11, 6]) - (P[v00, 6] + P[v01, 6])
          + (P[v01, 7] + P[v11, 7]) - (P[v00, 7] + P[v10, 7]))
    qx = P[v00, 2] + P[v10, 2] + P[v01, 2] + P[v11, 2]
    qy = P[v00, 5] + P[v10, 5] + P[v01, 5] + P[v11, 5]
    qz = P[v00, 8] + P[v10, 8] + P[v01, 8] + P[v11, 8]
    return px, py, pz, qx, qy, qz


@njit(cache=True, inline="always")
def _div_sums(sig, i, im, j, jm, k, ny, nz):
    """:func:`_div_level9` for a 9-component field, else :func:`_div_level` (6, Mandel)."""
    if sig.shape[1] == 9:
        return _div_level9(sig, i, im, j, jm, k, ny, nz)
    return _div_level(sig, i, im, j, jm, k, ny, nz)


@njit(parallel=True, cache=True)
def divergence(sig, f):
    """Nodal forces f = D^T sig (exact transpose of :func:`strain` for the Mandel dot)."""
    divergence_dot(sig, f, f)


@njit(parallel=True, cache=True)
def divergence_dot(sig, f, p):
    """f = D^T sig; returns sum(p * f) (p of the same shape as f, fused dot product).

    ``sig`` (N, 6) Mandel stress (D = the symmetric gradient of :func:`strain`) or (N, 9)
    row-major first Piola–Kirchhoff stress (D = the full gradient, :mod:`dmn_umat.rve.fft_finite`).
    """
    _, nx, ny, nz = f.shape
    tot = 0.0
    for I in prange(nx):
        im = I - 1 if I > 0 else nx - 1
        for J in range(ny):
            jm = J - 1 if J > 0 else ny - 1
            pxL, pyL, pzL, qxL, qyL, qzL = _div_sums(sig, I, im, J, jm, nz - 1, ny, nz)
            for K in range(nz):
                px, py, pz, qx, qy, qz = _div_sums(sig, I, im, J, jm, K, ny, nz)
                fx = 0.25 * (px + pxL + qxL - qx)
                fy = 0.25 * (py + pyL + qyL - qy)
                fz = 0.25 * (pz + pzL + qzL - qz)
                f[0, I, J, K] = fx
                f[1, I, J, K] = fy
                f[2, I, J, K] = fz
                tot += p[0, I, J, K] * fx + p[1, I, J, K] * fy + p[2, I, J, K] * fz
                pxL, pyL, pzL, qxL, qyL, qzL = px, py, pz, qx, qy, qz
    return tot


@njit(parallel=True, cache=True)
def green_apply(uh, sx, cx, sy, cy, sz, cz, lam0, mu0):
    """In place: uh(xi) <- K0(xi)^+ uh(xi), K0 = g g-weighted isotropic acoustic tensor.

    ``uh`` (3, nx, ny, nzh) complex (rfftn over the last three axes); ``s*``/``c*`` hold
    sin(xi/2), cos(xi/2) per axis.  K0 = mu0 |g|^2 I + (lam0 + mu0) g g^T; modes with g = 0
    (mean and hourglass modes of the staggered grid) are set to zero.
    """
    _, nx, ny, nzh = uh.shape
    ratio = (lam0 + mu0) / (lam0 + 2.0 * mu0)
    for i in prange(nx):
        for j in range(ny):
            A0 = 2.0 * sx[i] * cy[j]
            A1 = 2.0 * cx[i] * sy[j]
            A2 = 2.0 * cx[i] * cy[j]
            for k in range(nzh):
                g0 = A0 * cz[k]
                g1 = A1 * cz[k]
                g2 = A2 * sz[k]
                gg = g0 * g0 + g1 * g1 + g2 * g2
                if gg < 1e-12:
                    uh[0, i, j, k] = 0.0
                    uh[1, i, j, k] = 0.0
                    uh[2, i, j, k] = 0.0
                    continue
                igg = 1.0 / gg
                sc = igg / mu0
                a0 = uh[0, i, j, k]
                a1 = uh[1, i, j, k]
                a2 = uh[2, i, j, k]
                proj = (ratio * igg) * (g0 * a0 + g1 * a1 + g2 * a2)
                uh[0, i, j, k] = sc * (a0 - proj * g0)
                uh[1, i, j, k] = sc * (a1 - proj * g1)
                uh[2, i, j, k] = sc * (a2 - proj * g2)


@njit(parallel=True, cache=True)
def axpy2(x, p, r, q, alpha):
    """x += alpha p; r -= alpha q (1-D arrays)."""
    for n in prange(x.size):
        x[n] += alpha * p[n]
        r[n] -= alpha * q[n]


@njit(parallel=True, cache=True)
def xpby(p, z, beta):
    """p <- z + beta p (1-D arrays)."""
    for n in prange(p.size):
        p[n] = z[n] + beta * p[n]


@njit(parallel=True, cache=True)
def axpy(r, q, alpha):
    """r += alpha q (1-D arrays)."""
    for n in prange(r.size):
        r[n] += alpha * q[n]


@njit(parallel=True, cache=True)
def cg_direction(x, p, z, alpha, beta):
    """x += alpha p, then p <- z + beta p (one pass)."""
    for n in prange(p.size):
        pn = p[n]
        x[n] += alpha * pn
        p[n] = z[n] + beta * pn


@njit(parallel=True, cache=True)
def energy_norm2(sig, S0):
    """sum_v sig_v . S0 sig_v (S0 = reference compliance, (6, 6))."""
    n = sig.shape[0]
    tot = 0.0
    for v in prange(n):
        s = sig[v]
        t = 0.0
        for a in range(6):
            w = 0.0
            for b in range(6):
                w += S0[a, b] * s[b]
            t += s[a] * w
        tot += t
    return tot


@njit(parallel=True, cache=True)
def material_update(props, phase, eps, state_old, dt, temp, dtemp, sig, tangent, state_new, status, nchunk):
    """Per-voxel ``laws.phase_update`` (the shared law code) over a time increment ``dt`` from
    temperature ``temp`` by ``dtemp``; status (N,) int64.  ``nchunk`` voxel chunks, each with
    its own law scratch."""
    n = eps.shape[0]
    for c in prange(nchunk):
        ws = np.empty(laws.MAX_NWS)
        for v in range((c * n) // nchunk, ((c + 1) * n) // nchunk):
            status[v] = laws.phase_update(
                props[phase[v]], eps[v], state_old[v], dt, temp, dtemp, sig[v], tangent[v], state_new[v], ws
            )


@njit(parallel=True, cache=True)
def dot(a, b):
    """Parallel dot product of two 1-D arrays (no BLAS threading)."""
    t = 0.0
    for n in prange(a.size):
        t += a[n] * b[n]
    return t


@njit(parallel=True, cache=True)
def copy_dot(src, dst, r):
    """dst[:src.size] = src; returns dot(r[:src.size], src)."""
    t = 0.0
    for n in prange(src.size):
        v = src[n]
        dst[n] = v
        t += r[n] * v
    return t


guard_numba_cache(_level, __file__)
