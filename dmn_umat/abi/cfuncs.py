"""numba ``@cfunc`` entry points of the C ABI (``libdmn_umat``).

Two C functions are compiled here and their addresses are handed to the C library once, at
initialization; every later call jumps straight into machine code (no Python, no GIL).

``point``  (C API ``dmn_eval_batch``; Mandel in and out)::

    int32 point(const int64 *mi, int64 nmi, const double *mf, int64 nmf,
                const double *ptab, int64 nphase, const double *strain /*6*/,
                const double *state_old /*nsv*/, int64 nsv, double *stress /*6*/,
                double *tangent /*36, row-major*/, double *state_new /*nsv*/,
                double *work /*nwork*/, int64 nwork, double *info /*4*/,
                double dt, double temp, double dtemp)

``umat_point`` (``umat_``; Abaqus Voigt/engineering shear, PROPS layout of ``docs/abi.md``)::

    int32 umat_point(const int64 *mi, int64 nmi, const double *mf, int64 nmf, int64 nphase,
                     const double *props, int64 nprops, const double *stran,
                     const double *dstran, int64 ntens, double *stress, double *ddsdde,
                     double *statev, int64 nsv, double *pnewdt, double *work, int64 nwork,
                     double *info, double dtime, double temp, double dtemp)

Both return ``RET_BASE + status`` so that a value below ``RET_BASE`` can only mean that an
exception escaped (numba's cfunc wrapper then returns 0 — ABI.md pitfall 4); the C side
treats that as a failure.  Statuses and the ``info`` slots: :mod:`dmn_umat.status` (= the
``DMN_ST_*``/``DMN_INFO_*`` of ``dmn_umat.h``): OK, CUTBACK (kernel asked for a smaller step,
ratio in info[INFO_RATIO]), FAILED (Newton failure or non-finite input), BADPROPS, BADNTENS,
WORK (configuration errors).  ``dt``/``dtime``, ``temp``, ``dtemp``: time increment, temperature
at the start of the increment and its increment (Abaqus DTIME, TEMP, DTEMP), passed to every
leaf's law (:func:`dmn_umat.online.kernel.network_update`); 0 for rate-independent callers.

The network kernel is :mod:`dmn_umat.online.kernel`; the on-disk numba cache of this module
is keyed on the sources of every module it depends on (:mod:`dmn_umat.abi.cachekey`).
"""

from __future__ import annotations

import math

from numba import carray, cfunc, njit, types

from ..laws import update as laws
from ..online.kernel import network_update, pack_network, state_size, work_size  # noqa: F401
from ..sources import guard_numba_cache
from ..status import (
    INFO_RATIO,
    INFO_SIZE,
    INFO_STATUS,
    RET_BASE,
    ST_BADNTENS,
    ST_BADPROPS,
    ST_CUTBACK,
    ST_FAILED,
    ST_OK,
    ST_WORK,
)
from ..tensors import mandel_stress_to_voigt, mandel_tangent_to_voigt, voigt_strain_to_mandel
from .cargs import F64, F64P, I64, I64P, point_views, umat_views, voigt_len

MAX_NPROPS = laws.MAX_NPROPS


def umat_work_size(nwork_kernel: int, nphase: int, nsv: int) -> int:
    """Doubles of workspace ``umat_point`` needs for one call (kernel work + its own buffers)."""
    return int(nwork_kernel) + int(nphase) * MAX_NPROPS + 6 + 6 + 6 + 36 + 36 + 2 * int(nsv) + INFO_SIZE


@njit(cache=True)
def props_to_table(props, nprops, nphase, table):
    """Split the flat PROPS vector (per phase: law id then its parameters) into ``table``
    (nphase, MAX_NPROPS), zero padded.  Returns 0, or ST_BADPROPS if the layout does not match."""
    k = 0
    for p in range(nphase):
        for j in range(MAX_NPROPS):
            table[p, j] = 0.0
        if k >= nprops:
            return ST_BADPROPS
        lid = props[k]
        if not (math.isfinite(lid) and lid == math.floor(lid) and laws.law_known(props[k : k + 1])):
            return ST_BADPROPS
        n = laws.NPROPS_BY_ID[int(lid)]
        if k + n > nprops:
            return ST_BADPROPS
        for j in range(n):
            v = props[k + j]
            if not math.isfinite(v):
                return ST_BADPROPS
            table[p, j] = v
        k += n
    if k != nprops:
        return ST_BADPROPS
    return ST_OK


@njit(cache=True)
def _point_impl(mi, mf, ptab, strain, state_old, stress, tangent, state_new, work, info, dt, temp, dtemp):
    """The kernel (it checks its inputs, fills ``info`` and returns a :mod:`dmn_umat.status` value)."""
    return network_update(
        mi, mf, ptab, strain, state_old, stress, tangent, state_new, work, info, dt, temp, dtemp
    )


@njit(cache=True)
def _finite_result(stress, tangent):
    for i in range(6):
        if not math.isfinite(stress[i]):
            return False
        for j in range(6):
            if not math.isfinite(tangent[i, j]):
                return False
    return True


# in-process guard of ABI.md pitfall 6 for the default numba cache (``__pycache__``); the library
# itself uses a keyed cache directory (:mod:`dmn_umat.abi.cachekey`).  Runs before the cfuncs
# below compile (at decoration).
guard_numba_cache(props_to_table, __file__)

point_sig = types.int32(I64P, I64, F64P, I64, F64P, I64, F64P, F64P, I64, F64P, F64P, F64P,
                        F64P, I64, F64P, F64, F64, F64)


@cfunc(point_sig, cache=True, nopython=True)
def point(mi_p, nmi, mf_p, nmf, ptab_p, nphase, strain_p, sold_p, nsv, stress_p, tang_p, snew_p, work_p,
          nwork, info_p, dt, temp, dtemp):
    views = point_views(mi_p, nmi, mf_p, nmf, ptab_p, nphase, strain_p, sold_p, nsv, stress_p, tang_p, snew_p,
                        work_p, nwork, info_p)
    return RET_BASE + _point_impl(*views, dt, temp, dtemp)


@njit(cache=True)
def _fallback_tangent(
    mi, mf, ptab, nphase, nsv, kwork, zs, zstate, snew, tmp_s, tmp_c, info, ntens, ddsdde_t
):
    """DDSDDE after a failure: the network's elastic tangent at zero strain, else a diagonal."""
    for i in range(6):
        zs[i] = 0.0
    for i in range(nsv):
        zstate[i] = 0.0
    st = network_update(mi, mf, ptab, zs, zstate, tmp_s, tmp_c, snew, kwork, info)
    ok = st == 0
    if ok:
        for i in range(6):
            for j in range(6):
                if not math.isfinite(tmp_c[i, j]):
                    ok = False
    if not ok:
        cmax = 1.0
        for p in range(nphase):
            if laws.elastic_stiffness(ptab[p], tmp_c) == 0:
                for i in range(6):
                    if math.isfinite(tmp_c[i, i]) and tmp_c[i, i] > cmax:
                        cmax = tmp_c[i, i]
        for i in range(6):
            for j in range(6):
                tmp_c[i, j] = 0.0
            tmp_c[i, i] = cmax
    mandel_tangent_to_voigt(tmp_c, ntens, ddsdde_t)


@njit(cache=True)
def _umat_impl(
    mi, mf, nphase, props, stran, dstran, ntens, stress, ddsdde_t, statev, nsv, pnewdt, work, info,
    dtime, temp, dtemp,
):
    """Body of ``umat_point`` on arrays.  ``ddsdde_t`` is the transposed (row = Voigt column)
    view of Abaqus' column-major DDSDDE, so ``ddsdde_t[i, j]`` is DDSDDE(i, j)."""
    for i in range(INFO_SIZE):
        info[i] = 0.0
    info[INFO_RATIO] = 1.0
    if ntens != 6 and ntens != 4:
        info[INFO_STATUS] = ST_BADNTENS
        return ST_BADNTENS
    nw = work.shape[0]
    kw = nw - (nphase * MAX_NPROPS + 6 + 6 + 6 + 36 + 36 + 2 * nsv + INFO_SIZE)
    if kw < 1:
        info[INFO_STATUS] = ST_WORK
        return ST_WORK
    o = kw
    ptab = work[o:o + nphase * MAX_NPROPS].reshape((nphase, MAX_NPROPS))
    o += nphase * MAX_NPROPS
    eps = work[o:o + 6]
    o += 6
    sig = work[o:o + 6]
    o += 6
    sig0 = work[o:o + 6]
    o += 6
    tang = work[o:o + 36].reshape((6, 6))
    o += 36
    tang2 = work[o:o + 36].reshape((6, 6))
    o += 36
    sold = work[o:o + nsv]
    o += nsv
    snew = work[o:o + nsv]
    o += nsv
    kinfo = work[o:o + INFO_SIZE]
    kwork = work[:kw]

    if props_to_table(props, props.shape[0], nphase, ptab) != ST_OK:
        info[INFO_STATUS] = ST_BADPROPS
        return ST_BADPROPS
    for i in range(ntens):
        sig0[i] = stress[i]
    # total strain at the end of the increment: STRAN + DSTRAN (Voigt) -> Mandel
    for i in range(ntens):
        sig[i] = stran[i] + dstran[i]
    voigt_strain_to_mandel(sig, ntens, eps)
    for i in range(nsv):
        sold[i] = statev[i]
    st = _point_impl(mi, mf, ptab, eps, sold, sig, tang, snew, kwork, kinfo, dtime, temp, dtemp)
    if st == ST_OK and not _finite_result(sig, tang):
        st = ST_FAILED  # never hand a non-finite STRESS/DDSDDE to the host
    for i in range(INFO_SIZE):
        info[i] = kinfo[i]
    info[INFO_STATUS] = st
    if st == ST_OK:
        mandel_stress_to_voigt(sig, ntens, stress)
        mandel_tangent_to_voigt(tang, ntens, ddsdde_t)
        for i in range(nsv):
            statev[i] = snew[i]
        return ST_OK
    # failure: keep the start-of-increment stress and state, give a usable elastic DDSDDE
    # and ask the host for a smaller increment
    ratio = 0.5
    if st == ST_CUTBACK and kinfo[INFO_RATIO] > 0.0 and kinfo[INFO_RATIO] < 1.0:
        ratio = max(kinfo[INFO_RATIO], 0.1)
    info[INFO_RATIO] = ratio
    for i in range(ntens):
        stress[i] = sig0[i] if math.isfinite(sig0[i]) else 0.0
    _fallback_tangent(mi, mf, ptab, nphase, nsv, kwork, eps, sold, snew, sig, tang2, kinfo, ntens, ddsdde_t)
    if pnewdt[0] < 0.0 or ratio < pnewdt[0] or not math.isfinite(pnewdt[0]):
        pnewdt[0] = ratio
    return st


umat_sig = types.int32(I64P, I64, F64P, I64, I64, F64P, I64, F64P, F64P, I64, F64P, F64P, F64P,
                       I64, F64P, F64P, I64, F64P, F64, F64, F64)


@njit(inline="always")
def _umat_args(mi_p, nmi, mf_p, nmf, nphase, props_p, nprops, stran_p, dstran_p, ntens, stress_p, ddsdde_p,
               statev_p, nsv, pnewdt_p, work_p, nwork, info_p, dtime, temp, dtemp):
    """The ``umat_sig`` arguments as those of ``_umat_impl`` / ``_umat_a2_impl`` (pointers as
    :func:`~dmn_umat.abi.cargs.umat_views`, STRAN and DSTRAN as (nt,) views)."""
    mi, mf, props, stress, ddsdde_t, statev, pnewdt, work, info = umat_views(
        mi_p, nmi, mf_p, nmf, props_p, nprops, ntens, stress_p, ddsdde_p, statev_p, nsv, pnewdt_p, work_p,
        nwork, info_p)
    nt = voigt_len(ntens)
    return (mi, mf, nphase, props, carray(stran_p, (nt,)), carray(dstran_p, (nt,)), ntens, stress, ddsdde_t,
            statev, nsv, pnewdt, work, info, dtime, temp, dtemp)


@cfunc(umat_sig, cache=True, nopython=True)
def umat_point(mi_p, nmi, mf_p, nmf, nphase, props_p, nprops, stran_p, dstran_p, ntens, stress_p, ddsdde_p,
               statev_p, nsv, pnewdt_p, work_p, nwork, info_p, dtime, temp, dtemp):
    args = _umat_args(mi_p, nmi, mf_p, nmf, nphase, props_p, nprops, stran_p, dstran_p, ntens, stress_p,
                      ddsdde_p, statev_p, nsv, pnewdt_p, work_p, nwork, info_p, dtime, temp, dtemp)
    return RET_BASE + _umat_impl(*args)


def addresses() -> tuple[int, int]:
    """Machine-code addresses of (point, umat_point)."""
    return int(point.address), int(umat_point.address)


# --------------------------------------------------------------------------- orientation-aware models
# A version-2 (parametric) model (:mod:`dmn_umat.online.parametric`): the state of a point is
# [A₂ (A2_SLOTS: a11, a22, a33, a23, a13, a12) | the network kernel's state], for the UMAT (STATEV)
# and the C API (state_old / state_new) alike.  A₂ is read on every call and copied, never
# changed.  The cfuncs have the signatures of ``point`` / ``umat_point``, with ``mi`` = the int64
# pair (nmi, nmf) of the per-point blobs and ``mf`` = the parametric blob ``pb``; each call builds
# the point's network (:func:`~dmn_umat.online.parametric.build_point`) into scratch at the end
# of ``work`` and runs the fixed-network body on it.
import numpy as np  # noqa: E402

from ..online.parametric import build_point, parametric_network_update  # noqa: E402

A2_SLOTS = 6


def a2_work_size(nwork_kernel: int, nmi: int, nmf: int) -> int:
    """Doubles of workspace ``point_a2`` needs (kernel work + the point's blobs)."""
    return int(nwork_kernel) + int(nmi) + int(nmf)


def umat_a2_work_size(nwork_kernel: int, nphase: int, nsv_kernel: int, nmi: int, nmf: int) -> int:
    """Doubles of workspace ``umat_point_a2`` needs (``umat_point``'s, a props table, the blobs)."""
    return umat_work_size(nwork_kernel, nphase, nsv_kernel) + int(nphase) * MAX_NPROPS + int(nmi) + int(nmf)


@njit(cache=True)
def _point_a2_impl(sizes, pb, ptab, strain, sold, stress, tang, snew, work, info, dt, temp, dtemp):
    nmi, nmf = sizes[0], sizes[1]
    nsv = sold.shape[0]
    kw = work.shape[0] - nmi - nmf
    if nsv < A2_SLOTS or kw < 1:
        for i in range(INFO_SIZE):
            info[i] = 0.0
        info[INFO_STATUS] = ST_WORK
        return ST_WORK
    for i in range(A2_SLOTS):
        snew[i] = sold[i]
    mi = work[kw:kw + nmi].view(np.int64)
    mf = work[kw + nmi:kw + nmi + nmf]
    return parametric_network_update(mi, mf, ptab, strain, sold[A2_SLOTS:], stress, tang, snew[A2_SLOTS:],
                                     work[:kw], info, dt, temp, dtemp, sold[:A2_SLOTS], pb)


@cfunc(point_sig, cache=True, nopython=True)
def point_a2(sz_p, nsz, pb_p, npb, ptab_p, nphase, strain_p, sold_p, nsv, stress_p, tang_p, snew_p, work_p,
             nwork, info_p, dt, temp, dtemp):
    views = point_views(sz_p, nsz, pb_p, npb, ptab_p, nphase, strain_p, sold_p, nsv, stress_p, tang_p, snew_p,
                        work_p, nwork, info_p)
    return RET_BASE + _point_a2_impl(*views, dt, temp, dtemp)


@njit(cache=True)
def _umat_a2_impl(
    sizes, pb, nphase, props, stran, dstran, ntens, stress, ddsdde_t, statev, nsv, pnewdt, work, info,
    dtime, temp, dtemp,
):
    """``_umat_impl`` on the network of the point's A₂ = STATEV(1..6) (kernel state after it)."""
    nmi, nmf = sizes[0], sizes[1]
    ntab = nphase * MAX_NPROPS
    ku = work.shape[0] - ntab - nmi - nmf
    for i in range(INFO_SIZE):
        info[i] = 0.0
    info[INFO_RATIO] = 1.0
    if ntens != 6 and ntens != 4:
        info[INFO_STATUS] = ST_BADNTENS
        return ST_BADNTENS
    if nsv < A2_SLOTS or ku < 1:
        info[INFO_STATUS] = ST_WORK
        return ST_WORK
    tab = work[ku:ku + ntab].reshape((nphase, MAX_NPROPS))
    mi = work[ku + ntab:ku + ntab + nmi].view(np.int64)
    mf = work[ku + ntab + nmi:ku + ntab + nmi + nmf]
    if props_to_table(props, props.shape[0], nphase, tab) != ST_OK:
        info[INFO_STATUS] = ST_BADPROPS
        return ST_BADPROPS
    if build_point(pb, statev[:A2_SLOTS], tab, mi, mf) != 0:
        # not an orientation tensor (the C side stops the analysis before this): keep STRESS and
        # STATEV, a positive diagonal DDSDDE (largest elastic phase stiffness), a cut-back
        c = work[:36].reshape((6, 6))
        cmax = 1.0
        for p in range(nphase):
            if laws.elastic_stiffness(tab[p], c) == 0:
                for i in range(6):
                    if math.isfinite(c[i, i]) and c[i, i] > cmax:
                        cmax = c[i, i]
        for i in range(ntens):
            for j in range(ntens):
                ddsdde_t[i, j] = cmax if i == j else 0.0
        info[INFO_RATIO] = 0.25
        info[INFO_STATUS] = ST_FAILED
        if pnewdt[0] < 0.0 or 0.25 < pnewdt[0] or not math.isfinite(pnewdt[0]):
            pnewdt[0] = 0.25
        return ST_FAILED
    return _umat_impl(mi, mf, nphase, props, stran, dstran, ntens, stress, ddsdde_t, statev[A2_SLOTS:],
                      nsv - A2_SLOTS, pnewdt, work[:ku], info, dtime, temp, dtemp)


@cfunc(umat_sig, cache=True, nopython=True)
def umat_point_a2(sz_p, nsz, pb_p, npb, nphase, props_p, nprops, stran_p, dstran_p, ntens, stress_p, ddsdde_p,
                  statev_p, nsv, pnewdt_p, work_p, nwork, info_p, dtime, temp, dtemp):
    args = _umat_args(sz_p, nsz, pb_p, npb, nphase, props_p, nprops, stran_p, dstran_p, ntens, stress_p,
                      ddsdde_p, statev_p, nsv, pnewdt_p, work_p, nwork, info_p, dtime, temp, dtemp)
    return RET_BASE + _umat_a2_impl(*args)


def addresses_a2() -> tuple[int, int]:
    """Machine-code addresses of (point_a2, umat_point_a2): the kernels of orientation-aware models."""
    return int(point_a2.address), int(umat_point_a2.address)
