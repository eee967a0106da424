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
iteration.  The Newton is the one of the small-strain kernel, :mod:`dmn_umat.online.tree` at
block size 9 (workspace layout :data:`~dmn_umat.online.tree.LAYOUT9`).

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
from ..status import INFO_RATIO, INFO_STATUS, KERNEL_INFO_SIZE, ST_FAILED
from ..tolerances import EPS_REF
from . import tree

NF = 9  # stored F̄ − 1


@njit(cache=True)
def fs_state_size(mi, table):
    """STATEV length per point; -1 for bad input (blob header, phase index, unknown law)."""
    return tree.state_size(mi, table, 9)


@njit(cache=True)
def fs_work_size(mi):
    """Scratch length per concurrently evaluated point; -1 for a bad blob."""
    return tree.work_size(mi, 9)


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
    _fail(P, A, info, tree.CUTBACK_RATIO)
    if not (math.isfinite(dt) and dt >= 0.0 and math.isfinite(temp) and math.isfinite(dtemp)):
        return ST_FAILED
    if table.ndim != 2 or table.shape[1] < fs.MAX_NPROPS_FS or not tree.blob_ok(mi, mf):
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
    tab = tree.copy_table(mi, table, work, 9)
    sfloor = EPS_REF * tree.fs_stiffness_scale(tab, work, N)
    if not 1e-300 < sfloor < math.inf:
        sfloor = 1e-300
    o_end = tree.tail_offsets(mi, 9)[5]  # F̄ (row-major), P̄ and dP̄/dF̄ buffers
    Fend = work[o_end : o_end + 9]
    for i in range(3):
        for j in range(3):
            Fend[3 * i + j] = F[i, j]
    Pw = work[o_end + 9 : o_end + 18]
    Aw = work[o_end + 18 : o_end + 99].reshape((9, 9))
    st = tree.run_increment(
        mi, mf, tab, Fend, state_old, Pw, Aw, state_new, work, info, nsv, False, sfloor, dt, temp, dtemp, 9
    )
    if st == 0:
        for i in range(3):
            for j in range(3):
                P[i, j] = Pw[3 * i + j]
        for i in range(9):
            for j in range(9):
                A[i, j] = Aw[i, j]
    return st


guard_numba_cache(fs_network_update, __file__)
