"""Torch model → rotation-free :class:`~dmn_umat.network.Network`, and pruning.

DMN export (objectivity of the laminate): with G_k = R_root ⋯ R_parent R_k the product of the
rotations on the path from the root down to and including node k,
``C_k = Q(G_k) lam(…, e3) Q(G_k)ᵀ`` unrolls to a laminate of globally rotated children with
global normal ``n_k = G_k e3``; a leaf holds its phase rotated by G_leaf
(``Network.rotations``).  The export is exact (round-off).
"""

from __future__ import annotations

import numpy as np
import torch

from ..network import Network, complete_tree
from .models import DMN, IMN, MaterialNetwork


def to_network(model: MaterialNetwork, metadata: dict | None = None) -> Network:
    """Export a trained :class:`IMN` or :class:`DMN` to the rotation-free tree (pre-order)."""
    with torch.no_grad():
        w = model.weights().detach().cpu().numpy().astype(np.float64)
        K = model.depth
        if isinstance(model, IMN):
            net = complete_tree(K, w, model.normals().cpu().numpy())
        elif isinstance(model, DMN):
            R = model.node_rotations().cpu().numpy()
            G = np.empty_like(R)
            G[0] = R[0]
            for b in range(1, R.shape[0]):
                G[b] = G[(b - 1) // 2] @ R[b]
            n_int = 2**K - 1
            normals = G[:n_int, :, 2]  # G e3
            net = complete_tree(K, w, normals, rotations=G[n_int:])
        else:
            raise TypeError(f"cannot export {type(model).__name__}")
    net.metadata = dict(metadata or {})
    net.metadata.setdefault("formulation", model.formulation)
    net.metadata.setdefault("depth", K)
    net.metadata.setdefault("n_phases", 2)
    return net


def prune(net: Network, tol: float = 0.0) -> Network:
    """Remove leaves with weight ≤ ``tol`` × total leaf weight and collapse single-child nodes.

    A node left with one child is replaced by that child (its normal disappears); a node left
    with none disappears.  With ``tol = 0`` only exactly-zero leaves go and C̄ is unchanged to
    round-off.  Returns a new network (pre-order), metadata copied plus a ``pruned`` entry.
    """
    if tol < 0:
        raise ValueError("prune: tol must be ≥ 0")
    total = net.weights[net.leaves].sum()
    thr = tol * total
    children, normals, weights, phase, rots = [], [], [], [], []
    has_rot = net.rotations is not None

    def keep(k: int) -> bool:
        c1, c2 = net.children[k]
        if c1 < 0:
            return net.weights[k] > thr
        return keep(int(c1)) or keep(int(c2))

    def emit(k: int) -> int:
        """Copy the (collapsed) subtree of k; return its new id."""
        c1, c2 = (int(c) for c in net.children[k])
        if c1 >= 0:
            k1, k2 = keep(c1), keep(c2)
            if k1 and not k2:
                return emit(c1)
            if k2 and not k1:
                return emit(c2)
        new = len(children)
        children.append([-1, -1])
        normals.append(net.normals[k].copy())
        weights.append(net.weights[k] if c1 < 0 else 0.0)
        phase.append(int(net.phase[k]))
        rots.append(net.rotations[k].copy() if has_rot else None)
        if c1 >= 0:
            a = emit(c1)
            b = emit(c2)
            children[new] = [a, b]
        return new

    if not keep(0):
        raise ValueError(f"prune: tolerance {tol} removes every leaf")
    emit(0)
    out = Network(
        np.array(children, dtype=np.int64),
        np.array(normals, dtype=np.float64),
        np.array(weights, dtype=np.float64),
        np.array(phase, dtype=np.int64),
        np.array(rots, dtype=np.float64) if has_rot else None,
        dict(net.metadata),
    )
    out.refresh_weights()
    out.validate()
    removed = int(len(net.leaves) - len(out.leaves))
    prev = out.metadata.get("pruned", {})
    out.metadata["pruned"] = {
        "tol": float(tol),
        "removed_leaves": removed + int(prev.get("removed_leaves", 0)),
    }
    out.metadata["active_leaves"] = int(len(out.leaves))
    out.metadata["volume_fractions"] = [float(v) for v in out.volume_fractions()]
    out.metadata.setdefault("n_phases", int(net.metadata.get("n_phases", net.n_phases)))
    return out
