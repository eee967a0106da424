"""The batched material interface every solver consumes (FE, point driver, assessment).

A material evaluates many integration points at once, point-major arrays, Mandel
convention, float64:

    out = material.update(strain, state_old, dt, temp, dtemp)     # a MaterialUpdate
    stress, tangent, state_new, status = out     # (or by name: out.tangent, ...)

- ``strain``    (npts, 6)      total strain at the end of the increment
- ``state_old`` (npts, nstate) start-of-increment state (never modified)
- ``dt`` time increment (≥ 0, default 0), ``temp`` temperature at the start of the increment
  and ``dtemp`` its increment (default 0): read by the rate / temperature dependent laws only
- ``stress``    (npts, 6), ``tangent`` (npts, 6, 6), ``state_new`` (npts, nstate)
- ``status``    (npts,) int: 0 converged, 1 cut back requested, 2 failed

``material.suggested_ratio(status)`` gives a step ratio (< 1) to retry with when any point
did not converge.  ``material.initial_state(npts)`` gives zero-strain states and
``material.fields(state)`` named per-point scalars for output (e.g. equivalent plastic
strain per phase).  :class:`PhaseMaterial` is a single phase law (e.g. plain J2); the network
surrogate is :class:`dmn_umat.online.solver.NetworkMaterial`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import numpy as np
from numba import njit, prange

from ..sources import guard_numba_cache
from . import update as laws
from .spec import Phase, parse_phase


class MaterialUpdate(NamedTuple):
    """Result of :meth:`Material.update` (unpacks like the 4-tuple it replaces)."""

    stress: np.ndarray  #: (npts, 6) Mandel stress
    tangent: np.ndarray  #: (npts, 6, 6) consistent tangent d stress / d strain
    state: np.ndarray  #: (npts, nstate) end-of-increment state
    status: np.ndarray  #: (npts,) int64: 0 converged, 1 cut back requested, 2 failed


class Material(Protocol):
    nstate: int

    def initial_state(self, npts: int) -> np.ndarray: ...

    def update(
        self, strain: np.ndarray, state_old: np.ndarray,
        dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0,
    ) -> MaterialUpdate: ...

    def suggested_ratio(self, status: np.ndarray) -> float: ...

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]: ...


@njit(parallel=True, cache=True)
def _batched_phase_update(props, strain, state_old, dt, temp, dtemp, stress, tangent, state_new, ws, status):
    for p in prange(strain.shape[0]):
        status[p] = laws.phase_update(
            props, strain[p], state_old[p], dt, temp, dtemp, stress[p], tangent[p], state_new[p], ws[p]
        )


class PhaseMaterial:
    """One phase law at every point (homogeneous material), batched and parallel."""

    def __init__(self, phase: Phase | str):
        self.phase = parse_phase(phase) if isinstance(phase, str) else phase
        self.nstate = max(self.phase.nstate, 1)  # keep 2-D arrays non-empty

    def initial_state(self, npts: int) -> np.ndarray:
        return np.zeros((npts, self.nstate))

    def update(
        self, strain: np.ndarray, state_old: np.ndarray,
        dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0,
    ) -> MaterialUpdate:
        """Stress, tangent, new state and status of every point (module doc)."""
        strain = np.ascontiguousarray(strain, dtype=np.float64)
        n = strain.shape[0]
        stress = np.empty((n, 6))
        tangent = np.empty((n, 6, 6))
        state_new = np.empty_like(state_old)
        status = np.empty(n, dtype=np.int64)
        ws = np.empty((n, laws.MAX_NWS))
        _batched_phase_update(
            self.phase.props, strain, np.ascontiguousarray(state_old), float(dt), float(temp), float(dtemp),
            stress, tangent, state_new, ws, status,
        )
        status[status != laws.STATUS_OK] = 2
        return MaterialUpdate(stress, tangent, state_new, status)

    def suggested_ratio(self, status: np.ndarray) -> float:
        return 0.5

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """The law's named state entries (e.g. ``peeq`` of J2), (npts,) each."""
        return {name: state[:, i].copy() for name, i in self.phase.fields.items()}


guard_numba_cache(_batched_phase_update, __file__)
