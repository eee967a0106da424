"""Orientation-aware networks (dmn_umat/offline/orientation.py): parametric network, triangle
interpolation, draft file format.  Synthetic data only (analytic laminates, no FFT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dmn_umat.offline import orientation as on
from dmn_umat.offline.data import sample_phases
from dmn_umat.offline.models import DTYPE, build

GRID = np.array(
    [[1 / 3, 1 / 3], [0.5, 1 / 3], [0.5, 0.5], [2 / 3, 1 / 6], [2 / 3, 1 / 3], [5 / 6, 1 / 6], [1.0, 0.0]]
)


def _random_parametric(formulation: str, depth: int = 2, seed: int = 0, scale: float = 2.0):
    torch.manual_seed(seed)
    m = on.ParametricNetwork(build(formulation, depth, seed=seed), degree=2)
    with torch.no_grad():
        m.coef.copy_(scale * torch.randn(m.coef.shape, dtype=DTYPE))
    return m


def _synthetic(
    truth: on.ParametricNetwork, states: np.ndarray, per_state: int, seed: int
) -> on.OrientationData:
    rng = np.random.default_rng(seed)
    S = np.repeat(states, per_state, axis=0)
    C1, C2 = sample_phases(len(S), rng, contrast=1.5)
    with torch.no_grad():
        Cb = truth(*(torch.as_tensor(a, dtype=DTYPE) for a in (C1, C2, S))).numpy()
    return on.OrientationData(C1, C2, Cb, S)


@pytest.mark.parametrize("formulation", ["imn", "dmn"])
def test_fixed_state_is_an_ordinary_network(formulation):
    m = _random_parametric(formulation, depth=3)
    rng = np.random.default_rng(1)
    C1, C2 = sample_phases(4, rng, contrast=2.0)
    state = np.array([0.6, 0.3])
    S = np.repeat(state[None], 4, axis=0)
    t = [torch.as_tensor(a, dtype=DTYPE) for a in (C1, C2, S)]
    with torch.no_grad():
        par = m(*t).numpy()
        fixed = m.fixed_at(state)(t[0], t[1]).numpy()
    assert type(m.fixed_at(state)) is type(m.base)
    np.testing.assert_allclose(par, fixed, rtol=1e-12, atol=1e-12)
    net = m.network_at(state)  # the rotation-free tree the online kernel runs
    ref = np.stack([net.homogenize([a, b]) for a, b in zip(C1, C2)])
    np.testing.assert_allclose(ref, par, rtol=1e-9, atol=1e-9 * np.abs(par).max())
    # different states give different networks (the parameters do depend on the state)
    other = m.fixed_at([0.9, 0.05])(t[0], t[1]).detach().numpy()
    assert np.abs(other - par).max() > 1e-3 * np.abs(par).max()


def test_mixed_state_batch_uses_each_samples_state():
    m = _random_parametric("imn", depth=2, seed=6)
    C1, C2 = sample_phases(5, np.random.default_rng(2), contrast=2.0)
    S = np.array([[0.9, 0.05], [0.4, 0.35], [0.9, 0.05], [0.6, 0.3], [1.0, 0.0]])
    with torch.no_grad():
        got = m(*(torch.as_tensor(a, dtype=DTYPE) for a in (C1, C2, S))).numpy()
        for i in range(5):
            ref = m.fixed_at(S[i])(torch.as_tensor(C1[i : i + 1]), torch.as_tensor(C2[i : i + 1])).numpy()[0]
            np.testing.assert_allclose(got[i], ref, rtol=1e-12, atol=1e-12)


def test_untrained_coefficients_reproduce_the_base():
    base = build("imn", 3, seed=4)
    m = on.ParametricNetwork(base, degree=3)
    C1, C2 = (torch.as_tensor(a, dtype=DTYPE) for a in sample_phases(3, np.random.default_rng(0)))
    S = torch.as_tensor([[0.4, 0.35], [0.7, 0.2], [1.0, 0.0]], dtype=DTYPE)
    with torch.no_grad():
        np.testing.assert_array_equal(m(C1, C2, S).numpy(), base(C1, C2).numpy())


def test_parameters_smooth_and_deterministic():
    a, b = _random_parametric("imn", seed=3), _random_parametric("imn", seed=3)
    s = np.array([[0.55, 0.3]])
    pa, pb = a.parameters_at(s), b.parameters_at(s)
    assert torch.equal(pa, pb)
    # Lipschitz: the change over a step h shrinks linearly with h (no jumps)
    d = np.array([[1.0, -0.5]]) / np.sqrt(1.25)
    steps = [1e-2, 1e-3, 1e-4]
    with torch.no_grad():
        diffs = [float((a.parameters_at(s + h * d) - pa).abs().max()) for h in steps]
    assert diffs[0] > 0
    assert diffs[1] / diffs[0] == pytest.approx(0.1, rel=0.05)
    assert diffs[2] / diffs[1] == pytest.approx(0.1, rel=0.01)
    # and the network's C̄ follows continuously
    C1, C2 = (torch.as_tensor(x, dtype=DTYPE) for x in sample_phases(1, np.random.default_rng(0)))
    with torch.no_grad():
        c0 = a.fixed_at(s)(C1, C2)
        c1 = a.fixed_at(s + 1e-6 * d)(C1, C2)
    assert float((c1 - c0).abs().max()) < 1e-4 * float(c0.abs().max())


def test_barycentric_blend_exact_at_nodes_and_linear_on_edges():
    # predictor g returns (g + 1) * C1 + C2: distinct, known per-node values
    preds = [lambda C1, C2, g=g: (g + 1.0) * C1 + C2 for g in range(len(GRID))]
    ti = on.TriangleInterpolator(GRID, preds)
    C1, C2 = sample_phases(2, np.random.default_rng(0))
    for g, node in enumerate(GRID):
        S = np.repeat(node[None], 2, axis=0)
        np.testing.assert_allclose(ti.predict(C1, C2, S), preds[g](C1, C2), rtol=1e-13, atol=1e-13)
    for i, j in {
        tuple(sorted(e)) for s in ti.tri.simplices for e in ((s[0], s[1]), (s[1], s[2]), (s[0], s[2]))
    }:
        for t in (0.25, 0.5, 0.8):
            S = np.repeat(((1 - t) * GRID[i] + t * GRID[j])[None], 2, axis=0)
            expect = (1 - t) * preds[i](C1, C2) + t * preds[j](C1, C2)
            np.testing.assert_allclose(ti.predict(C1, C2, S), expect, rtol=1e-12, atol=1e-12)
    idx, w = ti.weights(np.array([[0.6, 0.25], [0.45, 0.4]]))
    assert np.all(w >= -1e-12) and np.allclose(w.sum(axis=1), 1.0)
    np.testing.assert_allclose(np.einsum("ni,nij->nj", w, GRID[idx]), [[0.6, 0.25], [0.45, 0.4]], atol=1e-13)


def test_training_reduces_the_error_on_synthetic_data():
    truth = _random_parametric("imn", depth=2, seed=5, scale=3.0)
    tr = _synthetic(truth, GRID, 12, seed=0)
    va = _synthetic(truth, GRID, 4, seed=1)
    start = on.ParametricNetwork(build("imn", 2, seed=9), degree=2)
    e0 = float(on.errors(start, va).mean())
    res = on.train_parametric(start, tr, va, epochs=30, batch_size=16, lr=0.05, seed=0)
    assert res.best_val < 0.5 * e0
    assert res.history[-1]["train_loss"] < res.history[0]["train_loss"]
    # the start model is not modified
    assert float(on.errors(start, va).mean()) == pytest.approx(e0, rel=1e-12)


def test_json_round_trip(tmp_path):
    m = _random_parametric("dmn", depth=2, seed=2)
    path = on.save_json(tmp_path / "p.json", m, {"note": "x"})
    back = on.load_json(path)
    s = np.array([[0.7, 0.2], [0.4, 0.35]])
    assert torch.equal(back.parameters_at(s), m.parameters_at(s))
    path.write_text(path.read_text().replace('"format_version": 1', '"format_version": 9'))
    with pytest.raises(on.OrientationNetworkError, match="version"):
        on.load_json(path)


@pytest.mark.parametrize(
    "states, match",
    [
        ([[0.3, 0.6]], "off the orientation triangle"),
        ([[0.5, 0.3, 0.3]], "sum to 1"),
        ([[np.nan, 0.2]], "finite"),
        (np.zeros((2, 4)), "shape"),
    ],
)
def test_bad_states_are_one_line_errors(states, match):
    with pytest.raises(on.OrientationNetworkError, match=match):
        on.check_states(states)


def test_isotropy_distance():
    from dmn_umat import tensors

    assert on.isotropy_distance(tensors.isotropic_stiffness(3.0, 0.3)) < 1e-15
    C = tensors.isotropic_stiffness(3.0, 0.3)
    C[0, 0] *= 1.5
    assert on.isotropy_distance(C) > 0.05


# --------------------------------------------------------------------------- orthotropic networks
FLIPS = (np.diag([-1.0, 1, 1]), np.diag([1.0, -1, 1]), np.diag([1.0, 1, -1]))  # M1, M2, M3


def _random_orthotropic(depth: int = 4, degree: int = 2, seed: int = 0) -> on.ParametricNetwork:
    """An orthotropic parametric network with random free parameters (p0 and A)."""
    m = on.ParametricNetwork(build("imn", depth, seed=seed), degree, symmetry="orthotropic")
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in m.base.parameters():
            p.add_(0.5 * torch.randn(p.shape, generator=g, dtype=DTYPE))
        m.coef.copy_(2.0 * torch.randn(m.coef.shape, generator=g, dtype=DTYPE))
    return m


def _flip_changes(C: np.ndarray) -> list[float]:
    from dmn_umat import tensors

    return [float(np.linalg.norm(tensors.rotate_stiffness(C, D) - C) / np.linalg.norm(C)) for D in FLIPS]


@pytest.mark.parametrize("depth", [3, 5])
def test_orthotropic_network_is_invariant_under_the_axis_reflections(depth):
    m = _random_orthotropic(depth, seed=depth)
    C1, C2 = sample_phases(3, np.random.default_rng(depth), contrast=2.0)
    for state in ([0.6, 0.3], [0.45, 0.4], [1.0, 0.0]):
        S = np.repeat(np.array(state)[None], 3, axis=0)
        with torch.no_grad():
            Cb = m(*(torch.as_tensor(a, dtype=DTYPE) for a in (C1, C2, S))).numpy()
        net = m.network_at(state)  # what the online kernel runs
        for c1, c2, c in zip(C1, C2, Cb):
            assert max(_flip_changes(c)) <= 1e-12
            cn = net.homogenize([c1, c2])
            assert np.abs(cn - c).max() <= 1e-10 * np.abs(c).max()
            assert max(_flip_changes(cn)) <= 1e-12
    # the same tree without the ties is not orthotropic: the check can fail
    plain = _random_parametric("imn", depth=depth, seed=depth)
    with torch.no_grad():
        c = plain(*(torch.as_tensor(a[:1], dtype=DTYPE) for a in (C1, C2, np.array([[0.6, 0.3]])))).numpy()[0]
    assert max(_flip_changes(c)) > 1e-5


def test_orthotropic_ties_leave_only_the_subtree_free():
    K = 5
    m = _random_orthotropic(K, degree=2, seed=1)
    ls = 2 ** (K - 2)
    free = 3 * ls - 2
    names = sorted(n for n, _ in m.named_parameters())
    assert names == ["base.sub.phi", "base.sub.theta", "base.sub.z", "coef"]
    assert m.p0().shape == (free,) and m.coef.shape == (free, 5) and m.symmetry == "orthotropic"
    p_full, a_full = m.full_parameters()
    assert p_full.shape == (3 * 2**K - 2,) and a_full.shape == (3 * 2**K - 2, 5)
    net = m.fixed_at([0.7, 0.2])
    n = net.normals().detach().numpy()
    np.testing.assert_allclose(np.abs(n[0]), [0, 1, 0], atol=1e-15)  # root: e2
    np.testing.assert_allclose(np.abs(n[1:3]), [[1, 0, 0]] * 2, atol=1e-15)  # level 1: e1
    # grandchildren S, M1 S, M2 S, M2 M1 S: normals of each level are the mirrored copies
    for lev in range(2, K):
        per = 2 ** (lev - 2)
        lv = n[2**lev - 1 : 2 ** (lev + 1) - 1].reshape(4, per, 3)
        for g, D in enumerate((np.eye(3), FLIPS[0], FLIPS[1], FLIPS[1] @ FLIPS[0])):
            np.testing.assert_allclose(lv[g], lv[0] @ D, atol=1e-14)
    w = net.weights().detach().numpy().reshape(4, ls)
    np.testing.assert_array_equal(w, np.tile(w[0], (4, 1)))  # volume fractions ½ at the top two levels
    # the gradient reaches only the free parameters
    C1, C2 = (torch.as_tensor(a, dtype=DTYPE) for a in sample_phases(2, np.random.default_rng(0)))
    S = torch.as_tensor([[0.7, 0.2], [0.5, 0.4]], dtype=DTYPE)
    m(C1, C2, S).sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.parameters())


def test_orthotropic_from_imn_keeps_the_first_grandchild_subtree():
    base = build("imn", 4, seed=2)
    o = on.OrthotropicIMN.from_imn(base)
    bfs = [3, 7, 8]  # node 3 and its children
    np.testing.assert_array_equal(o.sub.z.detach().numpy(), base.z.detach().numpy()[:4])
    np.testing.assert_array_equal(o.sub.theta.detach().numpy(), base.theta.detach().numpy()[bfs])
    np.testing.assert_array_equal(o.theta.detach().numpy()[bfs], base.theta.detach().numpy()[bfs])
    with pytest.raises(on.OrientationNetworkError, match="depth"):
        on.OrthotropicIMN.from_imn(build("imn", 2))
    with pytest.raises(on.OrientationNetworkError, match="IMN"):
        on.ParametricNetwork(build("dmn", 3), 2, symmetry="orthotropic")
    with pytest.raises(on.OrientationNetworkError, match="symmetry"):
        on.ParametricNetwork(build("imn", 3), 2, symmetry="cubic")


def test_orthotropic_model_file_and_json_round_trip(tmp_path):
    from dmn_umat import model_file

    m = _random_orthotropic(4, degree=2, seed=3)
    back = on.load_json(on.save_json(tmp_path / "o.json", m))
    assert back.symmetry == "orthotropic"
    s = np.array([[0.7, 0.2], [0.4, 0.35]])
    assert torch.equal(back.parameters_at(s), m.parameters_at(s))
    pm = model_file.read_parametric(on.to_model_file(m, tmp_path / "o.dmn"))
    assert pm.metadata["parametric"]["symmetry"] == "orthotropic"
    full = on.from_parametric_model(pm)  # the complete IMN the file stores
    C1, C2 = sample_phases(2, np.random.default_rng(1), contrast=2.0)
    for state in s:
        S = np.repeat(state[None], 2, axis=0)
        t = [torch.as_tensor(a, dtype=DTYPE) for a in (C1, C2, S)]
        with torch.no_grad():
            np.testing.assert_allclose(full(*t).numpy(), m(*t).numpy(), rtol=1e-12, atol=1e-12)
        c = pm.network_at(np.r_[state, 1 - state.sum()]).homogenize([C1[0], C2[0]])
        assert max(_flip_changes(c)) <= 1e-12


def test_orthotropic_fixed_start_trains_only_the_subtree():
    from dmn_umat.offline.config import TrainConfig

    truth = _random_orthotropic(3, seed=4)
    tr, va = _synthetic(truth, GRID, 4, seed=0), _synthetic(truth, GRID, 2, seed=1)
    cfg = TrainConfig(formulation="imn", depth=3, epochs=3, seed=0)
    fixed = on.fixed_all_states(tr, va, cfg, symmetry="orthotropic")
    assert isinstance(fixed, on.OrthotropicIMN)
    C1, C2 = (torch.as_tensor(a, dtype=DTYPE) for a in sample_phases(1, np.random.default_rng(2)))
    with torch.no_grad():
        assert max(_flip_changes(fixed(C1, C2).numpy()[0])) <= 1e-12
    par = on.ParametricNetwork(fixed, 2)
    assert par.symmetry == "orthotropic"


def test_orthotropic_nonlinear_response_is_invariant_under_the_mirrored_load(tmp_path):
    """J2 matrix + elastic fibres through the online kernel: at A₂ = diag(λ) (principal axes =
    global axes) the stress under the load reflected by D is the reflected stress (1e-10)."""
    from dmn_umat import model_file, tensors
    from dmn_umat.online import parametric as P
    from dmn_umat.status import ST_OK

    pm = model_file.read_parametric(on.to_model_file(_random_orthotropic(4, seed=5), tmp_path / "o.dmn"))
    mat = P.ParametricNetworkMaterial(pm, ["j2:E=3000,nu=0.35,sy=30,H=300", "elastic:E=72000,nu=0.22"],
                                      rtol=1e-12)
    a2 = np.array([0.62, 0.27, 0.11, 0.0, 0.0, 0.0])
    d = np.array([1.0, -0.3, -0.4, 0.3, 0.5, 0.4])  # tension + all three shears
    t = np.r_[np.linspace(0, 1, 9)[1:], np.linspace(1, 0, 9)[1:]]
    Qs = [tensors.rotation_mandel(D) for D in FLIPS]
    n = 1 + len(Qs)
    state, smax, out = mat.initial_state(n), 0.0, []
    for ti in t:
        eps = np.array([0.02 * ti * d] + [0.02 * ti * (Q @ d) for Q in Qs])
        u = mat.update(eps, state, np.tile(a2, (n, 1)))
        assert np.all(u.status == ST_OK)
        state = u.state
        smax = max(smax, np.abs(u.stress).max())
        out.append(u)
    assert smax > 60.0  # the matrix yields
    for u in out:
        for i, Q in enumerate(Qs, start=1):
            assert np.abs(u.stress[i] - Q @ u.stress[0]).max() <= 1e-10 * smax
            assert np.abs(u.tangent[i] - Q @ u.tangent[0] @ Q.T).max() <= 1e-10 * np.abs(u.tangent[0]).max()
