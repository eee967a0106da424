"""Isoparametric elements for the small-strain FE solver: shape functions, Gauss rules and the
precomputed strain-displacement matrices.

Element types (node ordering as gmsh / meshio / VTK):

=========  ===  ====  ==============================
type       dim  nen   rule
=========  ===  ====  ==============================
triangle   2    3     1 point (constant strain)
quad       2    4     2x2 Gauss
tetra      3    4     1 point (constant strain)
hexahedron 3    8     2x2x2 Gauss
=========  ===  ====  ==============================

Facet types (for surface tractions): ``line`` (2 nodes, 2-point Gauss), ``triangle``,
``quad``.  Element dofs are node-interleaved (u1, u2[, u3] per node).

Strain is a **Mandel** 6-vector (order 11, 22, 33, 23, 13, 12, √2 on shear, see
:mod:`dmn_umat.tensors`).  ``B`` maps element dofs to it: ``eps = B @ u_e``, shape
``(ne, ngp, 6, nen*dim)``; in plane strain the rows 33, 23, 13 are zero, so the material sees
the full 6-vector with ε33 = ε13 = ε23 = 0 and ``Bᵀ σ`` / ``Bᵀ C B`` use only the in-plane
part of stress and tangent.  Optional B-bar (mean dilatation, Hughes 1980) replaces each point's
volumetric strain by the element mean (avoids volumetric locking of the full-integration quad
and hexahedron in plasticity); then ε33 is zero on element average but not point-wise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SQ2 = np.sqrt(2.0)
_G2 = 1.0 / np.sqrt(3.0)


@dataclass(frozen=True)
class RefElement:
    name: str
    dim: int
    nen: int
    points: np.ndarray  # (ngp, dim) reference coordinates
    weights: np.ndarray  # (ngp,)

    def shape(self, xi: np.ndarray) -> np.ndarray:
        """Shape functions (npts, nen) at reference points ``xi`` (npts, dim)."""
        return _SHAPE[self.name](np.atleast_2d(xi))[0]

    def dshape(self, xi: np.ndarray) -> np.ndarray:
        """Reference derivatives (npts, nen, dim)."""
        return _SHAPE[self.name](np.atleast_2d(xi))[1]

    @property
    def ngp(self) -> int:
        return self.points.shape[0]


def _line(xi):
    s = xi[:, 0]
    N = np.stack([(1 - s) / 2, (1 + s) / 2], axis=1)
    dN = np.stack([-0.5 * np.ones_like(s), 0.5 * np.ones_like(s)], axis=1)[:, :, None]
    return N, dN


def _tri(xi):
    r, s = xi[:, 0], xi[:, 1]
    N = np.stack([1 - r - s, r, s], axis=1)
    dN = np.broadcast_to(np.array([[-1.0, -1.0], [1.0, 0.0], [0.0, 1.0]]), (xi.shape[0], 3, 2)).copy()
    return N, dN


_QS = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], float)


def _quad(xi):
    a = 1 + xi[:, None, 0] * _QS[None, :, 0]
    b = 1 + xi[:, None, 1] * _QS[None, :, 1]
    N = a * b / 4
    dN = np.stack([_QS[None, :, 0] * b / 4, a * _QS[None, :, 1] / 4], axis=2)
    return N, dN


def _tet(xi):
    r, s, t = xi[:, 0], xi[:, 1], xi[:, 2]
    N = np.stack([1 - r - s - t, r, s, t], axis=1)
    d = np.array([[-1.0, -1.0, -1.0], [1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0]])
    return N, np.broadcast_to(d, (xi.shape[0], 4, 3)).copy()


_HS = np.array(
    [[-1, -1, -1], [1, -1, -1], [1, 1, -1], [-1, 1, -1], [-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1]],
    float,
)


def _hex(xi):
    f = 1 + xi[:, None, :] * _HS[None, :, :]  # (npts, 8, 3)
    N = f.prod(axis=2) / 8
    dN = np.stack(
        [
            _HS[None, :, 0] * f[:, :, 1] * f[:, :, 2] / 8,
            f[:, :, 0] * _HS[None, :, 1] * f[:, :, 2] / 8,
            f[:, :, 0] * f[:, :, 1] * _HS[None, :, 2] / 8,
        ],
        axis=2,
    )
    return N, dN


_SHAPE = {"line": _line, "triangle": _tri, "quad": _quad, "tetra": _tet, "hexahedron": _hex}

_g2 = np.array([-_G2, _G2])
ELEMENTS: dict[str, RefElement] = {
    "line": RefElement("line", 1, 2, _g2[:, None], np.ones(2)),
    "triangle": RefElement("triangle", 2, 3, np.array([[1 / 3, 1 / 3]]), np.array([0.5])),
    "quad": RefElement(
        "quad", 2, 4, np.array([[a, b] for b in _g2 for a in _g2]), np.ones(4)
    ),
    "tetra": RefElement("tetra", 3, 4, np.array([[0.25, 0.25, 0.25]]), np.array([1 / 6])),
    "hexahedron": RefElement(
        "hexahedron", 3, 8, np.array([[a, b, c] for c in _g2 for b in _g2 for a in _g2]), np.ones(8)
    ),
}
#: Solid element types by dimension, and the facet type of each solid type.
SOLID_TYPES = {2: ("triangle", "quad"), 3: ("tetra", "hexahedron")}
FACET_TYPES = {"triangle": "line", "quad": "line", "tetra": "triangle", "hexahedron": "quad"}


class MeshError(ValueError):
    """A mesh that cannot be used (inverted element, unknown type...); message is user-facing."""


def jacobians(ref: RefElement, X: np.ndarray):
    """Physical derivatives and integration weights.

    ``X`` (ne, nen, dim) nodal coordinates → ``dNdx`` (ne, ngp, nen, dim), ``wdet`` (ne, ngp)
    (Gauss weight × det J, i.e. the volume/area carried by each point, thickness 1 in 2D).
    Raises :class:`MeshError` for inverted or degenerate elements.
    """
    dN = ref.dshape(ref.points)  # (ngp, nen, dim)
    J = np.einsum("eai,gaj->egij", X, dN)
    det = np.linalg.det(J)
    if np.any(~np.isfinite(det)) or np.any(det <= 0.0):
        bad = int(np.argmin(np.where(np.isfinite(det), det, -np.inf).min(axis=1)))
        raise MeshError(f"{ref.name} element {bad} is inverted or degenerate (det J <= 0)")
    Jinv = np.linalg.inv(J)
    dNdx = np.einsum("gaj,egji->egai", dN, Jinv)
    return dNdx, det * ref.weights[None, :]


def b_matrices(dNdx: np.ndarray, dim: int) -> np.ndarray:
    """Mandel strain-displacement matrices (ne, ngp, 6, nen*dim) from ``dNdx`` (ne, ngp, nen, dim)."""
    ne, ngp, nen, _ = dNdx.shape
    B = np.zeros((ne, ngp, 6, nen * dim))
    d = [dNdx[..., i] for i in range(dim)]
    r = 1.0 / _SQ2
    B[:, :, 0, 0::dim] = d[0]
    B[:, :, 1, 1::dim] = d[1]
    B[:, :, 5, 0::dim] = r * d[1]
    B[:, :, 5, 1::dim] = r * d[0]
    if dim == 3:
        B[:, :, 2, 2::dim] = d[2]
        B[:, :, 3, 1::dim] = r * d[2]
        B[:, :, 3, 2::dim] = r * d[1]
        B[:, :, 4, 0::dim] = r * d[2]
        B[:, :, 4, 2::dim] = r * d[0]
    return B


def apply_bbar(B: np.ndarray, wdet: np.ndarray) -> np.ndarray:
    """Mean-dilatation B-bar: every point's volumetric strain becomes the element mean."""
    div = B[:, :, 0, :] + B[:, :, 1, :] + B[:, :, 2, :]  # (ne, ngp, nde)
    mean = np.einsum("eg,egd->ed", wdet, div) / wdet.sum(axis=1)[:, None]
    corr = (mean[:, None, :] - div) / 3.0
    Bb = B.copy()
    for i in range(3):
        Bb[:, :, i, :] += corr
    return Bb


def extrapolation_matrix(ref: RefElement) -> np.ndarray:
    """(nen, ngp) matrix taking Gauss-point values to the element's nodes (least squares)."""
    N = ref.shape(ref.points)  # (ngp, nen)
    if ref.ngp == 1:
        return np.ones((ref.nen, 1))
    return np.linalg.pinv(N)


def facet_measure(ftype: str, X: np.ndarray):
    """Shape values and weights for integrating over facets.

    ``X`` (nf, nfn, dim) facet node coordinates → ``N`` (ngp, nfn), ``wdet`` (nf, ngp): Gauss
    weight × facet length/area Jacobian, so ``∫ t N_a dA = Σ_g wdet N_ga t``.
    """
    if ftype == "line":
        ref = ELEMENTS["line"]
    elif ftype == "triangle":
        ref = RefElement("triangle", 2, 3, np.array([[1 / 6, 1 / 6], [2 / 3, 1 / 6], [1 / 6, 2 / 3]]),
                         np.full(3, 1 / 6))
    elif ftype == "quad":
        ref = ELEMENTS["quad"]
    else:
        raise MeshError(f"unknown facet type {ftype!r} (line, triangle, quad)")
    N = ref.shape(ref.points)
    dN = ref.dshape(ref.points)  # (ngp, nfn, fdim)
    T = np.einsum("fai,gaj->fgij", X, dN)  # tangents (nf, ngp, dim, fdim)
    if ref.dim == 1:
        jac = np.linalg.norm(T[..., 0], axis=-1)
    else:
        jac = np.linalg.norm(np.cross(T[..., 0], T[..., 1]), axis=-1)
    return N, jac * ref.weights[None, :]
