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
