"""Concurrent FE×FFT: a nonlinear FFT RVE solve at every integration point (the reference the
DMN/IMN surrogate replaces), behind the batched material protocol of :mod:`dmn_umat.material`.

Each point carries the full RVE state: per-voxel phase state (nvox × nsv) followed by the
periodic displacement fluctuation (3 × nvox), so ``nstate = nvox·(nsv + 3)``.  The stress is
the voxel average of the FFT DNS (:mod:`dmn_umat.rve.fft`, all six macroscopic strain
components prescribed); the macroscopic consistent tangent is
``C̄ e_j = ⟨C_alg (e_j + ∇ˢ w_j)⟩`` with ``w_j`` from one linearized periodic cell problem (PCG,
same FFT preconditioner) per column, so the FE Newton keeps its quadratic convergence.
Expensive by design (use tiny meshes and RVEs, e.g. 8³).
"""

from __future__ import annotations

import math

import numpy as np


class FFTMaterial:
    """FE×FFT material: ``micro`` (nx, ny, nz) phase ids into ``phases`` (Phase objects)."""

    def __init__(self, micro: np.ndarray, phases, tol: float = 1e-9, max_newton: int = 25):
        from ..rve import fft

        self._fft = fft
        self.phases = list(phases)
        ids = fft._check_micro(micro, len(self.phases))
        self.S = fft._DNSSolver(ids, self.phases, (), tol, max_newton, 5000, 1)
        s = self.S.solver
        self.nvox, self.nsv, self.nx = s.N, self.S.nsv, s.n
        self.nstate = self.nvox * self.nsv + self.nx
        self.solves = 0
        j2 = np.array([int(p.props[0]) == 2 for p in self.phases])
        self._j2_vox = j2[self.S.phase]

    def initial_state(self, npts: int) -> np.ndarray:
        return np.zeros((npts, self.nstate))

    def _tangent(self) -> np.ndarray:
        S, s = self.S, self.S.solver
        C = np.empty((6, 6))
        q = np.empty(s.n)
        z = np.empty(s.n)
        for j in range(6):
            e = np.zeros(6)
            e[j] = 1.0
            s.apply(np.zeros(s.n), S.tang, S.idx, q, E=e)
            b = -q
            s.precond(b, z)
            res0 = math.sqrt(max(float(b @ z), 0.0))
            w = np.zeros(s.n)
            if res0 > 0.0:
                s.pcg(b, w, S.tang, S.idx, 1e-11 * res0, 5000)
            total = s.apply(w, S.tang, S.idx, q, E=e)
            C[:, j] = (total[0] if isinstance(total, tuple) else total) / s.N
        return 0.5 * (C + C.T) if np.allclose(C, C.T, rtol=1e-6, atol=1e-9 * np.abs(C).max()) else C

    def update(self, strain, state_old):
        strain = np.atleast_2d(np.asarray(strain, float))
        n = strain.shape[0]
        stress = np.zeros((n, 6))
        tangent = np.zeros((n, 6, 6))
        state_new = np.array(state_old, dtype=float, copy=True)
        status = np.zeros(n, dtype=np.int64)
        k = self.nvox * self.nsv
        for p in range(n):
            vox_old = np.ascontiguousarray(state_old[p, :k].reshape(self.nvox, self.nsv))
            x = state_old[p, k:].copy()
            try:
                _, _, mean = self.S.increment(x, strain[p], vox_old)
            except self._fft._NewtonFailure:
                status[p] = 1
                continue
            self.solves += 1
            stress[p] = mean
            tangent[p] = self._tangent()
            state_new[p, :k] = self.S.state_new.reshape(-1)
            state_new[p, k:] = x
        return stress, tangent, state_new, status

    def suggested_ratio(self, status) -> float:
        return 0.5

    def fields(self, state) -> dict[str, np.ndarray]:
        if self.nsv < 7 or not self._j2_vox.any():
            return {}
        k = self.nvox * self.nsv
        p = state[:, :k].reshape(state.shape[0], self.nvox, self.nsv)[:, :, 6]
        return {"peeq": np.where(self._j2_vox[None, :], p, 0.0).mean(axis=1)}
