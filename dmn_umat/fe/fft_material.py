"""Concurrent FE×FFT: a nonlinear FFT RVE solve at every integration point (the reference the
DMN/IMN surrogate replaces), behind the batched material protocol of :mod:`dmn_umat.laws.material`.

Each point carries the full RVE state: per-voxel phase state (nvox × nsv) followed by the
periodic displacement fluctuation (3 × nvox), so ``nstate = nvox·(nsv + 3)``.  Every update is
one :meth:`dmn_umat.rve.fft.RVE.increment` (all six macroscopic strain components prescribed,
the same code path as :func:`dmn_umat.rve.fft.dns`): the stress is the voxel average, the
macroscopic consistent tangent comes from six linearized periodic cell problems, so the FE
Newton keeps its quadratic convergence.  Expensive by design (use tiny meshes and RVEs, e.g. 8³).
"""

from __future__ import annotations

import numpy as np

from ..laws import MaterialUpdate


class FFTMaterial:
    """FE×FFT material: ``micro`` (nx, ny, nz) phase ids into ``phases`` (Phase objects)."""

    def __init__(self, micro: np.ndarray, phases, tol: float = 1e-9, max_newton: int = 25):
        from ..rve import fft

        self._fft = fft
        self.phases = list(phases)
        self.rve = fft.RVE(micro, self.phases, (), tol, max_newton, 5000, workers=1)
        self.nvox, self.nsv, self.nx = self.rve.nvox, self.rve.nsv, self.rve.nx
        self.nstate = self.nvox * self.nsv + self.nx
        self.solves = 0
        # per voxel: the index of its law's equivalent plastic strain in the state (-1: none)
        kp = np.array([p.fields.get("peeq", -1) for p in self.phases], dtype=np.int64)
        self._kp_vox = kp[self.rve.phase]

    def initial_state(self, npts: int) -> np.ndarray:
        return np.zeros((npts, self.nstate))

    def update(
        self, strain, state_old, dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0
    ) -> MaterialUpdate:
        """Batched protocol: strain (n, 6) Mandel, state_old (n, nstate), time increment ``dt``,
        temperature ``temp`` and its increment ``dtemp`` -> stress, tangent, state_new, status
        (1 where the RVE increment did not converge; that point's state is kept)."""
        fft = self._fft
        strain = np.atleast_2d(np.asarray(strain, float))
        n = strain.shape[0]
        stress = np.zeros((n, 6))
        tangent = np.zeros((n, 6, 6))
        state_new = np.array(state_old, dtype=float, copy=True)
        status = np.zeros(n, dtype=np.int64)
        k = self.nvox * self.nsv
        for p in range(n):
            # the macro strain is fully prescribed: no stored previous increment, no extrapolation
            st = fft.RVEState(state_old[p, k:], state_old[p, :k].reshape(self.nvox, self.nsv), strain[p],
                              np.zeros(self.nx), np.zeros(6))
            try:
                stress[p], tangent[p], new, _ = self.rve.increment(
                    strain[p], st, extrapolate=False, dt=dt, temp=temp, dtemp=dtemp
                )
            except fft.FFTConvergenceError:
                status[p] = 1
                continue
            self.solves += 1
            state_new[p, :k] = new.state.reshape(-1)
            state_new[p, k:] = new.x
        return MaterialUpdate(stress, tangent, state_new, status)

    def suggested_ratio(self, status) -> float:
        return 0.5

    def fields(self, state) -> dict[str, np.ndarray]:
        has = self._kp_vox >= 0
        if not has.any():
            return {}
        k = self.nvox * self.nsv
        vox = state[:, :k].reshape(state.shape[0], self.nvox, self.nsv)
        p = vox[:, np.arange(self.nvox), np.maximum(self._kp_vox, 0)]
        return {"peeq": np.where(has[None, :], p, 0.0).mean(axis=1)}
