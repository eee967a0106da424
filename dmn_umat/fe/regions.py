"""One material per region of a mesh: a batched material (protocol of :mod:`dmn_umat.laws.material`)
that hands each integration point to the material of its region.

``RegionMaterial(materials, point_region)``: ``point_region`` (npts,) gives each point's index
into ``materials``.  The state array is ``(npts, max nstate)``; a point uses the first
``nstate`` columns of its own material (the rest stay zero).  ``fields`` is the union of the
materials' fields, zero at points whose material has no such field.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..laws import MaterialUpdate


class RegionMaterial:
    """Materials by region: ``materials`` (list of batched materials), ``point_region`` (npts,) int."""

    def __init__(self, materials: Sequence, point_region: np.ndarray, labels: Sequence[str] | None = None):
        self.materials = list(materials)
        point_region = np.asarray(point_region, np.int64)
        if point_region.ndim != 1 or point_region.min() < 0 or point_region.max() >= len(self.materials):
            raise ValueError("point_region must be (npts,) indices into materials")
        self.npts = point_region.size
        self.points = [np.flatnonzero(point_region == r) for r in range(len(self.materials))]
        self.nstate = max(int(m.nstate) for m in self.materials)
        self.label = " | ".join(labels) if labels else "regions"

    def _check(self, n: int) -> None:
        if n != self.npts:
            raise ValueError(f"RegionMaterial is laid out for {self.npts} points, got {n}")

    def initial_state(self, npts: int) -> np.ndarray:
        self._check(npts)
        state = np.zeros((npts, self.nstate))
        for m, idx in zip(self.materials, self.points):
            state[idx, : m.nstate] = m.initial_state(idx.size)
        return state

    def update(self, strain: np.ndarray, state_old: np.ndarray) -> MaterialUpdate:
        """Same contract as :meth:`dmn_umat.laws.PhaseMaterial.update`, point by region."""
        n = strain.shape[0]
        self._check(n)
        stress, tangent = np.empty((n, 6)), np.empty((n, 6, 6))
        state_new = np.zeros_like(state_old)
        status = np.zeros(n, np.int64)
        for m, idx in zip(self.materials, self.points):
            if idx.size == 0:
                continue
            s, D, st, stat = m.update(strain[idx], np.ascontiguousarray(state_old[idx, : m.nstate]))
            stress[idx], tangent[idx], state_new[idx, : m.nstate], status[idx] = s, D, st, stat
        return MaterialUpdate(stress, tangent, state_new, status)

    def suggested_ratio(self, status: np.ndarray) -> float:
        """The smallest ratio any region with failed points suggests (0.5 if none failed)."""
        ratios = [m.suggested_ratio(status[idx]) for m, idx in zip(self.materials, self.points)
                  if np.any(status[idx] != 0)]
        return float(min(ratios)) if ratios else 0.5

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]:
        out: dict[str, np.ndarray] = {}
        for m, idx in zip(self.materials, self.points):
            for name, v in m.fields(state[idx, : m.nstate]).items():
                out.setdefault(name, np.zeros(self.npts))[idx] = v
        return out
