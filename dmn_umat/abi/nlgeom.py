"""The UMAT under NLGEOM (issue 14, item 4): a model with finite-strain phase laws
(:mod:`dmn_umat.laws.finite_update`: 6 neo-Hookean, 7 Saint-Venant–Kirchhoff, 8 finite J2)
evaluated from DFGRD1 by the finite-strain network (:func:`~dmn_umat.online.finite_kernel.fs_network_update`),
with STRESS and DDSDDE returned in the convention of the caller (``docs/abi.md``, NLGEOM):

- ``NL_ABAQUS`` (1), Abaqus/Standard (a material name without ``@``): STRESS = Cauchy σ,
  DDSDDE = the tangent of the Jaumann rate of Kirchhoff stress / J
  (:func:`~dmn_umat.laws.finite.umat_tangent`);
- ``NL_CALCULIX`` (2), CalculiX ``@ABAQUS_…`` (``src/umat_abaqus.f``: STRAN = Green–Lagrange E,
  STRESS taken as PK2): STRESS = S = F⁻¹ P, DDSDDE = dS/dE;
- ``NL_CALCULIX_COROT`` (3), CalculiX ``@ABAQUSNL_…`` (``src/umat_abaqusnl.f``: STRAN = ln U,
  S = J U⁻¹ STRESS U⁻¹, dS/dE = DDSDDE with U⁻¹ on every index): STRESS = Rᵀ σ R = U S U / J,
  DDSDDE = U⊗U : dS/dE : U⊗U.

Voigt order 11, 22, 33, 12, 13, 23, tensor shear stress, DDSDDE[I, J] = C_ijkl (engineering
shear strain columns).  Nothing is rotated with DROT: the leaf states are Lagrangian (reference
configuration) and each call solves the network from the total DFGRD1 (the stored jumps and F̄
only start that solve).

cfunc (``dmn_umat_nl`` of ``libdmn.c`` calls it for finite-strain materials)::

    int32 umat_nl_point(const int64 *mi, int64 nmi, const double *mf, int64 nmf, int64 nphase,
                        const double *props, int64 nprops, const double *dfgrd1 /*3x3 column-major*/,
                        int64 ntens, int64 conv, double *stress, double *ddsdde, double *statev,
                        int64 nsv, double *pnewdt, double *work, int64 nwork, double *info,
                        double dtime, double temp, double dtemp)

Returns ``RET_BASE`` + a :mod:`dmn_umat.status` value, as :func:`dmn_umat.abi.cfuncs.umat_point`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import carray, cfunc, njit, types

from ..laws import finite_update as fs
from ..laws.catalogue import BY_ID
from ..laws.finite import VOIGT_I, VOIGT_J, eigh3, inv3, umat_tangent
from ..online.finite_kernel import fs_network_update, fs_state_size, fs_work_size
from ..sources import guard_numba_cache
from ..status import (
    INFO_RATIO,
    INFO_SIZE,
    INFO_STATUS,
    NL_ABAQUS,
    NL_CALCULIX,
    NL_CALCULIX_COROT,
    RET_BASE,
    ST_BADNTENS,
    ST_BADPROPS,
    ST_CUTBACK,
    ST_FAILED,
    ST_OK,
    ST_WORK,
)
from .cargs import F64, F64P, I64, I64P, umat_views

#: props length per finite-strain law id (the catalogue's finite rows: 6 neo-Hookean, 7 SVK, 8 finite J2)
FS_NPROPS = {law.id: law.nprops for law in BY_ID.values() if law.finite}
#: added to the convention by ``libdmn.c`` for CalculiX's elastic predictor pass (see _umat_nl_impl)
PREDICTOR = 8
_FS_IDS = np.array(sorted(FS_NPROPS), dtype=np.int64)
_FS_N = np.array([FS_NPROPS[i] for i in sorted(FS_NPROPS)], dtype=np.int64)
_NBUF = 9 + 9 + 81 + 8 * 9 + 6 + 36  # F, P, A, convert's scratch, STRESS, DDSDDE


def is_finite_props(props: np.ndarray) -> bool:
    """True when the PROPS vector starts with a finite-strain law id (6, 7, 8)."""
    p = np.asarray(props, dtype=np.float64).ravel()
    return p.size > 0 and float(p[0]) in FS_NPROPS


def fs_table_from_props(props: np.ndarray, nphase: int) -> np.ndarray:
    """(nphase, MAX_NPROPS_FS) table of a flat finite-strain PROPS vector; ValueError with a
    one-line message when the layout does not fit (a small-strain law among them, wrong length)."""
    p = np.asarray(props, dtype=np.float64).ravel()
    rows, k = [], 0
    for ph in range(nphase):
        lid = float(p[k]) if k < p.size else math.nan
        if lid not in FS_NPROPS:
            raise ValueError(f"phase {ph}: law id {lid:g} is not a finite-strain law (6 neo-Hookean, 7 SVK, "
                             "8 finite J2); a model's phases are all small-strain or all finite-strain")
        rows.append(p[k:k + FS_NPROPS[lid]])
        k += FS_NPROPS[lid]
    if k != p.size:
        raise ValueError(f"NPROPS={p.size} but the {nphase} finite-strain phases take {k} values")
    return fs.fs_props_table(rows)


def umat_nl_work_size(nwork_kernel: int, nphase: int, nsv: int) -> int:
    """Doubles of workspace ``umat_nl_point`` needs for one call."""
    return int(nwork_kernel) + int(nphase) * fs.MAX_NPROPS_FS + _NBUF + 2 * int(nsv) + INFO_SIZE + 1


@njit(cache=True)
def fs_props_to_table(props, nphase, table):
    """Flat PROPS (per phase: finite-strain law id, constants) into ``table`` (nphase,
    MAX_NPROPS_FS), zero padded; ST_OK or ST_BADPROPS."""
    k = 0
    nprops = props.shape[0]
    for p in range(nphase):
        for j in range(table.shape[1]):
            table[p, j] = 0.0
        if k >= nprops:
            return ST_BADPROPS
        n = 0
        for q in range(_FS_IDS.shape[0]):
            if props[k] == _FS_IDS[q]:
                n = _FS_N[q]
        if n == 0 or k + n > nprops:
            return ST_BADPROPS
        for j in range(n):
            if not math.isfinite(props[k + j]):
                return ST_BADPROPS
            table[p, j] = props[k + j]
        k += n
    return ST_OK if k == nprops else ST_BADPROPS


@njit(cache=True)
def stretch(F, lam, Q, U):
    """Right stretch U = √(FᵀF) (3,3) into ``U`` (scratch ``lam`` (3,), ``Q`` (3,3))."""
    for i in range(3):
        for j in range(3):
            s = 0.0
            for k in range(3):
                s += F[k, i] * F[k, j]
            U[i, j] = s
    eigh3(U, lam, Q)
    for i in range(3):
        for j in range(3):
            s = 0.0
            for k in range(3):
                s += Q[i, k] * math.sqrt(max(lam[k], 0.0)) * Q[j, k]
            U[i, j] = s


@njit(cache=True)
def pk2(F, P, Finv, S):
    """S = F⁻¹ P (3,3), symmetrised; ``Finv`` (3,3) out.  Returns det F."""
    J = inv3(F, Finv)
    for i in range(3):
        for j in range(3):
            s = 0.0
            for k in range(3):
                s += Finv[i, k] * P[k, j] + Finv[j, k] * P[k, i]
            S[i, j] = 0.5 * s
    return J


@njit(cache=True)
def material_tangent(F, Finv, S, A, U, dE, dF, dS, out):
    """out (6,6) [I, J] = (U dS U)_I for dE = U sym(e_k ⊗ e_l) U, (k, l) = pair J: dS/dE of
    S = F⁻¹ P with A = dP/dF (9,9), pushed by U on every index (U = 1: dS/dE itself).
    dF = F⁻ᵀ dE realises dE (sym(Fᵀ dF) = dE); dS = F⁻¹ (A:dF − dF S)."""
    for m in range(6):
        k = VOIGT_I[m]
        l = VOIGT_J[m]
        for i in range(3):
            for j in range(3):
                dE[i, j] = 0.5 * (U[i, k] * U[l, j] + U[i, l] * U[k, j])
        for a in range(3):
            for b in range(3):
                s = 0.0
                for c in range(3):
                    s += Finv[c, a] * dE[c, b]
                dF[a, b] = s
        for i in range(3):  # dE <- dP − dF S
            for j in range(3):
                s = 0.0
                for a in range(3):
                    for b in range(3):
                        s += A[3 * i + j, 3 * a + b] * dF[a, b]
                for c in range(3):
                    s -= dF[i, c] * S[c, j]
                dE[i, j] = s
        for i in range(3):
            for j in range(3):
                s = 0.0
                for c in range(3):
                    s += Finv[i, c] * dE[c, j]
                dS[i, j] = s
        for n in range(6):
            i = VOIGT_I[n]
            j = VOIGT_J[n]
            s = 0.0
            for a in range(3):
                for b in range(3):
                    s += U[i, a] * 0.5 * (dS[a, b] + dS[b, a]) * U[b, j]
            out[n, m] = s


@njit(cache=True)
def convert(conv, F, P, A, bufs, stress6, c66):
    """STRESS (6,) and DDSDDE (6,6) of convention ``conv`` from F, P, A (module table).
    ``bufs``: (8, 9) scratch.  Returns ST_OK, or ST_FAILED for det F ≤ 0 / a bad convention."""
    Finv = bufs[0].reshape((3, 3))
    S = bufs[1].reshape((3, 3))
    U = bufs[2].reshape((3, 3))
    dE = bufs[3].reshape((3, 3))
    dF = bufs[4].reshape((3, 3))
    dS = bufs[5].reshape((3, 3))
    Q = bufs[6].reshape((3, 3))
    lam = bufs[7][:3]
    J = pk2(F, P, Finv, S)
    if not J > 0.0:
        return ST_FAILED
    if conv == NL_ABAQUS:
        for n in range(6):
            s = 0.0
            for k in range(3):
                s += P[VOIGT_I[n], k] * F[VOIGT_J[n], k]
            stress6[n] = s / J
        umat_tangent(F, P, A, c66)
        return ST_OK
    if conv == NL_CALCULIX_COROT:
        stretch(F, lam, Q, U)
    elif conv == NL_CALCULIX:
        for i in range(3):
            for j in range(3):
                U[i, j] = 1.0 if i == j else 0.0
    else:
        return ST_FAILED
    for n in range(6):
        i = VOIGT_I[n]
        j = VOIGT_J[n]
        s = 0.0
        for a in range(3):
            for b in range(3):
                s += U[i, a] * S[a, b] * U[b, j]
        stress6[n] = s / J if conv == NL_CALCULIX_COROT else s
    material_tangent(F, Finv, S, A, U, dE, dF, dS, c66)
    return ST_OK


@njit(cache=True)
def _unloaded_tangent(mi, mf, tab, conv, Fc, sold, P, A, snew, kwork, kinfo, temp, bufs, s6, c66):
    """``c66`` = DDSDDE of the unloaded network (F = 1, virgin state: its small-strain elastic
    tangent) in convention ``conv``; overwrites Fc, sold, P, A, snew, s6.  Returns a status."""
    for i in range(3):
        for j in range(3):
            Fc[i, j] = 1.0 if i == j else 0.0
    for i in range(sold.shape[0]):
        sold[i] = 0.0
    st = fs_network_update(mi, mf, tab, Fc, sold, P, A, snew, kwork, kinfo, 0.0, temp, 0.0)
    if st == ST_OK:
        st = convert(conv, Fc, P, A, bufs, s6, c66)
    return st


@njit(cache=True)
def _umat_nl_impl(mi, mf, nphase, props, F, ntens, conv, stress, ddsdde_t, statev, nsv, pnewdt, work, info,
                  dtime, temp, dtemp):
    """Body of ``umat_nl_point`` on arrays (``ddsdde_t[i, j]`` = DDSDDE(i, j), ``F`` (3,3)).
    ``conv`` + PREDICTOR: CalculiX's elastic predictor pass (JSTEP(3) = 0 in a finite-strain
    analysis): stress and state as usual, DDSDDE = the unloaded network's elastic tangent (what
    ccx's own laws give in that pass)."""
    predictor = conv >= PREDICTOR
    if predictor:
        conv -= PREDICTOR
    for i in range(INFO_SIZE):
        info[i] = 0.0
    info[INFO_RATIO] = 1.0
    if ntens != 6 and ntens != 4:
        info[INFO_STATUS] = ST_BADNTENS
        return ST_BADNTENS
    kw = work.shape[0] - (nphase * fs.MAX_NPROPS_FS + _NBUF + 2 * nsv + INFO_SIZE + 1)
    if kw < 1:
        info[INFO_STATUS] = ST_WORK
        return ST_WORK
    o = kw
    tab = work[o:o + nphase * fs.MAX_NPROPS_FS].reshape((nphase, fs.MAX_NPROPS_FS))
    o += nphase * fs.MAX_NPROPS_FS
    Fc = work[o:o + 9].reshape((3, 3))
    P = work[o + 9:o + 18].reshape((3, 3))
    A = work[o + 18:o + 99].reshape((9, 9))
    bufs = work[o + 99:o + 99 + 72].reshape((8, 9))
    o += 99 + 72
    s6 = work[o:o + 6]
    c66 = work[o + 6:o + 42].reshape((6, 6))
    o += _NBUF - 99 - 72
    sold = work[o:o + nsv]
    snew = work[o + nsv:o + 2 * nsv]
    o += 2 * nsv
    kinfo = work[o:o + INFO_SIZE]
    kwork = work[:kw]
    if fs_props_to_table(props, nphase, tab) != ST_OK:
        info[INFO_STATUS] = ST_BADPROPS
        return ST_BADPROPS
    for i in range(3):
        for j in range(3):
            Fc[i, j] = F[i, j]
    for i in range(nsv):
        sold[i] = statev[i]
    st = fs_network_update(mi, mf, tab, Fc, sold, P, A, snew, kwork, kinfo, dtime, temp, dtemp)
    if st == ST_OK:
        st = convert(conv, Fc, P, A, bufs, s6, c66)
    if st == ST_OK:
        for i in range(6):
            ok = math.isfinite(s6[i])
            for j in range(6):
                ok = ok and math.isfinite(c66[i, j])
            if not ok:
                st = ST_FAILED
    for i in range(INFO_SIZE):
        info[i] = kinfo[i]
    info[INFO_STATUS] = st
    nt = 4 if ntens == 4 else 6
    if st == ST_OK:
        for i in range(nt):
            stress[i] = s6[i]
            for j in range(nt):
                ddsdde_t[i, j] = c66[i, j]
        for i in range(nsv):
            statev[i] = snew[i]
        if predictor and _unloaded_tangent(mi, mf, tab, conv, Fc, sold, P, A, snew, kwork, kinfo, temp, bufs,
                                           s6, c66) == ST_OK:
            for i in range(nt):
                for j in range(nt):
                    ddsdde_t[i, j] = c66[i, j]
        return ST_OK
    # failure: STRESS and STATEV as passed in, DDSDDE = the tangent of the unloaded network
    # (F = 1, virgin state) in the caller's convention, else a unit diagonal; smaller increment
    ratio = 0.5
    if st == ST_CUTBACK and kinfo[INFO_RATIO] > 0.0 and kinfo[INFO_RATIO] < 1.0:
        ratio = max(kinfo[INFO_RATIO], 0.1)
    info[INFO_RATIO] = ratio
    fb = _unloaded_tangent(mi, mf, tab, conv, Fc, sold, P, A, snew, kwork, kinfo, temp, bufs, s6, c66)
    for i in range(nt):
        stress[i] = stress[i] if math.isfinite(stress[i]) else 0.0
        for j in range(nt):
            v = c66[i, j] if fb == ST_OK else (1.0 if i == j else 0.0)
            ddsdde_t[i, j] = v if math.isfinite(v) else (1.0 if i == j else 0.0)
    if pnewdt[0] < 0.0 or ratio < pnewdt[0] or not math.isfinite(pnewdt[0]):
        pnewdt[0] = ratio
    return st


guard_numba_cache(fs_props_to_table, __file__)

umat_nl_sig = types.int32(I64P, I64, F64P, I64, I64, F64P, I64, F64P, I64, I64, F64P, F64P, F64P,
                          I64, F64P, F64P, I64, F64P, F64, F64, F64)


@cfunc(umat_nl_sig, cache=True, nopython=True)
def umat_nl_point(mi_p, nmi, mf_p, nmf, nphase, props_p, nprops, dfgrd1_p, ntens, conv, stress_p, ddsdde_p,
                  statev_p, nsv, pnewdt_p, work_p, nwork, info_p, dtime, temp, dtemp):
    mi, mf, props, stress, ddsdde_t, statev, pnewdt, work, info = umat_views(
        mi_p, nmi, mf_p, nmf, props_p, nprops, ntens, stress_p, ddsdde_p, statev_p, nsv, pnewdt_p, work_p,
        nwork, info_p)
    F = carray(dfgrd1_p, (3, 3)).T  # DFGRD1 is column-major: F[i, j] = DFGRD1(i, j)
    return RET_BASE + _umat_nl_impl(mi, mf, nphase, props, F, ntens, conv, stress, ddsdde_t, statev, nsv,
                                    pnewdt, work, info, dtime, temp, dtemp)


def address() -> int:
    """Machine-code address of ``umat_nl_point``."""
    return int(umat_nl_point.address)


def sizes(mi: np.ndarray, table: np.ndarray) -> tuple[int, int]:
    """(state size, kernel work size) of a packed network with a finite-strain props table."""
    return int(fs_state_size(mi, table)), int(fs_work_size(mi))
