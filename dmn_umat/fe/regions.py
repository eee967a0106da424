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


#: A₂ (a11, a22, a33, a23, a13, a12) → XDMF Tensor6 order (xx, xy, xz, yy, yz, zz)
_A2_TENSOR6 = [0, 5, 4, 1, 3, 2]


class OrientedMaterial:
    """An orientation-aware batched material (``update(strain, state, a2)``, e.g.
    :class:`dmn_umat.online.parametric.ParametricNetworkMaterial`) with a fixed A₂ per point.

    ``a2`` (npts, 6): components a11, a22, a33, a23, a13, a12 of each integration point (constant
    over the analysis).  Follows the batched protocol of :mod:`dmn_umat.laws.material`; ``fields``
    adds ``a2`` (npts, 6) in XDMF ``Tensor6`` order (xx, xy, xz, yy, yz, zz) for ParaView."""

    def __init__(self, material, a2: np.ndarray, label: str | None = None):
        self.material = material
        self.a2 = np.ascontiguousarray(a2, dtype=np.float64)
        if self.a2.ndim != 2 or self.a2.shape[1] != 6:
            raise ValueError(f"OrientedMaterial: a2 must be (npts, 6), got {self.a2.shape}")
        self.npts = self.a2.shape[0]
        self.nstate = int(material.nstate)
        self.label = label or getattr(material, "label", type(material).__name__)

    def _check(self, n: int) -> None:
        if n != self.npts:
            raise ValueError(f"OrientedMaterial holds A2 of {self.npts} points, got {n}")

    def initial_state(self, npts: int) -> np.ndarray:
        self._check(npts)
        return self.material.initial_state(npts)

    def update(self, strain: np.ndarray, state_old: np.ndarray) -> MaterialUpdate:
        """Same contract as :meth:`dmn_umat.laws.PhaseMaterial.update`, each point at its own A₂."""
        self._check(np.atleast_2d(strain).shape[0])
        return self.material.update(strain, state_old, self.a2)

    def suggested_ratio(self, status: np.ndarray) -> float:
        return float(self.material.suggested_ratio(status))

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """The material's ``fields(state, a2)`` at the points' A₂ (none if it has no such method),
        plus ``a2``."""
        m = self.material
        out = dict(m.fields(state, self.a2)) if hasattr(m, "fields") else {}
        out["a2"] = self.a2[:, _A2_TENSOR6]
        return out
