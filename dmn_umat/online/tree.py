"""The tree-structured Newton of the material network, shared by the small-strain kernel
(:mod:`dmn_umat.online.kernel`: 6-vectors ε, σ in Mandel form, jumps through H(n)) and the
finite-strain one (:mod:`dmn_umat.online.finite_kernel`: 9-vectors F, P row-major, jumps a ⊗ n).

One implementation, parameterised by the block size ``B`` (6 small strain, 9 finite strain):
node strains top-down, leaf updates, residuals bottom-up (:func:`_evaluate`), the
children-before-parents condensation with its Schur-complement tangent (:func:`_condense`), the
back substitution (:func:`_newton_direction`), the line-searched Newton with
Levenberg–Marquardt damping (:func:`_solve_increment`), adaptive sub-stepping
(:func:`run_increment`) and, at finite strain where sub-stepping gives up (past a fold of the
jump equations), a descent of the network's incremental potential (:func:`_descend`).  Everything that depends
on ``B`` — the jump operator, the leaf update, the workspace layout — is chosen by
``if B == 6`` on a constant: the generic functions are inlined (``inline="always"``) into one
compiled function per block size (``evaluate6`` / ``evaluate9``, ...), so LLVM folds the test
and each kernel runs straight-line code of its own.

Blob layouts ``mi`` / ``mf`` (one for both kernels) are those of :mod:`dmn_umat.online.kernel`.
Workspace per point, for block size B (named offsets: :data:`LAYOUT6`, :data:`LAYOUT9`)::

    [ per node (L[_NODE] doubles each, array X at L[X]·N): C B², s B, T B, x B, δx B, α 3, Γ 3B,
      a 3, a at line-search start 3, δa 3
    | scratch: leaf scratch (kernel-specific, below), then D 3B, Pt 3B, E 3B, v B, dC B², Ct B²
    | current state, trial state (nsv_max each), x̄ at the start, sub-step target x̄ (B each),
      props rows in use (nphase × MAX_NPROPS), and for B = 9: x̄ at the end (9), P̄ (9), A (81) ]

Leaf scratch: small strain ε_loc 6, σ_loc 6, C_loc 36, a 6×6 temporary 36, the laws' workspace;
finite strain the laws' workspace, two states and P, A, F at F = 1 (stiffness scale).
"""

from __future__ import annotations

import math

from numba import njit

from ..laws import finite_update as fs
from ..laws import update as laws
from ..sources import guard_numba_cache
from ..status import INFO_ITERATIONS, INFO_RATIO, INFO_RESIDUAL, INFO_SUBSTEPS, ST_CUTBACK, ST_OK

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
MAX_NEWTON = 30
MAX_LINESEARCH = 7
MIN_SUBSTEP = 1.0 / 512.0
MAX_TOTAL_ITER = 600
WEIGHT_EPS = 1e-14
CUTBACK_RATIO = 0.25
MU_MIN = 1e-4  # Levenberg–Marquardt damping range (relative to tr(A)/3 of each 3x3 block)
MU_MAX = 1e4
MAX_DESCENT = 200  # iterations of the potential-descent fallback (tree._descend)
DESCENT_TRUST = 0.05  # its initial largest jump change per step (strain units), adapted within
DESCENT_TRUST_MIN = 0.01  # [DESCENT_TRUST_MIN, DESCENT_TRUST_MAX]: doubled after a whole step
DESCENT_TRUST_MAX = 1.0  # that the trust limited, halved after a step the line search shortened


def _offsets(*sizes: int) -> tuple[int, ...]:
    """Start of each of back-to-back fields of the given sizes, then the total size."""
    out = [0]
    for n in sizes:
        out.append(out[-1] + n)
    return tuple(out)


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

# indices into a workspace layout tuple (LAYOUT6 / LAYOUT9)
(
    _C,  # C_k (B×B): leaf tangent, then the condensed tangent of the subtree (root: macroscopic)
    _S,  # s_k (B): leaf stress, then the condensed subtree stress
    _T,  # T_k (B): Σ w_i σ_i over the leaves of the subtree
    _X,  # x_k (B): node strain / deformation gradient at the current jumps
    _DX,  # δx_k (B): its change along the Newton direction (δx̄ = 0)
    _ALPHA,  # α_k (3): δa_k = α_k + Γ_k δx_k
    _GAMMA,  # Γ_k (3×B)
    _A,  # a_k (3): jump vector (global frame)
    _A0,  # a_k at the start of the line search (3)
    _DA,  # δa_k (3): Newton direction
    _NODE,  # doubles per node
    _SD,  # scratch (from here: offsets within the scratch): D = Jᵀ dC (3×B)
    _SPT,  # Pt = Jᵀ Ct (3×B)
    _SE,  # E = dC J (B×3)
    _SV,  # a B-vector
    _SDC,  # dC = C_c1 − C_c2 (B×B)
    _SCT,  # Ct = f2 C_c1 + f1 C_c2 (B×B)
    _SEND,  # scratch length
) = range(18)


def _layout(B: int, leaf_scratch: int) -> tuple[int, ...]:
    """Per-node offsets (11) then scratch offsets (7) of the workspace for block size B."""
    node = _offsets(B * B, B, B, B, B, 3, 3 * B, 3, 3, 3)
    core = _offsets(leaf_scratch, 3 * B, 3 * B, 3 * B, B, B * B, B * B)[1:]
    return node + core


#: leaf scratch, small strain: ε_loc, σ_loc, C_loc, a 6x6 temporary, the laws' workspace
LEAF6 = _offsets(6, 6, 36, 36, laws.MAX_NWS)
#: leaf scratch, finite strain: the laws' workspace, two states, P, A and F at F = 1
LEAF9 = _offsets(fs.MAX_NWS_FS, fs.MAX_NSTATE_FS, fs.MAX_NSTATE_FS, 9, 81, 9)
LAYOUT6 = _layout(6, LEAF6[-1])
LAYOUT9 = _layout(9, LEAF9[-1])


@njit(cache=True, inline="always")
def _lay(B):
    return LAYOUT6 if B == 6 else LAYOUT9


# --------------------------------------------------------------------------- blob, sizes
@njit(cache=True)
def blob_ok(mi, mf):
    """True when the packed network ``(mi, mf)`` is consistent: header, sizes, topology."""
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


@njit(cache=True, inline="always")
def _law_nstate(props, B):
    """State length of the law of ``props`` for block size B; -1 for a law that kernel cannot run."""
    if B == 6:
        if not laws.law_known(props):
            return -1
        return laws.law_nstate(props)
    return fs.fs_law_nstate(props)


@njit(cache=True, inline="always")
def state_size(mi, table, B):
    """STATEV length per point: leaf states, 3 jumps per internal node, x̄ (B); -1 for bad input."""
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
        ns = _law_nstate(table[ph], B)
        if ns < 0:
            return -1
        n += ns
    return n + 3 * mi[3] + B


@njit(cache=True, inline="always")
def tail_offsets(mi, B):
    """Offsets in ``work`` of the buffers after the scratch: (current state, trial state,
    x̄ at the start of the call, sub-step target x̄, props rows, [B = 9: x̄ at the end, P̄, A], end);
    the state buffers hold ``nsv_max`` ≥ nsv entries (the widest law state per leaf)."""
    L = _lay(B)
    nst = laws.MAX_NSTATE if B == 6 else fs.MAX_NSTATE_FS
    npr = laws.MAX_NPROPS if B == 6 else fs.MAX_NPROPS_FS
    nsv_max = mi[4] * nst + 3 * mi[3] + B
    o_cur = L[_NODE] * mi[2] + L[_SEND]
    o_trial = o_cur + nsv_max
    o_x0 = o_trial + nsv_max
    o_target = o_x0 + B
    o_table = o_target + B
    o_extra = o_table + mi[7] * npr
    return o_cur, o_trial, o_x0, o_target, o_table, o_extra, o_extra + (0 if B == 6 else 99)


@njit(cache=True, inline="always")
def work_size(mi, B):
    """Scratch length per concurrently evaluated point; -1 for a bad blob."""
    if mi.shape[0] < NHEAD or mi[0] != MAGIC or mi[1] != VERSION:
        return -1
    return tail_offsets(mi, B)[6]


# --------------------------------------------------------------------------- jump operator J
# Small strain J = H(n) (6x3, 9 nonzeros: column 0 in rows 0,4,5; column 1 in rows 1,3,5;
# column 2 in rows 2,3,4); finite strain J a = vec(a ⊗ n) (row-major 3x3).  The coefficients
# of node k are loaded once: (h00, h11, h22, h31, h32, h40, h42, h50, h51) or (n0, n1, n2, 0...).
@njit(cache=True, inline="always")
def _jcoef(mf, N, k, B):
    if B == 6:
        hb = F0 + M_H * N + 18 * k
        return (mf[hb], mf[hb + 4], mf[hb + 8], mf[hb + 10], mf[hb + 11], mf[hb + 12], mf[hb + 14],
                mf[hb + 15], mf[hb + 16])
    nb = F0 + M_NRM * N + 3 * k
    return (mf[nb], mf[nb + 1], mf[nb + 2], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@njit(cache=True, inline="always")
def _japply(c, a0, a1, a2, out, o, B):
    """out[o:o+B] = J a."""
    if B == 6:
        out[o] = c[0] * a0
        out[o + 1] = c[1] * a1
        out[o + 2] = c[2] * a2
        out[o + 3] = c[3] * a1 + c[4] * a2
        out[o + 4] = c[5] * a0 + c[6] * a2
        out[o + 5] = c[7] * a0 + c[8] * a1
    else:
        for j in range(3):
            out[o + j] = a0 * c[j]
            out[o + 3 + j] = a1 * c[j]
            out[o + 6 + j] = a2 * c[j]


@njit(cache=True, inline="always")
def _jt(c, v, o, s, B):
    """Jᵀ u for the B-vector u_p = v[o + s·p] → 3 values."""
    if B == 6:
        r0 = c[0] * v[o] + c[5] * v[o + 4 * s] + c[7] * v[o + 5 * s]
        r1 = c[1] * v[o + s] + c[3] * v[o + 3 * s] + c[8] * v[o + 5 * s]
        r2 = c[2] * v[o + 2 * s] + c[4] * v[o + 3 * s] + c[6] * v[o + 4 * s]
        return r0, r1, r2
    r0 = v[o] * c[0] + v[o + s] * c[1] + v[o + 2 * s] * c[2]
    r1 = v[o + 3 * s] * c[0] + v[o + 4 * s] * c[1] + v[o + 5 * s] * c[2]
    r2 = v[o + 6 * s] * c[0] + v[o + 7 * s] * c[1] + v[o + 8 * s] * c[2]
    return r0, r1, r2


# --------------------------------------------------------------------------- leaf updates
@njit(cache=True, inline="always")
def _leaves_small(mi, mf, table, s_start, s_trial, work, N, has_rot, dt, temp, dtemp):
    """Small-strain leaf updates at the node strains: σ_i, C_i into the s, C slots, w_i σ_i into
    T.  Isotropic laws are evaluated in the global frame (frame-indifferent: skipping the leaf
    rotation is exact), aniso leaves in their own frame (ε_loc = Qᵀε, σ = Qσ_loc,
    C = Q C_loc Qᵀ); linear leaves use the stiffness cached by :func:`prepare_linear`.
    Returns (status, max_i |σ_i|)."""
    L = LAYOUT6
    o_kind = NHEAD + _I_KIND * N
    o_leaf = NHEAD + _I_LEAF * N
    o_phase = NHEAD + _I_PHASE * N
    m_w = F0 + M_W * N
    m_Q = F0 + M_Q * N
    o_C = L[_C] * N
    o_s = L[_S] * N
    o_T = L[_T] * N
    o_eps = L[_X] * N
    o_sc = L[_NODE] * N
    ws = work[o_sc + LEAF6[4] : o_sc + LEAF6[4] + laws.MAX_NWS]
    so = 0
    sref = 0.0
    for k in range(N):
        if mi[o_leaf + k] < 0:
            continue
        ph = mi[o_phase + k]
        props = table[ph]
        ns = laws.law_nstate(props)
        if mi[o_kind + k] == KIND_INACTIVE:
            for i in range(ns):
                s_trial[so + i] = s_start[so + i]
            so += ns
            continue
        ek = o_eps + 6 * k
        if laws.law_linear(props):
            # linear leaf: stiffness (rotated for aniso) cached in its C slot by prepare_linear
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
                return laws.STATUS_BADINPUT, 0.0
            if nrm2 > sref:
                sref = nrm2
            continue
        sig = work[o_s + 6 * k : o_s + 6 * k + 6]
        C = work[o_C + 36 * k : o_C + 36 * k + 36].reshape((6, 6))
        if has_rot and not laws.law_isotropic(props):
            qb = m_Q + 36 * k
            el = work[o_sc + LEAF6[0] : o_sc + LEAF6[0] + 6]
            sl = work[o_sc + LEAF6[1] : o_sc + LEAF6[1] + 6]
            Cl = work[o_sc + LEAF6[2] : o_sc + LEAF6[2] + 36].reshape((6, 6))
            tmp = work[o_sc + LEAF6[3] : o_sc + LEAF6[3] + 36].reshape((6, 6))
            for i in range(6):  # ε_loc = Qᵀ ε
                v = 0.0
                for j in range(6):
                    v += mf[qb + 6 * j + i] * work[ek + j]
                el[i] = v
            st = laws.phase_update(
                props, el, s_start[so : so + ns], dt, temp, dtemp, sl, Cl, s_trial[so : so + ns], ws
            )
            if st != 0:
                return st, 0.0
            for i in range(6):  # σ = Q σ_loc, C = Q C_loc Qᵀ
                v = 0.0
                for j in range(6):
                    v += mf[qb + 6 * i + j] * sl[j]
                sig[i] = v
            _rotate_stiffness(mf, qb, Cl, tmp, C)
        else:
            st = laws.phase_update(
                props, work[ek : ek + 6], s_start[so : so + ns], dt, temp, dtemp, sig, C,
                s_trial[so : so + ns], ws,
            )
            if st != 0:
                return st, 0.0
        w = mf[m_w + k]
        nrm2 = 0.0
        for i in range(6):
            nrm2 += sig[i] * sig[i]
            work[o_T + 6 * k + i] = w * sig[i]
        if not math.isfinite(nrm2):
            return laws.STATUS_NONCONVERGED, 0.0
        if nrm2 > sref:
            sref = nrm2
        so += ns
    return 0, math.sqrt(sref)


@njit(cache=True, inline="always")
def _rotate_stiffness(mf, qb, Cl, tmp, C):
    """C = Q Cl Qᵀ (6x6) with Q = mf[qb:qb+36] row-major; ``tmp`` (6x6) scratch."""
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


@njit(cache=True, inline="always")
def _leaves_finite(mi, mf, table, s_start, s_trial, work, N, has_rot, dt, temp, dtemp):
    """Finite-strain leaf updates at the node deformation gradients: P_i, dP_i/dF_i into the
    s, C slots, w_i P_i into T (every finite-strain law is isotropic and objective: the leaf
    rotations drop out exactly).  Returns (status, max_i |P_i|)."""
    L = LAYOUT9
    o_kind = NHEAD + _I_KIND * N
    o_leaf = NHEAD + _I_LEAF * N
    o_phase = NHEAD + _I_PHASE * N
    m_w = F0 + M_W * N
    o_C = L[_C] * N
    o_s = L[_S] * N
    o_T = L[_T] * N
    o_F = L[_X] * N
    o_sc = L[_NODE] * N
    ws = work[o_sc + LEAF9[0] : o_sc + LEAF9[0] + fs.MAX_NWS_FS]
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
            return st, 0.0
        w = mf[m_w + k]
        nrm2 = 0.0
        for i in range(9):
            v = work[o_s + 9 * k + i]
            nrm2 += v * v
            work[o_T + 9 * k + i] = w * v
        if not math.isfinite(nrm2):
            return laws.STATUS_NONCONVERGED, 0.0
        if nrm2 > sref:
            sref = nrm2
        so += ns
    return 0, math.sqrt(sref)


@njit(cache=True)
def prepare_linear(mi, mf, table, work, N, has_rot):
    """Small strain: write the (rotated) stiffness of every active linear leaf into its C slot
    (once per call; :func:`_leaves_small` then skips the law)."""
    o_kind = NHEAD + _I_KIND * N
    o_phase = NHEAD + _I_PHASE * N
    m_Q = F0 + M_Q * N
    o_C = LAYOUT6[_C] * N
    o_sc = LAYOUT6[_NODE] * N
    Cl = work[o_sc + LEAF6[2] : o_sc + LEAF6[2] + 36].reshape((6, 6))
    tmp = work[o_sc + LEAF6[3] : o_sc + LEAF6[3] + 36].reshape((6, 6))
    for k in range(N):
        if mi[o_kind + k] != KIND_LEAF:
            continue
        props = table[mi[o_phase + k]]
        if not laws.law_linear(props):
            continue
        cb = o_C + 36 * k
        laws.elastic_stiffness(props, Cl)
        C = work[cb : cb + 36].reshape((6, 6))
        if has_rot and not laws.law_isotropic(props):
            _rotate_stiffness(mf, m_Q + 36 * k, Cl, tmp, C)
        else:
            for i in range(6):
                for j in range(6):
                    C[i, j] = Cl[i, j]


@njit(cache=True)
def stiffness_scale(props_table, C):
    """Small strain: largest diagonal entry of the phases' elastic Mandel stiffnesses (stress
    units; ``C`` is (6,6) scratch).  0 if no row holds a known law."""
    smax = 0.0
    for p in range(props_table.shape[0]):
        if laws.elastic_stiffness(props_table[p], C) != 0:
            continue
        for i in range(6):
            if abs(C[i, i]) > smax:
                smax = abs(C[i, i])
    return smax


@njit(cache=True)
def fs_stiffness_scale(table, work, N):
    """Finite strain: largest |dP_ii/dF_ii| at F = 1 (zero state) over the phases (``work``: the
    workspace of a network of N nodes, its leaf scratch used)."""
    o_sc = LAYOUT9[_NODE] * N
    Fi = work[o_sc + LEAF9[5] : o_sc + LEAF9[5] + 9].reshape((3, 3))
    Pi = work[o_sc + LEAF9[3] : o_sc + LEAF9[3] + 9].reshape((3, 3))
    Ai = work[o_sc + LEAF9[4] : o_sc + LEAF9[4] + 81].reshape((9, 9))
    z0 = work[o_sc + LEAF9[1] : o_sc + LEAF9[1] + fs.MAX_NSTATE_FS]
    z1 = work[o_sc + LEAF9[2] : o_sc + LEAF9[2] + fs.MAX_NSTATE_FS]
    ws = work[o_sc + LEAF9[0] : o_sc + LEAF9[0] + fs.MAX_NWS_FS]
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


# --------------------------------------------------------------------------- the Newton
@njit(cache=True, inline="always")
def _push_down(mi, mf, work, N, k, o_x, a0, a1, a2, ha, B):
    """Pass the B-vector of internal node k (array at ``o_x``, block per node) to its children:
    x_c1 = x_k + f2 J a, x_c2 = x_k − f1 J a for a laminate (``ha``: B scratch), a copy to the
    active child of a pass-through node."""
    kind = mi[NHEAD + _I_KIND * N + k]
    c1 = mi[NHEAD + _I_C1 * N + k]
    c2 = mi[NHEAD + _I_C2 * N + k]
    xk = o_x + B * k
    if kind == KIND_LAMINATE:
        f1 = mf[F0 + M_F1 * N + k]
        f2 = mf[F0 + M_F2 * N + k]
        _japply(_jcoef(mf, N, k, B), a0, a1, a2, ha, 0, B)
        for i in range(B):
            work[o_x + B * c1 + i] = work[xk + i] + f2 * ha[i]
            work[o_x + B * c2 + i] = work[xk + i] - f1 * ha[i]
    else:
        c = c1 if kind == KIND_PASS1 else c2
        for i in range(B):
            work[o_x + B * c + i] = work[xk + i]


@njit(cache=True, inline="always")
def _evaluate(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, B):
    """Leaf updates at the current jumps and the actual residuals (``dt``, ``temp``, ``dtemp``:
    the sub-step's time increment and temperatures, passed to every leaf law).

    Returns (status, phi = Σ|r_k|², rmax = max|r_k|, sref = max_i |σ_i|)."""
    L = _lay(B)
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    m_w = F0 + M_W * N
    o_T = L[_T] * N
    o_x = L[_X] * N
    o_a = L[_A] * N
    o_sc = L[_NODE] * N
    ha = work[o_sc + L[_SV] : o_sc + L[_SV] + B]

    # 1. top-down node strains x_c1 = x_k + f2 J a_k, x_c2 = x_k − f1 J a_k
    for i in range(B):
        work[o_x + i] = xbar[i]
    for k in range(N):
        if mi[o_kind + k] > KIND_LEAF:
            _push_down(mi, mf, work, N, k, o_x, work[o_a + 3 * k], work[o_a + 3 * k + 1],
                       work[o_a + 3 * k + 2], ha, B)

    # 2. leaves (state slots of all leaves, in pre-order)
    if B == 6:
        st, sref = _leaves_small(mi, mf, table, s_start, s_trial, work, N, has_rot, dt, temp, dtemp)
    else:
        st, sref = _leaves_finite(mi, mf, table, s_start, s_trial, work, N, has_rot, dt, temp, dtemp)
    if st != 0:
        return st, 0.0, 0.0, 0.0

    # 3. bottom-up sums T_k = Σ w_i σ_i and the actual residual r_k = Jᵀ(T_c1/w_c1 − T_c2/w_c2)
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
            for i in range(B):
                work[o_T + B * k + i] = work[o_T + B * c + i]
            continue
        iw1 = 1.0 / mf[m_w + c1]
        iw2 = 1.0 / mf[m_w + c2]
        for i in range(B):
            t1 = work[o_T + B * c1 + i]
            t2 = work[o_T + B * c2 + i]
            work[o_T + B * k + i] = t1 + t2
            ha[i] = t1 * iw1 - t2 * iw2
        r0, r1, r2 = _jt(_jcoef(mf, N, k, B), ha, 0, 1, B)
        phi += r0 * r0 + r1 * r1 + r2 * r2
        rmax = max(rmax, abs(r0), abs(r1), abs(r2))
    if not math.isfinite(phi):
        return laws.STATUS_NONCONVERGED, 0.0, 0.0, 0.0
    return 0, phi, rmax, sref


@njit(cache=True, inline="always")
def _condense(mi, mf, work, N, mu, B):
    """Bottom-up elimination of the linearized jump equations at the last evaluated point.

    Each subtree c is reduced to σ̄_c ≈ s_c + C_c δx_c; node k stores α_k, Γ_k with
    δa_k = α_k + Γ_k δx_k.  ``mu`` ≥ 0 adds Levenberg–Marquardt damping μ·tr(A)/3·I to each 3×3
    block A = Jᵀ(f2 C_c1 + f1 C_c2)J (μ = 0: exact Newton, and the root C is the consistent
    tangent, the Schur complement of the jump equations).  Returns 0 or STATUS_NONCONVERGED for
    a singular block."""
    L = _lay(B)
    BB = B * B
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    o_C = L[_C] * N
    o_s = L[_S] * N
    o_alpha = L[_ALPHA] * N
    o_gamma = L[_GAMMA] * N
    o_sc = L[_NODE] * N
    o_v = o_sc + L[_SV]
    D = work[o_sc + L[_SD] : o_sc + L[_SD] + 3 * B]  # Jᵀ (C1 − C2) (3xB)
    Pt = work[o_sc + L[_SPT] : o_sc + L[_SPT] + 3 * B]  # Jᵀ (f2 C1 + f1 C2) (3xB)
    E = work[o_sc + L[_SE] : o_sc + L[_SE] + 3 * B]  # (C1 − C2) J (Bx3)
    dC = work[o_sc + L[_SDC] : o_sc + L[_SDC] + BB]  # C1 − C2 (BxB)
    Ct = work[o_sc + L[_SCT] : o_sc + L[_SCT] + BB]  # f2 C1 + f1 C2 (BxB)
    for k in range(N - 1, -1, -1):
        kind = mi[o_kind + k]
        if kind <= KIND_LEAF:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        if kind != KIND_LAMINATE:
            c = c1 if kind == KIND_PASS1 else c2
            for i in range(BB):
                work[o_C + BB * k + i] = work[o_C + BB * c + i]
            for i in range(B):
                work[o_s + B * k + i] = work[o_s + B * c + i]
            continue
        f1 = mf[m_f1 + k]
        f2 = mf[m_f2 + k]
        jc = _jcoef(mf, N, k, B)
        C1 = o_C + BB * c1
        C2 = o_C + BB * c2
        s1 = o_s + B * c1
        s2 = o_s + B * c2
        for i in range(BB):
            x1 = work[C1 + i]
            x2 = work[C2 + i]
            dC[i] = x1 - x2
            Ct[i] = f2 * x1 + f1 * x2
        # D = Jᵀ dC, Pt = Jᵀ Ct (columns)
        for m in range(B):
            D[m], D[B + m], D[2 * B + m] = _jt(jc, dC, m, B, B)
            Pt[m], Pt[B + m], Pt[2 * B + m] = _jt(jc, Ct, m, B, B)
        # E = dC J (rows)
        for i in range(B):
            E[3 * i], E[3 * i + 1], E[3 * i + 2] = _jt(jc, dC, B * i, 1, B)
        # A = Pt J (3x3)
        a00, a01, a02 = _jt(jc, Pt, 0, 1, B)
        a10, a11, a12 = _jt(jc, Pt, B, 1, B)
        a20, a21, a22 = _jt(jc, Pt, 2 * B, 1, B)
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
        # g = Jᵀ(s1 − s2); alpha = −A⁻¹ g; Γ = −A⁻¹ D
        for i in range(B):
            work[o_v + i] = work[s1 + i] - work[s2 + i]
        g0, g1, g2 = _jt(jc, work, o_v, 1, B)
        al0 = -(i00 * g0 + i01 * g1 + i02 * g2)
        al1 = -(i10 * g0 + i11 * g1 + i12 * g2)
        al2 = -(i20 * g0 + i21 * g1 + i22 * g2)
        ab = o_alpha + 3 * k
        work[ab] = al0
        work[ab + 1] = al1
        work[ab + 2] = al2
        gb = o_gamma + 3 * B * k
        for m in range(B):
            d0 = D[m]
            d1 = D[B + m]
            d2 = D[2 * B + m]
            work[gb + m] = -(i00 * d0 + i01 * d1 + i02 * d2)
            work[gb + B + m] = -(i10 * d0 + i11 * d1 + i12 * d2)
            work[gb + 2 * B + m] = -(i20 * d0 + i21 * d1 + i22 * d2)
        # s_k = f1 s1 + f2 s2 + f1 f2 E alpha; C_k = f1 C1 + f2 C2 + f1 f2 E Γ
        ff = f1 * f2
        kb = o_C + BB * k
        for i in range(B):
            e0 = ff * E[3 * i]
            e1 = ff * E[3 * i + 1]
            e2 = ff * E[3 * i + 2]
            work[o_s + B * k + i] = f1 * work[s1 + i] + f2 * work[s2 + i] + e0 * al0 + e1 * al1 + e2 * al2
            for m in range(B):
                work[kb + B * i + m] = (
                    f1 * work[C1 + B * i + m]
                    + f2 * work[C2 + B * i + m]
                    + e0 * work[gb + m]
                    + e1 * work[gb + B + m]
                    + e2 * work[gb + 2 * B + m]
                )
    for i in range(BB):
        if not math.isfinite(work[o_C + i]):
            return laws.STATUS_NONCONVERGED
    return 0


@njit(cache=True, inline="always")
def _newton_direction(mi, mf, work, N, B):
    """Top-down back substitution with δx̄ = 0: δa_k = α_k + Γ_k δx_k; returns max |δa|."""
    L = _lay(B)
    o_kind = NHEAD + _I_KIND * N
    o_dx = L[_DX] * N
    o_alpha = L[_ALPHA] * N
    o_gamma = L[_GAMMA] * N
    o_da = L[_DA] * N
    o_sc = L[_NODE] * N
    ha = work[o_sc + L[_SV] : o_sc + L[_SV] + B]
    for i in range(B):
        work[o_dx + i] = 0.0
    dmax = 0.0
    for k in range(N):
        kind = mi[o_kind + k]
        for j in range(3):
            v = 0.0
            if kind == KIND_LAMINATE:
                v = work[o_alpha + 3 * k + j]
                for m in range(B):
                    v += work[o_gamma + 3 * B * k + B * j + m] * work[o_dx + B * k + m]
                if abs(v) > dmax:
                    dmax = abs(v)
            work[o_da + 3 * k + j] = v
        if kind > KIND_LEAF:
            _push_down(mi, mf, work, N, k, o_dx, work[o_da + 3 * k], work[o_da + 3 * k + 1],
                       work[o_da + 3 * k + 2], ha, B)
    return dmax


# one compiled function per block size (the generic bodies above are inlined into them)
@njit(cache=True)
def evaluate6(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp):
    """:func:`_evaluate` for small strain (B = 6)."""
    return _evaluate(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, 6)


@njit(cache=True)
def evaluate9(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp):
    """:func:`_evaluate` for finite strain (B = 9)."""
    return _evaluate(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, 9)


@njit(cache=True)
def condense6(mi, mf, work, N, mu):
    """:func:`_condense` for small strain (B = 6)."""
    return _condense(mi, mf, work, N, mu, 6)


@njit(cache=True)
def condense9(mi, mf, work, N, mu):
    """:func:`_condense` for finite strain (B = 9)."""
    return _condense(mi, mf, work, N, mu, 9)


@njit(cache=True)
def newton_direction6(mi, mf, work, N):
    """:func:`_newton_direction` for small strain (B = 6)."""
    return _newton_direction(mi, mf, work, N, 6)


@njit(cache=True)
def newton_direction9(mi, mf, work, N):
    """:func:`_newton_direction` for finite strain (B = 9)."""
    return _newton_direction(mi, mf, work, N, 9)


@njit(cache=True, inline="always")
def _eval_b(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, B):
    if B == 6:
        return evaluate6(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp)
    return evaluate9(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp)


@njit(cache=True, inline="always")
def _condense_b(mi, mf, work, N, mu, B):
    if B == 6:
        return condense6(mi, mf, work, N, mu)
    return condense9(mi, mf, work, N, mu)


@njit(cache=True, inline="always")
def _start_jumps(mi, s_start, work, N, nls, B):
    """Jumps a_k of the laminate nodes from the state (warm start), zero elsewhere."""
    o_kind = NHEAD + _I_KIND * N
    o_int = NHEAD + _I_INT * N
    o_a = _lay(B)[_A] * N
    for k in range(N):
        m = mi[o_int + k]
        for j in range(3):
            v = 0.0
            if m >= 0 and mi[o_kind + k] == KIND_LAMINATE:
                v = s_start[nls + 3 * m + j]
            work[o_a + 3 * k + j] = v


@njit(cache=True, inline="always")
def _slope(mi, mf, work, N, B):
    """dΦ/dλ along the direction δa at the last evaluated point, Φ the network's (incremental)
    potential per unit weight: Σ_k w_k f1 f2 r_k·δa_k = Σ_k Jᵀ(f2 T_c1 − f1 T_c2)·δa_k."""
    L = _lay(B)
    o_kind = NHEAD + _I_KIND * N
    o_c1 = NHEAD + _I_C1 * N
    o_c2 = NHEAD + _I_C2 * N
    m_f1 = F0 + M_F1 * N
    m_f2 = F0 + M_F2 * N
    o_T = L[_T] * N
    o_da = L[_DA] * N
    o_v = L[_NODE] * N + L[_SV]
    g = 0.0
    for k in range(N):
        if mi[o_kind + k] != KIND_LAMINATE:
            continue
        c1 = mi[o_c1 + k]
        c2 = mi[o_c2 + k]
        f1 = mf[m_f1 + k]
        f2 = mf[m_f2 + k]
        for i in range(B):
            work[o_v + i] = f2 * work[o_T + B * c1 + i] - f1 * work[o_T + B * c2 + i]
        r0, r1, r2 = _jt(_jcoef(mf, N, k, B), work, o_v, 1, B)
        g += r0 * work[o_da + 3 * k] + r1 * work[o_da + 3 * k + 1] + r2 * work[o_da + 3 * k + 2]
    return g


@njit(cache=True, inline="always")
def _descend(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, nls, rtol, sfloor, dt, temp, dtemp,
             it, B):
    """Fallback of :func:`_solve_increment` when Newton on the residual norm stalls: the jump
    equations are the stationarity conditions of the network's incremental potential Φ(a)
    (r_k = ∂Φ/∂a_k / (w_k f1 f2); exact for hyperelastic and incremental-variational leaves), and
    near a fold (a stable equilibrium disappearing with growing load, its Hessian singular) Σ|r_k|²
    has local minima that are no solutions.  From the stored jumps, damped Newton directions that
    descend Φ (damped further while they do not), each step at most ``trust`` in max|δa| (adapted),
    line search on the slope dΦ/dλ (:func:`_slope`: accept λ once it is ≤ 0 or halved, else the
    secant root); damping as in the Newton.  Ends at a minimum of Φ, quadratically once the
    damping has vanished.

    Returns (status 0/1, iterations (``it`` on entry plus its own), max|r|, sref)."""
    L = _lay(B)
    o_a = L[_A] * N
    o_a0 = L[_A0] * N
    o_da = L[_DA] * N
    _start_jumps(mi, s_start, work, N, nls, B)
    st, phi, rmax, sref = _eval_b(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, B)
    if st != 0:
        return 1, it, 0.0, 0.0
    mu = MU_MIN
    trust = DESCENT_TRUST
    for _ in range(MAX_DESCENT):
        if rmax <= rtol * max(sref, sfloor):
            return 0, it, rmax, sref
        it += 1
        if _condense_b(mi, mf, work, N, mu, B) != 0:
            mu = 10.0 * max(mu, MU_MIN)
            continue
        if B == 6:
            dmax = newton_direction6(mi, mf, work, N)
        else:
            dmax = newton_direction9(mi, mf, work, N)
        g0 = _slope(mi, mf, work, N, B)
        if not (g0 < 0.0 and dmax > 0.0):  # not a descent direction of Φ: damp more
            mu = 10.0 * max(mu, MU_MIN)
            if mu > MU_MAX:
                return 1, it, rmax, sref
            continue
        for i in range(3 * N):
            work[o_a0 + i] = work[o_a + i]
        lam0 = min(1.0, trust / dmax)
        lam = lam0
        hi = lam
        ghi = 0.0
        for _ in range(MAX_LINESEARCH):
            for i in range(3 * N):
                work[o_a + i] = work[o_a0 + i] + lam * work[o_da + i]
            st, phi, rmax, sref = _eval_b(
                mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, B
            )
            if st != 0:  # a leaf failed: shorter step
                hi = lam
                lam *= 0.5
                continue
            g = _slope(mi, mf, work, N, B)
            if g <= 0.0 or abs(g) <= 0.5 * abs(g0):
                break
            hi = lam
            ghi = g
            # secant root of the slope between 0 (g0 < 0) and hi (ghi > 0), kept inside
            lam = min(max(hi * g0 / (g0 - ghi), 0.1 * hi), 0.9 * hi)
        if st != 0:
            return 1, it, rmax, sref
        if lam == lam0:  # the whole (possibly trust-limited) step: less damping, more trust
            mu = 0.0 if mu <= MU_MIN else 0.1 * mu
            if lam0 < 1.0:
                trust = min(2.0 * trust, DESCENT_TRUST_MAX)
        else:
            mu = min(max(10.0 * mu, MU_MIN), MU_MAX)
            trust = max(0.5 * trust, DESCENT_TRUST_MIN)
    if rmax <= rtol * max(sref, sfloor):
        return 0, it, rmax, sref
    return 1, it, rmax, sref


@njit(cache=True, inline="always")
def _solve_increment(
    mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, nls, sout, Cout, rtol, sfloor,
    dt, temp, dtemp, descend, B,
):
    """Newton solve for the jumps at macro strain ``xbar`` from state ``s_start`` over a
    (sub-)step of time ``dt`` from temperature ``temp`` by ``dtemp``; converged when
    max|r_k| <= rtol * max(sref, sfloor).  Backtracking line search on Σ|r_k|², damping after
    backtracked steps, warm start from the stored jumps; on success ``sout`` (B,) the macro
    stress, ``Cout`` (B,B) the consistent tangent and the jumps in ``s_trial``.  ``descend``:
    when that Newton fails, fall back on :func:`_descend` (else report the failure).

    Returns (status 0/1, iterations, residual / max(sref, sfloor))."""
    L = _lay(B)
    o_int = NHEAD + _I_INT * N
    o_a = L[_A] * N
    o_a0 = L[_A0] * N
    o_da = L[_DA] * N
    o_C = L[_C] * N
    o_T = L[_T] * N
    _start_jumps(mi, s_start, work, N, nls, B)
    emax = 0.0
    for i in range(B):
        if abs(xbar[i]) > emax:
            emax = abs(xbar[i])
    st, phi, rmax, sref = _eval_b(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, B)
    if st != 0:
        return 1, 0, 0.0
    it = 0
    mu = 0.0
    small_step = False
    failed = False
    while not (rmax <= rtol * max(sref, sfloor) or small_step):
        if it >= MAX_NEWTON:
            failed = True
            break
        st = _condense_b(mi, mf, work, N, mu, B)
        if st != 0:  # singular block: regularize
            mu = max(10.0 * mu, MU_MIN)
            st = _condense_b(mi, mf, work, N, mu, B)
            if st != 0:
                failed = True
                break
        if B == 6:
            dmax = newton_direction6(mi, mf, work, N)
        else:
            dmax = newton_direction9(mi, mf, work, N)
        for i in range(3 * N):
            work[o_a0 + i] = work[o_a + i]
        lam = 1.0
        accepted = False
        for _ in range(MAX_LINESEARCH):
            for i in range(3 * N):
                work[o_a + i] = work[o_a0 + i] + lam * work[o_da + i]
            st, phi_t, rmax_t, sref_t = _eval_b(
                mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, dt, temp, dtemp, B
            )
            if st == 0 and phi_t <= (1.0 - 1e-4 * lam) * phi:
                accepted = True
                break
            lam *= 0.5
        if st != 0:
            it += 1
            failed = True
            break
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
    if failed:  # the residual norm stalled (e.g. past a fold of the jump equations): descend Φ
        if not descend:
            return 1, it, rmax / max(sref, sfloor)
        st, it, rmax, sref = _descend(
            mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, nls, rtol, sfloor, dt, temp, dtemp, it, B
        )
        if st != 0:
            return 1, it, rmax / max(sref, sfloor)
    # consistent tangent: exact linearization at the converged point
    if _condense_b(mi, mf, work, N, 0.0, B) != 0:
        if _condense_b(mi, mf, work, N, 1e-10, B) != 0:
            return 1, it, rmax / max(sref, sfloor)
    W = mf[0]
    for i in range(B):
        sout[i] = work[o_T + i] / W
        for j in range(B):
            Cout[i, j] = work[o_C + B * i + j]
    for k in range(N):
        m = mi[o_int + k]
        if m >= 0:
            for j in range(3):
                s_trial[nls + 3 * m + j] = work[o_a + 3 * k + j]
    return 0, it, rmax / max(sref, sfloor)


@njit(cache=True)
def solve_increment6(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, nls, sout, Cout, rtol, sfloor,
                     dt, temp, dtemp, descend):
    """:func:`_solve_increment` for small strain (B = 6)."""
    return _solve_increment(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, nls, sout, Cout, rtol,
                            sfloor, dt, temp, dtemp, descend, 6)


@njit(cache=True)
def solve_increment9(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, nls, sout, Cout, rtol, sfloor,
                     dt, temp, dtemp, descend):
    """:func:`_solve_increment` for finite strain (B = 9)."""
    return _solve_increment(mi, mf, table, xbar, s_start, s_trial, work, N, has_rot, nls, sout, Cout, rtol,
                            sfloor, dt, temp, dtemp, descend, 9)


@njit(cache=True, inline="always")
def fail(sout, Cout, info, ratio, B):
    """Zero the outputs ``sout`` (B,) and ``Cout`` (B,B); suggested step ratio into ``info``."""
    for i in range(B):
        sout[i] = 0.0
        for j in range(B):
            Cout[i, j] = 0.0
    info[INFO_RATIO] = ratio


@njit(cache=True, inline="always")
def info_counts(info, iterations, nsub, residual):
    """Newton iterations, final relative residual and (if there is room) sub-steps into ``info``."""
    info[INFO_ITERATIONS] = iterations
    info[INFO_RESIDUAL] = residual
    if info.shape[0] > INFO_SUBSTEPS:
        info[INFO_SUBSTEPS] = nsub


@njit(cache=True, inline="always")
def _ident(i, B):
    """Entry i of the identity as stored: 0 for strains (B = 6), δ for row-major F (B = 9)."""
    return 1.0 if B == 9 and i % 4 == 0 else 0.0


@njit(cache=True, inline="always")
def copy_table(mi, props_table, work, B):
    """Thread-local copy of the props rows in use into ``work`` (no views of a shared array in
    the hot loop); returns it as (nphase, MAX_NPROPS) view."""
    npr = laws.MAX_NPROPS if B == 6 else fs.MAX_NPROPS_FS
    o_table = tail_offsets(mi, B)[4]
    nph = mi[7]
    for p in range(nph):
        for j in range(npr):
            work[o_table + p * npr + j] = props_table[p, j]
    return work[o_table : o_table + nph * npr].reshape((nph, npr))


@njit(cache=True, inline="always")
def run_increment(mi, mf, table, xend, state_old, sout, Cout, state_new, work, info, nsv, has_rot, sfloor,
                  dt, temp, dtemp, B):
    """Adaptive sub-stepping of [x̄_old, x̄_end] (x̄_old from the state's last B entries, stored
    minus the identity) with :func:`_solve_increment` on each sub-step; ``table``: the copy of
    :func:`copy_table`.  A failed sub-step is retried at a quarter of its size; where that would
    end the call (size < MIN_SUBSTEP or MAX_TOTAL_ITER iterations), at finite strain (B = 9) the
    last size is retried once more with the potential descent (:func:`_descend`) allowed, for the
    rest of the call, with another MAX_TOTAL_ITER iterations.  On success ``sout``, ``Cout``,
    ``state_new`` and ``info``; returns ST_OK or ST_CUTBACK (outputs zeroed, ``state_new``
    untouched)."""
    M = mi[3]
    N = mi[2]
    nls = nsv - 3 * M - B
    o_cur, o_trial, o_x0, o_target, _, _, _ = tail_offsets(mi, B)
    cur = work[o_cur : o_cur + nsv]
    trial = work[o_trial : o_trial + nsv]
    for i in range(nsv):
        cur[i] = state_old[i]
    x0 = work[o_x0 : o_x0 + B]
    for i in range(B):
        x0[i] = state_old[nsv - B + i] + _ident(i, B)
    target = work[o_target : o_target + B]
    rtol = mf[1]
    t = 0.0
    h = 1.0  # sub-step fraction of the increment
    total_it = 0
    nsub = 0
    res = 0.0
    descend = False  # the potential descent of _solve_increment: only where sub-stepping gave up
    cap = MAX_TOTAL_ITER
    while True:
        tn = t + h
        if tn >= 1.0 - 1e-12:
            tn = 1.0
        for i in range(B):
            if tn == 1.0:
                target[i] = xend[i]
            else:
                target[i] = x0[i] + tn * (xend[i] - x0[i])
        if B == 6:
            st, it, res = solve_increment6(
                mi, mf, table, target, cur, trial, work, N, has_rot, nls, sout, Cout, rtol, sfloor,
                (tn - t) * dt, temp + t * dtemp, (tn - t) * dtemp, descend,
            )
        else:
            st, it, res = solve_increment9(
                mi, mf, table, target, cur, trial, work, N, has_rot, nls, sout, Cout, rtol, sfloor,
                (tn - t) * dt, temp + t * dtemp, (tn - t) * dtemp, descend,
            )
        total_it += it
        if st == 0:
            for i in range(B):
                trial[nsv - B + i] = target[i] - _ident(i, B)
            for i in range(nsv):
                cur[i] = trial[i]
            t = tn
            nsub += 1
            if t == 1.0:
                break
            h = 2.0 * h
        else:
            h *= 0.25
            if (h < MIN_SUBSTEP or total_it > cap) and not descend and B == 9:
                # past a fold the equilibrium followed ends: retry the last sub-step descending
                # the potential, with a fresh iteration budget (finite strain only: the small-strain
                # network keeps its cut back, which callers bisect)
                descend = True
                cap = total_it + MAX_TOTAL_ITER
                if h < MIN_SUBSTEP:
                    h *= 4.0
            elif h < MIN_SUBSTEP or total_it > cap:
                fail(sout, Cout, info, CUTBACK_RATIO, B)
                info_counts(info, total_it, nsub, res)
                return ST_CUTBACK
    for i in range(nsv):
        state_new[i] = cur[i]
    info[INFO_RATIO] = 1.0
    info_counts(info, total_it, nsub, res)
    return ST_OK


guard_numba_cache(solve_increment6, __file__)
