"""Low-level numba network update: one integration point, no Python objects, no exceptions.

This is the function the batched solver (:mod:`dmn_umat.online.solver`) runs in a ``prange``
and the C ABI calls from a numba ``@cfunc`` with ``carray`` views over raw C pointers.

Public API (signatures are fixed; everything is float64 / int64, C-contiguous)::

    mi, mf = pack_network(net)                      # Python: Network -> flat blobs
    nsv    = state_size(mi, props_table)             # @njit: STATEV length, -1 = bad input
    nwork  = work_size(mi)                           # @njit: scratch length, -1 = bad input
    status = network_update(mi, mf, props_table, strain, state_old,
                            stress, ddsdde, state_new, work, info,
                            dt=0.0, temp=0.0, dtemp=0.0)            # @njit

- ``mi``          (nmi,) int64   topology blob (header, node kinds, children, ordinals, phases)
- ``mf``          (nmf,) float64 geometry blob (weights, fractions f1/f2, H(n), normals, leaf Q(R))
- ``props_table`` (nphase, MAX_NPROPS) float64, row p = props of phase p (:func:`dmn_umat.laws.props_table`)
- ``strain``      (6,)  TOTAL macroscopic strain at the end of the increment (Mandel)
- ``state_old``   (≥nsv,) state at the start of the increment (read only)
- ``stress``      (6,)  out: macroscopic stress (Mandel)
- ``ddsdde``      (6,6) out: consistent macroscopic tangent dσ̄/dε̄ (Mandel)
- ``state_new``   (≥nsv,) out: state at the end of the increment (entries ≥ nsv copied from state_old)
- ``work``        (≥nwork,) scratch, contents irrelevant on entry
- ``dt``          time increment ≥ 0 (DTIME), ``temp`` temperature at the start of the increment
                  (TEMP), ``dtemp`` its increment (DTEMP): passed to every leaf's law (sub-steps
                  get their share: dt·Δτ, temp + τ·dtemp, dtemp·Δτ for the fraction [τ, τ+Δτ]);
                  the defaults 0 are the rate-independent behaviour
- ``info``        (≥4,) out: slots of :mod:`dmn_umat.status` (= ``DMN_INFO_*`` of dmn_umat.h):
                  [INFO_RATIO suggested step ratio, INFO_ITERATIONS Newton iterations (all
                  sub-steps), INFO_STATUS the returned status, INFO_RESIDUAL final max residual /
                  max(max leaf stress, s_floor)]; with ≥ KERNEL_INFO_SIZE (5) entries also
                  [INFO_SUBSTEPS sub-steps used]

Convergence: ``max_k |r_k| <= rtol * max(max_i |σ_i|, s_floor)`` with ``s_floor = EPS_REF *
max_p max_j C^p_jj`` (elastic stiffness of the phases): relative to the leaf stresses, with an
absolute floor so that a zero macroscopic strain (zero stresses) is no trap.  One call spends at
most ``MAX_TOTAL_ITER`` Newton iterations (all sub-steps); beyond that it asks for a cut back —
the iteration cap that every caller (C API, UMAT, :mod:`dmn_umat.online.driver`) shares.

Return status (:class:`dmn_umat.status.Status`): OK converged; CUTBACK cut back requested
(``info[INFO_RATIO]`` = suggested ratio < 1; state_new = state_old, stress = 0, ddsdde = 0);
FAILED failed / bad input (NaN strain or state, corrupt blob, phase index beyond ``props_table``,
unknown law; same outputs as CUTBACK).

State layout (``nsv = state_size``), one row per integration point (= Abaqus STATEV)::

    [ leaf states (leaves in pre-order, law_nstate(phase of leaf) each; j2: εp(6 Mandel), p)
    | jump vectors a_k (3 per INTERNAL node, internal nodes in pre-order, global frame)
    | ε̄ of the last converged increment (6, Mandel; start point of sub-stepping) ]

All leaves and internal nodes of the Network get their slots, including pruned (zero-weight)
ones, whose state is simply carried over.  Zero initial state = unstrained, unloaded.

Layouts (named offsets at module level; N nodes, pre-order, root 0; per-node arrays back to back,
node k's block of array X at <start of X> + size_X·k)::

    mi   [NHEAD header | kind, child 1, child 2, leaf ordinal, internal ordinal, phase: N each]
         (array i at NHEAD + i·N, i = _I_KIND .. _I_PHASE)
    mf   [F0 header (W, rtol) | w, f1, f2 (N each), H (18N), normals (3N), Q (36N, if rotations)]
         (array at F0 + M_X·N)
    work [per node (W_NODE = 90 doubles each, array at W_X·N): C 36, s 6, T 6, ε 6, δε 6, α 3,
          Γ 18, a 3, a at line-search start 3, δa 3
         | SCRATCH: fixed-size scratch (SC_* offsets: leaf-frame ε/σ/C, the 3×6 and 6×6 blocks
          of the condensation, one 6-vector, the laws' workspace)
         | current state, trial state (nsv_max each), ε̄ at the start, sub-step target ε̄ (6 each),
          copy of the props rows in use (nphase × MAX_NPROPS)]  (:func:`_tail_offsets`)

Mechanics (docs/design.md §4): leaf strain ε_i = ε̄ + Σ_{k∈anc(i)} s_ik H(n_k) a_k, s_ik = f2_k under
child 1, −f1_k under child 2; residual r_k = Hᵀ(n_k)(σ̄_c1 − σ̄_c2).  Newton on all a_k; the linear
system is eliminated children-before-parents as a recursive condensation (each subtree is reduced
to an affine stress response σ̄_c ≈ s_c + C_c δε_c of its own average strain; a node solves its
3×3 block A = Hᵀ(f2 C_c1 + f1 C_c2)H and passes up s_k, C_k).  This is exactly the block
Gaussian elimination of the full Newton system (no fill-in) at O(N) 6×6 work per iteration; the
root's C_k is the consistent macroscopic tangent.  Backtracking line search on Σ|r_k|² with
Levenberg–Marquardt damping of the 3×3 blocks after backtracked steps (the final tangent is always
the undamped one), warm start from the stored jumps, adaptive sub-stepping of [ε̄_old, ε̄] on
failure.  Leaf rotations: aniso leaves are evaluated in their own frame (ε_loc = Qᵀε, σ = Qσ_loc,
C = Q C_loc Qᵀ); isotropic laws (every law but aniso) are frame-indifferent, so their leaves skip the
rotation exactly (their state, e.g. εp, is then kept in the global frame).  Phase tangents need
not be symmetric.  Nodes whose weight is
≤ 1e-14 of the total are inactive (pruned): a node with one inactive child passes its other child
through with a_k = 0, so vanishing weights never make the system singular.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import tensors
from ..laws import update as laws
from ..sources import guard_numba_cache
from ..status import (
    INFO_ITERATIONS,
    INFO_RATIO,
    INFO_RESIDUAL,
    INFO_STATUS,
    INFO_SUBSTEPS,
    KERNEL_INFO_SIZE,
    ST_CUTBACK,
    ST_FAILED,
    ST_OK,
)
from ..tolerances import EPS_REF

MAGIC = 0x444D4E4B  # "DMNK"
VERSION = 1
NHEAD = 16  # int header length of mi
F0 = 8  # float header length of mf (mf[0] = total leaf weight W, mf[1] = Newton rtol)

KIND_INACTIVE = -1
KIND_LEAF = 0
KIND_LAMINATE = 1
KIND_PASS1 = 2  # only child 1 active
KIND_PASS2 = 3  # only child 2 active

RTOL = 1e-10  # default Newton tolerance (mf[1]): max_k |r_k| <= rtol * max(max_i |σ_i|, s_floor)
# EPS_REF (dmn_umat.tolerances): the Newton test's stress scale never drops under
# s_floor = EPS_REF * (largest diagonal entry of the phases' elastic stiffnesses), so a point
# driven back to exactly zero strain (zero leaf stresses) still converges.
MAX_NEWTON = 30
MAX_LINESEARCH = 7
MIN_SUBSTEP = 1.0 / 512.0
MAX_TOTAL_ITER = 600
WEIGHT_EPS = 1e-14
CUTBACK_RATIO = 0.25
MU_MIN = 1e-4  # Levenberg–Marquardt damping range (relative to tr(A)/3 of each 3x3 block)
MU_MAX = 1e4


def _offsets(*sizes: int) -> tuple[int, ...]:
    """Start of each of back-to-back fields of the given sizes, then the total size."""
    out = [0]
    for n in sizes:
        out.append(out[-1] + n)
    return tuple(out)


# Blob and workspace layouts (module doc, "Layouts").  Node arrays: array X holds one block of
# S_X entries per node, node k's block at <array start> + S_X·k; an array "at x·N" starts at
# x·N (+ the header for mi/mf), the arrays back to back.
# mi (int64), after NHEAD header ints: six arrays of one int per node, array i at NHEAD + i·N
_I_KIND, _I_C1, _I_C2, _I_LEAF, _I_INT, _I_PHASE, _I_NODE = range(7)  # _I_NODE: ints per node
# mf (float64), after F0 header floats: per-node arrays at F0 + M_X·N
(
    M_W,  # w_k (1): node weight (leaf weight / sum over the subtree)
    M_F1,  # f1_k (1): volume fraction of child 1 within node k
    M_F2,  # f2_k (1): volume fraction of child 2
    M_H,  # H(n_k) (6x3 row-major, 18)
    M_NRM,  # n_k (3): unit normal
    M_Q,  # Q(R_k) (6x6 Mandel rotation, 36; only if the header flags rotations)
    M_NODE,  # floats per node (rotations included)
) = _offsets(1, 1, 1, 18, 3, 36)
# work (float64), per concurrently evaluated point: per-node arrays at W_X·N ...
(
    W_C,  # C_k (6x6 row-major, 36): leaf tangent (a linear leaf's cached stiffness), then the
    #       condensed tangent of the subtree of k (the root's: the macroscopic tangent)
    W_S,  # s_k (6): leaf stress, then the condensed subtree stress
    W_T,  # T_k (6): Σ w_i σ_i over the leaves of the subtree of k
    W_EPS,  # ε_k (6): node strain at the current jumps
    W_DEPS,  # δε_k (6): node strain change along the Newton direction (δε̄ = 0)
    W_ALPHA,  # α_k (3): δa_k = α_k + Γ_k δε_k
    W_GAMMA,  # Γ_k (3x6 row-major, 18)
    W_A,  # a_k (3): jump vector (global frame)
    W_A0,  # a_k at the start of the line search (3)
    W_DA,  # δa_k (3): Newton direction of the jumps
    W_NODE,  # doubles per node
) = _offsets(36, 6, 6, 6, 6, 3, 18, 3, 3, 3)
# ... then SCRATCH doubles at W_NODE·N, fields at these offsets:
(
    SC_EPS_LOC,  # (6) ε_loc = Qᵀε of an aniso leaf
    SC_SIG_LOC,  # (6) σ_loc of an aniso leaf
    SC_C_LOC,  # (6x6) C_loc of an aniso leaf; a phase stiffness
    SC_TMP,  # (6x6) Q C_loc
    SC_D,  # (3x6) Hᵀ(C_c1 − C_c2)
    SC_PT,  # (3x6) Hᵀ(f2 C_c1 + f1 C_c2)
    SC_E,  # (6x3) (C_c1 − C_c2) H
    SC_V6,  # (6) a 6-vector: H a_k, or a difference of child stresses
    SC_LAW,  # (MAX_NWS) workspace of the phase laws
    SC_DC,  # (6x6) C_c1 − C_c2
    SC_CT,  # (6x6) f2 C_c1 + f1 C_c2
    SCRATCH,
) = _offsets(6, 6, 36, 36, 18, 18, 18, 6, laws.MAX_NWS, 36, 36)
# ... then the sub-stepping buffers: :func:`_tail_offsets`


# --------------------------------------------------------------------------- packing (Python)
def pack_network(net, rtol: float = RTOL) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a :class:`dmn_umat.network.Network` into ``(mi int64, mf float64)`` blobs.

    Internal weights are recomputed from the leaves; leaves with weight ≤ 1e-14·W are inactive.
    ``rtol``: Newton tolerance stored in the blob (converged when max_k |r_k| ≤ rtol·max_i |σ_i|).
    """
    if not (0.0 < rtol < 1e-2):
        raise ValueError("pack_network: rtol must lie in (0, 1e-2)")
    net.validate()
    N = net.n_nodes
    ch = np.asarray(net.children, dtype=np.int64)
    is_leaf = ch[:, 0] < 0
    w = np.where(is_leaf, np.asarray(net.weights, dtype=np.float64), 0.0)
    for k in range(N - 1, -1, -1):
        if not is_leaf[k]:
            w[k] = w[ch[k, 0]] + w[ch[k, 1]]
    W = float(w[0])
    active = np.zeros(N, dtype=bool)
    kind = np.full(N, KIND_INACTIVE, dtype=np.int64)
    f1 = np.full(N, 0.5)
    f2 = np.full(N, 0.5)
    for k in range(N - 1, -1, -1):
        if is_leaf[k]:
            active[k] = w[k] > WEIGHT_EPS * W
            kind[k] = KIND_LEAF if active[k] else KIND_INACTIVE
            continue
        a1, a2 = active[ch[k, 0]], active[ch[k, 1]]
        active[k] = a1 or a2
        if a1 and a2:
            kind[k] = KIND_LAMINATE
            f1[k] = w[ch[k, 0]] / (w[ch[k, 0]] + w[ch[k, 1]])
            f2[k] = 1.0 - f1[k]
        elif a1:
            kind[k] = KIND_PASS1
        elif a2:
            kind[k] = KIND_PASS2
    leaf_ord = -np.ones(N, dtype=np.int64)
    int_ord = -np.ones(N, dtype=np.int64)
    leaf_ord[is_leaf] = np.arange(int(is_leaf.sum()))
    int_ord[~is_leaf] = np.arange(int((~is_leaf).sum()))
    phase = np.where(is_leaf, np.asarray(net.phase, dtype=np.int64), -1)
    L = int(is_leaf.sum())
    M = N - L
    has_rot = 0
    Q = None
    if net.rotations is not None:
        R = np.asarray(net.rotations, dtype=np.float64)
        if not np.allclose(R[is_leaf], np.eye(3), atol=0.0, rtol=0.0):
            has_rot = 1
            Q = np.tile(np.eye(6), (N, 1, 1))
            for k in np.flatnonzero(is_leaf):
                Q[k] = tensors.rotation_mandel(np.ascontiguousarray(R[k]))
    head = np.zeros(NHEAD, dtype=np.int64)
    head[:8] = [MAGIC, VERSION, N, M, L, net.depth(), has_rot, int(phase.max()) + 1]
    mi = np.concatenate([head, kind, ch[:, 0], ch[:, 1], leaf_ord, int_ord, phase]).astype(np.int64)
    H = np.zeros((N, 6, 3))
    nrm = np.zeros((N, 3))
    for k in np.flatnonzero(~is_leaf):
        n = np.asarray(net.normals[k], dtype=np.float64)
        nrm[k] = n / np.linalg.norm(n)
        H[k] = tensors.h_matrix(nrm[k])
    fhead = np.zeros(F0)
    fhead[0] = W
    fhead[1] = rtol
    parts = [fhead, w, f1, f2, H.ravel(), nrm.ravel()]  # the M_* arrays, in order
    if has_rot:
        parts.append(Q.ravel())
    mf = np.ascontiguousarray(np.concatenate(parts), dtype=np.float64)
    return np.ascontiguousarray(mi), mf


def state_layout(mi: np.ndarray, props_table: np.ndarray) -> dict:
    """Offsets of the state layout: ``leaf_offset`` (L,), ``leaf_nstate`` (L,), ``jumps`` (first
    jump entry), ``strain`` (first entry of the stored macro strain), ``nsv``."""
    nsv = int(state_size(mi, props_table))
    if nsv < 0:
        raise ValueError("state_layout: network blob and props table do not match")
    N, M = int(mi[2]), int(mi[3])
    phase = mi[NHEAD + _I_PHASE * N : NHEAD + (_I_PHASE + 1) * N]
    leaf_ph = phase[phase >= 0]
    ns = np.array([int(laws.law_nstate(props_table[p])) for p in leaf_ph], dtype=np.int64)
    off = np.concatenate([[0], np.cumsum(ns)[:-1]]).astype(np.int64)
    return {
        "leaf_offset": off,
        "leaf_nstate": ns,
        "leaf_phase": leaf_ph.copy(),
        "jumps": nsv - 3 * M - 6,
        "strain": nsv - 6,
        "nsv": nsv,
    }


# --------------------------------------------------------------------------- sizes (njit)
@njit(cache=True)
def _blob_ok(mi, mf):
    if mi.shape[0] < NHEAD or mi[0] != MAGIC or mi[1] != VERSION:
        return False
    N = mi[2]
    if N < 1 or mi[3] + mi[4] != N or mi.shape[0] < NHEAD + _I_NODE * N:
        return False
    need = F0 + M_Q * N + ((M_NODE - M_Q) * N if mi[6] != 0 else 0)
    if not (mf.shape[0] >= need and mf[0] > 0.0 and 0.0 < mf[1] < 1e-2):
        return False
    # topology: every index the solver follows must stay inside the blob
    nleaf = 0
    nint = 0
    for k in range(N):
        kind = mi[NHEAD + _I_KIND * N + k]
        c1 = mi[NHEAD + _I_C1 * N + k]
        c2 = mi[NHEAD + _I_C2 * N + k]
        lo = mi[NHEAD + _I_LEAF * N + k]
        io = mi[NHEAD + _I_INT * N + k]
        if kind < KIND_INACTIVE or kind > KIND_PASS2:
            return False
        if c1 < 0:
            if c2 >= 0 or lo != nleaf or io != -1 or mi[NHEAD + _I_PHASE * N + k] < 0 or kind > KIND_LEAF:
                return False
            nleaf += 1
        else:
            if not (k < c1 < N and k < c2 < N) or lo != -1 or io != nint or kind == KIND_LEAF:
                return False
            nint += 1
    return nleaf == mi[4] and nint == mi[3] and mi[NHEAD + _I_KIND * N] != KIND_INACTIVE


@njit(cache=True)
def state_size(mi, props_table):
    """STATEV length per point for this network and these phases; -1 for bad input."""
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
        if ph < 0 or ph >= props_table.shape[0]:
            return -1
        if not laws.law_known(props_table[ph]):
            return -1
        n += laws.law_nstate(props_table[ph])
    return n + 3 * mi[3] + 6


@njit(cache=True, inline="always")
def _tail_offsets(mi):
    """Offsets in ``work`` of the buffers after the scratch: (current state, trial state,
    ε̄ at the start of the call, target ε̄ of the sub-step, props rows, end); the state buffers
    hold ``nsv_max`` ≥ nsv entries (MAX_NSTATE per leaf)."""
    nsv_max = mi[4] * laws.MAX_NSTATE + 3 * mi[3] + 6
    o_cur = W_NODE * mi[2] + SCRATCH
    o_trial = o_cur + nsv_max
    o_eps0 = o_trial + nsv_max
    o_target = o_eps0 + 6
    o_table = o_target + 6
    return o_cur, o_trial, o_eps0, o_target, o_table, o_table + mi[7] * laws.MAX_NPROPS


@njit(cache=True)
def work_size(mi):
    """Scratch length per concurrently evaluated point; -1 for a bad blob."""
    if mi.shape[0] < NHEAD or mi[0] != MAGIC or mi[1] != VERSION:
        return -1
    return _tail_offsets(mi)[5]


# --------------------------------------------------------------------------- internals
# H(n) (6x3, row-major in mf) has 9 nonzeros: column 0 in rows 0,4,5; column 1 in rows 1,3,5;
# column 2 in rows 2,3,4.  The helpers below use them explicitly (flat index 3*row + col).


@njit(cache=True, inline="always")
def _h_apply(mf, hb, a0, a1, a2, out, o):
    """out[o:o+6] = H a."""
    out[o] = mf[hb] * a0
    out[o + 1] = mf[hb + 4] * a1
    out[o + 2] = mf[hb + 8] * a2
    out[o + 3] = mf[hb + 10] * a1 + mf[hb + 11] * a2
    out[o + 4] = mf[hb + 12] * a0 + mf[hb + 14] * a2
    out[o + 5] = mf[hb + 15] * a0 + mf[hb + 16] * a1


@njit(cache=True, inline="always")
def _ht_vec(mf, hb, v, o):
    """Hᵀ v[o:o+6] → (3 values)."""
    r0 = mf[hb] * v[o] + mf[hb + 12] * v[o + 4] + mf[hb + 15] * v[o + 5]
    r1 = mf[hb + 4] * v[o + 1] + mf[hb + 10] * v[o + 3] + mf[hb + 16] * v[o + 5]
    r2 = mf[hb + 8] * v[o + 2] + mf[hb + 11] * v[o + 3] + mf[hb + 14] * v[o + 4]
    return r0, r1, r2


@njit(cache=True)
def _evaluate(mi, mf, props_table, eps, s_start, s_trial, work, N, has_rot, dt, temp, dtemp):
    """Leaf updates at the current jumps and the actual residuals (``dt``, ``temp``, ``dtemp``:
    the sub-step's time increment and temperatures, passed to every leaf law).

    Leaves of isotropic laws (``Law.isotropic``) are evaluated in the global frame (the law is
    frame-indifferent, so the leaf rotation is exact to skip); aniso leaves in their own frame.
    Returns (status, phi = Σ|r_k|², rmax = max|r_k|, sref = max_i |σ_i|)."""
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    o_leaf = NHEAD + _I_LEAF * N
    o_phase = NHEAD + _I_PHASE * N
    m_w = F0 + M_W * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    m_H = F0 + M_H * N
    m_Q = F0 + M_Q * N
    o_C = W_C * N
    o_s = W_S * N
    o_T = W_T * N
    o_eps = W_EPS * N
    o_a = W_A * N
    o_sc = W_NODE * N
    ha = work[o_sc + SC_V6 : o_sc + SC_V6 + 6]
    ws = work[o_sc + SC_LAW : o_sc + SC_LAW + laws.MAX_NWS]

    # 1. top-down node strains
    for i in range(6):
        work[o_eps + i] = eps[i]
    for k in range(N):
        kind = mi[o_kind + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        ek = o_eps + 6 * k
        if kind == KIND_LAMINATE:
            f1 = mf[m_f1 + k]
            f2 = mf[m_f2 + k]
            _h_apply(mf, m_H + 18 * k, work[o_a + 3 * k], work[o_a + 3 * k + 1], work[o_a + 3 * k + 2], ha, 0)
            for i in range(6):
                work[o_eps + 6 * c1 + i] = work[ek + i] + f2 * ha[i]
                work[o_eps + 6 * c2 + i] = work[ek + i] - f1 * ha[i]
        else:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(6):
                work[o_eps + 6 * c + i] = work[ek + i]

    # 2. leaves (state slots of all leaves, in pre-order)
    so = 0
    sref = 0.0
    for k in range(N):
        if mi[o_leaf + k] < 0:
            continue
        ph = mi[o_phase + k]
        props = props_table[ph]
        ns = laws.law_nstate(props)
        if mi[o_kind + k] == KIND_INACTIVE:
            for i in range(ns):
                s_trial[so + i] = s_start[so + i]
            so += ns
            continue
        ek = o_eps + 6 * k
        if laws.law_linear(props):
            # linear leaf: stiffness (rotated for aniso) cached in its C slot by _prepare_linear
            cb = o_C + 36 * k
            w = mf[m_w + k]
            nrm2 = 0.0
            for i in range(6):
                v = 0.0
                for j in range(6):
                    v += work[cb + 6 * i + j] * work[ek + j]
                work[o_s + 6 * k + i] = v
                work[o_T + 6 * k + i] = w * v
                nrm2 += v * v
            if not math.isfinite(nrm2):
                return laws.STATUS_BADINPUT, 0.0, 0.0, 0.0
            if nrm2 > sref:
                sref = nrm2
            continue
        sig = work[o_s + 6 * k : o_s + 6 * k + 6]
        C = work[o_C + 36 * k : o_C + 36 * k + 36].reshape((6, 6))
        if has_rot and not laws.law_isotropic(props):
            qb = m_Q + 36 * k
            el = work[o_sc + SC_EPS_LOC : o_sc + SC_EPS_LOC + 6]
            sl = work[o_sc + SC_SIG_LOC : o_sc + SC_SIG_LOC + 6]
            Cl = work[o_sc + SC_C_LOC : o_sc + SC_C_LOC + 36].reshape((6, 6))
            tmp = work[o_sc + SC_TMP : o_sc + SC_TMP + 36].reshape((6, 6))
            for i in range(6):  # ε_loc = Qᵀ ε
                v = 0.0
                for j in range(6):
                    v += mf[qb + 6 * j + i] * work[ek + j]
                el[i] = v
            st = laws.phase_update(
                props, el, s_start[so : so + ns], dt, temp, dtemp, sl, Cl, s_trial[so : so + ns], ws
            )
            if st != 0:
                return st, 0.0, 0.0, 0.0
            for i in range(6):  # σ = Q σ_loc, C = Q C_loc Qᵀ
                v = 0.0
                for j in range(6):
                    v += mf[qb + 6 * i + j] * sl[j]
                sig[i] = v
            for i in range(6):
                for j in range(6):
                    v = 0.0
                    for m in range(6):
                        v += mf[qb + 6 * i + m] * Cl[m, j]
                    tmp[i, j] = v
            for i in range(6):
                for j in range(6):
                    v = 0.0
                    for m in range(6):
                        v += tmp[i, m] * mf[qb + 6 * j + m]
                    C[i, j] = v
        else:
            st = laws.phase_update(
                props, work[ek : ek + 6], s_start[so : so + ns], dt, temp, dtemp, sig, C,
                s_trial[so : so + ns], ws,
            )
            if st != 0:
                return st, 0.0, 0.0, 0.0
        w = mf[m_w + k]
        nrm2 = 0.0
        for i in range(6):
            nrm2 += sig[i] * sig[i]
            work[o_T + 6 * k + i] = w * sig[i]
        if not math.isfinite(nrm2):
            return laws.STATUS_NONCONVERGED, 0.0, 0.0, 0.0
        if nrm2 > sref:
            sref = nrm2
        so += ns
    sref = math.sqrt(sref)

    # 3. bottom-up sums T_k = Σ w_i σ_i and the actual residual r_k = Hᵀ(T_c1/w_c1 − T_c2/w_c2)
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
            for i in range(6):
                work[o_T + 6 * k + i] = work[o_T + 6 * c + i]
            continue
        iw1 = 1.0 / mf[m_w + c1]
        iw2 = 1.0 / mf[m_w + c2]
        for i in range(6):
            t1 = work[o_T + 6 * c1 + i]
            t2 = work[o_T + 6 * c2 + i]
            work[o_T + 6 * k + i] = t1 + t2
            ha[i] = t1 * iw1 - t2 * iw2
        r0, r1, r2 = _ht_vec(mf, m_H + 18 * k, ha, 0)
        phi += r0 * r0 + r1 * r1 + r2 * r2
        rmax = max(rmax, abs(r0), abs(r1), abs(r2))
    if not math.isfinite(phi):
        return laws.STATUS_NONCONVERGED, 0.0, 0.0, 0.0
    return 0, phi, rmax, sref


@njit(cache=True)
def _condense(mi, mf, work, N, mu):
    """Bottom-up elimination of the linearized jump equations at the last evaluated point.

    Each subtree c is reduced to σ̄_c ≈ s_c + C_c δε_c; node k stores α_k, Γ_k with
    δa_k = α_k + Γ_k δε_k.  ``mu`` ≥ 0 adds Levenberg–Marquardt damping μ·tr(A)/3·I to each 3×3
    block (μ = 0: exact Newton, and the root C is the consistent tangent).  Returns 0 or
    STATUS_NONCONVERGED for a singular block."""
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    m_H = F0 + M_H * N
    o_C = W_C * N
    o_s = W_S * N
    o_alpha = W_ALPHA * N
    o_gamma = W_GAMMA * N
    o_sc = W_NODE * N
    o_v6 = o_sc + SC_V6
    D = work[o_sc + SC_D : o_sc + SC_D + 18]  # Hᵀ (C1 − C2) (3x6)
    Pt = work[o_sc + SC_PT : o_sc + SC_PT + 18]  # Hᵀ (f2 C1 + f1 C2) (3x6)
    E = work[o_sc + SC_E : o_sc + SC_E + 18]  # (C1 − C2) H (6x3)
    dC = work[o_sc + SC_DC : o_sc + SC_DC + 36]  # C1 − C2 (6x6)
    Ct = work[o_sc + SC_CT : o_sc + SC_CT + 36]  # f2 C1 + f1 C2 (6x6)
    for k in range(N - 1, -1, -1):
        kind = mi[o_kind + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(36):
                work[o_C + 36 * k + i] = work[o_C + 36 * c + i]
            for i in range(6):
                work[o_s + 6 * k + i] = work[o_s + 6 * c + i]
            continue
        f1 = mf[m_f1 + k]
        f2 = mf[m_f2 + k]
        hb = m_H + 18 * k
        h00 = mf[hb]
        h11 = mf[hb + 4]
        h22 = mf[hb + 8]
        h31 = mf[hb + 10]
        h32 = mf[hb + 11]
        h40 = mf[hb + 12]
        h42 = mf[hb + 14]
        h50 = mf[hb + 15]
        h51 = mf[hb + 16]
        C1 = o_C + 36 * c1
        C2 = o_C + 36 * c2
        s1 = o_s + 6 * c1
        s2 = o_s + 6 * c2
        for i in range(36):
            x1 = work[C1 + i]
            x2 = work[C2 + i]
            dC[i] = x1 - x2
            Ct[i] = f2 * x1 + f1 * x2
        # D = Hᵀ dC, Pt = Hᵀ Ct (rows of Hᵀ: 3 nonzeros each)
        for m in range(6):
            D[m] = h00 * dC[m] + h40 * dC[24 + m] + h50 * dC[30 + m]
            D[6 + m] = h11 * dC[6 + m] + h31 * dC[18 + m] + h51 * dC[30 + m]
            D[12 + m] = h22 * dC[12 + m] + h32 * dC[18 + m] + h42 * dC[24 + m]
            Pt[m] = h00 * Ct[m] + h40 * Ct[24 + m] + h50 * Ct[30 + m]
            Pt[6 + m] = h11 * Ct[6 + m] + h31 * Ct[18 + m] + h51 * Ct[30 + m]
            Pt[12 + m] = h22 * Ct[12 + m] + h32 * Ct[18 + m] + h42 * Ct[24 + m]
        # E = dC H (6x3)
        for i in range(6):
            r = 6 * i
            E[3 * i] = dC[r] * h00 + dC[r + 4] * h40 + dC[r + 5] * h50
            E[3 * i + 1] = dC[r + 1] * h11 + dC[r + 3] * h31 + dC[r + 5] * h51
            E[3 * i + 2] = dC[r + 2] * h22 + dC[r + 3] * h32 + dC[r + 4] * h42
        # A = Pt H (3x3)
        a00 = Pt[0] * h00 + Pt[4] * h40 + Pt[5] * h50
        a01 = Pt[1] * h11 + Pt[3] * h31 + Pt[5] * h51
        a02 = Pt[2] * h22 + Pt[3] * h32 + Pt[4] * h42
        a10 = Pt[6] * h00 + Pt[10] * h40 + Pt[11] * h50
        a11 = Pt[7] * h11 + Pt[9] * h31 + Pt[11] * h51
        a12 = Pt[8] * h22 + Pt[9] * h32 + Pt[10] * h42
        a20 = Pt[12] * h00 + Pt[16] * h40 + Pt[17] * h50
        a21 = Pt[13] * h11 + Pt[15] * h31 + Pt[17] * h51
        a22 = Pt[14] * h22 + Pt[15] * h32 + Pt[16] * h42
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
            return laws.STATUS_NONCONVERGED
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
        # g = Hᵀ(s1 − s2); alpha = −A⁻¹ g; Γ = −A⁻¹ D
        for i in range(6):
            work[o_v6 + i] = work[s1 + i] - work[s2 + i]
        g0, g1, g2 = _ht_vec(mf, hb, work, o_v6)
        al0 = -(i00 * g0 + i01 * g1 + i02 * g2)
        al1 = -(i10 * g0 + i11 * g1 + i12 * g2)
        al2 = -(i20 * g0 + i21 * g1 + i22 * g2)
        ab = o_alpha + 3 * k
        work[ab] = al0
        work[ab + 1] = al1
        work[ab + 2] = al2
        gb = o_gamma + 18 * k
        for m in range(6):
            d0 = D[m]
            d1 = D[6 + m]
            d2 = D[12 + m]
            work[gb + m] = -(i00 * d0 + i01 * d1 + i02 * d2)
            work[gb + 6 + m] = -(i10 * d0 + i11 * d1 + i12 * d2)
            work[gb + 12 + m] = -(i20 * d0 + i21 * d1 + i22 * d2)
        # s_k = f1 s1 + f2 s2 + f1 f2 E alpha; C_k = f1 C1 + f2 C2 + f1 f2 E Γ
        ff = f1 * f2
        kb = o_C + 36 * k
        for i in range(6):
            e0 = ff * E[3 * i]
            e1 = ff * E[3 * i + 1]
            e2 = ff * E[3 * i + 2]
            work[o_s + 6 * k + i] = f1 * work[s1 + i] + f2 * work[s2 + i] + e0 * al0 + e1 * al1 + e2 * al2
            for m in range(6):
                work[kb + 6 * i + m] = (
                    f1 * work[C1 + 6 * i + m]
                    + f2 * work[C2 + 6 * i + m]
                    + e0 * work[gb + m]
                    + e1 * work[gb + 6 + m]
                    + e2 * work[gb + 12 + m]
                )
    for i in range(36):
        if not math.isfinite(work[o_C + i]):
            return laws.STATUS_NONCONVERGED
    return 0


@njit(cache=True)
def _newton_direction(mi, mf, work, N):
    """Top-down back substitution with δε̄ = 0: δa_k = α_k + Γ_k δε_k; returns max |δa|."""
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    m_H = F0 + M_H * N
    o_deps = W_DEPS * N
    o_alpha = W_ALPHA * N
    o_gamma = W_GAMMA * N
    o_da = W_DA * N
    o_sc = W_NODE * N
    ha = work[o_sc + SC_V6 : o_sc + SC_V6 + 6]
    for i in range(6):
        work[o_deps + i] = 0.0
    dmax = 0.0
    for k in range(N):
        kind = mi[o_kind + k]
        if kind <= KIND_LEAF:
            for j in range(3):
                work[o_da + 3 * k + j] = 0.0
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        dk = o_deps + 6 * k
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(6):
                work[o_deps + 6 * c + i] = work[dk + i]
            for j in range(3):
                work[o_da + 3 * k + j] = 0.0
            continue
        for j in range(3):
            v = work[o_alpha + 3 * k + j]
            for m in range(6):
                v += work[o_gamma + 18 * k + 6 * j + m] * work[dk + m]
            work[o_da + 3 * k + j] = v
            if abs(v) > dmax:
                dmax = abs(v)
        f1 = mf[m_f1 + k]
        f2 = mf[m_f2 + k]
        _h_apply(mf, m_H + 18 * k, work[o_da + 3 * k], work[o_da + 3 * k + 1], work[o_da + 3 * k + 2], ha, 0)
        for i in range(6):
            work[o_deps + 6 * c1 + i] = work[dk + i] + f2 * ha[i]
            work[o_deps + 6 * c2 + i] = work[dk + i] - f1 * ha[i]
    return dmax


@njit(cache=True)
def _prepare_linear(mi, mf, table, work, N, has_rot):
    """Write the (rotated) stiffness of every active linear leaf into its C slot (once per call)."""
    o_kind = NHEAD + _I_KIND * N
    o_phase = NHEAD + _I_PHASE * N
    m_Q = F0 + M_Q * N
    o_C = W_C * N
    o_sc = W_NODE * N
    Cl = work[o_sc + SC_C_LOC : o_sc + SC_C_LOC + 36].reshape((6, 6))
    tmp = work[o_sc + SC_TMP : o_sc + SC_TMP + 36]
    for k in range(N):
        if mi[o_kind + k] != KIND_LEAF:
            continue
        props = table[mi[o_phase + k]]
        if not laws.law_linear(props):
            continue
        cb = o_C + 36 * k
        laws.elastic_stiffness(props, Cl)
        if has_rot and not laws.law_isotropic(props):
            qb = m_Q + 36 * k
            for i in range(6):
                for j in range(6):
                    v = 0.0
                    for m in range(6):
                        v += mf[qb + 6 * i + m] * Cl[m, j]
                    tmp[6 * i + j] = v
            for i in range(6):
                for j in range(6):
                    v = 0.0
                    for m in range(6):
                        v += tmp[6 * i + m] * mf[qb + 6 * j + m]
                    work[cb + 6 * i + j] = v
        else:
            for i in range(6):
                for j in range(6):
                    work[cb + 6 * i + j] = Cl[i, j]


@njit(cache=True)
def _solve_increment(
    mi, mf, props_table, eps, s_start, s_trial, work, N, M, has_rot, nls, stress, ddsdde, rtol, sfloor,
    dt, temp, dtemp,
):
    """Newton solve for the jumps at macro strain ``eps`` from state ``s_start`` over a (sub-)step
    of time ``dt`` from temperature ``temp`` by ``dtemp``; converged when
    max|r_k| <= rtol * max(sref, sfloor) (``sfloor``: absolute stress floor, module doc).

    Returns (status 0/1, iterations, residual / max(sref, sfloor))."""
    o_kind = NHEAD + _I_KIND * N
    o_int = NHEAD + _I_INT * N
    o_a = W_A * N
    o_a0 = W_A0 * N
    o_da = W_DA * N
    o_C = W_C * N
    o_T = W_T * N
    amax = 0.0
    for k in range(N):
        m = mi[o_int + k]
        for j in range(3):
            v = 0.0
            if m >= 0 and mi[o_kind + k] == KIND_LAMINATE:
                v = s_start[nls + 3 * m + j]
            work[o_a + 3 * k + j] = v
            if abs(v) > amax:
                amax = abs(v)
    emax = 0.0
    for i in range(6):
        if abs(eps[i]) > emax:
            emax = abs(eps[i])
    st, phi, rmax, sref = _evaluate(
        mi, mf, props_table, eps, s_start, s_trial, work, N, has_rot, dt, temp, dtemp
    )
    if st != 0:
        return 1, 0, 0.0
    it = 0
    mu = 0.0
    small_step = False
    while not (rmax <= rtol * max(sref, sfloor) or small_step):
        if it >= MAX_NEWTON:
            return 1, it, rmax / max(sref, sfloor)
        st = _condense(mi, mf, work, N, mu)
        if st != 0:  # singular block: regularize
            mu = max(10.0 * mu, MU_MIN)
            st = _condense(mi, mf, work, N, mu)
            if st != 0:
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
                mi, mf, props_table, eps, s_start, s_trial, work, N, has_rot, dt, temp, dtemp
            )
            if st == 0 and phi_t <= (1.0 - 1e-4 * lam) * phi:
                accepted = True
                break
            lam *= 0.5
        if st != 0:
            return 1, it + 1, rmax / max(sref, sfloor)
        it += 1
        # Levenberg–Marquardt: damp after a backtracked step, relax after a full one
        if accepted and lam == 1.0:
            mu = 0.0 if mu <= MU_MIN else 0.1 * mu
        else:
            mu = min(max(10.0 * mu, MU_MIN), MU_MAX)
        amax = 0.0
        for i in range(3 * N):
            if abs(work[o_a + i]) > amax:
                amax = abs(work[o_a + i])
        # a step at round-off level of the unknowns: nothing more to gain
        small_step = accepted and lam * dmax <= 1e-14 * (amax + emax)
        phi, rmax, sref = phi_t, rmax_t, sref_t
    # consistent tangent: exact linearization at the converged point
    if _condense(mi, mf, work, N, 0.0) != 0:
        if _condense(mi, mf, work, N, 1e-10) != 0:
            return 1, it, rmax / max(sref, sfloor)
    W = mf[0]
    for i in range(6):
        stress[i] = work[o_T + i] / W
        for j in range(6):
            ddsdde[i, j] = work[o_C + 6 * i + j]
    for k in range(N):
        m = mi[o_int + k]
        if m >= 0:
            for j in range(3):
                s_trial[nls + 3 * m + j] = work[o_a + 3 * k + j]
    return 0, it, rmax / max(sref, sfloor)


@njit(cache=True)
def stiffness_scale(props_table, C):
    """Largest diagonal entry of the phases' elastic Mandel stiffnesses (stress units; ``C`` is
    (6,6) scratch).  0 if no row holds a known law."""
    smax = 0.0
    for p in range(props_table.shape[0]):
        if laws.elastic_stiffness(props_table[p], C) != 0:
            continue
        for i in range(6):
            if abs(C[i, i]) > smax:
                smax = abs(C[i, i])
    return smax


@njit(cache=True)
def _fail(stress, ddsdde, info, ratio):
    for i in range(6):
        stress[i] = 0.0
        for j in range(6):
            ddsdde[i, j] = 0.0
    info[INFO_RATIO] = ratio


# --------------------------------------------------------------------------- the kernel
@njit(cache=True)
def network_update(
    mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info, dt=0.0, temp=0.0, dtemp=0.0
):
    """One integration point: macro stress, consistent tangent and new state (module doc)."""
    for i in range(min(info.shape[0], KERNEL_INFO_SIZE)):
        info[i] = 0.0
    st = _update(
        mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info, dt, temp, dtemp
    )
    info[INFO_STATUS] = st
    return st


@njit(cache=True)
def _update(mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info, dt, temp, dtemp):
    """Body of :func:`network_update` (``info`` zeroed; the caller stores the status)."""
    _fail(stress, ddsdde, info, CUTBACK_RATIO)
    if not (math.isfinite(dt) and dt >= 0.0 and math.isfinite(temp) and math.isfinite(dtemp)):
        return ST_FAILED
    if props_table.ndim != 2 or props_table.shape[1] < laws.MAX_NPROPS or not _blob_ok(mi, mf):
        return ST_FAILED
    N = mi[2]
    M = mi[3]
    has_rot = mi[6] != 0
    nsv = state_size(mi, props_table)
    if nsv < 0 or state_old.shape[0] < nsv or state_new.shape[0] < nsv:
        return ST_FAILED
    for i in range(min(state_old.shape[0], state_new.shape[0])):
        state_new[i] = state_old[i]
    if mi[7] < 1 or mi[7] > props_table.shape[0]:
        return ST_FAILED
    if work.shape[0] < work_size(mi):
        return ST_FAILED
    if strain.shape[0] < 6 or stress.shape[0] < 6 or ddsdde.shape[0] < 6 or ddsdde.shape[1] < 6:
        return ST_FAILED
    for i in range(6):
        if not math.isfinite(strain[i]):
            return ST_FAILED
    for i in range(nsv):
        if not math.isfinite(state_old[i]):
            return ST_FAILED
    nls = nsv - 3 * M - 6
    o_cur, o_trial, o_eps0, o_target, o_table, _ = _tail_offsets(mi)
    cur = work[o_cur : o_cur + nsv]
    trial = work[o_trial : o_trial + nsv]
    for i in range(nsv):
        cur[i] = state_old[i]
    eps0 = work[o_eps0 : o_eps0 + 6]
    for i in range(6):
        eps0[i] = state_old[nsv - 6 + i]
    target = work[o_target : o_target + 6]
    rtol = mf[1]
    # thread-local copy of the props rows in use (no views of a shared array in the hot loop)
    nph = mi[7]
    for p in range(nph):
        for j in range(laws.MAX_NPROPS):
            work[o_table + p * laws.MAX_NPROPS + j] = props_table[p, j]
    table = work[o_table : o_table + nph * laws.MAX_NPROPS].reshape((nph, laws.MAX_NPROPS))
    _prepare_linear(mi, mf, table, work, N, has_rot)
    o_sc = W_NODE * N
    sfloor = EPS_REF * stiffness_scale(table, work[o_sc + SC_C_LOC : o_sc + SC_C_LOC + 36].reshape((6, 6)))
    if not 1e-300 < sfloor < math.inf:  # zero-stiffness / non-finite phases: keep the test defined
        sfloor = 1e-300
    t = 0.0
    h = 1.0  # sub-step fraction of the increment
    total_it = 0
    nsub = 0
    res = 0.0
    while True:
        tn = t + h
        if tn >= 1.0 - 1e-12:
            tn = 1.0
        for i in range(6):
            if tn == 1.0:
                target[i] = strain[i]
            else:
                target[i] = eps0[i] + tn * (strain[i] - eps0[i])
        st, it, res = _solve_increment(
            mi, mf, table, target, cur, trial, work, N, M, has_rot, nls, stress, ddsdde, rtol, sfloor,
            (tn - t) * dt, temp + t * dtemp, (tn - t) * dtemp,
        )
        total_it += it
        if st == 0:
            for i in range(6):
                trial[nsv - 6 + i] = target[i]
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
                _fail(stress, ddsdde, info, CUTBACK_RATIO)
                _info_counts(info, total_it, nsub, res)
                return ST_CUTBACK
    for i in range(nsv):
        state_new[i] = cur[i]
    info[INFO_RATIO] = 1.0
    _info_counts(info, total_it, nsub, res)
    return ST_OK


@njit(cache=True, inline="always")
def _info_counts(info, iterations, nsub, residual):
    info[INFO_ITERATIONS] = iterations
    info[INFO_RESIDUAL] = residual
    if info.shape[0] > INFO_SUBSTEPS:
        info[INFO_SUBSTEPS] = nsub


guard_numba_cache(network_update, __file__)
