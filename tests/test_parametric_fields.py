"""Output fields of an orientation-aware network (issue 13 item d): ``ParametricNetworkMaterial.fields
(state, a2)`` weights each point's leaf states with that point's own leaf weights, so
``fe.regions.OrientedMaterial`` (the FE² material with one A₂ per point) needs no fixed network per
distinct A₂."""

from __future__ import annotations

import numpy as np
import pytest

from dmn_umat import model_file
from dmn_umat.fe.fibre_part import skin_core_a2
from dmn_umat.fe.regions import OrientedMaterial
from dmn_umat.offline import pretrained
from dmn_umat.online import parametric as P
from dmn_umat.online.solver import NetworkMaterial

PHASES = ["j2:E=3000,nu=0.35,sy=30,H=300", "elastic:E=72000,nu=0.22"]


def per_a2_fields(pm, phases, a2: np.ndarray, state: np.ndarray) -> dict[str, np.ndarray]:
    """The former construction: at each distinct A₂ the fields of the fixed network at its
    eigenvalues (NetworkMaterial.fields: leaf weights and states only)."""
    rows, inv = np.unique(a2, axis=0, return_inverse=True)
    out: dict[str, np.ndarray] = {}
    lam, R = np.empty(3), np.empty((3, 3))
    for r, a in enumerate(rows):
        assert P.frame(np.ascontiguousarray(a), lam, R) == 0
        idx = np.flatnonzero(inv.ravel() == r)
        for name, v in NetworkMaterial(pm.network_at(lam.copy()), phases).fields(state[idx]).items():
            out.setdefault(name, np.zeros(state.shape[0]))[idx] = v
    return out


@pytest.mark.parametrize("cache", [False, True])
def test_native_fields_equal_the_per_a2_fixed_networks(cache):
    pm = model_file.read_parametric(pretrained.resolve("fibres32_pimn_d7"))
    mat = P.ParametricNetworkMaterial(pm, PHASES, cache=cache)
    rng = np.random.default_rng(0)
    # a plate-like field: 5 layers through the thickness, 4 points each, half of them with turned axes
    a2 = np.repeat(skin_core_a2(np.linspace(-1.0, 1.0, 5)), 4, axis=0)
    Q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    A = np.einsum("ij,njk,lk->nil", Q, np.stack([np.diag(a[:3]) for a in a2]), Q)
    a2[1::2] = np.stack([A[:, 0, 0], A[:, 1, 1], A[:, 2, 2], A[:, 1, 2], A[:, 0, 2], A[:, 0, 1]], 1)[1::2]
    oriented = OrientedMaterial(mat, a2)
    n = a2.shape[0]
    direction = rng.normal(size=(n, 6))
    state = oriented.initial_state(n)
    for t in (0.01, 0.02, 0.012):  # past yield and partly back
        u = oriented.update(t * direction, state)
        assert np.all(u.status == 0)
        state = u.state
    got = oriented.fields(state)
    ref = per_a2_fields(pm, mat.phases, a2, state)
    assert got["peeq"].min() > 0 and set(ref) | {"a2"} == set(got)
    for k, v in ref.items():
        assert np.abs(got[k] - v).max() <= 1e-12 * max(np.abs(v).max(), 1e-300), k
    np.testing.assert_array_equal(got["a2"][:, [0, 3, 5]], a2[:, :3])  # Tensor6 xx, yy, zz
    # the same with the material called directly, and bound (mat.at) — one definition of the weights
    direct = mat.fields(state, a2)
    bound = mat.at(a2).fields(state)
    for k in ref:
        np.testing.assert_array_equal(direct[k], got[k])
        np.testing.assert_array_equal(bound[k], got[k])


def test_fields_refuse_mismatched_shapes_in_one_line():
    pm = model_file.read_parametric(pretrained.resolve("fibres32_pimn_d7"))
    mat = P.ParametricNetworkMaterial(pm, PHASES)
    a2 = np.tile([0.5, 0.3, 0.2, 0.0, 0.0, 0.0], (3, 1))
    for state, a, match in ((mat.initial_state(3), a2[:2], r"\(3, 6\)"),
                            (np.zeros((3, 5)), a2, r"state \(n,\d+\)")):
        with pytest.raises(P.ParametricError, match=match) as e:
            mat.fields(state, a)
        assert "\n" not in str(e.value)
