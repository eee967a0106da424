"""Finite-strain FFT DNS (dmn_umat.rve.fft_finite): discrete adjointness, homogeneous limit = the
law, objectivity, small-strain limit = the small-strain DNS, exact laminate, mixed control, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import root
from scipy.spatial.transform import Rotation
from test_finite_network import _exact_laminate  # independent root-on-a laminate solution

from dmn_umat import tensors
from dmn_umat.laws import parse_phase
from dmn_umat.laws.finite_spec import cauchy_stack
from dmn_umat.laws.finite_update import fj2_props, fs_law_nstate, fs_update, neohooke_props
from dmn_umat.rve import fft, fft_finite
from dmn_umat.rve.fft_finite import FFTConvergenceError, dns_finite

NH_SOFT = neohooke_props(E=1000.0, nu=0.3)
NH_STIFF = neohooke_props(E=8000.0, nu=0.2)
J2 = fj2_props(1000.0, 0.3, 5.0, 100.0, 10.0, 20.0)
RNG_MICRO = (np.random.default_rng(7).random((6, 5, 4)) < 0.3).astype(np.int64)


def _rel(a, b) -> float:
    return float(np.abs(np.asarray(a) - b).max() / np.abs(b).max())


def _law(props, path):
    """P of the law alone along a path of F (numpy loop over fs_update)."""
    s = np.zeros(max(int(fs_law_nstate(props)), 1))
    out = []
    F_old = np.eye(3)
    for F in path:
        P, A, s_new = np.zeros((3, 3)), np.zeros((9, 9)), np.zeros_like(s)
        assert fs_update(props, F_old, F, s, 0.0, 0.0, 0.0, P, A, s_new, np.zeros(200)) == 0
        s, F_old = s_new, F
        out.append(P)
    return np.array(out)


def _stretch(lam):
    return np.diag([lam, 1.0, 1.0])


def _shear(g):
    F = np.eye(3)
    F[0, 1] = g
    return F


def test_gradient_and_divergence_are_adjoint():
    rng = np.random.default_rng(0)
    shape = (4, 5, 6)
    N = int(np.prod(shape))
    u = rng.normal(size=(3, *shape))
    P = rng.normal(size=(N, 9))
    G = np.zeros((N, 9))
    fft_finite.grad_field(u, np.zeros(9), G)
    f = np.zeros((3, *shape))
    fft.kern.divergence(P, f)  # the 9-component (P) branch of the shared kernel
    assert abs(np.vdot(G, P) - np.vdot(u, f)) <= 1e-12 * np.abs(G).sum() * np.abs(P).max()
    # its symmetric part is the small-strain strain operator
    eps = np.zeros((N, 6))
    fft.kern.strain(u, np.zeros(6), eps)
    G3 = G.reshape(N, 3, 3)
    sym = 0.5 * (G3 + G3.transpose(0, 2, 1))
    assert max(np.abs(tensors.to_mandel(s) - e).max() for s, e in zip(sym, eps)) <= 1e-14 * np.abs(G).max()


PATHS = {
    "stretch_load_unload": [_stretch(x) for x in (1.15, 1.3, 1.5, 1.25, 1.0)],
    "shear": [_shear(g) for g in (0.25, 0.5, 0.75, 1.0)],
}


@pytest.mark.parametrize("law", ["neohooke", "fj2"])
@pytest.mark.parametrize("path", list(PATHS))
def test_homogeneous_rve_is_the_law(law, path):
    props = NH_SOFT if law == "neohooke" else J2
    res = dns_finite(RNG_MICRO, [props, props], np.array(PATHS[path]), tol=1e-10)
    ref = _law(props, PATHS[path])
    assert np.abs(res.P - ref).max() <= 1e-8 * np.abs(ref).max()


@pytest.mark.parametrize("law", ["neohooke", "fj2"])
def test_homogeneous_mixed_control_is_the_law(law):
    """Uniaxial stretch 30 % with P22 = 0 and P33 = 50 (a non-zero target): the law solved for
    F22, F33 by a root finder."""
    props = NH_SOFT if law == "neohooke" else J2
    lams = [1.1, 1.2, 1.3]
    target = np.zeros((3, 3, 3))
    target[:, 2, 2] = [20.0, 35.0, 50.0]
    res = dns_finite(RNG_MICRO, [props, props], np.array([_stretch(x) for x in lams]), stress_free=(4, 8),
                     stresses=target, tol=1e-11)
    s = np.zeros(max(int(fs_law_nstate(props)), 1))
    for k, lam in enumerate(lams):
        def r(y, s=s, lam=lam, k=k):
            P, A, sn = np.zeros((3, 3)), np.zeros((9, 9)), np.zeros_like(s)
            assert fs_update(props, np.eye(3), np.diag([lam, *y]), s, 0, 0, 0, P, A, sn, np.zeros(200)) == 0
            return [P[1, 1], P[2, 2] - target[k, 2, 2]], sn, P
        y = root(lambda y: r(y)[0], res.F[k, [1, 2], [1, 2]], tol=1e-14).x
        _, s, P = r(y)
        assert np.abs(res.F[k] - np.diag([lam, *y])).max() <= 1e-8
        assert np.abs(res.P[k] - P).max() <= 1e-8 * np.abs(P).max()


@pytest.mark.parametrize("angle", [0.5, np.pi])
def test_objectivity(angle):
    """A superposed rigid rotation Q(t) (up to ``angle``) rotates the Cauchy stress, J2 matrix
    with neo-Hookean inclusions; the (Lagrangian) law state is unchanged."""
    axis = np.array([0.2, -0.7, 0.4]) / np.linalg.norm([0.2, -0.7, 0.4])
    G = np.array([[0.2, 0.3, 0.0], [0.05, -0.1, 0.1], [0.0, 0.2, 0.15]])
    ts = np.linspace(0.125, 1.0, 8)
    path = np.array([np.eye(3) + t * G for t in ts])
    Qs = np.array([Rotation.from_rotvec(t * angle * axis).as_matrix() for t in ts])
    ref = dns_finite(RNG_MICRO, [J2, NH_STIFF], path, tol=1e-12)
    rot = dns_finite(RNG_MICRO, [J2, NH_STIFF], Qs @ path, tol=1e-12)
    for Q, s, sq in zip(Qs, ref.cauchy, rot.cauchy):
        assert _rel(sq, Q @ s @ Q.T) <= 1e-10
    assert np.abs(ref.P).max() > 10.0 and ref.final_state[..., 6].max() > 0.01  # loaded into plasticity
    assert np.abs(rot.final_state - ref.final_state).max() <= 1e-10 * np.abs(ref.final_state).max()


def test_small_strain_limit_is_the_small_strain_dns():
    """At F = 1 + h H the Cauchy stress is the small-strain DNS's at ε = h H to first order in h
    (tol 1e-10: near F = 1 the round-off of F − 1 bounds the attainable residual)."""
    rng = np.random.default_rng(3)
    H = rng.normal(size=(3, 3))
    H = (H + H.T) / np.linalg.norm(H + H.T)
    ss = [parse_phase("elastic:E=1000,nu=0.3"), parse_phase("elastic:E=8000,nu=0.2")]
    gaps = []
    for h in (1e-7, 1e-6):
        small = fft.dns(RNG_MICRO, ss, tensors.to_mandel(h * H)[None], tol=1e-12)
        fin = dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], (np.eye(3) + h * H)[None], tol=1e-10)
        ref = tensors.from_mandel(small.stress[0])
        gaps.append(_rel(fin.cauchy[0], ref))
    assert gaps[1] <= 1e-6
    assert 3.0 < gaps[1] / gaps[0] < 30.0  # first order in the strain: the geometric terms


@pytest.mark.parametrize("F", [_stretch(1.5), _shear(1.0)], ids=["stretch1.5", "shear1"])
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_laminate_is_the_exact_solution(F, axis):
    shape = [2, 2, 2]
    shape[axis] = 8
    micro = np.zeros(shape, dtype=np.int64)
    idx = [slice(None)] * 3
    idx[axis] = slice(0, 3)
    micro[tuple(idx)] = 1  # 3/8 stiff
    n = np.eye(3)[axis]
    res = dns_finite(micro, [NH_SOFT, NH_STIFF], F[None], tol=1e-12)
    assert _rel(res.P[0], _exact_laminate(F, n, 3 / 8, NH_STIFF, NH_SOFT)) <= 1e-8


@pytest.mark.parametrize("axis, free", [(0, ()), (1, (4, 8))], ids=["e1_F", "e2_P22_P33_free"])
def test_plastic_laminate_is_the_depth1_network(axis, free):
    """A layered RVE, finite J2 (in plastic flow) + neo-Hookean layers, along a 30 % stretch with
    shear = the depth-1 finite-strain network (both exact for a laminate; independent codes)."""
    from dmn_umat.network import Network
    from dmn_umat.online.driver import FlatFiniteMaterial, drive
    from dmn_umat.online.finite_solver import FiniteNetworkMaterial

    n = np.eye(3)[axis]
    net = Network(np.array([[1, 2], [-1, -1], [-1, -1]]), np.array([n, np.zeros(3), np.zeros(3)]),
                  np.array([0.0, 3 / 8, 5 / 8]), np.array([-1, 0, 1]))
    net.refresh_weights()
    shape = [2, 2, 2]
    shape[axis] = 8
    micro = np.ones(shape, dtype=np.int64)
    idx = [slice(None)] * 3
    idx[axis] = slice(0, 3)
    micro[tuple(idx)] = 0  # 3/8 J2
    F = np.array([np.eye(3) + (lam - 1) * np.outer([1, 0, 0], [1, 0, 1]) / np.sqrt(2)
                  for lam in np.linspace(1.02, 1.3, 8)])
    res = dns_finite(micro, [J2, NH_STIFF], F, stress_free=free, tol=1e-12)
    mat = FlatFiniteMaterial(FiniteNetworkMaterial(net, [J2, NH_STIFF], rtol=1e-13))
    ref = drive(mat, F.reshape(-1, 9), free)
    assert res.final_state[..., 6].max() > 0.05  # plastic flow in the J2 layer
    assert _rel(res.P, ref["stress"].reshape(-1, 3, 3)) <= 1e-8
    if free:
        assert np.abs(res.F - ref["strain"].reshape(-1, 3, 3)).max() <= 1e-8


def test_time_and_temperature_columns_are_accepted():
    path = np.array([_stretch(1.1), _stretch(1.2)])
    a = dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], path, times=np.array([1.0, 2.0]),
                   temps=np.array([20.0, 30.0]))
    b = dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], path)
    assert np.array_equal(a.P, b.P)  # the finite-strain laws are rate and temperature independent
    with pytest.raises(ValueError, match="time"):
        dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], path, times=np.array([2.0, 1.0]))


def test_bad_input():
    F = _stretch(1.1)[None]
    with pytest.raises(ValueError, match="both be stress controlled"):
        dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], F, stress_free=(1, 3))
    with pytest.raises(ValueError, match="indices 0..8"):
        dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], F, stress_free=(9,))
    with pytest.raises(ValueError, match="path"):
        dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], np.ones((2, 6)))
    with pytest.raises(ValueError, match="NaN"):
        dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], np.full((1, 3, 3), np.nan))
    with pytest.raises(ValueError, match="unknown law"):
        dns_finite(RNG_MICRO, [NH_SOFT, np.array([99.0, 1.0])], F)
    with pytest.raises(FFTConvergenceError, match="step 1"):
        dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], np.diag([1.0, 1.0, -0.5])[None], max_cuts=2)
    res = dns_finite(RNG_MICRO, [NH_SOFT, NH_STIFF], F)
    assert np.allclose(res.cauchy, cauchy_stack(res.F, res.P))
