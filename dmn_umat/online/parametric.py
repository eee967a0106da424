"""Online evaluation of an orientation-aware (parametric) network: one fibre orientation tensor A₂
per integration point (file version 2, :class:`dmn_umat.model_file.ParametricModel`).

Public API (numba functions take float64 / int64 C-contiguous arrays, like :mod:`.kernel`)::

    pb       = pack_parametric(model, rtol=kernel.RTOL)   # Python: ParametricModel -> float64 blob
    nmi, nmf = blob_sizes(pb)                             # @njit: lengths of the per-point mi / mf
    nsv      = parametric_state_size(pb, props_table)     # @njit: STATEV length, -1 = bad input
    nwork    = parametric_work_size(pb)                   # @njit: scratch length, -1 = bad blob
    st       = frame(a2, lam, R)                          # @njit: eigenvalues (3,) + axes R (3,3)
    st       = build_point(pb, a2, props_table, mi, mf)   # @njit: the point's kernel blobs
    st       = build_frame(pb, lam, R, has_rot, mi, mf)   # @njit: the same from eigenvalues + axes
    status   = parametric_update(mi, mf, props_table, strain, state_old, stress, ddsdde,
                                 state_new, work, info, dt, temp, dtemp, a2, pb)      # @njit
    status   = parametric_network_update(... same arguments ...)   # @njit, zeroes info first
    mat      = ParametricNetworkMaterial(model, phases)   # batched, parallel
    upd      = mat.update(strain (n,6), state (n,nsv), a2 (n,6), dt, temp, dtemp)
    fields   = mat.fields(state (n,nsv), a2 (n,6))       # peeq, peeq_phase{p}, jump_norm per point
    bound    = mat.at(a2)                                 # material protocol for fixed points:
    upd      = bound.update(strain, state, dt, temp, dtemp); bound.fields(state)

- ``pb`` (npb,) float64: the whole parametric network (header, topology, p0, A; layout below).
  Immutable; one per model, shared by all points and threads.
- ``a2`` (6,) the orientation tensor A₂ in the package's Voigt order a11, a22, a33, a23, a13, a12
  (:mod:`dmn_umat.rve.orientation`; no √2: these are tensor components).
- ``mi`` (nmi,) int64, ``mf`` (nmf,) float64: **per-point scratch** that :func:`build_point` fills
  with exactly what :func:`.kernel.pack_network` gives for the point's global network (the
  network at A₂'s eigenvalues, its normals rotated to the global frame by the principal axes R;
  leaf rotations R when a phase law is anisotropic).  A caller that keeps them per point may call
  :func:`.kernel.network_update` with them directly on later increments (the cache of
  :class:`ParametricNetworkMaterial`); the point's state layout (``nsv``) does not depend on A₂.
- the other arguments, the return status and ``info`` are those of :func:`.kernel.network_update`;
  a bad A₂ (non-finite, trace ≠ 1 by more than 1e-6, an eigenvalue below −1e-8) or a bad ``pb``
  returns FAILED with zero stress/tangent and state_new = state_old.

A₂ → network: the eigenvalues of A₂ (cyclic Jacobi, exact for repeated eigenvalues; tiny
negatives clipped to 0, then normalized to sum 1) sorted λ1 ≥ λ2 ≥ λ3, eigenvectors the columns of
R.  Signs: the largest-magnitude component of the first and second axes is made positive
(first index on ties), third = first × second (det R = +1).  This makes R a deterministic
function of A₂ (the same A₂ always gives the same network).  It cannot make it an equivariant
one: A₂ is invariant under the π rotations about its axes while the trained network is in
general not (docs/fibres.md, "Frame"), so rotating A₂ and the load together rotates the
response exactly when the rotated A₂'s axes are the rotated axes (no sign switch of the rule);
across a switch the response changes by the network's departure from orthotropy in its
principal frame.  Anisotropic phase laws are taken as given in the principal frame (the frame of
the training RVE) and rotated with the network by R.

``pb`` layout (float64; integers stored exactly)::

    [PB_HEAD header: PMAGIC, PVERSION, N, M (internal), L (leaves), depth, nphase, degree, F,
                     activation (0 softplus, 1 relu), rtol, P, 0...
     | topology: child 1, child 2, phase, leaf ordinal, internal ordinal (N each, pre-order)
     | centre (2) | exponents (F x 2) | p0 (P) | A (P x F, row-major)]

with p ordered z (leaves, pre-order), θ (internal nodes, pre-order), φ (internal, pre-order) of
the packed tree: a pruned model's collapsed tree (:func:`pack_parametric`), the rows of its nodes.
"""

from __future__ import annotations

import contextlib
import math

import numba
import numpy as np
from numba import njit, prange

from .. import tensors
from ..laws import MaterialUpdate, Phase, parse_phase, props_table
from ..laws import update as laws
from ..model_file import ACTIVATIONS, CENTER, ParametricModel, monomial_exponents, n_features
from ..network import Network, collapse
from ..sources import guard_numba_cache
from ..status import INFO_RATIO, INFO_STATUS, KERNEL_INFO_SIZE, ST_FAILED
from . import kernel
from .solver import network_fields

PMAGIC = 0x444D4E50  # "DMNP"
PVERSION = 1
PB_HEAD = 16
(H_MAGIC, H_VERSION, H_N, H_M, H_L, H_DEPTH, H_NPHASE, H_DEGREE, H_F, H_ACT, H_RTOL, H_P) = range(12)
_T_C1, _T_C2, _T_PHASE, _T_LEAF, _T_INT, _T_NODE = range(6)  # topology arrays at PB_HEAD + i·N
TRACE_TOL = 1e-6  # |tr A₂ − 1| allowed (as rve.orientation.parse_a2)
PSD_TOL = 1e-8  # most negative eigenvalue allowed (clipped to 0)
MAX_NODES = 1 << 24


class ParametricError(ValueError):
    """Bad parametric network, phase laws or orientation input (one-line message)."""


# --------------------------------------------------------------------------- packing (Python)
def pack_parametric(model: ParametricModel, rtol: float = kernel.RTOL) -> np.ndarray:
    """Flatten a :class:`~dmn_umat.model_file.ParametricModel` into the ``pb`` blob (module doc).

    A pruned model (leaf mask) is packed as its collapsed tree (:func:`dmn_umat.network.collapse`:
    pruned leaves removed, nodes left with one child replaced by it), with the rows of p0 and A of
    the nodes kept: every point's network, its state and its cost are those of the smaller tree."""
    if not (0.0 < rtol < 1e-2):
        raise ParametricError("pack_parametric: rtol must lie in (0, 1e-2)")
    msg = model.check()
    if msg:
        raise ParametricError(f"pack_parametric: {msg}")
    full = model.reference_network()
    is_leaf = full.is_leaf
    leaf0 = np.cumsum(is_leaf) - 1  # ordinals of the complete tree: rows of z, θ, φ
    int0 = np.cumsum(~is_leaf) - 1
    keep = np.zeros(full.n_nodes, dtype=bool)
    keep[is_leaf] = model.kept_leaves()
    ch, src = collapse(full.children, keep)
    N = ch.shape[0]
    leaf = ch[:, 0] < 0
    L = int(leaf.sum())
    M = N - L
    L0, M0 = model.n_leaves, model.n_leaves - 1
    rows = np.concatenate([leaf0[src[leaf]], L0 + int0[src[~leaf]], L0 + M0 + int0[src[~leaf]]])
    leaf_ord = -np.ones(N, dtype=np.int64)
    int_ord = -np.ones(N, dtype=np.int64)
    leaf_ord[leaf] = np.arange(L)
    int_ord[~leaf] = np.arange(M)
    phase = np.where(leaf, np.asarray(full.phase, dtype=np.int64)[src], -1)
    depth = Network(ch, np.zeros((N, 3)), np.zeros(N), phase).depth()
    F = n_features(model.degree)
    P = L + 2 * M
    head = np.zeros(PB_HEAD)
    head[:12] = [PMAGIC, PVERSION, N, M, L, depth, int(full.phase.max()) + 1, model.degree, F,
                 ACTIVATIONS.index(model.activation), rtol, P]
    parts = [head, ch[:, 0], ch[:, 1], phase, leaf_ord, int_ord, np.asarray(CENTER),
             np.asarray(monomial_exponents(model.degree), dtype=np.float64).ravel(),
             np.asarray(model.p0, dtype=np.float64)[rows],
             np.asarray(model.coef, dtype=np.float64)[rows].ravel()]
    return np.ascontiguousarray(np.concatenate([np.asarray(a, dtype=np.float64) for a in parts]))


# --------------------------------------------------------------------------- sizes (njit)
@njit(cache=True)
def _pb_offsets(pb):
    """(topology, centre, exponents, p0, A, end) offsets in ``pb``."""
    N = int(pb[H_N])
    F = int(pb[H_F])
    P = int(pb[H_P])
    o_topo = PB_HEAD
    o_c = o_topo + _T_NODE * N
    o_e = o_c + 2
    o_p0 = o_e + 2 * F
    o_A = o_p0 + P
    return o_topo, o_c, o_e, o_p0, o_A, o_A + P * F


@njit(cache=True)
def _pb_ok(pb):
    if pb.shape[0] < PB_HEAD or pb[H_MAGIC] != PMAGIC or pb[H_VERSION] != PVERSION:
        return False
    N, M, L = pb[H_N], pb[H_M], pb[H_L]
    d, F, P = pb[H_DEGREE], pb[H_F], pb[H_P]
    if not (1 <= N <= MAX_NODES and M + L == N and P == L + 2 * M and 1 <= d <= 6):
        return False
    if F != d * (d + 3) // 2 or not (pb[H_ACT] == 0 or pb[H_ACT] == 1):
        return False
    if not (0.0 < pb[H_RTOL] < 1e-2 and 1 <= pb[H_NPHASE] <= 64 and 1 <= pb[H_DEPTH] <= 64):
        return False
    if pb.shape[0] < _pb_offsets(pb)[5]:
        return False
    # topology: every index build_frame follows must stay inside the blobs (pre-order tree)
    n = int(N)
    nleaf = 0
    nint = 0
    for k in range(n):
        c1 = pb[PB_HEAD + _T_C1 * n + k]
        c2 = pb[PB_HEAD + _T_C2 * n + k]
        if c1 < 0:
            ph = pb[PB_HEAD + _T_PHASE * n + k]
            if c2 != -1 or c1 != -1 or pb[PB_HEAD + _T_LEAF * n + k] != nleaf or not 0 <= ph < pb[H_NPHASE]:
                return False
            nleaf += 1
        else:
            if not (k < c1 < n and k < c2 < n and c1 == int(c1) and c2 == int(c2)):
                return False
            if pb[PB_HEAD + _T_INT * n + k] != nint:
                return False
            nint += 1
    return nleaf == L and nint == M


@njit(cache=True)
def blob_sizes(pb):
    """(nmi, nmf): lengths of the per-point ``mi`` / ``mf`` scratch; (-1, -1) for a bad ``pb``."""
    if not _pb_ok(pb):
        return -1, -1
    N = int(pb[H_N])
    return kernel.NHEAD + kernel._I_NODE * N, kernel.F0 + kernel.M_NODE * N


@njit(cache=True)
def _fill_topology(pb, mi, has_rot):
    """Header and topology of the kernel's ``mi`` (kinds: all active); returns N."""
    N = int(pb[H_N])
    for i in range(kernel.NHEAD):
        mi[i] = 0
    mi[0] = kernel.MAGIC
    mi[1] = kernel.VERSION
    mi[2] = N
    mi[3] = int(pb[H_M])
    mi[4] = int(pb[H_L])
    mi[5] = int(pb[H_DEPTH])
    mi[6] = has_rot
    mi[7] = int(pb[H_NPHASE])
    o = PB_HEAD
    for k in range(N):
        c1 = int(pb[o + _T_C1 * N + k])
        mi[kernel.NHEAD + kernel._I_KIND * N + k] = kernel.KIND_LEAF if c1 < 0 else kernel.KIND_LAMINATE
        mi[kernel.NHEAD + kernel._I_C1 * N + k] = c1
        mi[kernel.NHEAD + kernel._I_C2 * N + k] = int(pb[o + _T_C2 * N + k])
        mi[kernel.NHEAD + kernel._I_LEAF * N + k] = int(pb[o + _T_LEAF * N + k])
        mi[kernel.NHEAD + kernel._I_INT * N + k] = int(pb[o + _T_INT * N + k])
        mi[kernel.NHEAD + kernel._I_PHASE * N + k] = int(pb[o + _T_PHASE * N + k])
    return N


@njit(cache=True)
def parametric_state_size(pb, props_table):
    """STATEV length per point (independent of A₂); -1 for bad input."""
    nmi, _ = blob_sizes(pb)
    if nmi < 0:
        return -1
    mi = np.empty(nmi, dtype=np.int64)
    _fill_topology(pb, mi, 0)
    return kernel.state_size(mi, props_table)


@njit(cache=True)
def parametric_work_size(pb):
    """``work`` length per concurrently evaluated point; -1 for a bad ``pb``."""
    nmi, _ = blob_sizes(pb)
    if nmi < 0:
        return -1
    mi = np.empty(nmi, dtype=np.int64)
    _fill_topology(pb, mi, 0)
    return kernel.work_size(mi)


# --------------------------------------------------------------------------- A₂ → frame
@njit(cache=True)
def frame(a2, lam, R):
    """A₂ (6,) Voigt a11, a22, a33, a23, a13, a12 → eigenvalues ``lam`` (3,) λ1 ≥ λ2 ≥ λ3 ≥ 0,
    Σλ = 1, and principal axes ``R`` (3,3) (columns; canonical signs, det +1; module doc).
    Returns 0, or ST_FAILED for non-finite components, |tr − 1| > 1e-6 or an eigenvalue < −1e-8."""
    if a2.shape[0] < 6 or lam.shape[0] < 3 or R.shape[0] < 3 or R.shape[1] < 3:
        return ST_FAILED
    for i in range(6):
        if not math.isfinite(a2[i]):
            return ST_FAILED
    tr = a2[0] + a2[1] + a2[2]
    if not abs(tr - 1.0) <= TRACE_TOL:
        return ST_FAILED
    a = np.empty((3, 3))
    a[0, 0], a[1, 1], a[2, 2] = a2[0], a2[1], a2[2]
    a[1, 2] = a[2, 1] = a2[3]
    a[0, 2] = a[2, 0] = a2[4]
    a[0, 1] = a[1, 0] = a2[5]
    V = np.eye(3)
    _jacobi3(a, V)
    d0, d1, d2 = a[0, 0], a[1, 1], a[2, 2]
    # sort descending (indices i0, i1, i2)
    i0, i1, i2 = 0, 1, 2
    if d1 > d0:
        i0, i1 = 1, 0
    dd = (d0, d1, d2)
    if d2 > dd[i1]:
        i1, i2 = 2, i1
        if d2 > dd[i0]:
            i0, i1 = 2, i0
    ev = (dd[i0], dd[i1], dd[i2])
    if ev[2] < -PSD_TOL:
        return ST_FAILED
    s = 0.0
    for j in range(3):
        lam[j] = max(ev[j], 0.0)
        s += lam[j]
    for j in range(3):
        lam[j] /= s
    idx = (i0, i1)
    for c in range(2):
        col = idx[c]
        big = 0
        for i in range(1, 3):
            if abs(V[i, col]) > abs(V[big, col]):
                big = i
        sg = 1.0 if V[big, col] >= 0.0 else -1.0
        for i in range(3):
            R[i, c] = sg * V[i, col]
    R[0, 2] = R[1, 0] * R[2, 1] - R[2, 0] * R[1, 1]
    R[1, 2] = R[2, 0] * R[0, 1] - R[0, 0] * R[2, 1]
    R[2, 2] = R[0, 0] * R[1, 1] - R[1, 0] * R[0, 1]
    return 0


@njit(cache=True)
def _jacobi3(a, V):
    """Cyclic Jacobi on a symmetric 3x3 ``a`` (overwritten: diagonal = eigenvalues); V ← V·J
    (columns: eigenvectors).  Exact for repeated eigenvalues (no division by their gaps)."""
    for _sweep in range(50):
        off = a[0, 1] ** 2 + a[0, 2] ** 2 + a[1, 2] ** 2
        diag = a[0, 0] ** 2 + a[1, 1] ** 2 + a[2, 2] ** 2
        if off <= 1e-36 * diag or off == 0.0:
            return
        for pq in range(3):
            p = 0 if pq < 2 else 1
            q = 1 if pq == 0 else 2
            apq = a[p, q]
            if apq == 0.0:
                continue
            theta = (a[q, q] - a[p, p]) / (2.0 * apq)
            if abs(theta) > 1e150:
                t = 0.5 / theta
            else:
                t = 1.0 / (abs(theta) + math.sqrt(theta * theta + 1.0))
                if theta < 0.0:
                    t = -t
            c = 1.0 / math.sqrt(t * t + 1.0)
            s = t * c
            for k in range(3):  # A ← A J
                akp = a[k, p]
                akq = a[k, q]
                a[k, p] = c * akp - s * akq
                a[k, q] = s * akp + c * akq
            for k in range(3):  # A ← Jᵀ A
                apk = a[p, k]
                aqk = a[q, k]
                a[p, k] = c * apk - s * aqk
                a[q, k] = s * apk + c * aqk
            a[p, q] = 0.0
            a[q, p] = 0.0
            for k in range(3):
                vkp = V[k, p]
                vkq = V[k, q]
                V[k, p] = c * vkp - s * vkq
                V[k, q] = s * vkp + c * vkq


# --------------------------------------------------------------------------- the point's network
@njit(cache=True)
def _any_anisotropic(pb, props_table):
    for p in range(int(pb[H_NPHASE])):
        if not laws.law_isotropic(props_table[p]):
            return True
    return False


@njit(cache=True)
def build_frame(pb, lam, R, has_rot, mi, mf):
    """Fill the kernel blobs ``mi``, ``mf`` (lengths :func:`blob_sizes`) with the network at the
    eigenvalues ``lam`` (λ1, λ2, …) rotated by ``R`` (3,3) (normals R n; leaf rotations R if
    ``has_rot``).  Returns 0, or ST_FAILED for a bad ``pb``, short arrays or non-finite input."""
    nmi, nmf = blob_sizes(pb)
    if nmi < 0 or mi.shape[0] < nmi or mf.shape[0] < nmf or lam.shape[0] < 2:
        return ST_FAILED
    if R.shape[0] < 3 or R.shape[1] < 3 or not (math.isfinite(lam[0]) and math.isfinite(lam[1])):
        return ST_FAILED
    return _build_frame(pb, lam, R, has_rot, mi, mf)


@njit(cache=True)
def _build_frame(pb, lam, R, has_rot, mi, mf):
    """:func:`build_frame` without the checks (``pb`` and the sizes checked by the caller)."""
    N = _fill_topology(pb, mi, 1 if has_rot else 0)
    M = int(pb[H_M])
    L = int(pb[H_L])
    F = int(pb[H_F])
    _, o_c, o_e, o_p0, o_A, _ = _pb_offsets(pb)
    relu = pb[H_ACT] == 1.0
    x0 = lam[0] - pb[o_c]
    x1 = lam[1] - pb[o_c + 1]
    phi_f = np.empty(F)
    for f in range(F):
        phi_f[f] = x0 ** int(pb[o_e + 2 * f]) * x1 ** int(pb[o_e + 2 * f + 1])
    m_w = kernel.F0 + kernel.M_W * N
    m_f1 = kernel.F0 + kernel.M_F1 * N
    m_f2 = kernel.F0 + kernel.M_F2 * N
    m_H = kernel.F0 + kernel.M_H * N
    m_n = kernel.F0 + kernel.M_NRM * N
    m_Q = kernel.F0 + kernel.M_Q * N
    o_topo = PB_HEAD
    o_kind = kernel.NHEAD + kernel._I_KIND * N
    isq2 = 1.0 / math.sqrt(2.0)
    # leaf weights and normals from p(λ) = p0 + A φ
    for k in range(N):
        c1 = int(pb[o_topo + _T_C1 * N + k])
        for j in range(18):
            mf[m_H + 18 * k + j] = 0.0
        if c1 < 0:
            j = int(pb[o_topo + _T_LEAF * N + k])
            z = pb[o_p0 + j]
            for f in range(F):
                z += pb[o_A + j * F + f] * phi_f[f]
            if relu:
                w = max(z, 0.0)
            else:
                w = z if z > 20.0 else math.log1p(math.exp(z))
            mf[m_w + k] = w
            for j in range(3):
                mf[m_n + 3 * k + j] = 0.0
            continue
        mf[m_w + k] = 0.0
        m = int(pb[o_topo + _T_INT * N + k])
        th = pb[o_p0 + L + m]
        ph = pb[o_p0 + L + M + m]
        for f in range(F):
            th += pb[o_A + (L + m) * F + f] * phi_f[f]
            ph += pb[o_A + (L + M + m) * F + f] * phi_f[f]
        st = math.sin(th)
        n0 = st * math.cos(ph)
        n1 = st * math.sin(ph)
        n2 = math.cos(th)
        g0 = R[0, 0] * n0 + R[0, 1] * n1 + R[0, 2] * n2
        g1 = R[1, 0] * n0 + R[1, 1] * n1 + R[1, 2] * n2
        g2 = R[2, 0] * n0 + R[2, 1] * n1 + R[2, 2] * n2
        gn = math.sqrt(g0 * g0 + g1 * g1 + g2 * g2)
        if not gn > 0.0:
            return ST_FAILED
        g0 /= gn
        g1 /= gn
        g2 /= gn
        mf[m_n + 3 * k] = g0
        mf[m_n + 3 * k + 1] = g1
        mf[m_n + 3 * k + 2] = g2
        hb = m_H + 18 * k  # H(n) row-major 6x3 (tensors.h_matrix)
        mf[hb + 0] = g0
        mf[hb + 4] = g1
        mf[hb + 8] = g2
        mf[hb + 10] = g2 * isq2
        mf[hb + 11] = g1 * isq2
        mf[hb + 12] = g2 * isq2
        mf[hb + 14] = g0 * isq2
        mf[hb + 15] = g1 * isq2
        mf[hb + 16] = g0 * isq2
    # internal weights, activity, fractions (as kernel.pack_network)
    for k in range(N - 1, -1, -1):
        c1 = int(pb[o_topo + _T_C1 * N + k])
        if c1 >= 0:
            mf[m_w + k] = mf[m_w + c1] + mf[m_w + int(pb[o_topo + _T_C2 * N + k])]
    W = mf[m_w]
    if not (W > 0.0 and math.isfinite(W)):
        return ST_FAILED
    for k in range(N - 1, -1, -1):
        c1 = int(pb[o_topo + _T_C1 * N + k])
        mf[m_f1 + k] = 0.5
        mf[m_f2 + k] = 0.5
        if c1 < 0:
            mi[o_kind + k] = kernel.KIND_LEAF if mf[m_w + k] > kernel.WEIGHT_EPS * W else kernel.KIND_INACTIVE
            continue
        c2 = int(pb[o_topo + _T_C2 * N + k])
        on1 = mi[o_kind + c1] != kernel.KIND_INACTIVE
        on2 = mi[o_kind + c2] != kernel.KIND_INACTIVE
        if on1 and on2:
            mi[o_kind + k] = kernel.KIND_LAMINATE
            f1 = mf[m_w + c1] / (mf[m_w + c1] + mf[m_w + c2])
            mf[m_f1 + k] = f1
            mf[m_f2 + k] = 1.0 - f1
        elif on1:
            mi[o_kind + k] = kernel.KIND_PASS1
        elif on2:
            mi[o_kind + k] = kernel.KIND_PASS2
        else:
            mi[o_kind + k] = kernel.KIND_INACTIVE
    for i in range(kernel.F0):
        mf[i] = 0.0
    mf[0] = W
    mf[1] = pb[H_RTOL]
    if has_rot:
        Q = tensors.rotation_mandel(R)
        for k in range(N):
            qb = m_Q + 36 * k
            leaf = pb[o_topo + _T_C1 * N + k] < 0
            for i in range(6):
                for j in range(6):
                    mf[qb + 6 * i + j] = Q[i, j] if leaf else (1.0 if i == j else 0.0)
    return 0


@njit(cache=True)
def build_point(pb, a2, props_table, mi, mf):
    """Fill the per-point kernel blobs ``mi``, ``mf`` (lengths :func:`blob_sizes`) for the
    orientation ``a2`` (6,); leaf rotations if a phase of ``props_table`` is anisotropic.
    Returns 0, or ST_FAILED for a bad ``pb``, ``a2``, table or scratch size."""
    nmi, nmf = blob_sizes(pb)
    if nmi < 0 or mi.shape[0] < nmi or mf.shape[0] < nmf:
        return ST_FAILED
    if props_table.ndim != 2 or props_table.shape[0] < pb[H_NPHASE]:
        return ST_FAILED
    if props_table.shape[1] < laws.MAX_NPROPS:
        return ST_FAILED
    lam = np.empty(3)
    R = np.empty((3, 3))
    if frame(a2, lam, R) != 0:
        return ST_FAILED
    return _build_frame(pb, lam, R, _any_anisotropic(pb, props_table), mi, mf)


@njit(cache=True)
def _refuse(state_old, stress, ddsdde, state_new, info):
    """Outputs of a refused point (kernel convention for FAILED): zero stress and tangent,
    state_new = state_old, suggested ratio CUTBACK_RATIO."""
    for i in range(6):
        stress[i] = 0.0
        for j in range(6):
            ddsdde[i, j] = 0.0
    for i in range(min(state_old.shape[0], state_new.shape[0])):
        state_new[i] = state_old[i]
    info[INFO_RATIO] = kernel.CUTBACK_RATIO


@njit(cache=True)
def parametric_update(
    mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info, dt, temp, dtemp, a2, pb
):
    """One integration point with orientation ``a2``: :func:`build_point` into the scratch ``mi``,
    ``mf``, then :func:`.kernel._update` (``info`` zeroed by the caller; returns the status)."""
    if build_point(pb, a2, props_table, mi, mf) != 0:
        _refuse(state_old, stress, ddsdde, state_new, info)
        return ST_FAILED
    return kernel._update(
        mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info, dt, temp, dtemp
    )


@njit(cache=True)
def parametric_network_update(
    mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info, dt, temp, dtemp, a2, pb
):
    """:func:`parametric_update` with ``info`` zeroed first and its status slot set (as
    :func:`.kernel.network_update`)."""
    for i in range(min(info.shape[0], KERNEL_INFO_SIZE)):
        info[i] = 0.0
    st = parametric_update(
        mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info, dt, temp, dtemp, a2, pb
    )
    info[INFO_STATUS] = st
    return st


# --------------------------------------------------------------------------- batched
@njit(parallel=True, cache=True)
def _batched_update(
    pb, table, strain, state_old, a2, dt, temp, dtemp, stress, tangent, state_new, status, info,
    nwork, nmi, nmf, nchunk,
):
    npts = strain.shape[0]
    for c in prange(nchunk):
        work = np.empty(nwork)
        mi = np.empty(nmi, dtype=np.int64)
        mf = np.empty(nmf)
        lo = (c * npts) // nchunk
        hi = ((c + 1) * npts) // nchunk
        for p in range(lo, hi):
            status[p] = parametric_network_update(
                mi, mf, table, strain[p], state_old[p], stress[p], tangent[p], state_new[p], work, info[p],
                dt, temp, dtemp, a2[p], pb,
            )


@njit(parallel=True, cache=True)
def _build_all(pb, table, a2, MI, MF, ok):
    for p in prange(a2.shape[0]):
        ok[p] = build_point(pb, a2[p], table, MI[p], MF[p])


@njit(parallel=True, cache=True)
def _batched_cached(
    MI, MF, ok, table, strain, state_old, dt, temp, dtemp, stress, tangent, state_new, status, info,
    nwork, nchunk,
):
    npts = strain.shape[0]
    for c in prange(nchunk):
        work = np.empty(nwork)
        lo = (c * npts) // nchunk
        hi = ((c + 1) * npts) // nchunk
        for p in range(lo, hi):
            if ok[p] != 0:
                for i in range(KERNEL_INFO_SIZE):
                    info[p, i] = 0.0
                _refuse(state_old[p], stress[p], tangent[p], state_new[p], info[p])
                info[p, INFO_STATUS] = ST_FAILED
                status[p] = ST_FAILED
                continue
            status[p] = kernel.network_update(
                MI[p], MF[p], table, strain[p], state_old[p], stress[p], tangent[p], state_new[p], work,
                info[p], dt, temp, dtemp,
            )


guard_numba_cache(_batched_update, __file__)


def check_a2(a2, n: int | None = None) -> np.ndarray:
    """(n, 6) Voigt a11, a22, a33, a23, a13, a12 or (n, 3, 3) symmetric → (n, 6) float64; raises
    :class:`ParametricError` (one line) for a wrong shape, non-finite or non-symmetric input
    (symmetry ±1e-8, as :func:`dmn_umat.rve.orientation.parse_a2`).  Trace and eigenvalues are
    checked per point by the kernel (FAILED status)."""
    a = np.asarray(a2, dtype=np.float64)
    if a.ndim == 2 and a.shape == (3, 3) and n is None:
        a = a[None]
    if a.ndim == 3 and a.shape[1:] == (3, 3):
        if not np.all(np.isfinite(a)):
            raise ParametricError("A2 must be finite")
        asym = float(np.abs(a - a.transpose(0, 2, 1)).max(initial=0.0))
        if asym > 1e-8:
            raise ParametricError(f"A2 must be symmetric, got max |A - A^T| = {asym:.3g}")
        a = np.stack([a[:, 0, 0], a[:, 1, 1], a[:, 2, 2], a[:, 1, 2], a[:, 0, 2], a[:, 0, 1]], axis=1)
    a = np.atleast_2d(a)
    if a.ndim != 2 or a.shape[1] != 6 or (n is not None and a.shape[0] != n):
        want = "(6,)" if n is None else f"({n}, 6)"
        raise ParametricError(
            f"A2 must be {want} components a11,a22,a33,a23,a13,a12 (or 3x3 tensors), got shape {np.shape(a2)}"
        )
    return np.ascontiguousarray(a)


class ParametricNetworkMaterial:
    """An orientation-aware network with phase laws, evaluated at many points at once.

    ``model``: :class:`~dmn_umat.model_file.ParametricModel`; ``phases``: one :class:`Phase` (or
    spec string) per phase id (laws in the network's principal frame); ``threads``, ``rtol`` as
    :class:`.solver.NetworkMaterial`; ``cache``: keep each point's built network (``mi``, ``mf``)
    between calls while the A₂ array is unchanged (memory (n, nmi + nmf) words), instead of
    rebuilding it every call.  :meth:`at` binds the A₂ of a set of points: the result has the
    material protocol of :mod:`dmn_umat.laws.material` (``update(strain, state, dt, temp,
    dtemp)``, ``fields``), for solvers that know nothing of orientations.
    """

    def __init__(
        self, model: ParametricModel, phases: list[Phase | str], threads: int | None = None,
        rtol: float = kernel.RTOL, cache: bool = False,
    ):
        self.model = model
        self.phases = [parse_phase(p) if isinstance(p, str) else p for p in phases]
        if len(self.phases) < 2:
            raise ParametricError(f"the network uses 2 phases but {len(self.phases)} phase laws were given")
        self.table = props_table(self.phases)
        self.pb = pack_parametric(model, rtol)
        self.nmi, self.nmf = (int(v) for v in blob_sizes(self.pb))
        self.nstate = int(parametric_state_size(self.pb, self.table))
        self.nwork = int(parametric_work_size(self.pb))
        if self.nstate < 0 or self.nwork < 0:
            raise ParametricError("network and phase laws do not match (unknown law or phase id)")
        mi = np.empty(self.nmi, dtype=np.int64)
        _fill_topology(self.pb, mi, 0)
        self.layout = kernel.state_layout(mi, self.table)
        self.threads = threads
        self.cache = cache
        self._cached: tuple | None = None  # (a2 copy, (MI, MF, ok))
        self.last_info = np.zeros((0, KERNEL_INFO_SIZE))

    def initial_state(self, npts: int) -> np.ndarray:
        """(npts, nsv) zero state."""
        return np.zeros((npts, self.nstate))

    def point_blobs(self, a2) -> tuple[np.ndarray, np.ndarray]:
        """(mi, mf) of one point's global network (what the kernel runs at orientation ``a2``)."""
        a = check_a2(a2)[0]
        mi = np.empty(self.nmi, dtype=np.int64)
        mf = np.empty(self.nmf)
        if build_point(self.pb, a, self.table, mi, mf) != 0:
            raise ParametricError(
                f"A2 {a.tolist()} is not an orientation tensor (trace 1, eigenvalues >= 0)"
            )
        return mi, mf

    def build(self, a2: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(MI (n, nmi), MF (n, nmf), status (n,)) of the points' networks for a2 (n, 6) (checked)."""
        n = a2.shape[0]
        MI = np.empty((n, self.nmi), dtype=np.int64)
        MF = np.empty((n, self.nmf))
        ok = np.empty(n, dtype=np.int64)
        with self._threads():
            _build_all(self.pb, self.table, a2, MI, MF, ok)
        return MI, MF, ok

    def update(
        self, strain: np.ndarray, state_old: np.ndarray, a2: np.ndarray,
        dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0,
    ) -> MaterialUpdate:
        """Batched update: strain (n,6) total Mandel, state_old (n,nsv), a2 (n,6) (or (n,3,3)) per
        point, ``dt``, ``temp``, ``dtemp`` as :meth:`.solver.NetworkMaterial.update` → stress (n,6),
        tangent (n,6,6), state_new (n,nsv), status (n,) (0 ok, 1 cut back, 2 failed: also for a
        point whose A₂ has trace ≠ 1 or a negative eigenvalue)."""
        strain, state_old = self._check(strain, state_old)
        a2 = check_a2(a2, strain.shape[0])
        blobs = None
        if self.cache:
            c = self._cached
            if c is None or c[0].shape != a2.shape or not np.array_equal(c[0], a2):
                c = self._cached = (a2.copy(), self.build(a2))
            blobs = c[1]
        return self._run(strain, state_old, a2, blobs, dt, temp, dtemp)

    def leaf_weights(self, blobs: tuple[np.ndarray, np.ndarray, np.ndarray]) -> np.ndarray:
        """(n, L) leaf weights of the points' networks ``blobs`` = :meth:`build`'s (MI, MF, ok)
        (0 for inactive leaves; a failed point: all 1, plain averages of its unchanged state)."""
        MI, MF, ok = blobs
        N = int(self.pb[H_N])
        leaves = np.flatnonzero(self.pb[PB_HEAD + _T_C1 * N : PB_HEAD + (_T_C1 + 1) * N] < 0)
        active = MI[:, kernel.NHEAD + kernel._I_KIND * N + leaves] >= 0
        w = MF[:, kernel.F0 + kernel.M_W * N + leaves]
        out = np.where(active & (ok[:, None] == 0), w, 0.0)
        out[ok != 0] = 1.0
        return out

    def fields(self, state: np.ndarray, a2: np.ndarray) -> dict[str, np.ndarray]:
        """``peeq``, ``peeq_phase{p}``, ``jump_norm`` (n,) of states (n, nsv) at the orientations
        ``a2`` (n, 6), as :meth:`.solver.NetworkMaterial.fields` with each point's own leaf weights
        (the networks of the cache when ``a2`` is the cached array, else built for this call)."""
        state = np.atleast_2d(np.asarray(state, dtype=np.float64))
        a2 = check_a2(a2, state.shape[0])
        if state.shape[1] != self.nstate:
            raise ParametricError(f"fields: expected state (n,{self.nstate}), got {state.shape}")
        c = self._cached
        blobs = c[1] if c is not None and np.array_equal(c[0], a2) else self.build(a2)
        return network_fields(state, self.layout, self.phases, self.leaf_weights(blobs))

    def at(self, a2) -> OrientedNetworkMaterial:
        """This material bound to the orientations ``a2`` (n, 6) of n points (networks built once)."""
        return OrientedNetworkMaterial(self, a2)

    def suggested_ratio(self, status: np.ndarray) -> float:
        """Step ratio to retry with after :meth:`update` reported non-converged points."""
        status = np.asarray(status)
        bad = status != 0
        if not bad.any() or self.last_info.shape[0] != status.shape[0]:
            return kernel.CUTBACK_RATIO
        return float(min(kernel.CUTBACK_RATIO, self.last_info[bad, 0].min()))

    # ------------------------------------------------------------------ internals
    def _check(self, strain, state_old) -> tuple[np.ndarray, np.ndarray]:
        strain = np.ascontiguousarray(np.atleast_2d(strain), dtype=np.float64)
        state_old = np.ascontiguousarray(np.atleast_2d(state_old), dtype=np.float64)
        n = strain.shape[0]
        if strain.shape != (n, 6) or state_old.shape != (n, self.nstate):
            raise ParametricError(
                f"update: expected strain (n,6) and state (n,{self.nstate}), "
                f"got {strain.shape} and {state_old.shape}"
            )
        return strain, state_old

    @contextlib.contextmanager
    def _threads(self):
        prev = numba.get_num_threads()
        n = prev if self.threads is None else max(1, min(int(self.threads), numba.config.NUMBA_NUM_THREADS))
        numba.set_num_threads(n)
        try:
            yield n
        finally:
            numba.set_num_threads(prev)

    def _run(self, strain, state_old, a2, blobs, dt, temp, dtemp) -> MaterialUpdate:
        """The batched kernels: built each call (``blobs`` None) or on cached (MI, MF, ok)."""
        n = strain.shape[0]
        stress = np.empty((n, 6))
        tangent = np.empty((n, 6, 6))
        state_new = np.empty_like(state_old)
        status = np.empty(n, dtype=np.int64)
        info = np.zeros((n, KERNEL_INFO_SIZE))
        with self._threads() as nthreads:
            nchunk = max(1, min(n, 4 * nthreads))
            args = (float(dt), float(temp), float(dtemp), stress, tangent, state_new, status, info)
            if blobs is not None:
                _batched_cached(*blobs, self.table, strain, state_old, *args, self.nwork, nchunk)
            else:
                _batched_update(self.pb, self.table, strain, state_old, a2, *args,
                                self.nwork, self.nmi, self.nmf, nchunk)
        self.last_info = info
        return MaterialUpdate(stress, tangent, state_new, status)


class OrientedNetworkMaterial:
    """A :class:`ParametricNetworkMaterial` bound to the A₂ (n, 6) of n points: the material
    protocol of :mod:`dmn_umat.laws.material` (every call evaluates exactly these n points, the
    networks built once).  A point whose A₂ is not an orientation tensor fails (status 2)."""

    def __init__(self, parent: ParametricNetworkMaterial, a2):
        self.parent = parent
        self.a2 = check_a2(a2)
        self.npts = self.a2.shape[0]
        self.nstate = parent.nstate
        self.blobs = parent.build(self.a2)
        self.leaf_weights = parent.leaf_weights(self.blobs)  # (n, L)

    def initial_state(self, npts: int) -> np.ndarray:
        self._n(npts)
        return self.parent.initial_state(npts)

    def update(
        self, strain: np.ndarray, state_old: np.ndarray,
        dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0,
    ) -> MaterialUpdate:
        """As :meth:`ParametricNetworkMaterial.update` at the bound orientations."""
        strain, state_old = self.parent._check(strain, state_old)
        self._n(strain.shape[0])
        return self.parent._run(strain, state_old, self.a2, self.blobs, dt, temp, dtemp)

    def suggested_ratio(self, status: np.ndarray) -> float:
        return self.parent.suggested_ratio(status)

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """``peeq``, ``peeq_phase{p}``, ``jump_norm`` as :meth:`.solver.NetworkMaterial.fields`,
        weighted with each point's own leaf weights."""
        state = np.atleast_2d(state)
        self._n(state.shape[0])
        return network_fields(state, self.parent.layout, self.parent.phases, self.leaf_weights)

    def _n(self, npts: int) -> None:
        if npts != self.npts:
            raise ParametricError(f"this material is bound to the A2 of {self.npts} points, got {npts}")
