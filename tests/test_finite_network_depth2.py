"""Finite-strain network at depth 2 vs an independent solution of the rank-2 laminate (issue 14,
finite-J2 composite gap): the tree Newton of :mod:`dmn_umat.online.tree` at block size 9 solves
the nested laminate exactly, also with a nearly incompressible matrix and in plastic flow."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import root

from dmn_umat.laws.finite_update import fj2_props, fs_law_nstate, fs_update, neohooke_props
from dmn_umat.network import Network
from dmn_umat.online.finite_solver import FiniteNetworkMaterial

NH_STIFF = neohooke_props(E=8000.0, nu=0.2)
MATRICES = {
    "neohooke_nu0.49": neohooke_props(E=300.0, nu=0.49),
    "fj2": fj2_props(1000.0, 0.3, 5.0, 100.0),
}
# pre-order: 0 = root (1, 4), 1 = (2, 3), 4 = (5, 6); leaves 2, 3, 5, 6
CHILDREN = np.array([[1, 4], [2, 3], [-1, -1], [-1, -1], [5, 6], [-1, -1], [-1, -1]])
NORMALS = np.array([[1.0, 0.2, -0.3], [0.1, 1.0, 0.4], [0, 0, 0], [0, 0, 0], [-0.5, 0.3, 1.0],
                    [0, 0, 0], [0, 0, 0]])
NORMALS /= np.maximum(np.linalg.norm(NORMALS, axis=1, keepdims=True), 1e-300)
WEIGHTS = np.array([0.0, 0.0, 0.3, 0.25, 0.0, 0.15, 0.3])
PHASE = np.array([-1, -1, 0, 1, -1, 1, 0])


PEEQ = []  # equivalent plastic strains of the fj2 leaves at the last law calls


def _law_P(props: np.ndarray, F: np.ndarray) -> np.ndarray:
    """First Piola–Kirchhoff stress of one virgin point after one increment to F."""
    P = np.zeros((3, 3))
    s = np.zeros(max(int(fs_law_nstate(props)), 1))
    s_new = np.zeros_like(s)
    assert fs_update(props, F, F, s, 0.0, 0.0, 0.0, P, np.zeros((9, 9)), s_new, np.zeros(200)) == 0
    if s.size == 7:
        PEEQ.append(s_new[6])
    return P


def _rank2_laminate(F: np.ndarray, props: list[np.ndarray]) -> np.ndarray:
    """Mean P of the rank-2 laminate of ``CHILDREN``/``NORMALS``/``WEIGHTS`` (scipy root on the
    9 jump components: traction continuity (P̄_c1 − P̄_c2) n_k = 0 at the three interfaces)."""

    def fields(a):
        a0, a1, a4 = a[:3], a[3:6], a[6:]
        w = WEIGHTS
        W1, W4 = w[2] + w[3], w[5] + w[6]
        Fc = {1: F + W4 / (W1 + W4) * np.outer(a0, NORMALS[0]),
              4: F - W1 / (W1 + W4) * np.outer(a0, NORMALS[0])}
        Fl = {2: Fc[1] + w[3] / W1 * np.outer(a1, NORMALS[1]),
              3: Fc[1] - w[2] / W1 * np.outer(a1, NORMALS[1]),
              5: Fc[4] + w[6] / W4 * np.outer(a4, NORMALS[4]),
              6: Fc[4] - w[5] / W4 * np.outer(a4, NORMALS[4])}
        P = {k: _law_P(props[PHASE[k]], Fk) for k, Fk in Fl.items()}
        P1 = (w[2] * P[2] + w[3] * P[3]) / W1
        P4 = (w[5] * P[5] + w[6] * P[6]) / W4
        r = np.r_[(P1 - P4) @ NORMALS[0], (P[2] - P[3]) @ NORMALS[1], (P[5] - P[6]) @ NORMALS[4]]
        return r, (W1 * P1 + W4 * P4) / (W1 + W4)

    sol = root(lambda a: fields(a)[0], np.zeros(9), method="hybr", tol=1e-14)
    PEEQ.clear()
    r, Pbar = fields(sol.x)
    assert np.abs(r).max() <= 1e-9 * np.abs(Pbar).max()
    return Pbar


@pytest.mark.parametrize("matrix", list(MATRICES))
@pytest.mark.parametrize("F", [np.diag([1.3, 0.9, 0.95]),
                               np.array([[1.1, 0.4, 0.0], [0.05, 0.95, 0.1], [0.0, -0.1, 1.05]])],
                         ids=["stretch", "shear"])
def test_depth2_network_is_the_rank2_laminate(matrix, F):
    net = Network(CHILDREN.copy(), NORMALS.copy(), WEIGHTS.copy(), PHASE.copy())
    net.refresh_weights()
    props = [MATRICES[matrix], NH_STIFF]
    mat = FiniteNetworkMaterial(net, props, rtol=1e-13)
    P, _, _, st = mat.update(F[None], mat.initial_state(1))
    assert st[0] == 0, mat.last_info
    ref = _rank2_laminate(F, props)
    assert np.abs(P[0] - ref).max() <= 1e-8 * np.abs(ref).max()
    if matrix == "fj2":
        assert min(PEEQ) > 0.01  # both matrix leaves in plastic flow
