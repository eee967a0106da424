"""Conventions, phase specs, phase laws and the network container."""

import numpy as np
import pytest

from dmn_umat import network, tensors
from dmn_umat.laws import PhaseSpecError, parse_phase
from dmn_umat.laws import update as laws

_WS = np.zeros(laws.MAX_NWS)  # law scratch (phase_update)


def test_mandel_roundtrip_and_norm():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 3))
    t = a + a.T
    v = tensors.to_mandel(t)
    assert np.allclose(tensors.from_mandel(v), t)
    assert np.isclose(v @ v, np.sum(t * t))  # Mandel dot = double contraction


def test_voigt_boundary_conversion():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(3, 3))
    eps = a + a.T
    ev = np.array([eps[0, 0], eps[1, 1], eps[2, 2], 2 * eps[0, 1], 2 * eps[0, 2], 2 * eps[1, 2]])
    m = np.empty(6)
    tensors.voigt_strain_to_mandel(ev, 6, m)
    assert np.allclose(m, tensors.to_mandel(eps))
    b = rng.normal(size=(6, 6))
    C = parse_phase(
        "aniso:C=" + ";".join(repr(float(x)) for x in (b @ b.T + 6 * np.eye(6))[np.triu_indices(6)])
    ).stiffness()
    s = C @ m
    sv = np.empty(6)
    tensors.mandel_stress_to_voigt(s, 6, sv)
    st = tensors.from_mandel(s)
    assert np.allclose(sv, [st[0, 0], st[1, 1], st[2, 2], st[0, 1], st[0, 2], st[1, 2]])
    D = np.empty((6, 6))
    tensors.mandel_tangent_to_voigt(C, 6, D)
    assert np.allclose(D @ ev, sv)  # Voigt tangent acts on engineering strain


def test_laminate_formula_matches_classical_layered_solution():
    """Layers normal to x1: σ11, ε22, ε33, ε23 continuous; check the closed form."""
    C1 = tensors.isotropic_stiffness(1.0, 0.3)
    C2 = tensors.isotropic_stiffness(1000.0, 0.2)
    f1 = 0.3
    Cb = tensors.laminate_stiffness(C1, C2, f1, np.array([1.0, 0, 0]))
    # classical: out-of-plane shear (12, 13) is the harmonic mean, in-plane shear (23) the
    # arithmetic mean, and the normal stiffness C11 under uniaxial strain the harmonic mean
    harm = lambda i: 1 / (f1 / C1[i, i] + (1 - f1) / C2[i, i])  # noqa: E731
    assert np.isclose(Cb[5, 5], harm(5)) and np.isclose(Cb[4, 4], harm(4))
    assert np.isclose(Cb[3, 3], f1 * C1[3, 3] + (1 - f1) * C2[3, 3])
    assert np.isclose(Cb[0, 0], harm(0))
    # rotation objectivity: laminate of rotated phases = rotated laminate
    R = tensors.rotation_from_euler(0.4, 1.1, -0.3)
    n = R @ np.array([1.0, 0, 0])
    Cr = tensors.laminate_stiffness(tensors.rotate_stiffness(C1, R), tensors.rotate_stiffness(C2, R), f1, n)
    assert np.allclose(Cr, tensors.rotate_stiffness(Cb, R))


@pytest.mark.parametrize(
    "spec",
    [
        "j2",
        "j2:E=1,nu=0.3",
        "elastic:E=1",
        "elastic:E=nan,nu=0.3",
        "elastic:E=1,nu=0.6",
        "foo:E=1,nu=.3",
        "aniso:C=1;2",
        "j2:E=1,nu=.3,sy=1,Q=2",
        "j2:E=1,nu=.3,sy=x",
    ],
)
def test_bad_phase_specs_are_refused(spec):
    with pytest.raises(PhaseSpecError):
        parse_phase(spec)


def _fd_tangent(props, eps, state):
    h = 1e-8
    T = np.zeros((6, 6))
    for j in range(6):
        sp, sm = np.zeros(6), np.zeros(6)
        ep, em = eps.copy(), eps.copy()
        ep[j] += h
        em[j] -= h
        laws.phase_update(props, ep, state, 0.0, 0.0, 0.0, sp, np.zeros((6, 6)), np.zeros(7), _WS)
        laws.phase_update(props, em, state, 0.0, 0.0, 0.0, sm, np.zeros((6, 6)), np.zeros(7), _WS)
        T[:, j] = (sp - sm) / (2 * h)
    return T


@pytest.mark.parametrize(
    "spec", ["j2:E=200e3,nu=0.3,sy=250,H=1000", "j2:E=70e3,nu=0.33,sy=100,H=200,Q=80,b=30,Hk=3000"]
)
def test_j2_consistent_tangent_matches_finite_differences(spec):
    ph = parse_phase(spec)
    rng = np.random.default_rng(3)
    state = np.zeros(7)
    stress, T, new = np.zeros(6), np.zeros((6, 6)), np.zeros(7)
    for step in range(4):  # plastic loading with changing direction, then check tangent
        eps = 0.004 * (step + 1) * rng.normal(size=6)
        assert laws.phase_update(ph.props, eps, state, 0.0, 0.0, 0.0, stress, T, new, _WS) == 0
        assert new[6] > state[6]
        Tfd = _fd_tangent(ph.props, eps, state)
        assert np.abs(T - Tfd).max() <= 1e-5 * np.abs(T).max()
        assert np.allclose(T, T.T, atol=1e-8 * np.abs(T).max())
        state = new.copy()


def test_j2_uniaxial_linear_hardening_closed_form():
    """Uniaxial stress: σ = sy + E_t (ε − sy/E) with E_t = E H' / (E + H'), H' = H + Hk."""
    E, nu, sy, H, Hk = 200e3, 0.3, 250.0, 2000.0, 1000.0
    ph = parse_phase(f"j2:E={E},nu={nu},sy={sy},H={H},Hk={Hk}")
    state = np.zeros(7)
    for e11 in np.linspace(0.0005, 0.02, 15):
        # solve lateral strains for zero lateral stress (Newton on the 5 other components)
        eps = np.array([e11, -nu * e11, -nu * e11, 0, 0, 0])
        for _ in range(30):
            s, T, new = np.zeros(6), np.zeros((6, 6)), np.zeros(7)
            laws.phase_update(ph.props, eps, state, 0.0, 0.0, 0.0, s, T, new, _WS)
            if np.abs(s[1:]).max() < 1e-10 * sy:
                break
            eps[1:] -= np.linalg.solve(T[1:, 1:], s[1:])
        Hp = H + Hk
        ref = E * e11 if E * e11 <= sy else sy + E * Hp / (E + Hp) * (e11 - sy / E)
        assert abs(s[0] - ref) <= 1e-9 * ref
        state = new.copy()


def test_network_homogenize_depth1_is_laminate_and_pd():
    C1 = tensors.isotropic_stiffness(3.0, 0.3)
    C2 = tensors.isotropic_stiffness(300.0, 0.25)
    n = np.array([[0.3, -0.5, 0.8]])
    net = network.complete_tree(1, np.array([0.25, 0.75]), n)
    net.validate()
    Cb = net.homogenize([C1, C2])
    assert np.allclose(Cb, tensors.laminate_stiffness(C1, C2, 0.25, n[0]))
    rng = np.random.default_rng(5)
    net = network.complete_tree(4, rng.uniform(0, 1, 16), rng.normal(size=(15, 3)))
    net.validate()
    assert np.linalg.eigvalsh(net.homogenize([C1, C2])).min() > 0
