"""Statuses and the ``info`` layout of the network kernel and the C ABI (layer 0: no package imports).

One definition for the kernel (:mod:`dmn_umat.online.kernel`), the numba cfuncs
(:mod:`dmn_umat.abi.cfuncs`) and the C library (``dmn_umat/abi/libdmn.c``), which uses the
``DMN_ST_*``/``DMN_INFO_*`` names of the public header ``fortran_bridge/include/dmn_umat.h``;
``tests/test_status.py`` checks that the header's values equal these.  The values are ABI:
never renumber them.

``info`` per point (C API ``dmn_eval_batch``: ``INFO_SIZE`` = 4 doubles; the kernel also fills
slot ``INFO_SUBSTEPS`` when the caller's array is longer, as :class:`NetworkMaterial` does)::

    info[INFO_RATIO]       suggested step ratio: 1 after success, < 1 after a cut back
    info[INFO_ITERATIONS]  Newton iterations of the call (all sub-steps)
    info[INFO_STATUS]      the point's Status
    info[INFO_RESIDUAL]    final max residual / max(max leaf stress, s_floor) (dimensionless)
    info[INFO_SUBSTEPS]    sub-steps used (kernel callers with KERNEL_INFO_SIZE slots only)
"""

from __future__ import annotations

from enum import IntEnum


class Status(IntEnum):
    """Outcome of one point (kernel, cfuncs) or one UMAT call."""

    OK = 0  #: converged: stress, tangent and new state are valid
    CUTBACK = 1  #: retry with a smaller step (ratio in info[INFO_RATIO]); outputs not valid
    FAILED = 2  #: Newton failure or bad input (non-finite strain/state, corrupt blob, unknown law)
    BADPROPS = 10  #: UMAT PROPS do not match the model's phases (configuration error)
    BADNTENS = 11  #: unsupported NTENS (configuration error)
    WORK = 12  #: workspace too small (configuration error)


#: numba cannot cast IntEnum members (no store into a float array, no int()): numba code uses
#: these plain ints, taken from :class:`Status`
ST_OK, ST_CUTBACK, ST_FAILED, ST_BADPROPS, ST_BADNTENS, ST_WORK = (int(s) for s in Status)

#: the cfuncs return RET_BASE + status, so a return value below RET_BASE can only mean that an
#: exception escaped (numba's cfunc wrapper then returns 0); the C library treats that as failure
RET_BASE = 100

INFO_RATIO = 0
INFO_ITERATIONS = 1
INFO_STATUS = 2
INFO_RESIDUAL = 3
INFO_SIZE = 4  #: doubles per point of the C API's info
INFO_SUBSTEPS = 4
KERNEL_INFO_SIZE = 5  #: info length that also receives the sub-step count

#: UMAT conventions under NLGEOM (``enum dmn_nlgeom``, :mod:`dmn_umat.abi.nlgeom`): small strain,
#: Abaqus (Cauchy, Jaumann tangent), CalculiX ``@ABAQUS_`` (S, dS/dE), ``@ABAQUSNL_`` (corotational)
NL_SMALL, NL_ABAQUS, NL_CALCULIX, NL_CALCULIX_COROT = 0, 1, 2, 3


def c_constants() -> dict[str, int]:
    """The C names of the header (``DMN_ST_*``, ``DMN_INFO_*``, ``DMN_RET_BASE``) with their values."""
    out = {f"DMN_ST_{s.name}": int(s) for s in Status}
    out.update(
        DMN_INFO_RATIO=INFO_RATIO,
        DMN_INFO_ITERATIONS=INFO_ITERATIONS,
        DMN_INFO_STATUS=INFO_STATUS,
        DMN_INFO_RESIDUAL=INFO_RESIDUAL,
        DMN_INFO_SIZE=INFO_SIZE,
        DMN_RET_BASE=RET_BASE,
        DMN_NL_SMALL=NL_SMALL,
        DMN_NL_ABAQUS=NL_ABAQUS,
        DMN_NL_CALCULIX=NL_CALCULIX,
        DMN_NL_CALCULIX_COROT=NL_CALCULIX_COROT,
    )
    return out
