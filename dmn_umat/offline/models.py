"""Torch (float64) material networks of depth K: DMN (with rotations) and IMN (rotation-free).

Both are complete binary trees with 2**K leaves, evaluated bottom-up one tree level at a
time, vectorized over the batch and over all nodes of a level.  Nodes are numbered in
breadth-first order (BFS: root 0, children of b are 2b+1 and 2b+2); leaves alternate
phase 0 (``C1``) and phase 1 (``C2``).  All stiffnesses are Mandel (…, 6, 6) in the
conventions of :mod:`dmn_umat.tensors`.

- Leaf weights ``w = act(z)``: ``softplus`` (default for both; never exactly zero) or ``relu``
  (as in Liu et al.; dead leaves are pruned at export, but at depth 4 they cost up to ~1.8× the
  error: docs/training.md, "Robustness of the defaults").
  Child volume fractions ``f1 = w_c1 / (w_c1 + w_c2)``; a node whose children both have zero
  weight takes ``C2`` (its weight is zero so it never matters above).
- Laminate of docs/design.md §3: ``C̄ = f1 C1 + f2 C2 − f1 f2 ΔCᵀH (HᵀC̃H)⁻¹ HᵀΔC``.
- :class:`DMN` (Liu, Wu & Koishi 2019; Liu & Wu 2019, 3-D): every node, leaves included,
  has z-y-z Euler angles (a, b, c) → R = Rz(a) Ry(b) Rz(c) (:func:`tensors.rotation_from_euler`).
  A leaf is the phase stiffness rotated by its R; an internal node laminates its children
  with the fixed **local normal e3** and rotates the result by its own R:
  ``C_k = Q(R_k) lam(C_c1, C_c2, e3) Q(R_k)ᵀ``.
- :class:`IMN` (Noels 2022; Gajek et al. 2020): no rotations; internal node k laminates with
  its own global normal ``n_k = (sinθ cosφ, sinθ sinφ, cosθ)`` (:func:`tensors.normal_from_angles`).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .. import tensors

DTYPE = torch.float64
E3 = np.array([0.0, 0.0, 1.0])


def _h_basis() -> torch.Tensor:
    """(6,3,3) T with H(n)[a,i] = Σ_j T[a,i,j] n_j."""
    T = np.stack([tensors.h_matrix(e) for e in np.eye(3)], axis=-1)
    return torch.tensor(T, dtype=DTYPE)


def _mandel_basis() -> torch.Tensor:
    """(6,3,3) orthonormal Mandel basis tensors E_a (mandel(E_a) = unit vector a)."""
    return torch.tensor(np.stack([tensors.from_mandel(e) for e in np.eye(6)]), dtype=DTYPE)


_T_H = _h_basis()
_E_M = _mandel_basis()


def h_matrices(n: torch.Tensor) -> torch.Tensor:
    """(M,3) normals → (M,6,3) H(n) (Mandel sym(a⊗n) = H a)."""
    return torch.einsum("aij,mj->mai", _T_H, n)


def normals_from_angles(theta: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
    """(M,), (M,) → (M,3) unit normals (sinθ cosφ, sinθ sinφ, cosθ)."""
    st = torch.sin(theta)
    return torch.stack([st * torch.cos(phi), st * torch.sin(phi), torch.cos(theta)], dim=-1)


def rotations_from_euler(angles: torch.Tensor) -> torch.Tensor:
    """(M,3) z-y-z Euler angles → (M,3,3) R = Rz(a) Ry(b) Rz(c)."""
    a, b, c = angles.unbind(-1)
    ca, sa, cb, sb, cc, sc = (
        torch.cos(a),
        torch.sin(a),
        torch.cos(b),
        torch.sin(b),
        torch.cos(c),
        torch.sin(c),
    )
    rows = [
        [ca * cb * cc - sa * sc, -ca * cb * sc - sa * cc, ca * sb],
        [sa * cb * cc + ca * sc, -sa * cb * sc + ca * cc, sa * sb],
        [-sb * cc, sb * sc, cb],
    ]
    return torch.stack([torch.stack(r, dim=-1) for r in rows], dim=-2)


def rotation_mandel(R: torch.Tensor) -> torch.Tensor:
    """(M,3,3) rotations → (M,6,6) Q with mandel(R ε Rᵀ) = Q mandel(ε) (C' = Q C Qᵀ)."""
    return torch.einsum("aij,mik,bkl,mjl->mab", _E_M, R, _E_M, R)


def laminate(C1: torch.Tensor, C2: torch.Tensor, f1: torch.Tensor, H: torch.Tensor) -> torch.Tensor:
    """Batched rank-1 laminate: C (B,M,6,6), f1 (M,), H (M,6,3) → (B,M,6,6)."""
    f1 = f1[:, None, None]
    f2 = 1.0 - f1
    dC = C2 - C1
    Ct = f2 * C1 + f1 * C2
    Ht = H.transpose(-1, -2)
    A = Ht @ Ct @ H
    Bm = Ht @ dC
    X = torch.linalg.solve(A, Bm)
    return f1 * C1 + f2 * C2 - (f1 * f2) * (Bm.transpose(-1, -2) @ X)


class MaterialNetwork(torch.nn.Module):
    """Common part: leaf activations z, weights, bottom-up level sweep."""

    formulation = "?"

    def __init__(self, depth: int, activation: str = "softplus", init: str = "uniform", seed: int = 0):
        super().__init__()
        if depth < 1 or depth > 12:
            raise ValueError(f"depth must be in 1..12, got {depth}")
        if activation not in ("relu", "softplus"):
            raise ValueError(f"activation must be relu or softplus, got {activation!r}")
        if init not in ("uniform", "normal"):
            raise ValueError(f"init must be uniform or normal, got {init!r}")
        self.depth = int(depth)
        self.activation = activation
        self.n_leaves = 2**depth
        g = torch.Generator().manual_seed(int(seed))
        if init == "uniform":
            z = 0.2 + 0.6 * torch.rand(self.n_leaves, generator=g, dtype=DTYPE)
        else:
            z = (0.5 + 0.15 * torch.randn(self.n_leaves, generator=g, dtype=DTYPE)).clamp(min=0.05)
        if activation == "softplus":
            z = torch.log(torch.expm1(z))  # so that the initial weights equal the relu case
        self.z = torch.nn.Parameter(z)
        self._gen = g  # continues the stream for the angle initialization of subclasses
        self.register_buffer("w0", self.weights().detach().sum())

    def weights(self) -> torch.Tensor:
        """(2**K,) leaf weights ≥ 0 in left-to-right order."""
        if self.activation == "relu":
            return torch.relu(self.z)
        return torch.nn.functional.softplus(self.z)

    def _leaf_stiffness(self, C1: torch.Tensor, C2: torch.Tensor) -> torch.Tensor:
        return torch.stack([C1, C2], dim=1).repeat(1, self.n_leaves // 2, 1, 1)

    def _combine(self, C: torch.Tensor, level: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, C1: torch.Tensor, C2: torch.Tensor) -> torch.Tensor:
        """Phase stiffnesses (B,6,6) each → effective stiffness (B,6,6)."""
        C = self._leaf_stiffness(C1, C2)
        C = self._leaves(C)
        W = self.weights()
        for level in range(self.depth - 1, -1, -1):
            w1, w2 = W[0::2], W[1::2]
            W = w1 + w2
            f1 = w1 / torch.where(W > 0, W, torch.ones_like(W))
            C = self._combine(laminate(C[:, 0::2], C[:, 1::2], f1, self._h(level)), level)
        return C[:, 0]

    def _leaves(self, C: torch.Tensor) -> torch.Tensor:
        return C

    def _h(self, level: int) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    @staticmethod
    def _level_slice(level: int) -> slice:
        return slice(2**level - 1, 2 ** (level + 1) - 1)


class IMN(MaterialNetwork):
    """Rotation-free network: per internal node angles (θ, φ) of its global normal."""

    formulation = "imn"

    def __init__(
        self,
        depth: int,
        activation: str = "softplus",
        init: str = "uniform",
        angles: str = "random",
        seed: int = 0,
    ):
        super().__init__(depth, activation, init, seed)
        m = self.n_leaves - 1
        g = self._gen
        if angles == "random":  # uniform on the sphere
            theta = torch.arccos(1.0 - 2.0 * torch.rand(m, generator=g, dtype=DTYPE))
            phi = 2.0 * math.pi * torch.rand(m, generator=g, dtype=DTYPE)
        elif angles == "structured":  # level l laminates along axis (l mod 3), slightly perturbed
            axis_angles = {0: (math.pi / 2, 0.0), 1: (math.pi / 2, math.pi / 2), 2: (0.0, 0.0)}
            lv = torch.floor(torch.log2(torch.arange(1, m + 1, dtype=DTYPE))).long()
            base = torch.tensor([axis_angles[int(i) % 3] for i in lv], dtype=DTYPE)
            noise = 0.1 * torch.randn(m, 2, generator=g, dtype=DTYPE)
            theta, phi = (base + noise).unbind(-1)
        else:
            raise ValueError(f"angles must be random or structured, got {angles!r}")
        self.theta = torch.nn.Parameter(theta.clone())
        self.phi = torch.nn.Parameter(phi.clone())

    def normals(self) -> torch.Tensor:
        """(2**K − 1, 3) unit normals of internal nodes, BFS order."""
        return normals_from_angles(self.theta, self.phi)

    def _h(self, level: int) -> torch.Tensor:
        s = self._level_slice(level)
        return h_matrices(normals_from_angles(self.theta[s], self.phi[s]))

    def _combine(self, C: torch.Tensor, level: int) -> torch.Tensor:
        return C


class DMN(MaterialNetwork):
    """Rotation-based network: laminate along local e3, then rotate by the node's R."""

    formulation = "dmn"

    def __init__(
        self,
        depth: int,
        activation: str = "softplus",
        init: str = "uniform",
        angles: str = "random",
        seed: int = 0,
    ):
        super().__init__(depth, activation, init, seed)
        m = 2 * self.n_leaves - 1  # internal nodes then leaves, BFS
        g = self._gen
        if angles == "random":
            ang = math.pi * (2.0 * torch.rand(m, 3, generator=g, dtype=DTYPE) - 1.0)
        elif angles == "structured":
            # right angles (so successive levels laminate along different axes) plus small noise
            quarter = torch.randint(0, 4, (m, 3), generator=g).to(DTYPE) * (math.pi / 2)
            ang = quarter + 0.1 * torch.randn(m, 3, generator=g, dtype=DTYPE)
        else:
            raise ValueError(f"angles must be random or structured, got {angles!r}")
        self.angles = torch.nn.Parameter(ang)
        self.register_buffer("_h_e3", h_matrices(torch.tensor(E3, dtype=DTYPE)[None]))

    def node_rotations(self) -> torch.Tensor:
        """(2**(K+1) − 1, 3, 3) own rotation R of every node, BFS order."""
        return rotations_from_euler(self.angles)

    def _rotate(self, C: torch.Tensor, s: slice) -> torch.Tensor:
        Q = rotation_mandel(rotations_from_euler(self.angles[s]))
        return Q @ C @ Q.transpose(-1, -2)

    def _leaves(self, C: torch.Tensor) -> torch.Tensor:
        return self._rotate(C, self._level_slice(self.depth))

    def _h(self, level: int) -> torch.Tensor:
        return self._h_e3.expand(2**level, 6, 3)

    def _combine(self, C: torch.Tensor, level: int) -> torch.Tensor:
        return self._rotate(C, self._level_slice(level))


def build(
    formulation: str,
    depth: int,
    activation: str | None = None,
    init: str = "uniform",
    angles: str = "random",
    seed: int = 0,
) -> MaterialNetwork:
    """Factory: ``formulation`` 'dmn' | 'imn'; ``activation`` None → softplus for both."""
    if formulation == "dmn":
        return DMN(depth, activation or "softplus", init, angles, seed)
    if formulation == "imn":
        return IMN(depth, activation or "softplus", init, angles, seed)
    raise ValueError(f"formulation must be dmn or imn, got {formulation!r}")
