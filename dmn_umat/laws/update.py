"""One material point of any phase law: dispatch by the law id in ``props[0]`` (numba).

Shared by the online network kernel, the FFT DNS, the batched :class:`PhaseMaterial` and the
C ABI (one implementation).  Total-strain form at small strain, Mandel convention
(:mod:`dmn_umat.tensors`):

    status = phase_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws)

- ``props``     (nprops,) law id then parameters (layouts: :mod:`dmn_umat.laws`)
- ``eps``       (6,)   total strain at the end of the increment (Mandel)
- ``state_old`` (nsv,) internal variables at the start of the increment (read only)
- ``dt``        time increment ≥ 0 (Abaqus DTIME; the rate-independent laws ignore it, the
                viscous ones return the elastic trial for dt = 0)
- ``temp``, ``dtemp`` temperature at the start of the increment and its increment (TEMP,
                DTEMP; only the J2 family with temperature slopes reads them)
- ``stress``    (6,)   out: Cauchy stress (Mandel), units of the moduli
- ``tangent``   (6,6)  out: consistent (algorithmic) tangent d stress / d eps
- ``state_new`` (nsv,) out: internal variables at the end of the increment
- ``ws``        (≥ MAX_NWS,) caller's scratch (contents irrelevant; no allocation in the update)
- returns ``STATUS_OK`` (0), ``STATUS_NONCONVERGED`` or ``STATUS_BADINPUT`` (never raises)

Law ids, sizes and statuses are those of :mod:`dmn_umat.laws.catalogue` (re-exported here for
the numba callers); the updates themselves live one file per law (``elastic.py``, ``j2.py``,
``viscoplastic.py``, ``creep.py``, ``chaboche.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..sources import guard_numba_cache
from . import catalogue, chaboche, creep, elastic, j2, viscoplastic
from .catalogue import (  # noqa: F401 - the numba callers read these as update.<NAME>
    LAW_ANISO,
    LAW_CHABOCHE,
    LAW_CREEP,
    LAW_ELASTIC,
    LAW_J2,
    LAW_VP,
    MAX_NPROPS,
    MAX_NSTATE,
    MAX_NWS,
    NPROPS,
    NSTATE,
    STATUS_BADINPUT,
    STATUS_NONCONVERGED,
    STATUS_OK,
)

#: per law id (numba-friendly copies of the catalogue): props length, state size, flags
NPROPS_BY_ID = np.array([law.nprops for law in catalogue.LAWS], dtype=np.int64)
_NSTATE_BY_ID = np.array([law.nstate for law in catalogue.LAWS], dtype=np.int64)
_LINEAR_BY_ID = np.array([law.linear for law in catalogue.LAWS], dtype=np.bool_)
_ISOTROPIC_BY_ID = np.array([law.isotropic for law in catalogue.LAWS], dtype=np.bool_)
_SMALL_BY_ID = np.array([not law.finite for law in catalogue.LAWS], dtype=np.bool_)

@njit(cache=True)
def law_nstate(props):
    """Number of state variables of the law in ``props`` (0 for an unknown id)."""
    law = int(props[0])
    if 0 <= law < _NSTATE_BY_ID.size:
        return _NSTATE_BY_ID[law]
    return 0


@njit(cache=True)
def law_known(props):
    """True if ``props[0]`` is the id of a small-strain law of the catalogue (the finite-strain
    ones, ``Law.finite``, run in :mod:`dmn_umat.laws.finite_update` only)."""
    law = int(props[0])
    return 0 <= law < NPROPS_BY_ID.size and _SMALL_BY_ID[law]


@njit(cache=True)
def law_linear(props):
    """True for a known linear law (stress = C ε, no state; ``Law.linear``)."""
    return law_known(props) and _LINEAR_BY_ID[int(props[0])]


@njit(cache=True)
def law_isotropic(props):
    """True for a known frame-indifferent law (``Law.isotropic``): rotations may be skipped."""
    return law_known(props) and _ISOTROPIC_BY_ID[int(props[0])]


@njit(cache=True)
def elastic_stiffness(props, C):
    """Write the elastic Mandel stiffness (6,6) of the law in ``props`` into ``C`` (the J2
    family: at the reference temperature T0).

    Returns STATUS_OK, or STATUS_BADINPUT for an unknown law id.
    """
    if not law_known(props):
        return STATUS_BADINPUT
    if int(props[0]) == LAW_ANISO:
        elastic.aniso_stiffness(props, C)
    else:  # every other law's props start [id, E, nu, ...]
        elastic.isotropic_stiffness(props, C)
    return STATUS_OK


# inlined (numba IR) into its callers: the dispatch over five laws otherwise costs the J2
# network ~3 % at depth 7 (measured; benchmarks/bench_online.py)
@njit(cache=True, inline="always")
def phase_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws):
    """Stress, consistent tangent and new state of one material point (see module doc)."""
    for i in range(6):
        if not math.isfinite(eps[i]):
            return STATUS_BADINPUT
    law = int(props[0])
    if law == LAW_J2:
        if ws.shape[0] < 6:
            return STATUS_BADINPUT
        return j2.j2_update(props, eps, state_old, stress, tangent, state_new, ws)
    if law == LAW_VP:
        return viscoplastic.vp_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws)
    if law == LAW_CREEP:
        return creep.creep_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws)
    if law == LAW_CHABOCHE:
        return chaboche.chaboche_update(props, eps, state_old, dt, temp, dtemp, stress, tangent,
                                        state_new, ws)
    if law_linear(props):
        # linear laws: the tangent doubles as the stiffness buffer
        status = elastic_stiffness(props, tangent)
        if status != STATUS_OK:
            return status
        elastic.linear_stress(tangent, eps, stress)
        return STATUS_OK
    return STATUS_BADINPUT


guard_numba_cache(law_nstate, __file__)
