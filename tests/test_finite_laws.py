"""Finite-strain phase laws (neo-Hookean, Saint-Venant–Kirchhoff, finite J2): objectivity,
small-strain limit against the small-strain laws, closed forms (uniaxial stretch, simple
shear, uniaxial-strain plasticity), plastic incompressibility and consistency, load / unload,
consistent tangent dP/dF and the Abaqus UMAT (Jaumann) tangent against central differences,
bad input.  Units: MPa.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.linalg import expm, logm

from dmn_umat.laws.elastic import isotropic_stiffness, linear_stress
from dmn_umat.laws.finite import cauchy, cauchy_voigt, umat_tangent
from dmn_umat.laws.finite_j2 import LAW_FJ2, NSTATE, NWS, fj2_update
from dmn_umat.laws.hyperelastic import LAW_SVK, neohooke_props, neohooke_update, svk_update
from dmn_umat.laws.j2 import j2_update

E, NU = 200e3, 0.3
K = E / (3 * (1 - 2 * NU))
G = E / (2 * (1 + NU))
SY, H, Q, B = 200.0, 2000.0, 100.0, 20.0

NEO = neohooke_props(E=E, nu=NU)
SVK = np.array([float(LAW_SVK), E, NU])
FJ2 = np.array([float(LAW_FJ2), E, NU, SY, H, Q, B])
LAWS = {"neohooke": (neohooke_update, NEO), "svk": (svk_update, SVK), "fj2": (fj2_update, FJ2)}
# state order of the finite J2 law: Cp⁻¹ − 1 components 11, 22, 33, 23, 13, 12, then p
SI, SJ = (0, 1, 2, 1, 0, 0), (0, 1, 2, 2, 2, 1)
SQ2 = math.sqrt(2.0)


def update(law, F, state=None, props=None):
    """(status, P, A, state_new) of one call of a finite-strain law."""
    fn, default = LAWS[law]
    props = default if props is None else props
    state = np.zeros(NSTATE) if state is None else state
    P = np.zeros((3, 3))
    A = np.zeros((9, 9))
    new = np.zeros(NSTATE)
    st = fn(props, np.eye(3), np.asarray(F, float), state, 0.0, 20.0, 0.0, P, A, new, np.zeros(NWS))
    return st, P, A, new


def sig(F, P):
    s = np.zeros((3, 3))
    cauchy(np.asarray(F, float), P, s)
    return s


def rotation(axis, angle):
    a = np.asarray(axis, float) / np.linalg.norm(axis)
    W = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + math.sin(angle) * W + (1 - math.cos(angle)) * W @ W


def mandel(s):
    return np.array([s[0, 0], s[1, 1], s[2, 2], SQ2 * s[1, 2], SQ2 * s[0, 2], SQ2 * s[0, 1]])


def cp_inv(state):
    C = np.eye(3)
    for n in range(6):
        C[SI[n], SJ[n]] += state[n]
        C[SJ[n], SI[n]] = C[SI[n], SJ[n]]
    return C


def q_of(tau):
    d = tau - np.trace(tau) / 3 * np.eye(3)
    return math.sqrt(1.5 * np.sum(d * d))


def flow(p):
    return SY + H * p + Q * (1 - math.exp(-B * p))


def plastic_state(F_end, n=10):
    """State after loading from F = 1 to F_end in n increments (linear path in F)."""
    st = np.zeros(NSTATE)
    for t in np.linspace(0, 1, n + 1)[1:]:
        s, _, _, st = update("fj2", np.eye(3) + t * (F_end - np.eye(3)), st)
        assert s == 0
    return st


RNG = np.random.default_rng(14)
F_GEN = np.eye(3) + 0.25 * RNG.standard_normal((3, 3))
F_PLAST = np.eye(3) + 0.02 * RNG.standard_normal((3, 3))


@pytest.mark.parametrize("law", list(LAWS))
@pytest.mark.parametrize("angle", [0.3, 2.0, math.pi])
def test_objectivity(law, angle):
    """F → Q F rotates P to Q P and σ to Q σ Qᵀ; the finite J2 state (Lagrangian) is unchanged."""
    state = plastic_state(F_PLAST) if law == "fj2" else None
    rng = np.random.default_rng(1)
    F = F_PLAST @ (np.eye(3) + 0.01 * rng.standard_normal((3, 3))) if law == "fj2" else F_GEN
    Qr = rotation(rng.standard_normal(3), angle)
    s0, P0, _, n0 = update(law, F, state)
    s1, P1, _, n1 = update(law, Qr @ F, state)
    assert s0 == s1 == 0
    assert np.abs(P1 - Qr @ P0).max() <= 1e-10 * np.abs(P0).max()
    S0, S1 = sig(F, P0), sig(Qr @ F, P1)
    assert np.abs(S1 - Qr @ S0 @ Qr.T).max() <= 1e-10 * np.abs(S0).max()
    if law == "fj2":
        assert n0[6] > state[6] > 0  # plastic in both calls
        assert np.abs(n1 - n0).max() <= 1e-12


def _small_strain(props_ss, path):
    """Small-strain Cauchy stresses (Mandel) along a path of strains (Mandel): the ``j2`` or
    ``elastic`` law of the small-strain catalogue."""
    st = np.zeros(7)
    out = []
    for eps in path:
        s = np.zeros(6)
        new = np.zeros(7)
        if props_ss[0] == 2.0:
            assert j2_update(props_ss, eps, st, s, np.zeros((6, 6)), new, np.zeros(6)) == 0
        else:
            C = np.zeros((6, 6))
            isotropic_stiffness(props_ss, C)
            linear_stress(C, eps, s)
        st = new
        out.append(s)
    return np.array(out)


def _small_strain_gap(law, Hs, amp):
    """max over a path of |σ(F = 1 + amp t H) − σ_small(amp t H)| / max over the path of
    |σ_small|; for fj2 a
    plastic load / elastic unload / reverse-yield path with sy = 0.1 E amp."""
    if law == "fj2":
        sy = 0.1 * amp * E
        props = FJ2.copy()
        props[3] = sy
        props_ss = np.array([2.0, E, NU, sy, H, Q, B, 0.0])
        ts = [0.25, 0.5, 1.0, 0.6, -0.4]
    else:
        props, props_ss, ts = LAWS[law][1], np.array([0.0, E, NU]), [1.0]
    ref = _small_strain(props_ss, [mandel(amp * t * Hs) for t in ts])
    st = np.zeros(NSTATE)
    gap = 0.0
    for t, r in zip(ts, ref):
        F = np.eye(3) + amp * t * Hs
        s, P, _, st = update(law, F, st, props)
        assert s == 0
        gap = max(gap, np.abs(mandel(sig(F, P)) - r).max())
    if law == "fj2":
        assert st[6] > 0
    return gap / np.abs(ref).max()


@pytest.mark.parametrize("law", list(LAWS))
def test_small_strain_limit(law):
    """F = 1 + |ε| H (H symmetric, |H| = 1): σ equals the small-strain law (``elastic`` /
    ``j2``) up to the geometric second-order terms — a gap relative to the path's largest
    stress that falls tenfold with |ε| (first order) and is ≤ 1e-6 at |ε| = 1e-7 (at 1e-6:
    up to 1.1e-6 neo-Hookean, 2.8e-6 SVK, 6.5e-6 J2 whose stress is capped at 0.1 E |ε|)."""
    rng = np.random.default_rng(2)
    for _ in range(4):
        Hs = rng.standard_normal((3, 3))
        Hs = Hs + Hs.T
        Hs /= np.linalg.norm(Hs)
        g6 = _small_strain_gap(law, Hs, 1e-6)
        g7 = _small_strain_gap(law, Hs, 1e-7)
        assert g7 <= 1e-6 and 0.05 <= g7 / g6 <= 0.15


def test_fj2_below_yield_is_hencky():
    """Below yield the finite J2 law is Hencky elasticity: τ = K ln J 1 + 2G dev(½ ln b)."""
    props = FJ2.copy()
    props[3] = 1e9  # never yields
    F = F_GEN
    s, P, _, new = update("fj2", F, props=props)
    eps = 0.5 * np.real(logm(F @ F.T))
    tau = K * np.trace(eps) * np.eye(3) + 2 * G * (eps - np.trace(eps) / 3 * np.eye(3))
    assert s == 0 and new[6] == 0
    assert np.abs(P - tau @ np.linalg.inv(F).T).max() <= 1e-10 * np.abs(P).max()
    assert np.abs(new[:6]).max() <= 1e-12  # no plastic flow: Cp stays 1


def test_neohooke_closed_forms():
    """Simple shear γ = 1 and uniaxial stretch λ = 1.5 (uniaxial strain) against the closed
    forms of W = C10 (Ī1 − 3) + (J − 1)² / D1; the E, ν ↔ C10, D1 conversion."""
    C10, D1 = NEO[1], NEO[2]
    assert 2 * C10 == pytest.approx(G, rel=1e-15) and 2 / D1 == pytest.approx(K, rel=1e-15)
    g = 1.0
    F = np.eye(3) + g * np.outer([1, 0, 0], [0, 1, 0])
    s, P, _, _ = update("neohooke", F)
    S = sig(F, P)
    mu = 2 * C10
    ref = np.array([[2 * mu * g * g / 3, mu * g, 0], [mu * g, -mu * g * g / 3, 0],
                    [0, 0, -mu * g * g / 3]])
    assert s == 0 and np.abs(S - ref).max() <= 1e-12 * mu
    lam = 1.5
    F = np.diag([lam, 1.0, 1.0])
    s, P, _, _ = update("neohooke", F)
    S = sig(F, P)
    Jm = lam ** (-2 / 3)
    pr = 2 / D1 * (lam - 1)
    s11 = mu / lam * Jm * (lam**2 - (lam**2 + 2) / 3) + pr
    s22 = mu / lam * Jm * (1 - (lam**2 + 2) / 3) + pr
    assert np.abs(S - np.diag([s11, s22, s22])).max() <= 1e-12 * abs(s11)


def test_svk_closed_forms():
    """SVK uniaxial strain λ = 1.4 and uniaxial stress (ν = 0): P11 = E (λ³ − λ) / 2."""
    lam = 1.4
    F = np.diag([lam, 1.0, 1.0])
    s, P, _, _ = update("svk", F)
    e = (lam**2 - 1) / 2
    lame = K - 2 * G / 3
    S11, S22 = (lame + 2 * G) * e, lame * e
    assert s == 0
    assert np.abs(P - np.diag([lam * S11, S22, S22])).max() <= 1e-12 * abs(P[0, 0])
    s, P, _, _ = update("svk", F, props=np.array([float(LAW_SVK), E, 0.0]))
    assert abs(P[0, 0] - E * (lam**3 - lam) / 2) <= 1e-12 * abs(P[0, 0])
    assert abs(P[1, 1]) <= 1e-12 * abs(P[0, 0])


def test_fj2_uniaxial_strain_is_small_strain_j2_in_log_strain():
    """Stretch along fixed axes F = diag(λ, 1, 1): the exponential-map return is exact, so the
    Kirchhoff stress equals the small-strain j2 at ε = diag(ln λ, 0, 0) on a load / unload /
    reverse path (≤ 1e-10); p is unchanged on elastic unloading."""
    lams = np.concatenate([np.linspace(1.0, 1.3, 16)[1:], np.linspace(1.3, 1.298, 3)[1:],
                           np.linspace(1.298, 0.9, 10)[1:]])
    ref = _small_strain(np.array([2.0, E, NU, SY, H, Q, B, 0.0]),
                        [mandel(np.diag([math.log(x), 0, 0])) for x in lams])
    st = np.zeros(NSTATE)
    ps = []
    for lam, r in zip(lams, ref):
        F = np.diag([lam, 1.0, 1.0])
        s, P, _, st = update("fj2", F, st)
        assert s == 0
        assert np.abs(mandel(P @ F.T) - r).max() <= 1e-10 * np.abs(r).max()
        ps.append(st[6])
    assert ps[14] > 0.15 and ps[15] == ps[14] == ps[16]  # unloading is elastic
    assert ps[-1] > ps[16]  # reverse yielding


def test_fj2_incompressibility_consistency_rotation():
    """General plastic path: det Fp = 1 (det Cp⁻¹ = 1), the returned τ is on the yield surface
    q = σy(p), elastic unloading keeps p, and a 180° rotation after loading keeps the state."""
    F_end = np.eye(3) + 0.4 * np.random.default_rng(3).standard_normal((3, 3))
    F_end *= np.linalg.det(F_end) ** (-1 / 3) * 1.05
    st = np.zeros(NSTATE)
    for t in np.linspace(0, 1, 21)[1:]:
        F = np.eye(3) + t * (F_end - np.eye(3))
        s, P, _, st = update("fj2", F, st)
        assert s == 0
        assert abs(np.linalg.det(cp_inv(st)) - 1) <= 1e-12
        assert abs(q_of(P @ F.T) - flow(st[6])) <= 1e-10 * flow(st[6])
    p_end = st[6]
    assert p_end > 0.1
    # unload towards the stress-free elastic state: p constant, then rotate by 180°
    s, P, _, st2 = update("fj2", np.eye(3) + 0.995 * (F_end - np.eye(3)), st)
    assert s == 0 and st2[6] == p_end
    s, P, _, st3 = update("fj2", rotation([1, 2, 3], math.pi) @ F_end, st)
    assert s == 0 and st3[6] == p_end and np.abs(st3 - st).max() <= 1e-12


def _fd_A(law, F, state, props=None, h=1e-7):
    A = np.zeros((9, 9))
    for c in range(9):
        dF = np.zeros(9)
        dF[c] = h
        dF = dF.reshape(3, 3)
        A[:, c] = (update(law, F + dF, state, props)[1] - update(law, F - dF, state, props)[1]).ravel()
    return A / (2 * h)


CASES = [("neohooke", "general"), ("svk", "general"), ("fj2", "elastic"), ("fj2", "plastic"),
         ("fj2", "plastic-large"), ("neohooke", "identity"), ("fj2", "identity"),
         ("neohooke", "repeated"), ("fj2", "repeated-plastic")]


def _case(law, regime):
    """(F, state) of a tangent check; "identity" / "repeated": equal principal stretches (the
    divided differences of ln at coinciding eigenvalues)."""
    if regime == "identity":
        return np.eye(3), None
    if regime == "repeated":
        return np.diag([1.1, 1.1, 1.2]), None
    if regime == "repeated-plastic":
        return np.diag([1.3, 1.0, 1.0]), None
    if law != "fj2":
        return F_GEN, None
    if regime == "elastic":
        st = plastic_state(F_PLAST)
        return np.eye(3) + 0.99 * (F_PLAST - np.eye(3)), st  # unloading from a plastic state
    if regime == "plastic":
        st = plastic_state(F_PLAST)
        return F_PLAST + 0.005 * np.random.default_rng(4).standard_normal((3, 3)), st
    return F_GEN, None  # one large plastic increment from the virgin state


@pytest.mark.parametrize("law,regime", CASES)
def test_tangent_fd(law, regime):
    """dP/dF of the kernel against central differences (≤ 1e-5 relative)."""
    F, st = _case(law, regime)
    s, P, A, new = update(law, F, st)
    assert s == 0
    if law == "fj2":
        flows = new[6] > (0 if st is None else st[6])
        assert flows == (regime in ("plastic", "plastic-large", "repeated-plastic"))
    assert np.abs(A - _fd_A(law, F, st)).max() <= 1e-5 * np.abs(A).max()


@pytest.mark.parametrize("law,regime", CASES)
def test_umat_tangent_fd(law, regime):
    """The Abaqus DDSDDE (Jaumann rate of τ over J) against central differences of τ / J under
    F → F + (ε/2)(e_k⊗e_l + e_l⊗e_k) F (Abaqus' perturbation), and the Voigt Cauchy stress."""
    F, st = _case(law, regime)
    s, P, A, _ = update(law, F, st)
    D = np.zeros((6, 6))
    umat_tangent(F, P, A, D)
    J = np.linalg.det(F)
    sv = np.zeros(6)
    cauchy_voigt(F, P, sv)
    S = sig(F, P)
    assert np.abs(sv - S[[0, 1, 2, 0, 0, 1], [0, 1, 2, 1, 2, 2]]).max() <= 1e-12 * np.abs(S).max()
    h = 1e-7
    pairs = [(0, 0), (1, 1), (2, 2), (0, 1), (0, 2), (1, 2)]
    Dfd = np.zeros((6, 6))
    for m, (k, l) in enumerate(pairs):
        de = np.zeros((3, 3))
        de[k, l] += h / 2
        de[l, k] += h / 2
        taus = []
        for sgn in (1, -1):
            Fp = F + sgn * de @ F
            Pp = update(law, Fp, st)[1]
            taus.append(Pp @ Fp.T)
        dt = (taus[0] - taus[1]) / (2 * h * J)
        Dfd[:, m] = [dt[i, j] for i, j in pairs]
    assert np.abs(D - Dfd).max() <= 1e-5 * np.abs(D).max()


@pytest.mark.parametrize("law", list(LAWS))
def test_bad_input(law):
    """NaN F, det F ≤ 0, invalid constants, NaN state → status 2, no exception."""
    bad_F = [np.full((3, 3), np.nan), np.diag([-1.0, 1.0, 1.0]), np.zeros((3, 3)),
             np.diag([1.0, 1.0, np.inf])]
    for F in bad_F:
        assert update(law, F)[0] == 2
    props = LAWS[law][1].copy()
    props[1] = -1.0
    assert update(law, np.eye(3), props=props)[0] == 2
    props = LAWS[law][1].copy()
    props[2] = np.nan
    assert update(law, np.eye(3), props=props)[0] == 2
    assert update(law, np.eye(3), props=LAWS[law][1][:2])[0] == 2  # short props
    if law == "fj2":
        st = np.zeros(NSTATE)
        st[3] = np.nan
        assert update(law, np.eye(3), st)[0] == 2
        st = np.zeros(NSTATE)
        st[0] = -2.0  # Cp⁻¹ not positive definite
        assert update(law, np.eye(3), st)[0] == 2
        fn, props = LAWS[law]
        P, A = np.zeros((3, 3)), np.zeros((9, 9))
        assert fn(props, np.eye(3), np.eye(3), np.zeros(7), 0.0, 0.0, 0.0, P, A, np.zeros(7),
                  np.zeros(NWS - 1)) == 2  # short scratch


def test_exp_log_consistency():
    """Independent check of the state update: Cp⁻¹ = F⁻¹ exp(2 εe) F⁻ᵀ with the returned
    elastic log strain εe = (τ-based) Hencky inverse: ½ ln(F Cp⁻¹ Fᵀ) gives back τ."""
    F = F_GEN
    s, P, _, st = update("fj2", F)
    assert s == 0 and st[6] > 0
    be = F @ cp_inv(st) @ F.T
    ee = 0.5 * np.real(logm(be))
    tau = K * np.trace(ee) * np.eye(3) + 2 * G * (ee - np.trace(ee) / 3 * np.eye(3))
    assert np.abs(tau - P @ F.T).max() <= 1e-9 * np.abs(tau).max()
    assert np.allclose(expm(2 * ee), be, rtol=1e-10, atol=1e-12)
