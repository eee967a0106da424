"""Finite-strain material network (numba): the network of :mod:`dmn_umat.online.kernel` with
deformation gradients, first Piola–Kirchhoff stresses and the finite-strain laws of
:mod:`dmn_umat.laws.finite_update` (issue 14, item 2).

Same model files and packed blobs ``(mi, mf)`` as the small-strain path
(:func:`dmn_umat.online.kernel.pack_network`), trained on small-strain elastic data (as Liu & Wu
and Noels do).  Public API (float64 / int64, C-contiguous)::

    nsv    = fs_state_size(mi, table)           # STATEV length, -1 = bad input
    nwork  = fs_work_size(mi)                   # scratch length, -1 = bad blob
    status = fs_network_update(mi, mf, table, F, state_old, P, A, state_new, work, info,
                               dt=0.0, temp=0.0, dtemp=0.0)

- ``table`` (nphase, MAX_NPROPS_FS): finite-strain props rows
  (:func:`~dmn_umat.laws.finite_update.fs_props_table`)
- ``F`` (3,3) macroscopic deformation gradient F̄ at the end of the increment (total)
- ``P`` (3,3) out: macroscopic first Piola–Kirchhoff stress P̄ = Σ w_i P_i / W
- ``A`` (9,9) out: consistent tangent dP̄/dF̄, ``A[3i+j, 3k+l] = ∂P̄_ij/∂F̄_kl``
- ``info``: as for :func:`~dmn_umat.online.kernel.network_update`; status 0 ok, 1 cut back,
  2 failed / bad input (NaN or det F̄ ≤ 0, bad blob, unknown law); outputs zero unless 0.

State (zero = undeformed, virgin)::

    [ leaf states (pre-order, fs_law_nstate each) | jumps a_k (3 per internal node, pre-order)
    | F̄ − 1 of the last converged increment (9, row-major; start of sub-stepping) ]

Mechanics.  Leaf deformation gradient F_i = F̄ + Σ_{k∈anc(i)} s_ik a_k ⊗ n_k with s_ik = f2_k
under child 1 and −f1_k under child 2 (Hadamard compatibility across each laminate interface of
reference normal n_k: F_c1 − F_c2 = a_k ⊗ n_k, f1 F_c1 + f2 F_c2 = F_k); residual (traction
continuity in the reference configuration) r_k = (P̄_c1 − P̄_c2) n_k, P̄_c the volume average of
the subtree.  At F = 1 + ε this is the small-strain network exactly to first order: sym(a ⊗ n)
= H(n) a, the same jumps.  Newton on all a_k with the same children-before-parents condensation
(each subtree reduced to P̄_c ≈ s_c + C_c δF_c, 9 / 9×9; a node solves the 3×3 block
A = Gᵀ(f2 C_c1 + f1 C_c2)G with G a = vec(a ⊗ n)), the same line search, Levenberg–Marquardt
damping, warm start and sub-stepping (linear in F̄) as the small-strain kernel; the root's C is
the consistent tangent dP̄/dF̄ (Schur complement of the jump equations).  O(N) 9×9 work per
iteration.

Formulations.  The blob is rotation-free: IMN normals are the trained global normals; a DMN was
exported with normals G_k e3 (G_k the accumulated node rotations) and leaf rotations G_leaf.
A DMN node laminates in its rotated frame with normal e3, i.e. both the reference and the
current frame of the subtree rotated by G_k: F_loc = G_kᵀ F G_k, a_loc = G_kᵀ a; its
compatibility a_loc ⊗ e3 is a ⊗ (G_k e3) globally — the global form above.  A leaf material
rotated by R answers P = R P_law(Rᵀ F R) Rᵀ; every finite-strain law here is isotropic and
objective, so P_law(Rᵀ F R) = Rᵀ P_law(F) R and the leaf rotations drop out exactly (as the
small-strain kernel skips them for isotropic laws); the jumps are spatial vectors, so the whole
update is objective: F̄ → Q F̄ gives P̄ → Q P̄, a_k → Q a_k.
"""

from __future__ import annotations

import math

from numba import njit

from ..laws import finite_update as fs
from ..sources import guard_numba_cache
from ..status import INFO_RATIO, INFO_STATUS, KERNEL_INFO_SIZE, ST_CUTBACK, ST_FAILED, ST_OK
from ..tolerances import EPS_REF
from .kernel import (
    _I_C1,
    _I_C2,
    _I_INT,
    _I_KIND,
    _I_LEAF,
    _I_NODE,
    _I_PHASE,
    CUTBACK_RATIO,
    F0,
    KIND_LAMINATE,
    KIND_LEAF,
    KIND_PASS1,
    M_F1,
    M_F2,
    M_NRM,
    M_W,
    MAGIC,
    MAX_LINESEARCH,
    MAX_NEWTON,
    MAX_TOTAL_ITER,
    MIN_SUBSTEP,
    MU_MAX,
    MU_MIN,
    NHEAD,
    VERSION,
    _blob_ok,
    _info_counts,
    _offsets,
)

# work, per node (array X at X·N, node k's block at X·N + size·k)
(
    X_C,  # (9x9) leaf dP/dF, then the condensed tangent of the subtree
    X_S,  # (9) leaf P, then the condensed subtree stress
    X_T,  # (9) Σ w_i P_i over the subtree
    X_F,  # (9) node deformation gradient at the current jumps
    X_DF,  # (9) δF along the Newton direction (δF̄ = 0)
    X_ALPHA,  # (3) δa = α + Γ δF
    X_GAMMA,  # (3x9)
    X_A,  # (3) jump
    X_A0,  # (3) jump at the line-search start
    X_DA,  # (3) Newton direction
    X_NODE,
) = _offsets(81, 9, 9, 9, 9, 3, 27, 3, 3, 3)
# scratch at X_NODE·N
(
    SC_DC,  # (9x9) C_c1 − C_c2
    SC_CT,  # (9x9) f2 C_c1 + f1 C_c2
    SC_D,  # (3x9) Gᵀ dC
    SC_PT,  # (3x9) Gᵀ Ct
    SC_E,  # (9x3) dC G
    SC_V9,  # (9) a 9-vector
    SC_LAW,  # law scratch
    SC_ST0,  # (MAX_NSTATE_FS) zero state (stiffness scale)
    SC_ST1,  # (MAX_NSTATE_FS) its output
    SC_P,  # (9) stiffness scale: P at F = 1
    SC_A,  # (81) stiffness scale: dP/dF at F = 1
    SC_I,  # (9) identity
    SCRATCH,
) = _offsets(81, 81, 27, 27, 27, 9, fs.MAX_NWS_FS, fs.MAX_NSTATE_FS, fs.MAX_NSTATE_FS, 9, 81, 9)
NF = 9  # stored F̄ − 1


@njit(cache=True)
def fs_state_size(mi, table):
    """STATEV length per point; -1 for bad input (blob header, phase index, unknown law)."""
    if mi.shape[0] < NHEAD or mi[0] != MAGIC or mi[1] != VERSION:
        return -1
    N = mi[2]
    if N < 1 or mi.shape[0] < NHEAD + _I_NODE * N:
        return -1
    n = 0
    for k in range(N):
        if mi[NHEAD + _I_LEAF * N + k] < 0:
            continue
        ph = mi[NHEAD + _I_PHASE * N + k]
        if ph < 0 or ph >= table.shape[0]:
            return -1
        ns = fs.fs_law_nstate(table[ph])
        if ns < 0:
            return -1
        n += ns
    return n + 3 * mi[3] + NF


@njit(cache=True, inline="always")
def _tail(mi):
    """Offsets of (current state, trial state, F̄ at the start, sub-step target F̄, props rows, end)."""
    nsv_max = mi[4] * fs.MAX_NSTATE_FS + 3 * mi[3] + NF
    o_cur = X_NODE * mi[2] + SCRATCH
    o_trial = o_cur + nsv_max
    o_f0 = o_trial + nsv_max
    o_target = o_f0 + 9
    o_table = o_target + 9
    return o_cur, o_trial, o_f0, o_target, o_table, o_table + mi[7] * fs.MAX_NPROPS_FS


@njit(cache=True)
def fs_work_size(mi):
    """Scratch length per concurrently evaluated point; -1 for a bad blob."""
    if mi.shape[0] < NHEAD or mi[0] != MAGIC or mi[1] != VERSION:
        return -1
    return _tail(mi)[5]


@njit(cache=True)
def _evaluate(mi, mf, table, Fbar, s_start, s_trial, work, N, dt, temp, dtemp):
    """Leaf laws at the current jumps; residuals.  Returns (status, Σ|r|², max|r|, max_i |P_i|)."""
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    o_leaf = NHEAD + _I_LEAF * N
    o_phase = NHEAD + _I_PHASE * N
    m_w = F0 + M_W * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    m_n = F0 + M_NRM * N
    o_C = X_C * N
    o_s = X_S * N
    o_T = X_T * N
    o_F = X_F * N
    o_a = X_A * N
    o_sc = X_NODE * N
    v9 = work[o_sc + SC_V9 : o_sc + SC_V9 + 9]
    ws = work[o_sc + SC_LAW : o_sc + SC_LAW + fs.MAX_NWS_FS]

    for i in range(9):
        work[o_F + i] = Fbar[i]
    for k in range(N):
        kind = mi[o_kind + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        fk = o_F + 9 * k
        if kind == KIND_LAMINATE:
            f1 = mf[m_f1 + k]
            f2 = mf[m_f2 + k]
            for i in range(3):
                ai = work[o_a + 3 * k + i]
                for j in range(3):
                    d = ai * mf[m_n + 3 * k + j]
                    work[o_F + 9 * c1 + 3 * i + j] = work[fk + 3 * i + j] + f2 * d
                    work[o_F + 9 * c2 + 3 * i + j] = work[fk + 3 * i + j] - f1 * d
        else:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(9):
                work[o_F + 9 * c + i] = work[fk + i]

    so = 0
    sref = 0.0
    for k in range(N):
        if mi[o_leaf + k] < 0:
            continue
        props = table[mi[o_phase + k]]
        ns = fs.fs_law_nstate(props)
        if mi[o_kind + k] != KIND_LEAF:  # inactive: carry the state over
            for i in range(ns):
                s_trial[so + i] = s_start[so + i]
            so += ns
            continue
        Fk = work[o_F + 9 * k : o_F + 9 * k + 9].reshape((3, 3))
        Pk = work[o_s + 9 * k : o_s + 9 * k + 9].reshape((3, 3))
        Ak = work[o_C + 81 * k : o_C + 81 * k + 81].reshape((9, 9))
        st = fs.fs_update(
            props, Fk, Fk, s_start[so : so + ns], dt, temp, dtemp, Pk, Ak, s_trial[so : so + ns], ws
        )
        if st != 0:
            return st, 0.0, 0.0, 0.0
        w = mf[m_w + k]
        nrm2 = 0.0
        for i in range(9):
            v = work[o_s + 9 * k + i]
            nrm2 += v * v
            work[o_T + 9 * k + i] = w * v
        if not math.isfinite(nrm2):
            return 1, 0.0, 0.0, 0.0
        if nrm2 > sref:
            sref = nrm2
        so += ns
    sref = math.sqrt(sref)

    phi = 0.0
    rmax = 0.0
    for k in range(N - 1, -1, -1):
        kind = mi[o_kind + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(9):
                work[o_T + 9 * k + i] = work[o_T + 9 * c + i]
            continue
        iw1 = 1.0 / mf[m_w + c1]
        iw2 = 1.0 / mf[m_w + c2]
        for i in range(9):
            t1 = work[o_T + 9 * c1 + i]
            t2 = work[o_T + 9 * c2 + i]
            work[o_T + 9 * k + i] = t1 + t2
            v9[i] = t1 * iw1 - t2 * iw2
        for i in range(3):
            r = 0.0
            for j in range(3):
                r += v9[3 * i + j] * mf[m_n + 3 * k + j]
            phi += r * r
            rmax = max(rmax, abs(r))
    if not math.isfinite(phi):
        return 1, 0.0, 0.0, 0.0
    return 0, phi, rmax, sref


@njit(cache=True)
def _condense(mi, mf, work, N, mu):
    """Bottom-up elimination of the linearized jump equations (kernel._condense with 9-vectors):
    P̄_c ≈ s_c + C_c δF_c; δa_k = α_k + Γ_k δF_k.  ``mu``: Levenberg–Marquardt damping of the
    3×3 blocks (0: exact; the root C is then dP̄/dF̄).  Returns 0 or 1 (singular block)."""
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    m_n = F0 + M_NRM * N
    o_C = X_C * N
    o_s = X_S * N
    o_alpha = X_ALPHA * N
    o_gamma = X_GAMMA * N
    o_sc = X_NODE * N
    dC = work[o_sc + SC_DC : o_sc + SC_DC + 81]
    Ct = work[o_sc + SC_CT : o_sc + SC_CT + 81]
    D = work[o_sc + SC_D : o_sc + SC_D + 27]
    Pt = work[o_sc + SC_PT : o_sc + SC_PT + 27]
    E = work[o_sc + SC_E : o_sc + SC_E + 27]
    for k in range(N - 1, -1, -1):
        kind = mi[o_kind + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(81):
                work[o_C + 81 * k + i] = work[o_C + 81 * c + i]
            for i in range(9):
                work[o_s + 9 * k + i] = work[o_s + 9 * c + i]
            continue
        f1 = mf[m_f1 + k]
        f2 = mf[m_f2 + k]
        n0 = mf[m_n + 3 * k]
        n1 = mf[m_n + 3 * k + 1]
        n2 = mf[m_n + 3 * k + 2]
        C1 = o_C + 81 * c1
        C2 = o_C + 81 * c2
        s1 = o_s + 9 * c1
        s2 = o_s + 9 * c2
        for i in range(81):
            x1 = work[C1 + i]
            x2 = work[C2 + i]
            dC[i] = x1 - x2
            Ct[i] = f2 * x1 + f1 * x2
        # D = Gᵀ dC, Pt = Gᵀ Ct (3x9): (Gᵀ v)_m = Σ_j v[3m+j] n_j
        for m in range(3):
            r0 = 27 * m
            for q in range(9):
                D[9 * m + q] = n0 * dC[r0 + q] + n1 * dC[r0 + 9 + q] + n2 * dC[r0 + 18 + q]
                Pt[9 * m + q] = n0 * Ct[r0 + q] + n1 * Ct[r0 + 9 + q] + n2 * Ct[r0 + 18 + q]
        # E = dC G (9x3): (dC G)[p, i] = Σ_j dC[p, 3i+j] n_j
        for p in range(9):
            for i in range(3):
                b = 9 * p + 3 * i
                E[3 * p + i] = dC[b] * n0 + dC[b + 1] * n1 + dC[b + 2] * n2
        # A = Pt G (3x3)
        a00 = Pt[0] * n0 + Pt[1] * n1 + Pt[2] * n2
        a01 = Pt[3] * n0 + Pt[4] * n1 + Pt[5] * n2
        a02 = Pt[6] * n0 + Pt[7] * n1 + Pt[8] * n2
        a10 = Pt[9] * n0 + Pt[10] * n1 + Pt[11] * n2
        a11 = Pt[12] * n0 + Pt[13] * n1 + Pt[14] * n2
        a12 = Pt[15] * n0 + Pt[16] * n1 + Pt[17] * n2
        a20 = Pt[18] * n0 + Pt[19] * n1 + Pt[20] * n2
        a21 = Pt[21] * n0 + Pt[22] * n1 + Pt[23] * n2
        a22 = Pt[24] * n0 + Pt[25] * n1 + Pt[26] * n2
        amax = max(abs(a00), abs(a01), abs(a02), abs(a10), abs(a11), abs(a12), abs(a20), abs(a21), abs(a22))
        if mu > 0.0:
            d = mu * (a00 + a11 + a22) / 3.0
            a00 += d
            a11 += d
            a22 += d
        c00 = a11 * a22 - a12 * a21
        c01 = a12 * a20 - a10 * a22
        c02 = a10 * a21 - a11 * a20
        det = a00 * c00 + a01 * c01 + a02 * c02
        if not (abs(det) > 1e-13 * amax * amax * amax) or not math.isfinite(det):
            return 1
        idet = 1.0 / det
        i00 = c00 * idet
        i10 = c01 * idet
        i20 = c02 * idet
        i01 = (a02 * a21 - a01 * a22) * idet
        i11 = (a00 * a22 - a02 * a20) * idet
        i21 = (a01 * a20 - a00 * a21) * idet
        i02 = (a01 * a12 - a02 * a11) * idet
        i12 = (a02 * a10 - a00 * a12) * idet
        i22 = (a00 * a11 - a01 * a10) * idet
        # g = Gᵀ(s1 − s2); α = −A⁻¹ g; Γ = −A⁻¹ D
        g0 = 0.0
        g1 = 0.0
        g2 = 0.0
        for j in range(3):
            nj = mf[m_n + 3 * k + j]
            g0 += (work[s1 + j] - work[s2 + j]) * nj
            g1 += (work[s1 + 3 + j] - work[s2 + 3 + j]) * nj
            g2 += (work[s1 + 6 + j] - work[s2 + 6 + j]) * nj
        al0 = -(i00 * g0 + i01 * g1 + i02 * g2)
        al1 = -(i10 * g0 + i11 * g1 + i12 * g2)
        al2 = -(i20 * g0 + i21 * g1 + i22 * g2)
        ab = o_alpha + 3 * k
        work[ab] = al0
        work[ab + 1] = al1
        work[ab + 2] = al2
        gb = o_gamma + 27 * k
        for q in range(9):
            d0 = D[q]
            d1 = D[9 + q]
            d2 = D[18 + q]
            work[gb + q] = -(i00 * d0 + i01 * d1 + i02 * d2)
            work[gb + 9 + q] = -(i10 * d0 + i11 * d1 + i12 * d2)
            work[gb + 18 + q] = -(i20 * d0 + i21 * d1 + i22 * d2)
        # s_k = f1 s1 + f2 s2 + f1 f2 E α; C_k = f1 C1 + f2 C2 + f1 f2 E Γ
        ff = f1 * f2
        kb = o_C + 81 * k
        for p in range(9):
            e0 = ff * E[3 * p]
            e1 = ff * E[3 * p + 1]
            e2 = ff * E[3 * p + 2]
            work[o_s + 9 * k + p] = f1 * work[s1 + p] + f2 * work[s2 + p] + e0 * al0 + e1 * al1 + e2 * al2
            for q in range(9):
                work[kb + 9 * p + q] = (
                    f1 * work[C1 + 9 * p + q]
                    + f2 * work[C2 + 9 * p + q]
                    + e0 * work[gb + q]
                    + e1 * work[gb + 9 + q]
                    + e2 * work[gb + 18 + q]
                )
    for i in range(81):
        if not math.isfinite(work[o_C + i]):
            return 1
    return 0


@njit(cache=True)
def _newton_direction(mi, mf, work, N):
    """Top-down back substitution with δF̄ = 0: δa_k = α_k + Γ_k δF_k; returns max |δa|."""
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    m_n = F0 + M_NRM * N
    o_dF = X_DF * N
    o_alpha = X_ALPHA * N
    o_gamma = X_GAMMA * N
    o_da = X_DA * N
    for i in range(9):
        work[o_dF + i] = 0.0
    dmax = 0.0
    for k in range(N):
        kind = mi[o_kind + k]
        for j in range(3):
            work[o_da + 3 * k + j] = 0.0
        if kind <= KIND_LEAF:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        dk = o_dF + 9 * k
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(9):
                work[o_dF + 9 * c + i] = work[dk + i]
            continue
        for j in range(3):
            v = work[o_alpha + 3 * k + j]
            for q in range(9):
                v += work[o_gamma + 27 * k + 9 * j + q] * work[dk + q]
            work[o_da + 3 * k + j] = v
            if abs(v) > dmax:
                dmax = abs(v)
        f1 = mf[m_f1 + k]
        f2 = mf[m_f2 + k]
        for i in range(3):
            ai = work[o_da + 3 * k + i]
            for j in range(3):
                d = ai * mf[m_n + 3 * k + j]
                work[o_dF + 9 * c1 + 3 * i + j] = work[dk + 3 * i + j] + f2 * d
                work[o_dF + 9 * c2 + 3 * i + j] = work[dk + 3 * i + j] - f1 * d
    return dmax


@njit(cache=True)
def _solve_increment(
    mi, mf, table, Fbar, s_start, s_trial, work, N, nls, P, A, rtol, sfloor, dt, temp, dtemp
):
    """Newton for the jumps at F̄ from state ``s_start`` (kernel._solve_increment with F, P).
    Returns (status 0/1, iterations, residual / max(sref, sfloor))."""
    o_kind = NHEAD + _I_KIND * N
    o_int = NHEAD + _I_INT * N
    o_a = X_A * N
    o_a0 = X_A0 * N
    o_da = X_DA * N
    o_C = X_C * N
    o_T = X_T * N
    for k in range(N):
        m = mi[o_int + k]
        for j in range(3):
            v = 0.0
            if m >= 0 and mi[o_kind + k] == KIND_LAMINATE:
                v = s_start[nls + 3 * m + j]
            work[o_a + 3 * k + j] = v
    fmax = 0.0
    for i in range(9):
        fmax = max(fmax, abs(Fbar[i]))
    st, phi, rmax, sref = _evaluate(mi, mf, table, Fbar, s_start, s_trial, work, N, dt, temp, dtemp)
    if st != 0:
        return 1, 0, 0.0
    it = 0
    mu = 0.0
    small_step = False
    while not (rmax <= rtol * max(sref, sfloor) or small_step):
        if it >= MAX_NEWTON:
            return 1, it, rmax / max(sref, sfloor)
        if _condense(mi, mf, work, N, mu) != 0:
            mu = max(10.0 * mu, MU_MIN)
            if _condense(mi, mf, work, N, mu) != 0:
                return 1, it, rmax / max(sref, sfloor)
        dmax = _newton_direction(mi, mf, work, N)
        for i in range(3 * N):
            work[o_a0 + i] = work[o_a + i]
        lam = 1.0
        accepted = False
        for _ in range(MAX_LINESEARCH):
            for i in range(3 * N):
                work[o_a + i] = work[o_a0 + i] + lam * work[o_da + i]
            st, phi_t, rmax_t, sref_t = _evaluate(
                mi, mf, table, Fbar, s_start, s_trial, work, N, dt, temp, dtemp
            )
            if st == 0 and phi_t <= (1.0 - 1e-4 * lam) * phi:
                accepted = True
                break
            lam *= 0.5
        if st != 0:
            return 1, it + 1, rmax / max(sref, sfloor)
        it += 1
        if accepted and lam == 1.0:
            mu = 0.0 if mu <= MU_MIN else 0.1 * mu
        else:
            mu = min(max(10.0 * mu, MU_MIN), MU_MAX)
        amax = 0.0
        for i in range(3 * N):
            amax = max(amax, abs(work[o_a + i]))
        small_step = accepted and lam * dmax <= 1e-14 * (amax + fmax)
        phi, rmax, sref = phi_t, rmax_t, sref_t
    if _condense(mi, mf, work, N, 0.0) != 0:
        if _condense(mi, mf, work, N, 1e-10) != 0:
            return 1, it, rmax / max(sref, sfloor)
    W = mf[0]
    for i in range(3):
        for j in range(3):
            P[i, j] = work[o_T + 3 * i + j] / W
    for i in range(9):
        for j in range(9):
            A[i, j] = work[o_C + 9 * i + j]
    for k in range(N):
        m = mi[o_int + k]
        if m >= 0:
            for j in range(3):
                s_trial[nls + 3 * m + j] = work[o_a + 3 * k + j]
    return 0, it, rmax / max(sref, sfloor)


@njit(cache=True)
def _stiffness_scale(table, work, o_sc):
    """Largest |dP_ii/dF_ii| at F = 1 (zero state) over the phases: the Newton test's floor."""
    Fi = work[o_sc + SC_I : o_sc + SC_I + 9].reshape((3, 3))
    Pi = work[o_sc + SC_P : o_sc + SC_P + 9].reshape((3, 3))
    Ai = work[o_sc + SC_A : o_sc + SC_A + 81].reshape((9, 9))
    z0 = work[o_sc + SC_ST0 : o_sc + SC_ST0 + fs.MAX_NSTATE_FS]
    z1 = work[o_sc + SC_ST1 : o_sc + SC_ST1 + fs.MAX_NSTATE_FS]
    ws = work[o_sc + SC_LAW : o_sc + SC_LAW + fs.MAX_NWS_FS]
    smax = 0.0
    for p in range(table.shape[0]):
        for i in range(fs.MAX_NSTATE_FS):
            z0[i] = 0.0
        for i in range(3):
            for j in range(3):
                Fi[i, j] = 1.0 if i == j else 0.0
        if fs.fs_update(table[p], Fi, Fi, z0, 0.0, 0.0, 0.0, Pi, Ai, z1, ws) != 0:
            continue
        for i in range(9):
            smax = max(smax, abs(Ai[i, i]))
    return smax


@njit(cache=True)
def _fail(P, A, info, ratio):
    for i in range(3):
        for j in range(3):
            P[i, j] = 0.0
    for i in range(9):
        for j in range(9):
            A[i, j] = 0.0
    info[INFO_RATIO] = ratio


@njit(cache=True)
def fs_network_update(mi, mf, table, F, state_old, P, A, state_new, work, info, dt=0.0, temp=0.0, dtemp=0.0):
    """One integration point at finite strain: P̄, dP̄/dF̄ and the new state (module doc)."""
    for i in range(min(info.shape[0], KERNEL_INFO_SIZE)):
        info[i] = 0.0
    st = _update(mi, mf, table, F, state_old, P, A, state_new, work, info, dt, temp, dtemp)
    info[INFO_STATUS] = st
    return st


@njit(cache=True)
def _update(mi, mf, table, F, state_old, P, A, state_new, work, info, dt, temp, dtemp):
    """Body of :func:`fs_network_update` (``info`` zeroed; the caller stores the status)."""
    if P.shape[0] < 3 or P.shape[1] < 3 or A.shape[0] < 9 or A.shape[1] < 9 or info.shape[0] < 4:
        return ST_FAILED
    _fail(P, A, info, CUTBACK_RATIO)
    if not (math.isfinite(dt) and dt >= 0.0 and math.isfinite(temp) and math.isfinite(dtemp)):
        return ST_FAILED
    if table.ndim != 2 or table.shape[1] < fs.MAX_NPROPS_FS or not _blob_ok(mi, mf):
        return ST_FAILED
    if F.shape[0] < 3 or F.shape[1] < 3:
        return ST_FAILED
    for i in range(3):
        for j in range(3):
            if not math.isfinite(F[i, j]):
                return ST_FAILED
    detF = (F[0, 0] * (F[1, 1] * F[2, 2] - F[1, 2] * F[2, 1])
            - F[0, 1] * (F[1, 0] * F[2, 2] - F[1, 2] * F[2, 0])
            + F[0, 2] * (F[1, 0] * F[2, 1] - F[1, 1] * F[2, 0]))
    if not detF > 0.0:
        return ST_FAILED
    N = mi[2]
    M = mi[3]
    nsv = fs_state_size(mi, table)
    if nsv < 0 or state_old.shape[0] < nsv or state_new.shape[0] < nsv:
        return ST_FAILED
    for i in range(min(state_old.shape[0], state_new.shape[0])):
        state_new[i] = state_old[i]
    if mi[7] < 1 or mi[7] > table.shape[0] or work.shape[0] < fs_work_size(mi):
        return ST_FAILED
    for i in range(nsv):
        if not math.isfinite(state_old[i]):
            return ST_FAILED
    nls = nsv - 3 * M - NF
    o_cur, o_trial, o_f0, o_target, o_table, _ = _tail(mi)
    cur = work[o_cur : o_cur + nsv]
    trial = work[o_trial : o_trial + nsv]
    for i in range(nsv):
        cur[i] = state_old[i]
    Fb0 = work[o_f0 : o_f0 + 9]
    for i in range(9):
        Fb0[i] = state_old[nsv - NF + i] + (1.0 if i % 4 == 0 else 0.0)
    target = work[o_target : o_target + 9]
    rtol = mf[1]
    nph = mi[7]
    for p in range(nph):
        for j in range(fs.MAX_NPROPS_FS):
            work[o_table + p * fs.MAX_NPROPS_FS + j] = table[p, j]
    tab = work[o_table : o_table + nph * fs.MAX_NPROPS_FS].reshape((nph, fs.MAX_NPROPS_FS))
    sfloor = EPS_REF * _stiffness_scale(tab, work, X_NODE * N)
    if not 1e-300 < sfloor < math.inf:
        sfloor = 1e-300
    t = 0.0
    h = 1.0
    total_it = 0
    nsub = 0
    res = 0.0
    while True:
        tn = t + h
        if tn >= 1.0 - 1e-12:
            tn = 1.0
        for i in range(3):
            for j in range(3):
                target[3 * i + j] = F[i, j] if tn == 1.0 else Fb0[3 * i + j] + tn * (F[i, j] - Fb0[3 * i + j])
        st, it, res = _solve_increment(
            mi, mf, tab, target, cur, trial, work, N, nls, P, A, rtol, sfloor,
            (tn - t) * dt, temp + t * dtemp, (tn - t) * dtemp,
        )
        total_it += it
        if st == 0:
            for i in range(9):
                trial[nsv - NF + i] = target[i] - (1.0 if i % 4 == 0 else 0.0)
            for i in range(nsv):
                cur[i] = trial[i]
            t = tn
            nsub += 1
            if t == 1.0:
                break
            h = 2.0 * h
        else:
            h *= 0.25
            if h < MIN_SUBSTEP or total_it > MAX_TOTAL_ITER:
                _fail(P, A, info, CUTBACK_RATIO)
                _info_counts(info, total_it, nsub, res)
                return ST_CUTBACK
    for i in range(nsv):
        state_new[i] = cur[i]
    info[INFO_RATIO] = 1.0
    _info_counts(info, total_it, nsub, res)
    return ST_OK


guard_numba_cache(fs_network_update, __file__)
