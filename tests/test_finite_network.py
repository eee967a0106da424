"""Finite-strain material network (dmn_umat.online.finite_kernel / finite_solver): exact laminate,
homogeneous limit, small-strain limit, objectivity, FD tangent, bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import root
from scipy.spatial.transform import Rotation

from dmn_umat import model_file, tensors
from dmn_umat.laws.finite import cauchy
from dmn_umat.laws.finite_update import fj2_props, fs_law_nstate, fs_update, neohooke_props
from dmn_umat.network import Network
from dmn_umat.online.finite_solver import FiniteNetworkMaterial
from dmn_umat.online.solver import NetworkMaterial

MODELS = {m: Path(model_file.__file__).parent / "models" / f"spheres16_{m}_d6.dmn" for m in ("dmn", "imn")}
NH_SOFT = neohooke_props(E=1000.0, nu=0.3)
NH_STIFF = neohooke_props(E=8000.0, nu=0.2)
J2 = fj2_props(1000.0, 0.3, 5.0, 100.0, 10.0, 20.0)


def _net(name: str) -> Network:
    return model_file.read(MODELS[name])


def _rel(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max() / np.abs(b).max())


def _stretch(lam: float) -> np.ndarray:
    return np.diag([lam, 1.0, 1.0])


def _shear(g: float) -> np.ndarray:
    F = np.eye(3)
    F[0, 1] = g
    return F


def _run(mat: FiniteNetworkMaterial, path: list[np.ndarray], state=None):
    """Drive one point along ``path`` (list of F); returns the P of every step and the final state."""
    state = mat.initial_state(1) if state is None else state
    Ps = []
    for F in path:
        P, A, state, st = mat.update(F[None], state)
        assert st[0] == 0, mat.last_info
        Ps.append(P[0])
    return Ps, A[0], state


# ------------------------------------------------------------------ exact laminate
def _nh_P(props: np.ndarray, F: np.ndarray) -> np.ndarray:
    """Neo-Hookean P = ∂W/∂F of W = C10 (J^(-2/3) tr C − 3) + (J − 1)²/D1 (numpy, independent)."""
    C10, D1 = props[1], props[2]
    J = np.linalg.det(F)
    Fit = np.linalg.inv(F).T
    I1 = np.sum(F * F)
    return 2 * C10 * J ** (-2 / 3) * (F - I1 / 3 * Fit) + 2 / D1 * (J - 1) * J * Fit


def _exact_laminate(F, n, f1, p1, p2):
    f2 = 1 - f1

    def res(a):
        return (_nh_P(p1, F + f2 * np.outer(a, n)) - _nh_P(p2, F - f1 * np.outer(a, n))) @ n

    sol = root(res, np.zeros(3), method="hybr", tol=1e-15)
    a = sol.x
    assert np.abs(res(a)).max() < 1e-10 * np.abs(_nh_P(p1, F)).max()
    return f1 * _nh_P(p1, F + f2 * np.outer(a, n)) + f2 * _nh_P(p2, F - f1 * np.outer(a, n))


NORMALS = [np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([1.0, 1.0, 1.0]) / np.sqrt(3),
           np.array([0.3, -0.5, 0.81])]


@pytest.mark.parametrize("F", [_stretch(1.5), _shear(1.0)], ids=["stretch1.5", "shear1"])
@pytest.mark.parametrize("k", range(len(NORMALS)))
def test_depth1_laminate_matches_exact_solution(F, k):
    n = NORMALS[k] / np.linalg.norm(NORMALS[k])
    f1 = 0.3
    net = Network(np.array([[1, 2], [-1, -1], [-1, -1]]), np.array([n, np.zeros(3), np.zeros(3)]),
                  np.array([0.0, f1, 1 - f1]), np.array([-1, 0, 1]))
    net.refresh_weights()
    mat = FiniteNetworkMaterial(net, [NH_SOFT, NH_STIFF])
    (P,), _, _ = _run(mat, [F])
    assert _rel(P, _exact_laminate(F, n, f1, NH_SOFT, NH_STIFF)) <= 1e-8


# ------------------------------------------------------------------ homogeneous limit
def _law_path(props, path):
    ns = int(fs_law_nstate(props))
    s = np.zeros(max(ns, 1))
    out = []
    for F in path:
        P = np.zeros((3, 3))
        A = np.zeros((9, 9))
        s_new = np.zeros_like(s)
        assert fs_update(props, F, F, s, 0.0, 0.0, 0.0, P, A, s_new, np.zeros(200)) == 0
        s = s_new
        out.append(P)
    return out


PATHS = {
    "stretch_load_unload": [_stretch(x) for x in np.r_[np.linspace(1.1, 1.5, 5), np.linspace(1.4, 1.0, 5)]],
    "shear": [_shear(g) for g in np.linspace(0.2, 1.0, 5)],
}


@pytest.mark.parametrize("model", ["dmn", "imn"])
@pytest.mark.parametrize("law", ["neohooke", "fj2"])
@pytest.mark.parametrize("path", list(PATHS))
def test_homogeneous_network_is_the_law(model, law, path):
    props = NH_SOFT if law == "neohooke" else J2
    mat = FiniteNetworkMaterial(_net(model), [props, props])
    Ps, _, _ = _run(mat, PATHS[path])
    ref = _law_path(props, PATHS[path])
    scale = max(np.abs(Pr).max() for Pr in ref)  # the path ends unloaded (P = 0 for neo-Hookean)
    for P, Pr in zip(Ps, ref):
        assert np.abs(P - Pr).max() <= 1e-8 * scale


# ------------------------------------------------------------------ small-strain limit
def _small_vs_finite(model, ss_phases, fs_phases, scale, steps):
    """Max relative gap between the Cauchy stress of the finite network at F = 1 + t·scale·H and
    the small-strain network at ε = t·scale·H along the load factors ``steps``."""
    rng = np.random.default_rng(3)
    H = rng.normal(size=(3, 3))
    H = H + H.T
    H /= np.linalg.norm(H)
    ss = NetworkMaterial(_net(model), ss_phases)
    fsm = FiniteNetworkMaterial(_net(model), fs_phases)
    s_ss = ss.initial_state(1)
    s_fs = fsm.initial_state(1)
    gap = 0.0
    for t in steps:
        eps = t * scale * H
        u = ss.update(tensors.to_mandel(eps)[None], s_ss)
        assert u.status[0] == 0
        s_ss = u.state
        F = np.eye(3) + eps
        P, _, s_fs, st = fsm.update(F[None], s_fs)
        assert st[0] == 0
        sig = np.zeros((3, 3))
        cauchy(F, P[0], sig)
        ref = tensors.from_mandel(u.stress[0])
        gap = max(gap, np.abs(sig - ref).max() / np.abs(ref).max())
    return gap


@pytest.mark.parametrize("model", ["dmn", "imn"])
def test_small_strain_limit_elastic(model):
    ss = ["elastic:E=1000,nu=0.3", "elastic:E=8000,nu=0.2"]
    g7 = _small_vs_finite(model, ss, [NH_SOFT, NH_STIFF], 1e-7, [1.0])
    g6 = _small_vs_finite(model, ss, [NH_SOFT, NH_STIFF], 1e-6, [1.0])
    assert g7 <= 1e-6
    assert 3.0 < g6 / g7 < 30.0  # first order in the strain: the geometric terms


@pytest.mark.parametrize("model", ["dmn", "imn"])
def test_small_strain_limit_j2(model):
    # yield at 5e-8 strain: load into plasticity, unload, reverse at |ε| ~ 1e-7
    sy = 5e-5
    ss = [f"j2:E=1000,nu=0.3,sy={sy},H=100", "elastic:E=8000,nu=0.2"]
    fsp = [fj2_props(1000.0, 0.3, sy, 100.0), NH_STIFF]
    steps = [0.5, 1.0, 0.3, -0.5]
    assert _small_vs_finite(model, ss, fsp, 1e-7, steps) <= 1e-6


# ------------------------------------------------------------------ objectivity
@pytest.mark.parametrize("model", ["dmn", "imn"])
@pytest.mark.parametrize("angle", [0.3, 2.0, np.pi])
def test_objectivity(model, angle):
    axis = np.array([0.2, -0.7, 0.4])
    Q = Rotation.from_rotvec(angle * axis / np.linalg.norm(axis)).as_matrix()
    mat = FiniteNetworkMaterial(_net(model), [J2, NH_STIFF])
    path = [np.eye(3) + t * np.array([[0.2, 0.3, 0.0], [0.05, -0.1, 0.1], [0.0, 0.2, 0.15]])
            for t in np.linspace(0.25, 1.0, 4)]
    Ps, _, _ = _run(mat, path)
    Pq, _, _ = _run(mat, [Q @ F for F in path])
    for P, PQ in zip(Ps, Pq):
        assert _rel(PQ, Q @ P) <= 1e-10


# ------------------------------------------------------------------ tangent
def _fd_tangent(mat, F, state, h=1e-6):
    A = np.zeros((9, 9))
    for c in range(9):
        dF = np.zeros(9)
        dF[c] = h
        Pp, _, _, sp = mat.update((F.ravel() + dF).reshape(1, 3, 3), state)
        Pm, _, _, sm = mat.update((F.ravel() - dF).reshape(1, 3, 3), state)
        assert sp[0] == 0 and sm[0] == 0
        A[:, c] = (Pp[0] - Pm[0]).ravel() / (2 * h)
    return A


@pytest.mark.parametrize("model", ["dmn", "imn"])
@pytest.mark.parametrize("regime", ["elastic", "plastic"])
def test_tangent_matches_finite_differences(model, regime):
    phases = [NH_SOFT, NH_STIFF] if regime == "elastic" else [J2, NH_STIFF]
    mat = FiniteNetworkMaterial(_net(model), phases, rtol=1e-13)
    G = np.array([[0.3, 0.2, 0.0], [0.1, -0.1, 0.05], [0.0, 0.1, 0.1]])
    path = [np.eye(3) + t * G for t in (0.2, 0.4, 0.6)]
    _, _, state = _run(mat, path[:-1])
    P, A, _, st = mat.update(path[-1][None], state)
    assert st[0] == 0
    if regime == "plastic":
        assert mat.last_info[0, 1] > 0
    Afd = _fd_tangent(mat, path[-1], state)
    assert _rel(A[0], Afd) <= 1e-5


# ------------------------------------------------------------------ bad input
def test_bad_input_is_status_2():
    mat = FiniteNetworkMaterial(_net("imn"), [NH_SOFT, NH_STIFF])
    good = _stretch(1.2)
    nan = good.copy()
    nan[1, 2] = np.nan
    singular = np.diag([1.0, 1.0, 0.0])
    reflect = np.diag([1.0, 1.0, -1.0])
    F = np.stack([good, nan, singular, reflect, np.full((3, 3), np.inf)])
    P, A, _, st = mat.update(F, mat.initial_state(5))
    assert st.tolist() == [0, 2, 2, 2, 2]
    assert np.all(P[1:] == 0) and np.all(A[1:] == 0)
    state = mat.initial_state(1)
    state[0, 0] = np.nan
    assert mat.update(good[None], state)[3][0] == 2
    with pytest.raises(ValueError):
        FiniteNetworkMaterial(_net("imn"), [NH_SOFT, np.array([99.0, 1.0])])
