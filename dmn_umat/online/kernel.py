"""Low-level numba network update: one integration point, no Python objects, no exceptions.

This is the function the batched solver (:mod:`dmn_umat.online.solver`) runs in a ``prange``
and the C ABI calls from a numba ``@cfunc`` with ``carray`` views over raw C pointers.

Public API (signatures are fixed; everything is float64 / int64, C-contiguous)::

    mi, mf = pack_network(net)                      # Python: Network -> flat blobs
    nsv    = state_size(mi, props_table)             # @njit: STATEV length, -1 = bad input
    nwork  = work_size(mi)                           # @njit: scratch length, -1 = bad input
    status = network_update(mi, mf, props_table, strain, state_old,
                            stress, ddsdde, state_new, work, info)   # @njit

- ``mi``          (nmi,) int64   topology blob (header, node kinds, children, ordinals, phases)
- ``mf``          (nmf,) float64 geometry blob (weights, fractions f1/f2, H(n), normals, leaf Q(R))
- ``props_table`` (nphase, MAX_NPROPS) float64, row p = props of phase p (:func:`phases.props_table`)
- ``strain``      (6,)  TOTAL macroscopic strain at the end of the increment (Mandel)
- ``state_old``   (≥nsv,) state at the start of the increment (read only)
- ``stress``      (6,)  out: macroscopic stress (Mandel)
- ``ddsdde``      (6,6) out: consistent macroscopic tangent dσ̄/dε̄ (Mandel)
- ``state_new``   (≥nsv,) out: state at the end of the increment (entries ≥ nsv copied from state_old)
- ``work``        (≥nwork,) scratch, contents irrelevant on entry
- ``info``        (4,)  out: [suggested step ratio, Newton iterations (all sub-steps),
                  sub-steps used, final max residual / stress scale]

Return status: 0 converged; 1 cut back requested (``info[0]`` = suggested ratio < 1; state_new =
state_old, stress = 0, ddsdde = 0); 2 failed / bad input (NaN strain or
state, corrupt blob, phase index beyond ``props_table``, unknown law; same outputs as 1).

State layout (``nsv = state_size``), one row per integration point (= Abaqus STATEV)::

    [ leaf states (leaves in pre-order, law_nstate(phase of leaf) each; j2: εp(6 Mandel), p)
    | jump vectors a_k (3 per INTERNAL node, internal nodes in pre-order, global frame)
    | ε̄ of the last converged increment (6, Mandel; start point of sub-stepping) ]

All leaves and internal nodes of the Network get their slots, including pruned (zero-weight)
ones, whose state is simply carried over.  Zero initial state = unstrained, unloaded.

Mechanics (DESIGN §3): leaf strain ε_i = ε̄ + Σ_{k∈anc(i)} s_ik H(n_k) a_k, s_ik = f2_k under
child 1, −f1_k under child 2; residual r_k = Hᵀ(n_k)(σ̄_c1 − σ̄_c2).  Newton on all a_k; the linear
system is eliminated children-before-parents as a recursive condensation (each subtree is reduced
to an affine stress response σ̄_c ≈ s_c + C_c δε_c of its own average strain; a node solves its
3×3 block A = Hᵀ(f2 C_c1 + f1 C_c2)H and passes up s_k, C_k).  This is exactly the block
Gaussian elimination of the full Newton system (no fill-in) at O(N) 6×6 work per iteration; the
root's C_k is the consistent macroscopic tangent.  Backtracking line search on Σ|r_k|², warm start
from the stored jumps, adaptive sub-stepping of [ε̄_old, ε̄] on failure.  Nodes whose weight is
≤ 1e-14 of the total are inactive (pruned): a node with one inactive child passes its other child
through with a_k = 0, so vanishing weights never make the system singular.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .. import tensors
from . import laws

MAGIC = 0x444D4E4B  # "DMNK"
VERSION = 1
NHEAD = 16  # int header length of mi
F0 = 8  # float header length of mf (mf[0] = total leaf weight W)

KIND_INACTIVE = -1
KIND_LEAF = 0
KIND_LAMINATE = 1
KIND_PASS1 = 2  # only child 1 active
KIND_PASS2 = 3  # only child 2 active

STATUS_CONVERGED = 0
STATUS_CUTBACK = 1
STATUS_FAILED = 2

RTOL = 1e-10  # converged: max_k |r_k| <= RTOL * max_i |σ_i|
MAX_NEWTON = 30
MAX_LINESEARCH = 7
MIN_SUBSTEP = 1.0 / 512.0
MAX_TOTAL_ITER = 600
WEIGHT_EPS = 1e-14
SCRATCH = 256
CUTBACK_RATIO = 0.25
MU_MIN = 1e-4  # Levenberg–Marquardt damping range (relative to tr(A)/3 of each 3x3 block)
MU_MAX = 1e4

# mi int arrays (length N each), in this order after the header
_I_KIND, _I_C1, _I_C2, _I_LEAF, _I_INT, _I_PHASE = range(6)
# mf float arrays after F0: w (N), f1 (N), f2 (N), H (18N), normals (3N), Q (36N, if rotations)


# --------------------------------------------------------------------------- numba cache guard
def drop_stale_numba_cache(dispatcher, module_file: str, dep_files: list[str]) -> bool:
    """Delete the numba cache entries of ``module_file``'s functions when a dependency changed.

    numba keys a cached function on its own source file only, so code inlined from another
    module (here: the phase laws) survives edits there.  A stamp file holding the SHA-256 of the
    dependency sources sits next to the cache; on mismatch the module's ``*.nbi``/``*.nbc`` are
    removed before anything compiles.  Call at import time, after the ``@njit`` definitions
    (``dispatcher`` is any cached dispatcher of the module, used to find the cache directory).
    Returns True if entries were dropped.
    """
    import glob
    import hashlib
    import os

    try:
        cache_dir = dispatcher._cache._cache_path
        h = hashlib.sha256()
        for f in dep_files:
            with open(f, "rb") as fh:
                h.update(fh.read())
        stem = os.path.splitext(os.path.basename(module_file))[0]
        stamp = os.path.join(cache_dir, f"{stem}.deps.{h.hexdigest()[:16]}")
        if os.path.exists(stamp):
            return False
        for f in glob.glob(os.path.join(cache_dir, f"{stem}.*.nb[ic]")) + glob.glob(
            os.path.join(cache_dir, f"{stem}.deps.*")
        ):
            try:
                os.remove(f)
            except OSError:
                pass
        os.makedirs(cache_dir, exist_ok=True)
        with open(stamp, "w") as fh:
            fh.write("\n".join(dep_files) + "\n")
        return True
    except (OSError, AttributeError):  # read-only install, no cache: nothing to guard
        return False


# --------------------------------------------------------------------------- packing (Python)
def pack_network(net) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a :class:`dmn_umat.network.Network` into ``(mi int64, mf float64)`` blobs.

    Internal weights are recomputed from the leaves; leaves with weight ≤ 1e-14·W are inactive.
    """
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
    parts = [fhead, w, f1, f2, H.ravel(), nrm.ravel()]
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
    if N < 1 or mi[3] + mi[4] != N or mi.shape[0] < NHEAD + 6 * N:
        return False
    need = F0 + 24 * N + (36 * N if mi[6] != 0 else 0)
    return mf.shape[0] >= need and mf[0] > 0.0


@njit(cache=True)
def state_size(mi, props_table):
    """STATEV length per point for this network and these phases; -1 for bad input."""
    if mi.shape[0] < NHEAD or mi[0] != MAGIC or mi[1] != VERSION:
        return -1
    N = mi[2]
    if N < 1 or mi.shape[0] < NHEAD + 6 * N:
        return -1
    n = 0
    for k in range(N):
        if mi[NHEAD + _I_LEAF * N + k] < 0:
            continue
        ph = mi[NHEAD + _I_PHASE * N + k]
        if ph < 0 or ph >= props_table.shape[0]:
            return -1
        law = int(props_table[ph, 0])
        if law != laws.LAW_ELASTIC and law != laws.LAW_ANISO and law != laws.LAW_J2:
            return -1
        n += laws.law_nstate(props_table[ph])
    return n + 3 * mi[3] + 6


@njit(cache=True)
def work_size(mi):
    """Scratch length per concurrently evaluated point; -1 for a bad blob."""
    if mi.shape[0] < NHEAD or mi[0] != MAGIC or mi[1] != VERSION:
        return -1
    N = mi[2]
    nsv_max = mi[4] * laws.MAX_NSTATE + 3 * mi[3] + 6
    return 90 * N + SCRATCH + 2 * nsv_max + 12


# --------------------------------------------------------------------------- internals
@njit(cache=True)
def _evaluate(mi, mf, props_table, eps, s_start, s_trial, work, N, has_rot):
    """Leaf updates at the current jumps, then the bottom-up condensation.

    Returns (status, phi = Σ|r_k|², rmax = max|r_k|, sref = max_i |σ_i|)."""
    ok_ = NHEAD + _I_KIND * N
    oc1 = NHEAD + _I_C1 * N
    oc2 = NHEAD + _I_C2 * N
    oleaf = NHEAD + _I_LEAF * N
    oph = NHEAD + _I_PHASE * N
    fw = F0
    ff1 = F0 + N
    ff2 = F0 + 2 * N
    fH = F0 + 3 * N
    fQ = F0 + 24 * N
    oC = 0
    os_ = 36 * N
    oT = 42 * N
    oe = 48 * N
    oa = 81 * N
    osc = 90 * N

    # 1. top-down node strains
    for i in range(6):
        work[oe + i] = eps[i]
    for k in range(N):
        kind = mi[ok_ + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[oc1 + k]
        c2 = mi[oc2 + k]
        ek = oe + 6 * k
        if kind == KIND_LAMINATE:
            f1 = mf[ff1 + k]
            f2 = mf[ff2 + k]
            hb = fH + 18 * k
            a0 = work[oa + 3 * k]
            a1 = work[oa + 3 * k + 1]
            a2 = work[oa + 3 * k + 2]
            for i in range(6):
                ha = mf[hb + 3 * i] * a0 + mf[hb + 3 * i + 1] * a1 + mf[hb + 3 * i + 2] * a2
                work[oe + 6 * c1 + i] = work[ek + i] + f2 * ha
                work[oe + 6 * c2 + i] = work[ek + i] - f1 * ha
        else:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(6):
                work[oe + 6 * c + i] = work[ek + i]

    # 2. leaves (state slots of all leaves, in pre-order)
    so = 0
    sref = 0.0
    for k in range(N):
        if mi[oleaf + k] < 0:
            continue
        ph = mi[oph + k]
        props = props_table[ph]
        ns = laws.law_nstate(props)
        if mi[ok_ + k] == KIND_INACTIVE:
            for i in range(ns):
                s_trial[so + i] = s_start[so + i]
            so += ns
            continue
        ek = oe + 6 * k
        sig = work[os_ + 6 * k : os_ + 6 * k + 6]
        C = work[oC + 36 * k : oC + 36 * k + 36].reshape((6, 6))
        if has_rot:
            qb = fQ + 36 * k
            el = work[osc : osc + 6]
            sl = work[osc + 6 : osc + 12]
            Cl = work[osc + 12 : osc + 48].reshape((6, 6))
            tmp = work[osc + 48 : osc + 84].reshape((6, 6))
            for i in range(6):  # ε_loc = Qᵀ ε
                v = 0.0
                for j in range(6):
                    v += mf[qb + 6 * j + i] * work[ek + j]
                el[i] = v
            st = laws.phase_update(props, el, s_start[so : so + ns], sl, Cl, s_trial[so : so + ns])
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
                props, work[ek : ek + 6], s_start[so : so + ns], sig, C, s_trial[so : so + ns]
            )
            if st != 0:
                return st, 0.0, 0.0, 0.0
        w = mf[fw + k]
        nrm2 = 0.0
        for i in range(6):
            nrm2 += sig[i] * sig[i]
            work[oT + 6 * k + i] = w * sig[i]
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
        kind = mi[ok_ + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[oc1 + k]
        c2 = mi[oc2 + k]
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(6):
                work[oT + 6 * k + i] = work[oT + 6 * c + i]
            continue
        hb = fH + 18 * k
        w1 = mf[fw + c1]
        w2 = mf[fw + c2]
        for i in range(6):
            work[oT + 6 * k + i] = work[oT + 6 * c1 + i] + work[oT + 6 * c2 + i]
        for j in range(3):
            r = 0.0
            for i in range(6):
                r += mf[hb + 3 * i + j] * (work[oT + 6 * c1 + i] / w1 - work[oT + 6 * c2 + i] / w2)
            phi += r * r
            if abs(r) > rmax:
                rmax = abs(r)
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
    ok_ = NHEAD + _I_KIND * N
    oc1 = NHEAD + _I_C1 * N
    oc2 = NHEAD + _I_C2 * N
    ff1 = F0 + N
    ff2 = F0 + 2 * N
    fH = F0 + 3 * N
    oC = 0
    os_ = 36 * N
    oal = 60 * N
    ogam = 63 * N
    osc = 90 * N
    P1 = work[osc + 84 : osc + 102]  # Hᵀ C1 (3x6)
    P2 = work[osc + 102 : osc + 120]  # Hᵀ C2 (3x6)
    A = work[osc + 120 : osc + 129]
    Ai = work[osc + 129 : osc + 138]
    E = work[osc + 138 : osc + 156]  # (C1 − C2) H (6x3)
    g = work[osc + 156 : osc + 159]
    for k in range(N - 1, -1, -1):
        kind = mi[ok_ + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[oc1 + k]
        c2 = mi[oc2 + k]
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(36):
                work[oC + 36 * k + i] = work[oC + 36 * c + i]
            for i in range(6):
                work[os_ + 6 * k + i] = work[os_ + 6 * c + i]
            continue
        f1 = mf[ff1 + k]
        f2 = mf[ff2 + k]
        hb = fH + 18 * k
        C1 = oC + 36 * c1
        C2 = oC + 36 * c2
        s1 = os_ + 6 * c1
        s2 = os_ + 6 * c2
        for j in range(3):
            gj = 0.0
            for i in range(6):
                gj += mf[hb + 3 * i + j] * (work[s1 + i] - work[s2 + i])
            g[j] = gj
        for j in range(3):
            for m in range(6):
                v1 = 0.0
                v2 = 0.0
                for i in range(6):
                    h = mf[hb + 3 * i + j]
                    v1 += h * work[C1 + 6 * i + m]
                    v2 += h * work[C2 + 6 * i + m]
                P1[6 * j + m] = v1
                P2[6 * j + m] = v2
        amax = 0.0
        for j in range(3):
            for l in range(3):
                v = 0.0
                for m in range(6):
                    v += (f2 * P1[6 * j + m] + f1 * P2[6 * j + m]) * mf[hb + 3 * m + l]
                A[3 * j + l] = v
                if abs(v) > amax:
                    amax = abs(v)
        if mu > 0.0:
            d = mu * (A[0] + A[4] + A[8]) / 3.0
            A[0] += d
            A[4] += d
            A[8] += d
        for i in range(6):
            for l in range(3):
                v = 0.0
                for m in range(6):
                    v += (work[C1 + 6 * i + m] - work[C2 + 6 * i + m]) * mf[hb + 3 * m + l]
                E[3 * i + l] = v
        # 3x3 inverse
        c00 = A[4] * A[8] - A[5] * A[7]
        c01 = A[5] * A[6] - A[3] * A[8]
        c02 = A[3] * A[7] - A[4] * A[6]
        det = A[0] * c00 + A[1] * c01 + A[2] * c02
        if not (abs(det) > 1e-13 * amax * amax * amax) or not math.isfinite(det):
            return laws.STATUS_NONCONVERGED
        idet = 1.0 / det
        Ai[0] = c00 * idet
        Ai[3] = c01 * idet
        Ai[6] = c02 * idet
        Ai[1] = (A[2] * A[7] - A[1] * A[8]) * idet
        Ai[4] = (A[0] * A[8] - A[2] * A[6]) * idet
        Ai[7] = (A[1] * A[6] - A[0] * A[7]) * idet
        Ai[2] = (A[1] * A[5] - A[2] * A[4]) * idet
        Ai[5] = (A[2] * A[3] - A[0] * A[5]) * idet
        Ai[8] = (A[0] * A[4] - A[1] * A[3]) * idet
        # alpha = −A⁻¹ g, Γ = −A⁻¹ (P1 − P2)
        for j in range(3):
            v = 0.0
            for l in range(3):
                v -= Ai[3 * j + l] * g[l]
            work[oal + 3 * k + j] = v
            for m in range(6):
                v = 0.0
                for l in range(3):
                    v -= Ai[3 * j + l] * (P1[6 * l + m] - P2[6 * l + m])
                work[ogam + 18 * k + 6 * j + m] = v
        ff = f1 * f2
        for i in range(6):
            v = f1 * work[s1 + i] + f2 * work[s2 + i]
            for l in range(3):
                v += ff * E[3 * i + l] * work[oal + 3 * k + l]
            work[os_ + 6 * k + i] = v
            for m in range(6):
                v = f1 * work[C1 + 6 * i + m] + f2 * work[C2 + 6 * i + m]
                for l in range(3):
                    v += ff * E[3 * i + l] * work[ogam + 18 * k + 6 * l + m]
                work[oC + 36 * k + 6 * i + m] = v
    for i in range(36):
        if not math.isfinite(work[oC + i]):
            return laws.STATUS_NONCONVERGED
    return 0


@njit(cache=True)
def _newton_direction(mi, mf, work, N):
    """Top-down back substitution with δε̄ = 0: δa_k = α_k + Γ_k δε_k; returns max |δa|."""
    ok_ = NHEAD + _I_KIND * N
    oc1 = NHEAD + _I_C1 * N
    oc2 = NHEAD + _I_C2 * N
    ff1 = F0 + N
    ff2 = F0 + 2 * N
    fH = F0 + 3 * N
    ode = 54 * N
    oal = 60 * N
    ogam = 63 * N
    oda = 87 * N
    for i in range(6):
        work[ode + i] = 0.0
    dmax = 0.0
    for k in range(N):
        kind = mi[ok_ + k]
        if kind <= KIND_LEAF:
            for j in range(3):
                work[oda + 3 * k + j] = 0.0
            continue
        c1 = mi[oc1 + k]
        c2 = mi[oc2 + k]
        dk = ode + 6 * k
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(6):
                work[ode + 6 * c + i] = work[dk + i]
            for j in range(3):
                work[oda + 3 * k + j] = 0.0
            continue
        for j in range(3):
            v = work[oal + 3 * k + j]
            for m in range(6):
                v += work[ogam + 18 * k + 6 * j + m] * work[dk + m]
            work[oda + 3 * k + j] = v
            if abs(v) > dmax:
                dmax = abs(v)
        f1 = mf[ff1 + k]
        f2 = mf[ff2 + k]
        hb = fH + 18 * k
        for i in range(6):
            ha = (
                mf[hb + 3 * i] * work[oda + 3 * k]
                + mf[hb + 3 * i + 1] * work[oda + 3 * k + 1]
                + mf[hb + 3 * i + 2] * work[oda + 3 * k + 2]
            )
            work[ode + 6 * c1 + i] = work[dk + i] + f2 * ha
            work[ode + 6 * c2 + i] = work[dk + i] - f1 * ha
    return dmax


@njit(cache=True)
def _solve_increment(mi, mf, props_table, eps, s_start, s_trial, work, N, M, has_rot, nls, stress, ddsdde):
    """Newton solve for the jumps at macro strain ``eps`` from state ``s_start``.

    Returns (status 0/1, iterations, relative residual)."""
    ok_ = NHEAD + _I_KIND * N
    oint = NHEAD + _I_INT * N
    oa = 81 * N
    oa0 = 84 * N
    oda = 87 * N
    oC = 0
    oT = 42 * N
    amax = 0.0
    for k in range(N):
        m = mi[oint + k]
        for j in range(3):
            v = 0.0
            if m >= 0 and mi[ok_ + k] == KIND_LAMINATE:
                v = s_start[nls + 3 * m + j]
            work[oa + 3 * k + j] = v
            if abs(v) > amax:
                amax = abs(v)
    emax = 0.0
    for i in range(6):
        if abs(eps[i]) > emax:
            emax = abs(eps[i])
    st, phi, rmax, sref = _evaluate(mi, mf, props_table, eps, s_start, s_trial, work, N, has_rot)
    if st != 0:
        return 1, 0, 0.0
    it = 0
    mu = 0.0
    small_step = False
    while not (rmax <= RTOL * sref or small_step):
        if it >= MAX_NEWTON:
            return 1, it, rmax / max(sref, 1e-300)
        st = _condense(mi, mf, work, N, mu)
        if st != 0:  # singular block: regularize
            mu = max(10.0 * mu, MU_MIN)
            st = _condense(mi, mf, work, N, mu)
            if st != 0:
                return 1, it, rmax / max(sref, 1e-300)
        dmax = _newton_direction(mi, mf, work, N)
        for i in range(3 * N):
            work[oa0 + i] = work[oa + i]
        lam = 1.0
        accepted = False
        for _ in range(MAX_LINESEARCH):
            for i in range(3 * N):
                work[oa + i] = work[oa0 + i] + lam * work[oda + i]
            st, phi_t, rmax_t, sref_t = _evaluate(
                mi, mf, props_table, eps, s_start, s_trial, work, N, has_rot
            )
            if st == 0 and phi_t <= (1.0 - 1e-4 * lam) * phi:
                accepted = True
                break
            lam *= 0.5
        if st != 0:
            return 1, it + 1, rmax / max(sref, 1e-300)
        it += 1
        # Levenberg–Marquardt: damp after a backtracked step, relax after a full one
        if accepted and lam == 1.0:
            mu = 0.0 if mu <= MU_MIN else 0.1 * mu
        else:
            mu = min(max(10.0 * mu, MU_MIN), MU_MAX)
        amax = 0.0
        for i in range(3 * N):
            if abs(work[oa + i]) > amax:
                amax = abs(work[oa + i])
        # a step at round-off level of the unknowns: nothing more to gain
        small_step = accepted and lam * dmax <= 1e-14 * (amax + emax)
        phi, rmax, sref = phi_t, rmax_t, sref_t
    # consistent tangent: exact linearization at the converged point
    if _condense(mi, mf, work, N, 0.0) != 0:
        if _condense(mi, mf, work, N, 1e-10) != 0:
            return 1, it, rmax / max(sref, 1e-300)
    W = mf[0]
    for i in range(6):
        stress[i] = work[oT + i] / W
        for j in range(6):
            ddsdde[i, j] = work[oC + 6 * i + j]
    for k in range(N):
        m = mi[oint + k]
        if m >= 0:
            for j in range(3):
                s_trial[nls + 3 * m + j] = work[oa + 3 * k + j]
    return 0, it, rmax / max(sref, 1e-300)


@njit(cache=True)
def _fail(stress, ddsdde, info, ratio):
    for i in range(6):
        stress[i] = 0.0
        for j in range(6):
            ddsdde[i, j] = 0.0
    info[0] = ratio


# --------------------------------------------------------------------------- the kernel
@njit(cache=True)
def network_update(mi, mf, props_table, strain, state_old, stress, ddsdde, state_new, work, info):
    """One integration point: macro stress, consistent tangent and new state (module doc)."""
    for i in range(4):
        info[i] = 0.0
    _fail(stress, ddsdde, info, CUTBACK_RATIO)
    if not _blob_ok(mi, mf):
        return STATUS_FAILED
    N = mi[2]
    M = mi[3]
    has_rot = mi[6] != 0
    nsv = state_size(mi, props_table)
    if nsv < 0 or state_old.shape[0] < nsv or state_new.shape[0] < nsv:
        return STATUS_FAILED
    for i in range(state_old.shape[0]):
        state_new[i] = state_old[i]
    if props_table.shape[1] < laws.MAX_NPROPS or work.shape[0] < work_size(mi):
        return STATUS_FAILED
    if strain.shape[0] < 6 or stress.shape[0] < 6 or ddsdde.shape[0] < 6 or ddsdde.shape[1] < 6:
        return STATUS_FAILED
    for i in range(6):
        if not math.isfinite(strain[i]):
            return STATUS_FAILED
    for i in range(nsv):
        if not math.isfinite(state_old[i]):
            return STATUS_FAILED
    nls = nsv - 3 * M - 6
    nsv_max = mi[4] * laws.MAX_NSTATE + 3 * M + 6
    ocur = 90 * N + SCRATCH
    otr = ocur + nsv_max
    oe0 = otr + nsv_max
    otg = oe0 + 6
    cur = work[ocur : ocur + nsv]
    trial = work[otr : otr + nsv]
    for i in range(nsv):
        cur[i] = state_old[i]
    for i in range(6):
        work[oe0 + i] = state_old[nsv - 6 + i]
    target = work[otg : otg + 6]
    t = 0.0
    dt = 1.0
    total_it = 0
    nsub = 0
    res = 0.0
    while True:
        tn = t + dt
        if tn >= 1.0 - 1e-12:
            tn = 1.0
        for i in range(6):
            if tn == 1.0:
                target[i] = strain[i]
            else:
                target[i] = work[oe0 + i] + tn * (strain[i] - work[oe0 + i])
        st, it, res = _solve_increment(
            mi, mf, props_table, target, cur, trial, work, N, M, has_rot, nls, stress, ddsdde
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
            dt = 2.0 * dt
        else:
            dt *= 0.25
            if dt < MIN_SUBSTEP or total_it > MAX_TOTAL_ITER:
                _fail(stress, ddsdde, info, CUTBACK_RATIO)
                info[1] = total_it
                info[2] = nsub
                info[3] = res
                return STATUS_CUTBACK
    for i in range(nsv):
        state_new[i] = cur[i]
    info[0] = 1.0
    info[1] = total_it
    info[2] = nsub
    info[3] = res
    return STATUS_CONVERGED


drop_stale_numba_cache(network_update, __file__, [laws.__file__])
