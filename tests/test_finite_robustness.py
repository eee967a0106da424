"""Finite-strain network past a fold of the jump equations: finite J2 with low hardening
(H = 500 = 5 σy) under 20 % random deformation gradients (stretch + rotation) used to cut back
at depth 6–7 — Newton on Σ|r_k|² stalled in a local minimum of the residual norm once the
equilibrium it followed disappeared (the Hessian of the network potential singular).  The
kernel now descends the potential instead (dmn_umat.online.tree._descend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dmn_umat import model_file, network, tensors
from dmn_umat.laws.finite_update import fj2_props, neohooke_props
from dmn_umat.online.finite_solver import FiniteNetworkMaterial

MODELS = Path(__file__).resolve().parents[1] / "dmn_umat" / "models"
PHASES = [fj2_props(70e3, 0.3, 100.0, 500.0), neohooke_props(E=400e3, nu=0.2)]


def _random_tree(depth: int) -> network.Network:
    rng = np.random.default_rng(depth)
    n = 2**depth
    R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])
    return network.complete_tree(depth, rng.uniform(0.05, 1.0, n), rng.normal(size=(n - 1, 3)), rotations=R)


def _path(mat: FiniteNetworkMaterial, G: np.ndarray):
    """Load to F = 1 + G in 10 increments, unload half way in 5; yields (F, P, A, state, status)."""
    state = mat.initial_state(len(G))
    for t in np.r_[np.linspace(0, 1, 11)[1:], np.linspace(1, 0.5, 6)[1:]]:
        F = np.eye(3) + t * G
        P, A, state, status = mat.update(F, state)
        yield F, P, A, state, status


@pytest.mark.parametrize("name", ["spheres16_imn_d6", "random_d6"])
def test_twenty_percent_random_F_converges(name):
    net = model_file.read(MODELS / f"{name}.dmn") if name.startswith("spheres") else _random_tree(6)
    mat = FiniteNetworkMaterial(net, PHASES, threads=1)
    rtol = mat.mf[1]
    for seed in (100, 101, 102):
        G = np.random.default_rng(seed).normal(size=(32, 3, 3))
        G *= 0.2 / np.linalg.norm(G, axis=(1, 2))[:, None, None]
        for F, P, _, state, status in _path(mat, G):
            assert np.all(status == 0), f"seed {seed}: {np.count_nonzero(status)} points cut back"
            assert np.all(mat.last_info[:, 3] <= rtol)  # traction residual / stress scale
            assert np.all(np.isfinite(P)) and np.all(np.isfinite(state))
            # objectivity of the answer: P F^T / det F symmetric (Cauchy stress)
            sig = np.einsum("nij,nkj->nik", P, F)
            assert np.allclose(sig, np.swapaxes(sig, 1, 2), atol=1e-8 * np.abs(sig).max())
