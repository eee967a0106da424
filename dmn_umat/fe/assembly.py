"""Vectorized assembly: precomputed B matrices per Gauss point, a CSR pattern computed once and a
scatter map from element matrices to CSR data.

Global dofs are node-interleaved: dof ``dim*node + component``.  Integration points are
element-major: point ``q = e*ngp + g``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ..sources import guard_numba_cache
from .elements import ELEMENTS, apply_bbar, b_matrices, extrapolation_matrix, jacobians
from .mesh import Mesh


@njit(parallel=True, cache=True)
def _element_stiffness(B, wdet, D, Ke):
    """Ke[e] = Σ_g wdet[e,g] B[e,g]ᵀ D[e*ngp+g] B[e,g]   (B: (ne,ngp,nk,nde), D: (ne*ngp,nk,nk);
    nk = 6 Mandel strain, 9 displacement gradient in :mod:`dmn_umat.fe.finite`)."""
    ne, ngp, nk, nde = B.shape
    for e in prange(ne):
        DB = np.empty((nk, nde))
        for i in range(nde):
            for j in range(nde):
                Ke[e, i, j] = 0.0
        for g in range(ngp):
            q = e * ngp + g
            w = wdet[e, g]
            for k in range(nk):
                for j in range(nde):
                    s = 0.0
                    for m in range(nk):
                        s += D[q, k, m] * B[e, g, m, j]
                    DB[k, j] = s * w
            for i in range(nde):
                for k in range(nk):
                    b = B[e, g, k, i]
                    if b != 0.0:
                        for j in range(nde):
                            Ke[e, i, j] += b * DB[k, j]


@njit(cache=True)
def _scatter(values, index, out):
    for i in range(out.size):
        out[i] = 0.0
    for k in range(values.size):
        out[index[k]] += values[k]


class Assembler:
    """Discretization of ``mesh``: B matrices, weights, dof maps and the CSR pattern.

    Attributes: ``B`` (ne, ngp, 6, nde) Mandel strain-displacement, ``wdet`` (ne, ngp) point
    volumes (area × unit thickness in 2D), ``edofs`` (ne, nde) global dofs, ``ndof``,
    ``npts = ne*ngp``, ``gp_coords`` (npts, dim).
    """

    def __init__(self, mesh: Mesh, bbar: bool | None = None):
        self.mesh = mesh
        self.ref = ELEMENTS[mesh.cell_type]
        dim = self.dim = mesh.dim
        X = mesh.points[mesh.cells]
        dNdx, self.wdet = jacobians(self.ref, X)
        B = b_matrices(dNdx, dim)
        if bbar is None:
            bbar = mesh.cell_type in ("quad", "hexahedron")
        self.bbar = bool(bbar)
        self.B = np.ascontiguousarray(apply_bbar(B, self.wdet) if self.bbar else B)
        self.ngp = self.ref.ngp
        self.npts = mesh.n_cells * self.ngp
        self.ndof = mesh.n_nodes * dim
        self.edofs = (mesh.cells[:, :, None] * dim + np.arange(dim)[None, None, :]).reshape(mesh.n_cells, -1)
        self.gp_coords = np.einsum("ga,eai->egi", self.ref.shape(self.ref.points), X).reshape(-1, dim)
        self.extrap = extrapolation_matrix(self.ref)
        # CSR pattern (sorted row-major) and the map element entry -> CSR data slot
        nde = self.edofs.shape[1]
        rows = np.repeat(self.edofs, nde, axis=1).ravel()
        cols = np.tile(self.edofs, (1, nde)).ravel()
        keys = rows * self.ndof + cols
        ukeys, inv = np.unique(keys, return_inverse=True)
        self._map = inv.ravel().astype(np.int64)
        self._indices = (ukeys % self.ndof).astype(np.int32)
        self._indptr = np.zeros(self.ndof + 1, np.int64)
        np.cumsum(np.bincount(ukeys // self.ndof, minlength=self.ndof), out=self._indptr[1:])
        self._Ke = np.empty((mesh.n_cells, nde, nde))
        self._data = np.empty(ukeys.size)

    # ------------------------------------------------------------------ kinematics
    def strain(self, u: np.ndarray) -> np.ndarray:
        """Mandel strain at every integration point (npts, 6) from global displacements (ndof,)."""
        ue = u[self.edofs]
        return np.einsum("egkd,ed->egk", self.B, ue, optimize=True).reshape(self.npts, self.B.shape[2])

    def internal_force(self, stress: np.ndarray) -> np.ndarray:
        """f_int (ndof,) = Σ Bᵀ σ wdet from point stresses (npts, 6)."""
        s = stress.reshape(self.mesh.n_cells, self.ngp, self.B.shape[2]) * self.wdet[:, :, None]
        fe = np.einsum("egkd,egk->ed", self.B, s, optimize=True)
        return np.bincount(self.edofs.ravel(), weights=fe.ravel(), minlength=self.ndof)

    def stiffness(self, tangent: np.ndarray) -> sp.csr_matrix:
        """Global tangent stiffness (CSR, fixed pattern) from point tangents (npts, 6, 6)."""
        _element_stiffness(self.B, self.wdet, np.ascontiguousarray(tangent), self._Ke)
        return self._csr()

    def _csr(self) -> sp.csr_matrix:
        """Global CSR matrix (fixed pattern) from the element matrices in ``self._Ke``."""
        _scatter(self._Ke.ravel(), self._map, self._data)
        return sp.csr_matrix((self._data.copy(), self._indices, self._indptr), shape=(self.ndof, self.ndof))

    def nodal_average(self, values: np.ndarray) -> np.ndarray:
        """Extrapolate point values (npts, k) to nodes and average over the elements sharing a node."""
        v = values.reshape(self.mesh.n_cells, self.ngp, -1)
        ve = np.einsum("ag,egk->eak", self.extrap, v)
        nn = self.mesh.n_nodes
        out = np.zeros((nn, v.shape[2]))
        cnt = np.bincount(self.mesh.cells.ravel(), minlength=nn).astype(float)
        for k in range(v.shape[2]):
            out[:, k] = np.bincount(self.mesh.cells.ravel(), weights=ve[:, :, k].ravel(), minlength=nn)
        return out / np.maximum(cnt, 1.0)[:, None]

    def cell_average(self, values: np.ndarray) -> np.ndarray:
        """Volume-weighted element mean of point values (npts, k) → (ne, k)."""
        v = values.reshape(self.mesh.n_cells, self.ngp, -1)
        return np.einsum("eg,egk->ek", self.wdet, v) / self.wdet.sum(1)[:, None]


guard_numba_cache(_element_stiffness, __file__)
