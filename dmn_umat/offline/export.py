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

from ..network import Network, collapse, complete_tree
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
    try:
        children, src = collapse(net.children, net.is_leaf & (net.weights > tol * total))
    except ValueError:
        raise ValueError(f"prune: tolerance {tol} removes every leaf") from None
    leaf = children[:, 0] < 0
    out = Network(
        children,
        np.array(net.normals[src], dtype=np.float64),
        np.where(leaf, np.asarray(net.weights, dtype=np.float64)[src], 0.0),
        np.array(net.phase[src], dtype=np.int64),
        None if net.rotations is None else np.array(net.rotations[src], dtype=np.float64),
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
