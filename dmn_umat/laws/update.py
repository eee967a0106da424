"""One material point of any phase law: dispatch by the law id in ``props[0]`` (numba).

Shared by the online network kernel, the FFT DNS, the batched :class:`PhaseMaterial` and the
C ABI (one implementation).  Total-strain form at small strain, Mandel convention
(:mod:`dmn_umat.tensors`):

    status = phase_update(props, eps, state_old, stress, tangent, state_new)

- ``props``     (nprops,) law id then parameters (layouts: :mod:`dmn_umat.laws`)
- ``eps``       (6,)   total strain at the end of the increment (Mandel)
- ``state_old`` (nsv,) internal variables at the start of the increment (read only)
- ``stress``    (6,)   out: Cauchy stress (Mandel), units of the moduli
- ``tangent``   (6,6)  out: consistent (algorithmic) tangent d stress / d eps
- ``state_new`` (nsv,) out: internal variables at the end of the increment
- returns ``STATUS_OK`` (0), ``STATUS_NONCONVERGED`` or ``STATUS_BADINPUT`` (never raises)

Law ids, sizes and statuses are those of :mod:`dmn_umat.laws.catalogue` (re-exported here for
the numba callers); the updates themselves live one file per law (``elastic.py``, ``j2.py``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..sources import guard_numba_cache
from . import catalogue, elastic, j2
from .catalogue import (  # noqa: F401 - the numba callers read these as update.<NAME>
    LAW_ANISO,
    LAW_ELASTIC,
    LAW_J2,
    MAX_NPROPS,
    MAX_NSTATE,
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

@njit(cache=True)
def law_nstate(props):
    """Number of state variables of the law in ``props`` (0 for an unknown id)."""
    law = int(props[0])
    if 0 <= law < _NSTATE_BY_ID.size:
        return _NSTATE_BY_ID[law]
    return 0


@njit(cache=True)
def law_known(props):
    """True if ``props[0]`` is the id of a law of the catalogue."""
    law = int(props[0])
    return 0 <= law < NPROPS_BY_ID.size


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
    """Write the elastic Mandel stiffness (6,6) of the law in ``props`` into ``C``.

    Returns STATUS_OK, or STATUS_BADINPUT for an unknown law id.
    """
    law = int(props[0])
    if law == LAW_ELASTIC or law == LAW_J2:
        elastic.isotropic_stiffness(props, C)
        return STATUS_OK
    if law == LAW_ANISO:
        elastic.aniso_stiffness(props, C)
        return STATUS_OK
    return STATUS_BADINPUT


@njit(cache=True)
def phase_update(props, eps, state_old, stress, tangent, state_new):
    """Stress, consistent tangent and new state of one material point (see module doc)."""
    for i in range(6):
        if not math.isfinite(eps[i]):
            return STATUS_BADINPUT
    law = int(props[0])
    if law == LAW_J2:
        return j2.j2_update(props, eps, state_old, stress, tangent, state_new, np.empty(6))
    if law_linear(props):
        # linear laws: the tangent doubles as the stiffness buffer
        status = elastic_stiffness(props, tangent)
        if status != STATUS_OK:
            return status
        elastic.linear_stress(tangent, eps, stress)
        return STATUS_OK
    return STATUS_BADINPUT


@njit(cache=True)
def phase_update_ws(props, eps, state_old, stress, tangent, state_new, ws):
    """:func:`phase_update` with a caller-provided scratch ``ws`` (≥ 6 floats): allocation-free,
    for hot loops (the online network kernel).  Same results as :func:`phase_update`."""
    for i in range(6):
        if not math.isfinite(eps[i]):
            return STATUS_BADINPUT
    if int(props[0]) == LAW_J2:
        return j2.j2_update(props, eps, state_old, stress, tangent, state_new, ws)
    return phase_update(props, eps, state_old, stress, tangent, state_new)


guard_numba_cache(law_nstate, __file__)
