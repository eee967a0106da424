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
point-major, voxel index ``v = (i*ny + j)*nz + k``.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange

from ..online import laws

SQ2 = math.sqrt(2.0)
ISQ2 = 1.0 / SQ2


@njit(cache=True, inline="always")
def _voxel_strain(u, i, j, k, ip, jp, kp, E, e):
    """Mandel strain E + sym grad u at the centre of voxel (i, j, k) into ``e`` (6,)."""
    g00 = g01 = g02 = g10 = g11 = g12 = g20 = g21 = g22 = 0.0
    for c in range(3):
        u000 = u[c, i, j, k]
        u100 = u[c, ip, j, k]
        u010 = u[c, i, jp, k]
        u001 = u[c, i, j, kp]
        u110 = u[c, ip, jp, k]
        u101 = u[c, ip, j, kp]
        u011 = u[c, i, jp, kp]
        u111 = u[c, ip, jp, kp]
        d0 = 0.25 * ((u100 - u000) + (u110 - u010) + (u101 - u001) + (u111 - u011))
        d1 = 0.25 * ((u010 - u000) + (u110 - u100) + (u011 - u001) + (u111 - u101))
        d2 = 0.25 * ((u001 - u000) + (u101 - u100) + (u011 - u010) + (u111 - u110))
        if c == 0:
            g00, g01, g02 = d0, d1, d2
        elif c == 1:
            g10, g11, g12 = d0, d1, d2
        else:
            g20, g21, g22 = d0, d1, d2
    e[0] = E[0] + g00
    e[1] = E[1] + g11
    e[2] = E[2] + g22
    e[3] = E[3] + ISQ2 * (g12 + g21)
    e[4] = E[4] + ISQ2 * (g02 + g20)
    e[5] = E[5] + ISQ2 * (g01 + g10)


@njit(parallel=True, cache=True)
def strain(u, E, eps):
    """eps[v] = E + sym grad u (Mandel) for every voxel; eps (N, 6)."""
    _, nx, ny, nz = u.shape
    for i in prange(nx):
        ip = i + 1 if i + 1 < nx else 0
        for j in range(ny):
            jp = j + 1 if j + 1 < ny else 0
            for k in range(nz):
                kp = k + 1 if k + 1 < nz else 0
                v = (i * ny + j) * nz + k
                _voxel_strain(u, i, j, k, ip, jp, kp, E, eps[v])


@njit(parallel=True, cache=True)
def stress_linear(u, E, table, idx, sig, partial):
    """sig[v] = table[idx[v]] @ (E + sym grad u)[v]; partial[i] = sum of sig over slab i.

    ``table`` (m, 6, 6) stiffnesses (per phase, or per voxel with idx = arange(N)).
    """
    _, nx, ny, nz = u.shape
    for i in prange(nx):
        ip = i + 1 if i + 1 < nx else 0
        e = np.empty(6)
        acc = np.zeros(6)
        for j in range(ny):
            jp = j + 1 if j + 1 < ny else 0
            for k in range(nz):
                kp = k + 1 if k + 1 < nz else 0
                v = (i * ny + j) * nz + k
                _voxel_strain(u, i, j, k, ip, jp, kp, E, e)
                C = table[idx[v]]
                s = sig[v]
                for a in range(6):
                    t = 0.0
                    for b in range(6):
                        t += C[a, b] * e[b]
                    s[a] = t
                    acc[a] += t
        for a in range(6):
            partial[i, a] = acc[a]


@njit(parallel=True, cache=True)
def divergence(sig, f):
    """Nodal forces f = D^T sig (exact transpose of :func:`strain` for the Mandel dot)."""
    _, nx, ny, nz = f.shape
    for I in prange(nx):
        for J in range(ny):
            for K in range(nz):
                fx = 0.0
                fy = 0.0
                fz = 0.0
                for a in range(2):
                    i = I - a
                    if i < 0:
                        i += nx
                    s0 = 2.0 * a - 1.0
                    for b in range(2):
                        j = J - b
                        if j < 0:
                            j += ny
                        s1 = 2.0 * b - 1.0
                        for c in range(2):
                            k = K - c
                            if k < 0:
                                k += nz
                            s2 = 2.0 * c - 1.0
                            s = sig[(i * ny + j) * nz + k]
                            t3 = ISQ2 * s[3]
                            t4 = ISQ2 * s[4]
                            t5 = ISQ2 * s[5]
                            fx += s0 * s[0] + s1 * t5 + s2 * t4
                            fy += s0 * t5 + s1 * s[1] + s2 * t3
                            fz += s0 * t4 + s1 * t3 + s2 * s[2]
                f[0, I, J, K] = 0.25 * fx
                f[1, I, J, K] = 0.25 * fy
                f[2, I, J, K] = 0.25 * fz


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
            for k in range(nzh):
                g0 = 2.0 * sx[i] * cy[j] * cz[k]
                g1 = 2.0 * cx[i] * sy[j] * cz[k]
                g2 = 2.0 * cx[i] * cy[j] * sz[k]
                gg = g0 * g0 + g1 * g1 + g2 * g2
                if gg < 1e-12:
                    uh[0, i, j, k] = 0.0
                    uh[1, i, j, k] = 0.0
                    uh[2, i, j, k] = 0.0
                    continue
                a0 = uh[0, i, j, k]
                a1 = uh[1, i, j, k]
                a2 = uh[2, i, j, k]
                proj = ratio * (g0 * a0 + g1 * a1 + g2 * a2) / gg
                sc = 1.0 / (mu0 * gg)
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
def material_update(props, phase, eps, state_old, sig, tangent, state_new, status):
    """Per-voxel ``laws.phase_update`` (the shared law code); status (N,) int64."""
    for v in prange(eps.shape[0]):
        status[v] = laws.phase_update(props[phase[v]], eps[v], state_old[v], sig[v], tangent[v], state_new[v])
