"""Nonlinear FFT DNS: analytic J2 curve, elasto-plastic laminate vs an independent 1D solution."""

import numpy as np
import pytest

from dmn_umat import loadpath
from dmn_umat.laws import parse_phase
from dmn_umat.laws import update as laws
from dmn_umat.rve import fft

_WS = np.zeros(laws.MAX_NWS)  # law scratch (phase_update)

J2_LIN = "j2:E=200,nu=0.3,sy=0.4,H=10,Hk=5"
J2_VOCE = "j2:E=200,nu=0.3,sy=0.4,H=2,Q=0.15,b=300,Hk=8"
ELASTIC = "elastic:E=70,nu=0.33"


def _uniaxial_j2_1d(E, nu, sy, H, Hk, strains):
    """Exact uniaxial-stress response of linear iso+kinematic J2 (1D return mapping)."""
    ep = p = 0.0
    sig, lat = [], []
    for e in strains:
        s_tr = E * (e - ep)
        xi = s_tr - Hk * ep
        f = abs(xi) - (sy + H * p)
        if f > 0.0:
            dg = f / (E + Hk + H)
            ep += dg * np.sign(xi)
            p += dg
        s = E * (e - ep)
        sig.append(s)
        lat.append(-nu * s / E - 0.5 * ep)
    return np.array(sig), np.array(lat)


def test_homogeneous_j2_uniaxial_stress_matches_analytic_curve():
    ph = parse_phase(J2_LIN)
    path = loadpath.cyclic([0.01, -0.006, 0.004], 4)
    res = fft.dns(np.zeros((4, 3, 5), dtype=np.int32), [ph], path, stress_free=loadpath.ALL_BUT_11, tol=1e-10)
    sig, lat = _uniaxial_j2_1d(200.0, 0.3, 0.4, 10.0, 5.0, path[:, 0])
    scale = np.abs(sig).max()
    assert np.abs(res.stress[:, 0] - sig).max() <= 1e-6 * scale
    assert np.abs(res.stress[:, 1:]).max() <= 1e-8 * scale  # stress-free components
    assert np.allclose(res.strain[:, 1], lat, rtol=0, atol=1e-9)
    assert np.allclose(res.strain[:, 2], lat, rtol=0, atol=1e-9)
    assert np.allclose(res.strain[:, 0], path[:, 0], rtol=0, atol=1e-15)  # prescribed
    assert res.fields["peeq"][-1, 0] > 0.01
    assert np.all(np.diff(res.fields["peeq"][:, 0]) >= -1e-15)  # p never decreases


def _laminate_reference(ph1, ph2, f1, path, free):
    """Independent 1D layered solution (layers normal to x1) with laws.phase_update.

    In-plane strains (22, 33, 23) equal the macro ones in both layers; tractions (11, 13, 12)
    are continuous; layer strains average to the macro ones; mean stress vanishes on ``free``.
    Unknowns: layer-1 strains (11, 13, 12) and the free macro strains. Newton, FD Jacobian.
    """
    f2 = 1.0 - f1
    nrm = [0, 4, 5]
    inp = [1, 2, 3]
    st1, st2 = np.zeros(7), np.zeros(7)
    e1n = np.zeros(3)
    Ef = np.zeros(len(free))
    out_s, out_e = [], []

    def evaluate(y, target):
        E = np.array(target, dtype=float)
        E[list(free)] = y[3:]
        eps1 = np.zeros(6)
        eps2 = np.zeros(6)
        eps1[inp] = E[inp]
        eps2[inp] = E[inp]
        eps1[nrm] = y[:3]
        eps2[nrm] = (E[nrm] - f1 * y[:3]) / f2
        s1, s2 = np.empty(6), np.empty(6)
        t1, t2 = np.empty((6, 6)), np.empty((6, 6))
        n1, n2 = np.empty(7), np.empty(7)
        assert laws.phase_update(ph1.props, eps1, st1, 0.0, 0.0, 0.0, s1, t1, n1, _WS) == 0
        assert laws.phase_update(ph2.props, eps2, st2, 0.0, 0.0, 0.0, s2, t2, n2, _WS) == 0
        mean = f1 * s1 + f2 * s2
        R = np.concatenate([s1[nrm] - s2[nrm], mean[list(free)]])
        return R, E, mean, n1, n2

    for target in path:
        y = np.concatenate([e1n, Ef])
        for _ in range(60):
            R, E, mean, n1, n2 = evaluate(y, target)
            if np.abs(R).max() <= 1e-13:
                break
            J = np.empty((y.size, y.size))
            h = 1e-8
            for k in range(y.size):
                yp, ym = y.copy(), y.copy()
                yp[k] += h
                ym[k] -= h
                J[:, k] = (evaluate(yp, target)[0] - evaluate(ym, target)[0]) / (2 * h)
            y = y - np.linalg.solve(J, R)
        else:
            raise AssertionError("1D laminate reference did not converge")
        st1, st2 = n1, n2
        e1n, Ef = y[:3].copy(), y[3:].copy()
        out_s.append(mean)
        out_e.append(E)
    return np.array(out_e), np.array(out_s)


@pytest.mark.parametrize(
    "spec, free, comps",
    [
        (J2_LIN, (), (0, 5)),  # strain control: normal + out-of-plane shear, load/unload
        (J2_VOCE, (0, 2, 3, 4, 5), (1,)),  # uniaxial stress in-plane (x2), Voce + kinematic
    ],
)
def test_elastic_j2_laminate_matches_1d_solution(spec, free, comps):
    el, pl = parse_phase(ELASTIC), parse_phase(spec)
    m = np.zeros((8, 3, 4), dtype=np.int32)
    m[:3] = 1  # J2 layer, f = 3/8
    base = loadpath.cyclic([0.008, -0.002], 4)[:, 0]
    path = np.zeros((base.size, 6))
    for c in comps:
        path[:, c] = base * (1.0 if c < 3 else 0.8)
    res = fft.dns(m, [el, pl], path, stress_free=free, tol=1e-10)
    E_ref, S_ref = _laminate_reference(pl, el, 3 / 8, path, free)
    scale = np.abs(S_ref).max()
    assert np.abs(res.stress - S_ref).max() <= 1e-6 * scale
    assert np.abs(res.strain - E_ref).max() <= 1e-6 * np.abs(E_ref).max()
    assert res.fields["peeq"][:, 1].max() > 1e-3  # the J2 layer really yields
    assert np.all(res.fields["peeq"][:, 0] == 0.0)
    # laminate: every voxel of a layer carries the same strain (exactness of the staggered grid)
    fs = res.final_strain
    assert np.abs(fs[:3] - fs[0, 0, 0]).max() <= 1e-8 * np.abs(fs).max()


def _aniso_spec():
    from dmn_umat import tensors

    Co = tensors.orthotropic_stiffness(30.0, 5.0, 3.0, 0.25, 0.3, 0.35, 4.0, 2.0, 1.5)
    C = tensors.rotate_stiffness(Co, tensors.rotation_from_euler(0.3, 0.7, -0.4))
    return "aniso:C=" + ";".join(repr(float(v)) for v in C[np.triu_indices(6)])


def test_dns_elastic_matches_homogenize():
    """Linear phases (isotropic + anisotropic): DNS stress = C̄ strain; mixed control = compliance."""
    rng = np.random.default_rng(2)
    m = rng.integers(0, 2, (6, 6, 6))
    ph = [parse_phase("elastic:E=1,nu=0.3"), parse_phase(_aniso_spec())]
    C = fft.homogenize(m, [p.stiffness() for p in ph], tol=1e-11).C
    path = np.array([[0.01, -0.002, 0.003, 0.001, 0.0, 0.004]])
    res = fft.dns(m, ph, path, tol=1e-11)
    assert np.allclose(res.stress[0], C @ path[0], rtol=0, atol=1e-8 * np.abs(C @ path[0]).max())
    res2 = fft.dns(m, ph, loadpath.uniaxial(0.01, 2), stress_free=loadpath.ALL_BUT_11, tol=1e-11)
    S = np.linalg.inv(C)
    assert np.isclose(res2.stress[-1, 0], 0.01 / S[0, 0], rtol=1e-7)
    assert np.allclose(res2.strain[-1], S[:, 0] * res2.stress[-1, 0], rtol=0, atol=1e-9)


def test_dns_periodic_tiling_invariance():
    """Two periodic copies of the RVE (2 x 1 x 1 tiling) give the same macroscopic response."""
    rng = np.random.default_rng(11)
    m = rng.integers(0, 2, (5, 4, 4))
    ph = [parse_phase(J2_VOCE), parse_phase(ELASTIC)]
    path = loadpath.cyclic([0.006, 0.001], 3)
    path[:, 5] = 0.5 * path[:, 0]
    a = fft.dns(m, ph, path, stress_free=(1, 2), tol=1e-10)
    b = fft.dns(np.concatenate([m, m], axis=0), ph, path, stress_free=(1, 2), tol=1e-10)
    assert np.allclose(a.stress, b.stress, rtol=0, atol=1e-7 * np.abs(a.stress).max())
    assert np.allclose(a.strain, b.strain, rtol=0, atol=1e-7 * np.abs(a.strain).max())
    assert np.allclose(a.fields["peeq"], b.fields["peeq"], rtol=1e-6, atol=1e-12)
    assert a.fields["peeq"][:, 0].max() > 0.0


def test_dns_substeps_large_increment_and_reports_progress():
    """One huge step on a heterogeneous J2 RVE: sub-stepping or Newton must still converge."""
    rng = np.random.default_rng(5)
    m = rng.integers(0, 2, (6, 6, 6))
    ph = [parse_phase("j2:E=100,nu=0.3,sy=0.2,H=1"), parse_phase("elastic:E=400,nu=0.25")]
    seen = []
    big = fft.dns(m, ph, loadpath.uniaxial(0.03, 1), stress_free=loadpath.ALL_BUT_11, max_newton=4,
                  progress=lambda i, n: seen.append((i, n)))
    fine = fft.dns(m, ph, loadpath.uniaxial(0.03, 12), stress_free=loadpath.ALL_BUT_11)
    assert seen == [(1, 1)]
    assert big.substeps[0] > 1  # 4 Newton iterations are not enough for the full step: it was cut
    assert np.isclose(big.stress[-1, 0], fine.stress[-1, 0], rtol=0.02)  # path dependence is mild
    assert np.abs(big.stress[-1, 1:]).max() <= 1e-6 * abs(big.stress[-1, 0])


def test_dns_bad_inputs():
    ph = [parse_phase(J2_LIN)]
    m = np.zeros((4, 4, 4), dtype=int)
    with pytest.raises(ValueError, match="path"):
        fft.dns(m, ph, np.zeros((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        fft.dns(m, ph, np.full((2, 6), np.nan))
    with pytest.raises(ValueError, match="stress_free"):
        fft.dns(m, ph, np.zeros((2, 6)), stress_free=(0, 1, 2, 3, 4, 5))
    with pytest.raises(ValueError, match="phase ids"):
        fft.dns(m + 1, ph, np.zeros((2, 6)))


# --------------------------------------------------------------------------- per-increment API
def _rve_case():
    rng = np.random.default_rng(7)
    m = rng.integers(0, 2, (5, 4, 4))
    return m, [parse_phase(J2_VOCE), parse_phase(ELASTIC)]


def _fd_tangent(rve, st, E, h=1e-7, cols=range(6)):
    D = np.zeros((6, 6))
    for j in cols:
        ep, em = E.copy(), E.copy()
        ep[j] += h
        em[j] -= h
        sp, sm = rve.increment(ep, st, tangent=False)[0], rve.increment(em, st, tangent=False)[0]
        D[:, j] = (sp - sm) / (2 * h)
    return D


def test_rve_increment_tangent_equals_finite_differences():
    """Macroscopic tangent of RVE.increment = central FD of its stress: elastic (= homogenize C̄) and
    elasto-plastic (from a committed plastic state, with the kinematic/Voce J2 phase yielding)."""
    m, ph = _rve_case()
    rve = fft.RVE(m, ph, tol=1e-12)
    st0 = rve.initial_state()
    E = np.array([1e-4, -3e-5, 2e-5, 4e-5, -1e-5, 6e-5])  # below yield everywhere
    s, C, st1, info = rve.increment(E, st0)
    assert np.all(st1.state[:, 6] == 0.0) and info["newton"] >= 1
    Chom = fft.homogenize(m, [p.stiffness() for p in ph], tol=1e-12).C
    assert np.abs(C - Chom).max() <= 1e-8 * np.abs(Chom).max()
    assert np.abs(s - Chom @ E).max() <= 1e-8 * np.abs(s).max()
    assert np.abs(_fd_tangent(rve, st0, E) - C).max() <= 1e-9 * np.abs(C).max()  # measured 2.5e-13
    # plastic: commit a yielded state, then a further (non-proportional) increment from it
    E1 = np.array([0.006, -0.002, 0.001, 0.002, -0.001, 0.003])
    _, _, st1, _ = rve.increment(E1, st0, tangent=False)
    E2 = E1 + np.array([0.002, 0.001, -0.001, 0.0, 0.001, 0.001])
    _, D, st2, _ = rve.increment(E2, st1)
    assert st2.state[:, 6].max() > st1.state[:, 6].max() > 1e-3  # still flowing
    assert np.abs(D - C).max() > 0.05 * np.abs(C).max()  # genuinely elasto-plastic tangent
    assert np.abs(_fd_tangent(rve, st1, E2) - D).max() <= 1e-7 * np.abs(D).max()  # measured 4e-11


def test_rve_increment_tangent_with_stress_free_components():
    """With stress-free components the returned tangent is still the full strain-controlled one:
    its Schur complement on the free set equals FD of the mixed-control increment."""
    m, ph = _rve_case()
    free = (1, 2, 3, 4, 5)
    rve = fft.RVE(m, ph, stress_free=free, tol=1e-12)
    _, _, st1, _ = rve.increment(np.array([0.006, 0, 0, 0, 0, 0.0]), rve.initial_state(), tangent=False)
    E = np.array([0.008, 0, 0, 0, 0, 0.0])
    s, D, st2, _ = rve.increment(E, st1)
    assert np.abs(s[1:]).max() <= 1e-9 * abs(s[0]) and st2.state[:, 6].max() > 0.0
    h = 1e-7
    rp = rve.increment(E + h * np.eye(6)[0], st1, tangent=False)
    rm = rve.increment(E - h * np.eye(6)[0], st1, tangent=False)
    fd_s = (rp[0][0] - rm[0][0]) / (2 * h)
    fd_e = (rp[2].strain - rm[2].strain) / (2 * h)  # d(free strains)/d(e11)
    f = list(free)
    schur = D[0, 0] - D[0, f] @ np.linalg.solve(D[np.ix_(f, f)], D[f, 0])
    assert abs(fd_s - schur) <= 1e-7 * abs(schur)
    assert np.abs(fd_e[f] + np.linalg.solve(D[np.ix_(f, f)], D[f, 0])).max() <= 1e-7


@pytest.mark.parametrize("free", [(), (1, 2)])
def test_rve_increments_reproduce_dns_exactly(free):
    """N increments through the public API (state threaded by the caller) = dns's path result, bitwise."""
    m, ph = _rve_case()
    path = loadpath.cyclic([0.006, -0.003], 3)
    path[:, 5] = 0.5 * path[:, 0]
    ref = fft.dns(m, ph, path, stress_free=free, tol=1e-10)
    assert np.all(ref.substeps == 1) and ref.fields["peeq"][:, 0].max() > 0.0
    rve = fft.RVE(m, ph, stress_free=free, tol=1e-10)
    st = rve.initial_state()
    for i, E in enumerate(path):
        s, _, st, info = rve.increment(E, st, tangent=False)
        assert np.array_equal(s, ref.stress[i]) and np.array_equal(st.strain, ref.strain[i])
        assert (info["newton"], info["krylov"]) == tuple(ref.iterations[i])
    assert np.array_equal(st.state.reshape(ref.final_state.shape), ref.final_state)
    assert np.array_equal(info["stress_field"].reshape(ref.final_stress.shape), ref.final_stress)


def test_rve_increment_never_mutates_state_and_reports_failures():
    m, ph = _rve_case()
    rve = fft.RVE(m, ph, tol=1e-10)
    st = rve.initial_state()
    _, _, st, _ = rve.increment(np.array([1e-4, 0, 0, 0, 0, 0.0]), st, tangent=False)
    copies = [a.copy() for a in (st.x, st.state, st.strain, st.dx, st.dE)]
    with pytest.raises(fft.FFTConvergenceError, match="not converged"):  # 1 Newton iteration: too few
        fft.RVE(m, ph, tol=1e-10, max_newton=1).increment(np.array([0.05, -0.02, 0, 0.01, 0, 0.0]), st)
    _, _, new, _ = rve.increment(np.array([0.01, -0.002, 0, 0.001, 0, 0.0]), st)
    for a, b in zip(copies, (st.x, st.state, st.strain, st.dx, st.dE)):
        assert np.array_equal(a, b)
    assert new.state[:, 6].max() > 0.0 and not np.shares_memory(new.x, st.x)
    with pytest.raises(ValueError, match="does not match"):
        fft.RVE(m[:4], ph).increment(np.zeros(6), st)
    with pytest.raises(ValueError, match="finite"):
        rve.increment(np.full(6, np.nan), st)
    with pytest.raises(ValueError, match="stress_free"):
        fft.RVE(m, ph, stress_free=(0, 0))


# --------------------------------------------------------------------------- CLI
def test_cli_dns_json(tmp_path, capsys):
    import json

    from dmn_umat.cli import main

    m = tmp_path / "m.npy"
    np.save(m, np.zeros((3, 3, 3), dtype=np.int16))
    p = tmp_path / "p.csv"
    path = loadpath.cyclic([0.006, 0.0], 3)
    loadpath.write_path(p, path)
    out = tmp_path / "r.json"
    rc = main(["dns", str(m), "--phase", J2_LIN, "--path", str(p), "--stress-free", "22,33,23,13,12",
               "--json", "--out", str(out), "--tol", "1e-10"])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)
    sig, _ = _uniaxial_j2_1d(200.0, 0.3, 0.4, 10.0, 5.0, path[:, 0])
    assert np.allclose(np.array(d["stress"])[:, 0], sig, rtol=0, atol=1e-8)
    assert np.array(d["strain"]).shape == (6, 6)
    assert json.loads(out.read_text())["stress"] == d["stress"]


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--stress-free", "22,44"], "unknown component"),
        (["--stress-free", "11,22,33,23,13,12"], "strain controlled"),
        (["--path", "missing.csv"], "not found"),
        (["--tol", "-1"], "--tol"),
    ],
)
def test_cli_dns_errors_one_line(tmp_path, capsys, monkeypatch, extra, message):
    from dmn_umat.cli import main

    monkeypatch.chdir(tmp_path)
    np.save("m.npy", np.zeros((3, 3, 3), dtype=np.int32))
    loadpath.write_path("p.csv", loadpath.uniaxial(0.001, 2))
    argv = ["dns", "m.npy", "--phase", J2_LIN, "--path", "p.csv", *extra]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0 and len(err.splitlines()) == 1 and message in err
