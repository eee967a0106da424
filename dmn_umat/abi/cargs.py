"""Array views of the C arguments of the ABI cfuncs (:mod:`dmn_umat.abi.cfuncs`,
:mod:`dmn_umat.abi.nlgeom`): one unpacker per argument layout, shared by every cfunc of it.

numba ``carray`` views (no copy) of the raw pointers; ``inline="always"`` puts the views into each
cfunc's own numba IR, so a cfunc compiles to the code it had with the ``carray`` calls written out
(and its cache follows this file through the import graph, :mod:`dmn_umat.abi.cachekey`).
"""

from __future__ import annotations

from numba import carray, njit, types

from ..laws.update import MAX_NPROPS
from ..status import INFO_SIZE

#: numba types of the C arguments (``int64 *``, ``double *``, ``int64``, ``double``)
I64P = types.CPointer(types.int64)
F64P = types.CPointer(types.float64)
I64 = types.int64
F64 = types.float64


@njit(inline="always")
def voigt_len(ntens):
    """Length of the STRESS / STRAN views: ``ntens`` when 4 or 6, else 1 (the body refuses that
    NTENS before it touches the arrays)."""
    return ntens if (ntens == 4 or ntens == 6) else 1


@njit(inline="always")
def point_views(mi_p, nmi, mf_p, nmf, ptab_p, nphase, strain_p, sold_p, nsv, stress_p, tang_p, snew_p,
                work_p, nwork, info_p):
    """Views of the ``point`` layout (``dmn_eval_batch``): (mi (nmi,), mf (nmf,), ptab (nphase,
    MAX_NPROPS), strain (6,), state_old (nsv,), stress (6,), tangent (6, 6) row-major, state_new
    (nsv,), work (nwork,), info (INFO_SIZE,))."""
    return (carray(mi_p, (nmi,)), carray(mf_p, (nmf,)), carray(ptab_p, (nphase, MAX_NPROPS)),
            carray(strain_p, (6,)), carray(sold_p, (nsv,)), carray(stress_p, (6,)), carray(tang_p, (6, 6)),
            carray(snew_p, (nsv,)), carray(work_p, (nwork,)), carray(info_p, (INFO_SIZE,)))


@njit(inline="always")
def umat_views(mi_p, nmi, mf_p, nmf, props_p, nprops, ntens, stress_p, ddsdde_p, statev_p, nsv, pnewdt_p,
               work_p, nwork, info_p):
    """Views of the arguments every UMAT layout shares (``umat_point``, ``umat_nl_point``):
    (mi (nmi,), mf (nmf,), props (nprops,), stress (nt,), ddsdde_t (nt, nt), statev (nsv,),
    pnewdt (1,), work (nwork,), info (INFO_SIZE,)), nt = :func:`voigt_len` (ntens).  ``ddsdde_t``
    is the transposed view of Abaqus' column-major DDSDDE: ``ddsdde_t[i, j]`` = DDSDDE(i, j)."""
    nt = voigt_len(ntens)
    return (carray(mi_p, (nmi,)), carray(mf_p, (nmf,)), carray(props_p, (nprops,)), carray(stress_p, (nt,)),
            carray(ddsdde_p, (nt, nt)).T, carray(statev_p, (nsv,)), carray(pnewdt_p, (1,)),
            carray(work_p, (nwork,)), carray(info_p, (INFO_SIZE,)))
