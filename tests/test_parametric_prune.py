"""Pruning an orientation-aware (version-2) network (issue 13 item b): leaves whose weight fraction
stays below the tolerance over the whole orientation triangle are dropped (a leaf mask in the file,
flag 0x4), and every point's network is built without them (the collapsed tree), in Python and in
the C ABI alike."""

from __future__ import annotations

import hashlib
import json
import struct

import numpy as np
import pytest

from dmn_umat import model_file, tensors
from dmn_umat.model_file import ModelFileError, ParametricModel, n_features
from dmn_umat.network import Network
from dmn_umat.offline.export import prune
from dmn_umat.online import kernel
from dmn_umat.online import parametric as P
from dmn_umat.status import ST_OK

PHASES = ["j2:E=3000,nu=0.35,sy=30,H=300", "elastic:E=72000,nu=0.22"]
C_M, C_F = tensors.isotropic_stiffness(3000.0, 0.35), tensors.isotropic_stiffness(72000.0, 0.22)
SMALL = [3, 10, 12]  # leaves made small in the synthetic model (12 a mirror copy of 3)


def synthetic(depth: int = 4, activation: str = "softplus", seed: int = 0) -> ParametricModel:
    """A random orientation-aware IMN with three leaves of small weight (≈ 5e-4 of the total)."""
    rng = np.random.default_rng(seed)
    L = 2**depth
    P_, F = 3 * L - 2, n_features(2)
    p0 = np.concatenate([rng.normal(1.0, 0.3, L), rng.uniform(0.3, 2.8, P_ - L)])
    coef = rng.normal(0.0, 0.5, (P_, F))
    p0[SMALL] = -4.5
    coef[SMALL] = 0.3 * rng.normal(size=F)
    coef[12] = coef[3]  # equal weights at every state: pruned together
    return ParametricModel(depth, 2, activation, p0, coef, {"formulation": "imn"})


def states(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.array([np.sort(rng.dirichlet([1.0, 1.0, 1.0]))[::-1] for _ in range(n)])


def a2_of(lam, R) -> np.ndarray:
    A = R @ np.diag(lam) @ R.T
    return np.array([A[0, 0], A[1, 1], A[2, 2], A[1, 2], A[0, 2], A[0, 1]])


def rotation(rng) -> np.ndarray:
    q = np.linalg.qr(rng.normal(size=(3, 3)))[0]
    return q if np.linalg.det(q) > 0 else -q


def contrast(C1, C2) -> float:
    """Stiffness contrast of two phases: the largest eigenvalue ratio of C1⁻¹C2 or its inverse."""
    ev = np.linalg.eigvals(np.linalg.solve(C1, C2)).real
    return float(max(ev.max(), 1.0 / ev.min()))


# --------------------------------------------------------------------------- the criterion
def test_pruned_leaves_stay_below_the_tolerance_everywhere_in_the_triangle():
    pm = synthetic()
    tol = 2e-3
    q = model_file.prune_parametric(pm, tol)
    removed = np.flatnonzero(~q.kept_leaves())
    assert set(removed) == set(SMALL)  # the mirror pair goes together
    # off the check's grid: random states and the corners/edges of the triangle
    corners = [[1 / 3, 1 / 3, 1 / 3], [0.5, 0.5, 0.0], [1.0, 0.0, 0.0], [0.7, 0.3, 0.0]]
    lam = np.vstack([states(3000, 1), corners])
    frac = np.array([pm.network_at(s).weights for s in lam])
    leaves = pm.reference_network().leaves
    frac = frac[:, leaves] / frac[:, :1]
    assert frac[:, removed].max() <= tol
    # the bound is above every sampled value, for every leaf
    assert np.all(model_file.leaf_fraction_bound(pm) >= frac.max(axis=0))
    info = q.metadata["pruned"]
    assert info["removed_leaves"] == 3 and info["tol"] == tol and info["grid"] == model_file.PRUNE_GRID
    assert frac[:, removed].sum(axis=1).max() <= info["removed_fraction_max"] * (1 + 1e-6) + 1e-12
    # nothing below the tolerance: the model itself, its file byte for byte
    same = model_file.prune_parametric(pm, 1e-9)
    assert same is pm and model_file.encode_parametric(same) == model_file.encode_parametric(pm)
    with pytest.raises(ValueError, match="removes every leaf"):
        model_file.prune_parametric(pm, 1.0)


def test_triangle_grid_covers_vertices_and_edges():
    st, index = model_file.triangle_grid_states(4)
    assert st.shape == (15, 2) and index.max() == 14
    for corner in ([1 / 3, 1 / 3], [0.5, 0.5], [1.0, 0.0]):
        assert np.min(np.abs(st - corner).sum(axis=1)) < 1e-15
    lam3 = 1.0 - st.sum(axis=1)
    assert np.all(st[:, 0] >= st[:, 1] - 1e-15) and np.all(st[:, 1] >= lam3 - 1e-15) and lam3.min() > -1e-15


# --------------------------------------------------------------------------- the online network
def test_point_blobs_are_the_collapsed_rotated_network():
    q = model_file.prune_parametric(synthetic(), 2e-3)
    mat = P.ParametricNetworkMaterial(q, PHASES)
    full = P.ParametricNetworkMaterial(synthetic(), PHASES)
    assert mat.nstate < full.nstate and mat.nmi < full.nmi
    rng = np.random.default_rng(2)
    for lam in states(4, 3):
        a2 = a2_of(lam, rotation(rng))
        l, R = np.empty(3), np.empty((3, 3))
        assert P.frame(a2, l, R) == 0
        net = prune(q.network_at(l), 0.0)  # the pruned leaves have weight 0 → removed, collapsed
        assert len(net.leaves) == 13
        mi0, mf0 = kernel.pack_network(Network(net.children, net.normals @ R.T, net.weights, net.phase))
        mi, mf = mat.point_blobs(a2)
        assert mi.size == mi0.size and np.array_equal(mi, mi0)
        assert np.allclose(mf[: mf0.size], mf0, rtol=1e-12, atol=1e-12 * mf0[kernel.F0])


def test_pruned_model_equals_the_unpruned_within_the_removed_weight():
    """C̄ (linear, several phase contrasts) and a load/unload path past yield at many states: the
    relative change is at most (stiffness contrast) × (weight fraction δ removed at that state),
    elastic: C̄ change ≤ contrast · δ · ‖C̄‖; plastic: stress change ≤ contrast of the tangents
    (fibre E over the matrix's elastoplastic E H/(E + H)) · δ · the path's largest stress."""
    pm = synthetic()
    q = model_file.prune_parametric(pm, 2e-3)
    lam = states(60, 4)
    removed = np.array([1.0 - q.network_at(s).weights[0] / pm.network_at(s).weights[0] for s in lam])
    assert removed.min() > 0
    for C1, C2 in ((C_M, C_F), (C_F, C_M), (C_M, 1e3 * C_M)):
        k = contrast(C1, C2)
        for s, d in zip(lam, removed):
            a, b = pm.network_at(s).homogenize([C1, C2]), q.network_at(s).homogenize([C1, C2])
            assert 0 < np.linalg.norm(a - b) <= k * d * np.linalg.norm(a)
    rng = np.random.default_rng(5)
    n = 12
    a2 = np.array([a2_of(s, rotation(rng)) for s in lam[:n]])
    direction = rng.normal(size=(n, 6))
    mats = [P.ParametricNetworkMaterial(m, PHASES, rtol=1e-10) for m in (pm, q)]
    states_ = [m.initial_state(n) for m in mats]
    E, H = 3000.0, 300.0
    k = 72000.0 / (E * H / (E + H))
    diff, peak = np.zeros(n), np.zeros(n)
    for t in (0.005, 0.01, 0.02, 0.01, 0.0):
        ups = [m.update(t * direction, s, a2) for m, s in zip(mats, states_)]
        assert all(np.all(u.status == ST_OK) for u in ups)
        states_ = [u.state for u in ups]
        diff = np.maximum(diff, np.linalg.norm(ups[0].stress - ups[1].stress, axis=1))
        peak = np.maximum(peak, np.linalg.norm(ups[0].stress, axis=1))
    assert np.all(diff <= k * removed[:n] * peak) and diff.min() > 0
    peeq = [m.fields(s, a2)["peeq"] for m, s in zip(mats, states_)]
    assert peeq[0].min() > 0
    assert np.all(np.abs(peeq[0] - peeq[1]) <= k * removed[:n] * peeq[0])


def test_exactly_dead_leaves_pruned_at_tol_0_change_nothing():
    """relu leaves that are zero at every state: pruning at tol 0 removes them and the points'
    responses equal the unpruned model's (the kernel's pass-through nodes = the collapsed tree)."""
    pm = synthetic(activation="relu", seed=1)
    pm.p0[:16] = np.abs(pm.p0[:16]) + 1.0  # alive
    pm.p0[[0, 1, 5]] = -1.0  # dead at every state
    pm.coef[[0, 1, 5]] = 0.0
    q = model_file.prune_parametric(pm, 0.0)
    assert set(np.flatnonzero(~q.kept_leaves())) == {0, 1, 5}
    rng = np.random.default_rng(6)
    n = 6
    a2 = np.array([a2_of(s, rotation(rng)) for s in states(n, 7)])
    direction = rng.normal(size=(n, 6))
    mats = [P.ParametricNetworkMaterial(m, PHASES) for m in (pm, q)]
    st = [m.initial_state(n) for m in mats]
    for t in (0.01, 0.02, 0.005):
        ups = [m.update(t * direction, s, a2) for m, s in zip(mats, st)]
        st = [u.state for u in ups]
        scale = np.abs(ups[0].stress).max()
        assert np.abs(ups[0].stress - ups[1].stress).max() <= 1e-12 * scale
        assert np.abs(ups[0].tangent - ups[1].tangent).max() <= 1e-12 * np.abs(ups[0].tangent).max()


# --------------------------------------------------------------------------- the file
def _pruned_bytes() -> tuple[bytes, int, int]:
    """Bytes of a pruned synthetic model, the offset of its leaf mask and its length."""
    data = model_file.encode_parametric(model_file.prune_parametric(synthetic(), 2e-3))
    meta_len = struct.unpack_from("<Q", data, 24)[0]
    L = 16
    return data, len(data) - 32 - meta_len - L, L


def _reseal(data: bytes) -> bytes:
    return data[:-32] + hashlib.sha256(data[:-32]).digest()


def test_pruned_file_round_trip(tmp_path):
    q = model_file.prune_parametric(synthetic(), 2e-3)
    path = model_file.write_parametric(tmp_path / "q.dmn", q)
    back = model_file.read_parametric(path)
    assert np.array_equal(back.leaf_mask, q.leaf_mask)
    assert struct.unpack_from("<I", path.read_bytes(), 12)[0] == 6  # flags 0x2 | 0x4
    model_file.write_parametric(tmp_path / "r.dmn", back)
    assert (tmp_path / "r.dmn").read_bytes() == path.read_bytes()
    unpruned = model_file.encode_parametric(synthetic())
    assert struct.unpack_from("<I", unpruned, 12)[0] == 2 and len(unpruned) < len(path.read_bytes())
    assert model_file.read_any(path).metadata["pruned"]["removed_leaves"] == 3


def _with_mask(data: bytes, off: int, mask: list[int]) -> bytes:
    b = bytearray(data)
    b[off : off + len(mask)] = bytes(mask)
    return bytes(b)


@pytest.mark.parametrize(
    "mutate,match",
    [
        (lambda d, o, L: _reseal(_with_mask(d, o, [2] + [1] * (L - 1))), "leaf mask entry 0 is 2"),
        (lambda d, o, L: _reseal(_with_mask(d, o, [1] * L)), "prunes no leaf"),
        (lambda d, o, L: _reseal(_with_mask(d, o, [0] * L)), "prunes every leaf"),
        (lambda d, o, L: _reseal(_with_mask(d, o, [1 - d[o]])), "differs from the network of p0"),
        (lambda d, o, L: _reseal(d[:o] + d[o + L :]), "truncated"),
        (lambda d, o, L: _reseal(struct.pack("<8sII", d[:8], 2, 4) + d[16:]), "must set flag 0x2"),
        (lambda d, o, L: _reseal(struct.pack("<8sII", d[:8], 2, 0xE) + d[16:]), "unknown flags 0xe"),
        (lambda d, o, L: _reseal(struct.pack("<8sII", d[:8], 2, 2) + d[16:]), "trailing"),
    ],
)
def test_corrupt_leaf_masks_are_refused_in_one_line(tmp_path, mutate, match):
    data, off, L = _pruned_bytes()
    p = tmp_path / "bad.dmn"
    p.write_bytes(mutate(data, off, L))
    with pytest.raises(ModelFileError, match=match) as e:
        model_file.read_parametric(p)
    assert "\n" not in str(e.value)


def test_writer_refuses_what_the_reader_would(tmp_path):
    pm = synthetic()
    for mask, match in ((np.ones(16, bool), "prunes no leaf"), (np.zeros(16, bool), "prunes every leaf"),
                        (np.ones(8, bool), r"\(16,\) booleans"), (np.ones(16, int), r"\(16,\) booleans")):
        pm.leaf_mask = mask
        with pytest.raises(ModelFileError, match=match):
            model_file.write_parametric(tmp_path / "x.dmn", pm)
        with pytest.raises(P.ParametricError, match=match):
            P.pack_parametric(pm)
    assert not (tmp_path / "x.dmn").exists()


# --------------------------------------------------------------------------- the CLI and the C ABI
def test_cli_prune_and_inspect_a_version_2_file(tmp_path, capsys):
    from dmn_umat.cli import main

    src = model_file.write_parametric(tmp_path / "p.dmn", synthetic())
    out = tmp_path / "q.dmn"
    assert main(["prune", str(src), "--tol", "2e-3", "--out", str(out), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["leaves_before"] == 16 and res["leaves_after"] == 13 and res["format_version"] == 2
    assert main(["inspect", str(out), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert s["active_leaves"] == 13 and s["leaves"] == 16 and s["pruned"]["removed_leaves"] == 3
    assert main(["inspect", str(out)]) == 0
    assert "leaves 13/16" in capsys.readouterr().out
    for args, match in ((["--tol", "1", "--out", str(tmp_path / "a.dmn")], "removes every leaf"),
                        (["--data", str(src), "--out", str(tmp_path / "b.dmn")], "orientation-aware"),
                        (["--out", str(src)], "refusing to overwrite")):
        assert main(["prune", str(src), *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and match in err, err


def test_c_abi_sizes_follow_the_pruned_tree(tmp_path):
    """The C API / UMAT pack the model with the same pack_parametric: STATEV = 6 + the pruned
    kernel state, and ``dmn inspect --abaqus`` (deck.nstatv) says the same."""
    from dmn_umat.abi import deck
    from dmn_umat.abi.runtime import open_model
    from dmn_umat.laws import parse_phase

    q = model_file.prune_parametric(synthetic(), 2e-3)
    path = model_file.write_parametric(tmp_path / "q.dmn", q)
    props = deck.props_vector([parse_phase(s) for s in PHASES])
    entry = open_model(path, props)
    mat = P.ParametricNetworkMaterial(q, PHASES)
    assert np.array_equal(entry["mf"], mat.pb) and entry["nleaf"] == 13
    assert entry["nsv"] == 6 + mat.nstate == deck.nstatv(q, [parse_phase(s) for s in PHASES])


def test_pruning_an_orthotropic_network_keeps_it_orthotropic():
    """Mirror-tied leaves (offline.orientation, symmetry='orthotropic') have equal weights at every
    state, so they go together and the pruned network stays orthotropic in A₂'s principal frame:
    C̄ is unchanged by the three mirror reflections (1e-12)."""
    import torch

    from dmn_umat.offline import orientation as O
    from dmn_umat.offline.train import TrainConfig

    c = TrainConfig(depth=4)
    m = O.ParametricNetwork(O.build_base("imn", 4, c.activation, c.init, c.angles, 0, "orthotropic"), 2,
                            symmetry="orthotropic")
    with torch.no_grad():
        m.coef.copy_(0.3 * torch.randn(m.coef.shape, generator=torch.Generator().manual_seed(0),
                                       dtype=torch.float64))
    pm = O.to_parametric_model(m)
    bound = model_file.leaf_fraction_bound(pm)
    q = model_file.prune_parametric(pm, float(np.sort(bound)[5]) + 1e-12)
    kept = q.kept_leaves()
    assert 0 < kept.sum() < 16 and kept.sum() % 4 == 0
    for lam in states(5, 8):
        C = q.network_at(lam).homogenize([C_M, C_F])
        assert np.linalg.norm(C - pm.network_at(lam).homogenize([C_M, C_F])) > 1e-6 * np.linalg.norm(C)
        for D in (np.diag([-1.0, 1, 1]), np.diag([1.0, -1, 1]), np.diag([1.0, 1, -1])):
            assert np.linalg.norm(tensors.rotate_stiffness(C, D) - C) <= 1e-12 * np.linalg.norm(C)
