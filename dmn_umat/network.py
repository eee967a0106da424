"""In-memory material network (tree) shared by training export, the model file, the online
solver and the C ABI.

A network is a binary tree stored as flat node arrays in **pre-order** (every parent before
its children; node 0 is the root), so iterating in reverse visits children before parents.

- ``children`` (N, 2) int64: child node ids of internal nodes, ``-1`` for leaves
- ``normals``  (N, 3) float64: unit interaction normal of each internal node (global frame,
  rotation-free form); zeros for leaves
- ``weights``  (N,)  float64: leaf weights w_i ≥ 0; internal entries hold the sum of their
  children (kept consistent by :meth:`Network.refresh_weights`)
- ``phase``    (N,)  int64: phase index (0-based) of each leaf, ``-1`` for internal nodes
- ``rotations`` (N, 3, 3) float64 or None: per-leaf rotation R (phase material rotated by R,
  i.e. C_leaf = Q(R) C Q(R)ᵀ), identity for internal nodes; None = no rotations

A DMN with per-node rotations is exported to this rotation-free form (docs/design.md §3).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import tensors


@dataclass
class Network:
    children: np.ndarray
    normals: np.ndarray
    weights: np.ndarray
    phase: np.ndarray
    rotations: np.ndarray | None = None
    metadata: dict = field(default_factory=dict)

    # ----------------------------------------------------------------- structure
    @property
    def n_nodes(self) -> int:
        return int(self.children.shape[0])

    @property
    def is_leaf(self) -> np.ndarray:
        return self.children[:, 0] < 0

    @property
    def leaves(self) -> np.ndarray:
        return np.flatnonzero(self.is_leaf)

    @property
    def internal(self) -> np.ndarray:
        return np.flatnonzero(~self.is_leaf)

    @property
    def n_phases(self) -> int:
        return int(self.phase.max()) + 1

    def depth(self) -> int:
        """Length of the longest root-to-leaf path (a single laminate has depth 1)."""
        d = np.zeros(self.n_nodes, dtype=np.int64)
        for k in range(self.n_nodes):
            for c in self.children[k]:
                if c >= 0:
                    d[c] = d[k] + 1
        return int(d.max())

    def refresh_weights(self) -> None:
        """Recompute internal weights as sums of their children (in place)."""
        for k in range(self.n_nodes - 1, -1, -1):
            if self.children[k, 0] >= 0:
                self.weights[k] = self.weights[self.children[k]].sum()

    def volume_fractions(self) -> np.ndarray:
        """(n_phases,) phase volume fractions (leaf weight shares)."""
        leaves = self.leaves
        w = self.weights[leaves]
        return np.bincount(self.phase[leaves], weights=w, minlength=self.n_phases) / w.sum()

    def validate(self) -> None:
        """Raise ValueError if the arrays do not describe a valid network."""
        N = self.n_nodes
        if self.children.shape != (N, 2) or self.normals.shape != (N, 3):
            raise ValueError("network: children must be (N,2) and normals (N,3)")
        if self.weights.shape != (N,) or self.phase.shape != (N,):
            raise ValueError("network: weights and phase must be (N,)")
        if not np.all(np.isfinite(self.weights)) or np.any(self.weights < 0):
            raise ValueError("network: weights must be finite and non-negative")
        seen = np.zeros(N, dtype=np.int64)
        for k in range(N):
            c1, c2 = self.children[k]
            if (c1 < 0) != (c2 < 0):
                raise ValueError(f"network: node {k} has exactly one child")
            if c1 >= 0:
                if not (k < c1 < N and k < c2 < N) or c1 == c2:
                    raise ValueError(f"network: node {k} children {c1},{c2} not in pre-order")
                seen[c1] += 1
                seen[c2] += 1
                n = self.normals[k]
                if not np.all(np.isfinite(n)) or abs(np.linalg.norm(n) - 1.0) > 1e-10:
                    raise ValueError(f"network: normal of node {k} is not a unit vector")
            elif self.phase[k] < 0:
                raise ValueError(f"network: leaf {k} has no phase")
        if seen[0] != 0 or np.any(seen[1:] != 1):
            raise ValueError("network: nodes do not form a single tree rooted at node 0")
        if self.weights[self.leaves].sum() <= 0:
            raise ValueError("network: all leaf weights are zero")
        if self.rotations is not None:
            R = self.rotations
            if R.shape != (N, 3, 3) or not np.allclose(R @ R.transpose(0, 2, 1), np.eye(3), atol=1e-10):
                raise ValueError("network: rotations must be (N,3,3) orthogonal matrices")

    # ----------------------------------------------------------------- linear homogenization
    def homogenize(self, stiffnesses: list[np.ndarray] | np.ndarray) -> np.ndarray:
        """Effective Mandel stiffness (6,6) for linear-elastic phases (recursive laminates).

        ``stiffnesses``: one (6,6) Mandel stiffness per phase (material frame).  This is the
        reference linear homogenization every other path (torch, online Newton) must match.
        """
        C = [None] * self.n_nodes
        for k in range(self.n_nodes - 1, -1, -1):
            c1, c2 = self.children[k]
            if c1 < 0:
                Ck = np.asarray(stiffnesses[self.phase[k]], dtype=np.float64)
                if self.rotations is not None:
                    Ck = tensors.rotate_stiffness(Ck, self.rotations[k])
                C[k] = Ck
                continue
            w1, w2 = self.weights[c1], self.weights[c2]
            if w1 + w2 <= 0.0:
                C[k] = C[c1]
            elif w1 <= 0.0:
                C[k] = C[c2]
            elif w2 <= 0.0:
                C[k] = C[c1]
            else:
                C[k] = tensors.laminate_stiffness(C[c1], C[c2], w1 / (w1 + w2), self.normals[k])
        return C[0]


def collapse(children: np.ndarray, keep_leaf: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The tree ``children`` (N, 2) (pre-order) without the leaves where ``keep_leaf`` (N,) is
    False (internal entries ignored): a node left with one kept child is replaced by that child's
    subtree, a node left with none disappears.  Returns ``(children (N', 2), source (N',))``, the
    new pre-order tree and the original node id of each new node.  ValueError if no leaf is kept."""
    children = np.asarray(children, dtype=np.int64)
    kept = np.zeros(children.shape[0], dtype=bool)
    for k in range(children.shape[0] - 1, -1, -1):
        c1, c2 = children[k]
        kept[k] = bool(keep_leaf[k]) if c1 < 0 else bool(kept[c1] or kept[c2])
    if not kept[0]:
        raise ValueError("collapse: no leaf is kept")
    new_children: list[list[int]] = []
    source: list[int] = []

    def emit(k: int) -> int:
        c1, c2 = (int(c) for c in children[k])
        if c1 >= 0 and kept[c1] != kept[c2]:
            return emit(c1 if kept[c1] else c2)
        new = len(source)
        source.append(k)
        new_children.append([-1, -1])
        if c1 >= 0:
            a = emit(c1)
            new_children[new] = [a, emit(c2)]
        return new

    emit(0)
    return np.array(new_children, dtype=np.int64).reshape(-1, 2), np.array(source, dtype=np.int64)


def complete_tree(
    depth: int,
    leaf_weights: np.ndarray,
    normals: np.ndarray,
    rotations: np.ndarray | None = None,
    n_phases: int = 2,
) -> Network:
    """A complete binary tree of the given depth in pre-order.

    ``leaf_weights`` (2**depth,) in left-to-right order; ``normals`` (2**depth − 1, 3) in
    breadth-first order (root first, then level by level, left to right) — the natural
    layout of level-vectorized training code.  Leaves alternate phases 0, 1, 0, 1, ...
    ``rotations``: optional (2**depth, 3, 3) per-leaf rotations, left to right.
    """
    n_leaf = 2**depth
    leaf_weights = np.asarray(leaf_weights, dtype=np.float64)
    normals = np.asarray(normals, dtype=np.float64)
    if leaf_weights.shape != (n_leaf,) or normals.shape != (n_leaf - 1, 3):
        raise ValueError("complete_tree: wrong shapes of leaf_weights/normals")
    N = 2 * n_leaf - 1
    children = -np.ones((N, 2), dtype=np.int64)
    nrm = np.zeros((N, 3))
    w = np.zeros(N)
    ph = -np.ones(N, dtype=np.int64)
    rot = None if rotations is None else np.tile(np.eye(3), (N, 1, 1))
    counter = [0]

    def build(bfs: int, level: int) -> int:
        k = counter[0]
        counter[0] += 1
        if level == depth:
            j = bfs - (n_leaf - 1)
            w[k] = leaf_weights[j]
            ph[k] = j % n_phases
            if rot is not None:
                rot[k] = rotations[j]
            return k
        nrm[k] = normals[bfs] / np.linalg.norm(normals[bfs])
        c1 = build(2 * bfs + 1, level + 1)
        c2 = build(2 * bfs + 2, level + 1)
        children[k] = (c1, c2)
        return k

    build(0, 0)
    net = Network(children, nrm, w, ph, rot)
    net.refresh_weights()
    return net
