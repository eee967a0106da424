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
          copy of the props rows in use (nphase × MAX_NPROPS)]  (:func:`dmn_umat.online.tree.tail_offsets`)

Mechanics (docs/design.md §4): leaf strain ε_i = ε̄ + Σ_{k∈anc(i)} s_ik H(n_k) a_k, s_ik = f2_k under
child 1, −f1_k under child 2; residual r_k = Hᵀ(n_k)(σ̄_c1 − σ̄_c2).  Newton on all a_k; the linear
system is eliminated children-before-parents as a recursive condensation (each subtree is reduced
to an affine stress response σ̄_c ≈ s_c + C_c δε_c of its own average strain; a node solves its
3×3 block A = Hᵀ(f2 C_c1 + f1 C_c2)H and passes up s_k, C_k).  This is exactly the block
Gaussian elimination of the full Newton system (no fill-in) at O(N) 6×6 work per iteration; the
root's C_k is the consistent macroscopic tangent.  Backtracking line search on Σ|r_k|² with
Levenberg–Marquardt damping of the 3×3 blocks after backtracked steps (the final tangent is always
the undamped one), warm start from the stored jumps, adaptive sub-stepping of [ε̄_old, ε̄] on
failure (then a cut back; the finite-strain kernel descends the network's potential instead,
dmn_umat.online.tree).  Leaf rotations: aniso leaves are evaluated in their own frame
(ε_loc = Qᵀε, σ = Qσ_loc, C = Q C_loc Qᵀ); isotropic laws (every law but aniso) are
frame-indifferent, so their leaves skip the rotation exactly (their state, e.g. εp, is then
kept in the global frame).  Phase tangents need not be symmetric.  Nodes whose weight is
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
from ..status import INFO_STATUS, KERNEL_INFO_SIZE, ST_FAILED
from ..tolerances import EPS_REF
from . import tree
from .tree import (  # noqa: F401  (the blob layout and Newton constants: one definition, in tree)
    _I_C1,
    _I_C2,
    _I_INT,
    _I_KIND,
    _I_LEAF,
    _I_NODE,
    _I_PHASE,
    CUTBACK_RATIO,
    F0,
    KIND_INACTIVE,
    KIND_LAMINATE,
    KIND_LEAF,
    KIND_PASS1,
    KIND_PASS2,
    LAYOUT6,
    LEAF6,
    M_F1,
    M_F2,
    M_H,
    M_NODE,
    M_NRM,
    M_Q,
    M_W,
    MAGIC,
    MAX_LINESEARCH,
    MAX_NEWTON,
    MAX_TOTAL_ITER,
    MIN_SUBSTEP,
    MU_MAX,
    MU_MIN,
    NHEAD,
    RTOL,
    VERSION,
    WEIGHT_EPS,
    _offsets,
    stiffness_scale,
)

# work (float64), per concurrently evaluated point (tree.LAYOUT6): per-node arrays at W_X·N ...
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
) = LAYOUT6[:11]
# ... then SCRATCH doubles at W_NODE·N, fields at these offsets:
SC_EPS_LOC, SC_SIG_LOC, SC_C_LOC, SC_TMP, SC_LAW = LEAF6[:5]  # aniso leaf ε_loc, σ_loc, C_loc, Q C_loc; laws
(
    SC_D,  # (3x6) Hᵀ(C_c1 − C_c2)
    SC_PT,  # (3x6) Hᵀ(f2 C_c1 + f1 C_c2)
    SC_E,  # (6x3) (C_c1 − C_c2) H
    SC_V6,  # (6) a 6-vector: H a_k, or a difference of child stresses
    SC_DC,  # (6x6) C_c1 − C_c2
    SC_CT,  # (6x6) f2 C_c1 + f1 C_c2
    SCRATCH,
) = LAYOUT6[11:]
# ... then the sub-stepping buffers: tree.tail_offsets

# the tree-structured Newton at B = 6 (dmn_umat.online.tree)
_blob_ok = tree.blob_ok
_evaluate = tree.evaluate6
_condense = tree.condense6
_newton_direction = tree.newton_direction6
_prepare_linear = tree.prepare_linear
_info_counts = tree.info_counts

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
def state_size(mi, props_table):
    """STATEV length per point for this network and these phases; -1 for bad input."""
    return tree.state_size(mi, props_table, 6)


@njit(cache=True)
def work_size(mi):
    """Scratch length per concurrently evaluated point; -1 for a bad blob."""
    return tree.work_size(mi, 6)


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
    tree.fail(stress, ddsdde, info, CUTBACK_RATIO, 6)
    if not (math.isfinite(dt) and dt >= 0.0 and math.isfinite(temp) and math.isfinite(dtemp)):
        return ST_FAILED
    if props_table.ndim != 2 or props_table.shape[1] < laws.MAX_NPROPS or not tree.blob_ok(mi, mf):
        return ST_FAILED
    N = mi[2]
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
    table = tree.copy_table(mi, props_table, work, 6)
    tree.prepare_linear(mi, mf, table, work, N, has_rot)
    o_sc = W_NODE * N
    sfloor = EPS_REF * stiffness_scale(table, work[o_sc + SC_C_LOC : o_sc + SC_C_LOC + 36].reshape((6, 6)))
    if not 1e-300 < sfloor < math.inf:  # zero-stiffness / non-finite phases: keep the test defined
        sfloor = 1e-300
    return tree.run_increment(
        mi, mf, table, strain, state_old, stress, ddsdde, state_new, work, info, nsv, has_rot, sfloor,
        dt, temp, dtemp, 6,
    )


guard_numba_cache(network_update, __file__)
