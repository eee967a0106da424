"""Rate-dependent and cyclic phase laws (viscoplastic, Norton–Bailey creep, Chaboche) against
independent integrations of their ODEs (scipy ``solve_ivp``, Radau, rtol 1e-10) and closed
forms; first-order convergence of the backward-Euler kernels; the rate-independent limits;
the consistent tangent against central differences; bad input.

Units: MPa, s.  Paths: uniaxial strain (ε11), shear (ε12), and uniaxial stress by mixed
control (all six stresses prescribed, Newton on the strain with the kernel's tangent).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.integrate import solve_ivp

from dmn_umat.laws.chaboche import NPROPS as CH_NPROPS
from dmn_umat.laws.chaboche import NSTATE as CH_NSTATE
from dmn_umat.laws.chaboche import NWS as CH_NWS
from dmn_umat.laws.chaboche import chaboche_update
from dmn_umat.laws.creep import NSTATE as CREEP_NSTATE
from dmn_umat.laws.creep import creep_update
from dmn_umat.laws.j2 import j2_update
from dmn_umat.laws.viscoplastic import NSTATE as VP_NSTATE
from dmn_umat.laws.viscoplastic import vp_update

SQ2 = math.sqrt(2.0)
E, NU = 200e3, 0.3
G = E / (2 * (1 + NU))
# head: E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk
HEAD = [E, NU, 200.0, 2000.0, 100.0, 20.0, 1000.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0]


def vp_props(eta=100.0, m=0.2, form=0, head=HEAD):
    return np.array([3.0, *head, eta, m, form])


def creep_props(A, n, k, sy=0.0, H=0.0, Q=0.0, b=0.0, Hk=0.0):
    head = [E, NU, sy, H, Q, b, Hk, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    return np.array([4.0, *head, A, n, k])


CHAB_BACK = [(60e3, 600.0, 0.0), (5e3, 20.0, 0.0)]


def chab_props(eta=0.0, m=0.3, form=0, back=CHAB_BACK, head=None):
    head = head or [E, NU, 150.0, 0.0, 50.0, 10.0, 0.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    return np.array([5.0, *head, eta, m, form, *[v for c in back for v in c]])


LAWS = {  # name -> (update, nstate, nws)
    "vp": (vp_update, VP_NSTATE, 30),
    "creep": (creep_update, CREEP_NSTATE, 30),
    "chaboche": (chaboche_update, CH_NSTATE, CH_NWS),
}


def call(law, props, eps, st, dt, temp=20.0, dtemp=0.0):
    """One kernel call: (status, stress, tangent, new state)."""
    upd, ns, nw = LAWS[law]
    s, C, sn = np.zeros(6), np.zeros((6, 6)), np.zeros(ns)
    status = upd(props, np.asarray(eps, float), st, dt, temp, dtemp, s, C, sn, np.zeros(nw))
    return status, s, C, sn


def drive_strain(law, props, times, eps_path, st0=None):
    """Strain-driven path: stresses (N, 6) and states (N, ns) at the path times."""
    ns = LAWS[law][1]
    st = np.zeros(ns) if st0 is None else st0.copy()
    out_s, out_st = [np.zeros(6)], [st.copy()]
    for i in range(1, len(times)):
        status, s, _, st = call(law, props, eps_path[i], st, times[i] - times[i - 1])
        assert status == 0
        out_s.append(s)
        out_st.append(st)
    return np.array(out_s), np.array(out_st)


def drive_stress(law, props, times, sig_path, st0=None):
    """Mixed (full stress) control: strains (N, 6) with stress(ε_i) = sig_path[i]."""
    ns = LAWS[law][1]
    st = np.zeros(ns) if st0 is None else st0.copy()
    eps = np.zeros(6)
    out = [eps.copy()]
    for i in range(1, len(times)):
        dt = times[i] - times[i - 1]
        for _ in range(30):
            status, s, C, sn = call(law, props, eps, st, dt)
            assert status == 0
            r = sig_path[i] - s
            if np.abs(r).max() <= 1e-10 * max(np.abs(sig_path[i]).max(), 1.0):
                break
            eps = eps + np.linalg.solve(C, r)
        else:
            raise AssertionError("mixed control did not converge")
        st = sn
        out.append(eps.copy())
    return np.array(out)


# ---------------------------------------------------------------- reference ODEs (3-D)
def dev(v):
    out = v.copy()
    out[:3] -= v[:3].sum() / 3.0
    return out


def ode_rhs_3d(t, y, eps_of_t, sy, H, Q, b, Hk, back, rate):
    """dy/dt for y = [εp (6), p, X_i (6 each)] under the prescribed total strain ε(t)."""
    ep, p = y[:6], y[6]
    X = [y[7 + 6 * i:13 + 6 * i] for i in range(len(back))]
    xi = 2 * G * dev(eps_of_t(t) - ep) - 2.0 / 3.0 * Hk * ep - sum(X, np.zeros(6))
    q = math.sqrt(1.5) * np.linalg.norm(xi)
    sig_y = sy + H * p + Q * (1 - math.exp(-b * max(p, 0.0)))  # p < 0 only in trial iterates
    pdot = rate(q, sig_y, t)
    dy = np.zeros_like(y)
    if pdot > 0.0:
        Nn = 1.5 * xi / q
        dy[:6] = pdot * Nn
        dy[6] = pdot
        for i, (C, g, _) in enumerate(back):
            dy[7 + 6 * i:13 + 6 * i] = 2.0 / 3.0 * C * pdot * Nn - g * X[i] * pdot
    return dy


def peric(eta, m):
    return lambda q, sy, t: max((q / sy) ** (1.0 / m) - 1.0, 0.0) / eta


def perzyna(eta, m):
    return lambda q, sy, t: max(q / sy - 1.0, 0.0) ** (1.0 / m) / eta


def ode_strain_path(times, eps_of_t, props_head, back, rate, breaks=()):
    """Stress history (N, 6) of the ODE at ``times`` (integrated piecewise between breaks)."""
    sy, H, Q, b, Hk = props_head
    y = np.zeros(7 + 6 * len(back))
    edges = [times[0], *[t for t in breaks if times[0] < t < times[-1]], times[-1]]
    ys = []
    for a, c in zip(edges[:-1], edges[1:]):
        sel = times[(times >= a) & (times <= c)]
        sol = solve_ivp(ode_rhs_3d, (a, c), y, method="Radau", rtol=1e-10, atol=1e-13, t_eval=sel,
                        args=(eps_of_t, sy, H, Q, b, Hk, back, rate))
        assert sol.success
        ys.extend(sol.y.T if not ys else sol.y.T[1:])
        y = sol.y[:, -1]
    ys = np.array(ys)
    K = E / (3 * (1 - 2 * NU))
    out = []
    for t, yy in zip(times, ys):
        e = eps_of_t(t)
        out.append(K * e[:3].sum() * np.r_[1, 1, 1, 0, 0, 0] + 2 * G * dev(e - yy[:6]))
    return np.array(out)


def rel_err(a, ref):
    """max |a − ref| / max |ref| (all components)."""
    return np.abs(a - ref).max() / np.abs(ref).max()


def dev_err(s, ref):
    """rel_err of the deviatoric stresses (the elastic pressure carries no viscous error)."""
    return rel_err(np.array([dev(v) for v in s]), np.array([dev(v) for v in ref]))


# ---------------------------------------------------------------- viscoplastic (Peric / Perzyna)
def _uniaxial(t_ramp, e_max):
    return lambda t: np.array([e_max * min(t / t_ramp, 1.0), 0, 0, 0, 0, 0])


CHAB_HEAD5 = [150.0, 0.0, 50.0, 10.0, 0.0]  # sy, H, Q, b, Hk of chab_props()
#: name -> (law, props, (sy, H, Q, b, Hk), back-stresses, ṗ(q, σy, t)) of the rate tests
RATE_CASES = {
    "vp Peric": ("vp", vp_props(1000.0, 0.5, 0), HEAD[2:7], [], peric(1000.0, 0.5)),
    "vp Perzyna": ("vp", vp_props(1000.0, 0.5, 1), HEAD[2:7], [], perzyna(1000.0, 0.5)),
    "creep + plasticity": ("creep", creep_props(1e-7, 2.0, 0.0, *HEAD[2:7]), HEAD[2:7], [],
                           lambda q, sy, t: 1e-7 * max(q - sy, 0.0) ** 2),
    "chaboche Peric": ("chaboche", chab_props(1000.0, 0.5), CHAB_HEAD5, CHAB_BACK, peric(1000.0, 0.5)),
}


@pytest.mark.parametrize("case", list(RATE_CASES))
def test_relaxation_matches_ode_first_order(case):
    """Ramp ε11 to 0.5 % in 5 s, hold to 50 s: the stress relaxes; the backward-Euler kernel
    converges to the Radau solution at first order."""
    law, props, head, back, rate = RATE_CASES[case]
    path = _uniaxial(5.0, 0.005)
    errs = []
    for n in (400, 800):
        times = np.linspace(0, 50, n + 1)
        s, st = drive_strain(law, props, times, np.array([path(t) for t in times]))
        ref = ode_strain_path(times, path, head, back, rate, breaks=(5.0,))
        errs.append(dev_err(s, ref))
    # relaxation happened: the held deviatoric stress σ11 − σ22 dropped by more than 5 %
    q = s[:, 0] - s[:, 1]
    assert q[-1] < 0.95 * q[times.searchsorted(5.0)]
    assert 1.7 < errs[0] / errs[1] < 2.3, errs
    assert errs[1] < 8e-3, errs


@pytest.mark.parametrize("case", list(RATE_CASES))
def test_two_strain_rates_two_decades(case):
    """Tension (uniaxial strain) to 2 % at 1e-4/s and 1e-2/s: faster is stronger, both match
    the ODE."""
    law, props, head, back, rate = RATE_CASES[case]
    q_end = []
    for rate_e in (1e-4, 1e-2):
        t_end = 0.02 / rate_e
        path = _uniaxial(t_end, 0.02)
        times = np.linspace(0, t_end, 801)
        s, _ = drive_strain(law, props, times, np.array([path(t) for t in times]))
        ref = ode_strain_path(times, path, head, back, rate)
        assert dev_err(s, ref) < 3e-3
        q_end.append(s[-1, 0] - s[-1, 1])
    assert q_end[1] > 1.2 * q_end[0]


def test_vp_eta_to_zero_is_j2_and_dt0_is_elastic_trial():
    """η → 0 reproduces the rate-independent j2 law (≤ 1e-8) on load/unload/reverse; dt = 0
    returns the elastic trial response even beyond yield."""
    props = vp_props(eta=1e-20, m=0.5)
    pj = np.array([2.0, *HEAD[:7]])
    path = np.array([[0, 0, 0, 0, 0, 0], [4e-3, -1e-3, 0, 2e-3, 0, 0], [1e-3, 0, 0, 0, 1e-3, 0],
                     [-5e-3, 2e-3, 1e-3, -3e-3, 0, 1e-3], [0, 0, 0, 0, 0, 0]])
    st, stj = np.zeros(7), np.zeros(7)
    for e in path[1:]:
        status, s, C, st = call("vp", props, e, st, 1.0)
        sj, Cj, sn = np.zeros(6), np.zeros((6, 6)), np.zeros(7)
        assert status == 0 and j2_update(pj, e, stj, sj, Cj, sn, np.zeros(6)) == 0
        stj = sn
        assert rel_err(s, sj) <= 1e-8 and rel_err(C, Cj) <= 1e-8 and np.abs(st - stj).max() <= 1e-12
    # dt = 0: elastic trial, state unchanged
    e = np.array([5e-3, 0, 0, 0, 0, 0])
    status, s, C, sn = call("vp", vp_props(), e, np.zeros(7), 0.0)
    lam = E * NU / ((1 + NU) * (1 - 2 * NU))
    assert status == 0 and np.allclose(s[:3], [(lam + 2 * G) * 5e-3, lam * 5e-3, lam * 5e-3], rtol=1e-14)
    assert not sn.any()


# ---------------------------------------------------------------- creep
def test_norton_bailey_creep_at_constant_stress():
    """Uniaxial stress 100 MPa held from t = 1 s to 101 s (time hardening k = −0.3): creep
    strain = A σ^n (t^(k+1) − 1)/(k+1) (closed form), incompressible; first order in dt."""
    A, n, k, s0 = 1e-10, 3.0, -0.3, 100.0
    props = creep_props(A, n, k)
    st0 = np.zeros(CREEP_NSTATE)
    st0[7] = 1.0  # total time at the start
    errs = []
    for N in (100, 200):
        times = np.r_[0.0, np.linspace(0, 100, N + 1)]  # first increment: dt = 0 (load)
        sig = np.tile([s0, 0, 0, 0, 0, 0], (len(times), 1))
        eps = drive_stress("creep", props, times, sig, st0)
        t = 1.0 + times[1:]
        ecr = A * s0**n * (t ** (k + 1) - 1.0) / (k + 1)
        errs.append(np.abs(eps[1:, 0] - s0 / E - ecr).max() / ecr[-1])
        assert np.allclose(eps[1:, 1], -NU * s0 / E - 0.5 * (eps[1:, 0] - s0 / E), rtol=0, atol=1e-12)
    assert ecr[-1] > 5 * s0 / E * 0.1  # creep is significant (> half the elastic strain)
    assert 1.7 < errs[0] / errs[1] < 2.3, errs
    assert errs[1] < 6e-3, errs


def test_creep_with_plasticity_constant_stress_matches_ode():
    """Combined (CalculiX *PLASTIC + *CREEP) form under 150 MPa > sy = 100 MPa:
    ṗ = A ⟨σ − σy(p)⟩^n, ε11 = σ/E + p, vs Radau."""
    A, n, sy, H, Q, b = 1e-8, 3.0, 100.0, 2000.0, 50.0, 20.0
    s0 = 150.0
    props = creep_props(A, n, 0.0, sy, H, Q, b)
    sol = solve_ivp(lambda t, p: [A * max(s0 - sy - H * p[0] - Q * (1 - math.exp(-b * p[0])), 0) ** n],
                    (0, 50), [0.0], method="Radau", rtol=1e-10, atol=1e-14, dense_output=True)
    errs = []
    for N in (200, 400):
        times = np.r_[0.0, np.linspace(0, 50, N + 1)]
        eps = drive_stress("creep", props, times, np.tile([s0, 0, 0, 0, 0, 0], (len(times), 1)))
        ref = s0 / E + sol.sol(times[1:])[0]
        errs.append(np.abs(eps[1:, 0] - ref).max() / (ref[-1] - s0 / E))
    assert 1.7 < errs[0] / errs[1] < 2.3, errs
    assert errs[1] < 5e-3, errs


def test_creep_relaxation_matches_ode():
    """Pure Norton creep (k = 0): uniaxial strain held at 0.1 % relaxes as the ODE."""
    A, n = 1e-12, 3.0
    path = _uniaxial(1.0, 0.001)
    times = np.r_[np.linspace(0, 1, 11), np.linspace(1, 200, 401)[1:]]
    s, _ = drive_strain("creep", creep_props(A, n, 0.0), times, np.array([path(t) for t in times]))
    ref = ode_strain_path(times, path, [0.0] * 5, [], lambda q, sy, t: A * q**n, breaks=(1.0,))
    assert s[-1, 0] - s[-1, 1] < 0.8 * (s[10, 0] - s[10, 1])
    assert dev_err(s, ref) < 3e-3


# ---------------------------------------------------------------- Chaboche
def test_chaboche_cyclic_shear_matches_ode_first_order():
    """Viscous Chaboche (2 back-stresses + Voce), cyclic shear with a drifting mean: hysteresis
    loops match Radau, first order in dt."""
    eta, m = 10.0, 0.3
    props = chab_props(eta, m)
    head = [150.0, 0.0, 50.0, 10.0, 0.0]

    def path(t):
        e = np.zeros(6)
        e[5] = SQ2 * (0.0005 * t / 10.0 + 0.004 * math.sin(2 * math.pi * t / 10.0))
        return e

    errs = []
    for N in (600, 1200):
        times = np.linspace(0, 30, N + 1)
        s, st = drive_strain("chaboche", props, times, np.array([path(t) for t in times]))
        ref = ode_strain_path(times, path, head, CHAB_BACK, peric(eta, m))
        errs.append(rel_err(s, ref))
    assert st[-1, 6] > 0.02  # three plastic cycles
    assert 1.7 < errs[0] / errs[1] < 2.3, errs
    assert errs[1] < 4e-3, errs


def test_chaboche_ratcheting_under_stress_control_matches_ode():
    """Uniaxial stress 50 + 250 sin(2πt/10) MPa (viscous Chaboche): the strain ratchets; the
    1-D form (σ − x, ẋ_i = C_i ε̇p − γ_i x_i ṗ) integrated by Radau agrees."""
    eta, m = 10.0, 0.3
    props = chab_props(eta, m)
    sy, Qv, bv = 150.0, 50.0, 10.0

    def sig(t):
        return 50.0 + 250.0 * math.sin(2 * math.pi * t / 10.0)

    def rhs(t, y):
        ep, p, x1, x2 = y
        q = abs(sig(t) - x1 - x2)
        pd = peric(eta, m)(q, sy + Qv * (1 - math.exp(-bv * max(p, 0.0))), t)
        sgn = math.copysign(1.0, sig(t) - x1 - x2)
        (C1, g1, _), (C2, g2, _) = CHAB_BACK
        return [pd * sgn, pd, C1 * pd * sgn - g1 * x1 * pd, C2 * pd * sgn - g2 * x2 * pd]

    errs = []
    for N in (1000, 2000):
        times = np.linspace(0, 50, N + 1)
        with np.errstate(over="ignore"):  # scipy's finite-difference Jacobian probes
            sol = solve_ivp(rhs, (0, 50), np.zeros(4), method="Radau", rtol=1e-10, atol=1e-14,
                            t_eval=times)
        eps = drive_stress("chaboche", props, times, np.array([[sig(t), 0, 0, 0, 0, 0] for t in times]))
        ref = np.array([sig(t) for t in times]) / E + sol.y[0]
        errs.append(np.abs(eps[1:, 0] - ref[1:]).max() / np.abs(ref).max())
    peaks = times.searchsorted([2.5, 12.5, 22.5, 32.5, 42.5])
    assert np.all(np.diff(eps[peaks, 0]) > 1e-3)  # ratcheting: the peak strain grows every cycle
    assert 1.7 < errs[0] / errs[1] < 2.3, errs
    assert errs[1] < 6e-3, errs


def test_rate_independent_chaboche_load_reverse_closed_form():
    """Uniaxial stress (mixed control), load to εp = 1 % then reverse to εp = −1 %: the
    rate-independent Chaboche stress–strain curve in closed form (forward: x_i = C_i/γ_i
    (1 − e^(−γ_i p)); reverse: x_i = −C_i/γ_i + (x_i0 + C_i/γ_i) e^(−γ_i Δ)), first order."""
    from scipy.optimize import brentq

    sy, Qv, bv = 150.0, 50.0, 10.0

    def flow(p):
        return sy + Qv * (1 - math.exp(-bv * p))

    def fwd(p):
        return flow(p) + sum(C / g * (1 - math.exp(-g * p)) for C, g, _ in CHAB_BACK)

    x0 = [C / g * (1 - math.exp(-g * 0.01)) for C, g, _ in CHAB_BACK]

    def rev(d):
        return sum(-C / g + (x + C / g) * math.exp(-g * d) for (C, g, _), x in zip(CHAB_BACK, x0)) - flow(
            0.01 + d)

    def ref_eps(sig, reverse):
        if not reverse:
            return sig / E + (0.0 if sig <= sy else brentq(lambda p: fwd(p) - sig, 0, 1))
        return sig / E + 0.01 - (0.0 if sig >= rev(0) else brentq(lambda d: rev(d) - sig, 0, 1))

    errs = []
    for N in (200, 400):
        sig = np.r_[np.linspace(0, fwd(0.01), N + 1), np.linspace(fwd(0.01), rev(0.02), 2 * N + 1)[1:]]
        eps = drive_stress("chaboche", chab_props(), np.arange(sig.size, dtype=float),
                           np.c_[sig, np.zeros((sig.size, 5))])
        ref = np.array([ref_eps(v, i > N) for i, v in enumerate(sig)])
        errs.append(np.abs(eps[:, 0] - ref).max() / np.abs(ref).max())
    assert 1.7 < errs[0] / errs[1] < 2.3, errs
    assert errs[1] < 3e-3, errs


def test_chaboche_linear_limit_is_j2_and_eta_zero_is_rate_independent():
    """γ_i = 0 with C_1 + C_2 = Hk is the linear kinematic j2 law; η → 0 gives the rate
    independent Chaboche."""
    hd = [E, NU, 200.0, 2000.0, 100.0, 20.0, 0.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    props = chab_props(back=[(600.0, 0.0, 0.0), (400.0, 0.0, 0.0)], head=hd)
    pj = np.array([2.0, *HEAD[:7]])  # Hk = 1000
    path = [[4e-3, -1e-3, 0, 2e-3, 0, 0], [-5e-3, 2e-3, 1e-3, -3e-3, 0, 1e-3], [3e-3, 0, 0, 0, 2e-3, 0]]
    st, stj = np.zeros(CH_NSTATE), np.zeros(7)
    for e in path:
        status, s, C, st = call("chaboche", props, e, st, 1.0)
        sj, Cj, sn = np.zeros(6), np.zeros((6, 6)), np.zeros(7)
        assert status == 0 and j2_update(pj, np.array(e, float), stj, sj, Cj, sn, np.zeros(6)) == 0
        stj = sn
        assert rel_err(s, sj) <= 1e-10 and rel_err(C, Cj) <= 1e-9
    e = np.array([4e-3, -1e-3, 0, 2e-3, 0, 1e-3])
    _, s0, C0, _ = call("chaboche", chab_props(), e, np.zeros(CH_NSTATE), 1.0)
    _, s1, C1, _ = call("chaboche", chab_props(eta=1e-20, m=0.5), e, np.zeros(CH_NSTATE), 1.0)
    assert rel_err(s1, s0) <= 1e-8 and rel_err(C1, C0) <= 1e-8


@pytest.mark.parametrize("law,props,overstress", [
    # Perzyna with low rate sensitivity (1/m = 70): Δp ~ 1e-66, decades below the bracket
    ("vp", vp_props(eta=100.0, m=1.0 / 70.0, form=1, head=[E, NU, 200.0, *[0.0] * 10]),
     lambda q, sy, dp, dt: q / (sy * (1 + (100.0 * dp / dt) ** (1 / 70))) - 1),
    # Norton creep with n = 15 and a tiny A: Δp ~ 1e-45
    ("creep", creep_props(1e-80, 15.0, 0.0), lambda q, sy, dp, dt: dp / (dt * 1e-80 * q**15) - 1),
])
def test_steep_overstress_converges_and_satisfies_the_flow_rule(law, props, overstress):
    """Power laws with large exponents put Δp many decades below the Newton bracket: the
    update still converges and its end state satisfies the discrete flow rule."""
    e = np.zeros(6)
    e[5] = SQ2 * 224.0 / (math.sqrt(3.0) * G) / 2  # shear, q_tr = 224 MPa = 1.12 sy
    st = np.zeros(LAWS[law][1])
    status, s, _, sn = call(law, props, e, st, 1.0)
    assert status == 0 and 0.0 < sn[6] < 1e-30
    q = math.sqrt(1.5) * np.linalg.norm(dev(s))
    assert abs(overstress(q, props[3], sn[6], 1.0)) <= 1e-10


def test_random_points_converge():
    """20 000 random points — moduli, hardening (bounded softening included), viscosities, exponents,
    time steps and strains over many decades, random old states — all return status 0 with
    finite stress, tangent and state."""
    rng = np.random.default_rng(0)
    u = rng.uniform
    for trial in range(20000):
        law = ("vp", "creep", "chaboche")[trial % 3]
        sy = 10 ** u(0, 3)
        # softening (H or Q < 0) bounded so that σy(p) > 0 up to p = 1: the viscous forms
        # scale the overstress by σy
        head = [10 ** u(3, 6), u(0, 0.49), sy, rng.choice([0, 10 ** u(0, 4), -0.4 * sy]),
                rng.choice([0, 10 ** u(0, 3), -0.5 * sy]), 10 ** u(-1, 3), rng.choice([0, 10 ** u(0, 4)]),
                20.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        ns = LAWS[law][1]
        st = np.zeros(ns)
        if law == "vp":
            props = vp_props(10 ** u(-8, 4), 10 ** u(-2, 0), int(rng.integers(0, 2)), head)
        elif law == "creep":
            props = np.array([4.0, *head, 10 ** u(-20, 0), u(1, 10), u(-0.9, 0)])
            if rng.random() < 0.5:
                props[3:8] = 0.0  # pure creep
            st[7] = 10 ** u(-3, 3)
        else:
            back = [(10 ** u(2, 6), 10 ** u(0, 4), 0.0), (10 ** u(2, 5), 10 ** u(0, 3), 0.0)]
            props = chab_props(rng.choice([0, 10 ** u(-6, 3)]), 10 ** u(-2, 0), int(rng.integers(0, 2)),
                               back, head)
            st[7:] = rng.normal(size=12) * 0.3 * sy
        st[:6] = rng.normal(size=6) * 1e-3
        st[:3] -= st[:3].mean()
        st[6] = abs(rng.normal()) * 0.01
        eps = rng.normal(size=6) * 10 ** u(-5, -1)
        status, s, C, sn = call(law, props, eps, st, 10 ** u(-6, 4))
        assert status == 0 and np.isfinite(s).all() and np.isfinite(C).all() and np.isfinite(sn).all(), (
            law, props, eps, st)


# ---------------------------------------------------------------- temperature, tangent, bad input
THERMO = [E, NU, 200.0, 2000.0, 100.0, 20.0, 1000.0, 20.0, -60.0, -0.3, -1.0, 0.1, -0.5]


def test_temperature_dependence_end_of_increment():
    """E, sy are evaluated at temp + dtemp: the elastic response uses E(T) and a hotter point
    (lower sy) flows where a colder one stays elastic."""
    e = np.array([1e-3, 0, 0, 0, 0, 0])
    p = vp_props(head=THERMO)
    _, s, _, _ = call("vp", p, e, np.zeros(7), 1.0, temp=100.0, dtemp=100.0)
    ET = E - 60.0 * 180.0
    lam, mu = ET * NU / ((1 + NU) * (1 - 2 * NU)), ET / (2 * (1 + NU))
    assert s[0] == pytest.approx((lam + 2 * mu) * 1e-3, rel=1e-13)
    e2 = np.array([0, 0, 0, 0, 0, SQ2 * 7e-4])  # q = sqrt(3) G γ: 190 MPa
    _, _, _, cold = call("vp", p, e2, np.zeros(7), 1.0, temp=20.0)
    _, _, _, hot = call("vp", p, e2, np.zeros(7), 1.0, temp=20.0, dtemp=300.0)
    assert cold[6] == 0.0 and hot[6] > 0.0


def _fd_tangent(law, props, eps, st, dt, temp, dtemp):
    status, s, C, sn = call(law, props, eps, st, dt, temp, dtemp)
    assert status == 0
    h = 1e-8
    Cn = np.zeros((6, 6))
    for j in range(6):
        d = np.zeros(6)
        d[j] = h
        Cn[:, j] = (call(law, props, eps + d, st, dt, temp, dtemp)[1]
                    - call(law, props, eps - d, st, dt, temp, dtemp)[1]) / (2 * h)
    return np.abs(C - Cn).max() / np.abs(C).max(), sn


EPS = np.array([3e-3, -1e-3, -5e-4, 1e-3, 0.0, 2e-3])
ST_CH = np.zeros(CH_NSTATE)
ST_CH[7:13] = [30, -10, -20, 5, 0, 3]
ST_CH[13:19] = [-10, 5, 5, 0, 2, 0]
CREEP_ST = np.r_[np.zeros(7), 10.0]


@pytest.mark.parametrize("law,props,eps,st,dt,dtemp,flows", [
    ("vp", vp_props(), EPS * 0.2, np.zeros(7), 0.1, 0.0, False),  # elastic
    ("vp", vp_props(eta=1.0, m=0.3), EPS, np.zeros(7), 0.1, 0.0, True),  # viscous Peric
    ("vp", vp_props(eta=1.0, m=0.3, form=1), EPS, np.zeros(7), 0.1, 0.0, True),  # Perzyna
    ("vp", vp_props(eta=1.0, m=0.3, head=THERMO), EPS, np.zeros(7), 0.1, 40.0, True),  # temperature
    ("creep", creep_props(1e-10, 3.0, -0.3), EPS * 0.3, CREEP_ST, 5.0, 0.0, True),  # creep
    ("creep", creep_props(1e-8, 4.0, 0.0, 200, 2000, 100, 20, 1000), EPS, CREEP_ST, 0.1, 0.0, True),
    ("chaboche", chab_props(), EPS, ST_CH, 0.1, 0.0, True),  # plastic, rate independent
    ("chaboche", chab_props(eta=2.0), EPS, ST_CH, 0.1, 0.0, True),  # viscous
    ("chaboche", chab_props(head=THERMO, back=[(60e3, 600.0, -20.0), (5e3, 20.0, 2.0)]), EPS, ST_CH,
     0.1, -30.0, True),  # temperature change
])
def test_consistent_tangent_central_differences(law, props, eps, st, dt, dtemp, flows):
    err, sn = _fd_tangent(law, props, eps, st, dt, 20.0, dtemp)
    assert (sn[6] > 0.0) == flows
    assert err <= 1e-5


@pytest.mark.parametrize("law,props", [("vp", vp_props()), ("creep", creep_props(1e-10, 3.0, 0.0)),
                                       ("chaboche", chab_props())])
def test_bad_input_returns_status_2(law, props):
    st = np.zeros(LAWS[law][1])
    assert call(law, props, [np.nan, 0, 0, 0, 0, 0], st, 1.0)[0] == 2
    assert call(law, props, EPS, st, -1.0)[0] == 2
    assert call(law, props, EPS, st, 1.0, temp=np.inf)[0] == 2
    bad = props.copy()
    bad[1] = -1.0  # E < 0
    assert call(law, bad, EPS, st, 1.0)[0] == 2
    st_nan = st.copy()
    st_nan[6] = np.nan
    assert call(law, props, EPS, st_nan, 1.0)[0] == 2
    upd, ns, _ = LAWS[law]
    assert upd(props, EPS, st, 1.0, 20.0, 0.0, np.zeros(6), np.zeros((6, 6)), np.zeros(ns), np.zeros(5)) == 2


def test_chaboche_props_sizes():
    assert (CH_NPROPS, CH_NSTATE, CH_NWS) == (23, 19, 34)
    assert chab_props().size == CH_NPROPS
