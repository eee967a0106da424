"""Deformation-gradient paths (F11..F33 CSV) in dmn drive / dmn dns and their library jobs:
reading, mixed control on P, homogeneous network = the law, the DNS job = dns_finite, one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy.optimize import root

from dmn_umat.cli import main
from dmn_umat.laws.finite_spec import cauchy_stack, parse_finite_phase
from dmn_umat.laws.finite_update import fj2_props, fs_law_nstate, fs_update, neohooke_props
from dmn_umat.laws.spec import PhaseSpecError
from dmn_umat.loadpath import F_COMPONENTS, FPath, PathError, read_load_path, read_path_file
from dmn_umat.online.driver import DriveJob, drive_model
from dmn_umat.rve.api import DNSJob, run_dns
from dmn_umat.rve.fft_finite import dns_finite

NH = "neohooke:E=1000,nu=0.3"
FJ2 = "fj2:E=1000,nu=0.3,sy=5,H=100,Q=10,b=20"
MICRO = (np.random.default_rng(1).random((4, 4, 4)) < 0.3).astype(np.int64)


def _row(vals) -> str:
    return ",".join(repr(float(v)) for v in vals)


def _write(path, F, extra=None, names=None):
    """CSV with an F11..F33 header (``extra``: more named columns (n, k))."""
    F = np.asarray(F).reshape(len(F), 9)
    cols = [f"F{c}" for c in F_COMPONENTS] + (names or [])
    table = F if extra is None else np.hstack([F, extra])
    rows = [",".join(repr(float(v)) for v in r) for r in table]
    path.write_text(",".join(cols) + "\n" + "\n".join(rows) + "\n")
    return path


def _uniaxial_law(props, lams, P33):
    """F and P of the law alone under F11 = lam, P22 = 0, P33 = target, other F components of 1."""
    s = np.zeros(max(int(fs_law_nstate(props)), 1))
    Fs, Ps = [], []
    y = np.ones(2)
    for lam, p33 in zip(lams, P33):
        def r(y, s=s, lam=lam, p33=p33):
            P, A, sn = np.zeros((3, 3)), np.zeros((9, 9)), np.zeros_like(s)
            assert fs_update(props, np.eye(3), np.diag([lam, *y]), s, 0, 0, 0, P, A, sn, np.zeros(200)) == 0
            return np.array([P[1, 1], P[2, 2] - p33]), sn, P
        y = root(lambda y: r(y)[0], y, tol=1e-14).x
        _, s, P = r(y)
        Fs.append(np.diag([lam, *y]))
        Ps.append(P)
    return np.array(Fs), np.array(Ps)


def test_read_f_path(tmp_path):
    F = np.array([np.eye(3) + 0.1 * k * np.array([[1, 0.5, 0], [0, 0, 0], [0, 0, 0]]) for k in (1, 2)])
    f = tmp_path / "f.csv"
    # a P33 column instead of F33 makes P33 stress controlled
    names = ",".join([*(f"F{c}" for c in F_COMPONENTS[:8]), "time", "temp", "P33"])
    f.write_text(names + "\n" + "\n".join(_row([*F[k].ravel()[:8], k + 1.0, 20.0, 5.0 * k])
                                          for k in range(2)) + "\n")
    fp = read_path_file(f)
    assert isinstance(fp, FPath) and fp.stress_control == (8,)
    assert np.array_equal(fp.F[:, :2], F[:, :2]) and fp.F[0, 2, 2] == 1.0
    assert fp.stress[1, 2, 2] == 5.0 and fp.time.tolist() == [1.0, 2.0] and fp.temp.tolist() == [20.0, 20.0]
    with pytest.raises(PathError, match="deformation-gradient path"):
        read_load_path(f)


@pytest.mark.parametrize("body, msg", [
    ("F11,F12,F13,F21,F22,F23,F31,F32,F33\n1,0,0,0,1,0,0,0,-1\n", "det F <= 0"),
    ("F11,F12,F13,F21,F22,F23,F31,F32,F33\n1,0,0,0,1,0\n", "expected 9 values"),
    ("F11,F12,F13,F21,F22,F23,F31,F32\n1,0,0,0,1,0,0,0\n", "name each component"),
    ("F11,P12,F13,P21,F22,F23,F31,F32,F33\n1,0,0,0,1,0,0,0,1\n", "cannot both be stress controlled"),
    ("F11,F12,F13,F21,F22,F23,F31,F32,F33\n1,0,0,0,1,0,0,0,x\n", "not numbers"),
])
def test_bad_f_path_is_one_line_error(tmp_path, body, msg):
    f = tmp_path / "f.csv"
    f.write_text(body)
    with pytest.raises(PathError, match=msg):
        read_path_file(f)


def test_finite_phase_specs():
    assert np.array_equal(parse_finite_phase("neohooke:C10=2,D1=0.5").props, neohooke_props(2.0, 0.5))
    assert np.array_equal(parse_finite_phase(FJ2).props, fj2_props(1000, 0.3, 5, 100, 10, 20))
    for bad, msg in (("elastic:E=1,nu=0.3", "unknown finite-strain law"), ("neohooke:E=1", r"needs \['nu'\]"),
                     ("fj2:E=1,nu=0.3", r"needs \['sy'\]"), ("svk:E=-1,nu=0.3", "E must be > 0"),
                     ("neohooke:E=1,nu=x", "not a number")):
        with pytest.raises(PhaseSpecError, match=msg):
            parse_finite_phase(bad)


@pytest.mark.parametrize("spec", [NH, FJ2])
def test_drive_homogeneous_network_mixed_control_is_the_law(tmp_path, spec):
    """dmn drive's job with an F path, P22 = 0 (--stress-free) and a P33 column: both phases the
    same law → the law itself (F, P and Cauchy)."""
    lams, P33 = [1.1, 1.2, 1.3], [10.0, 20.0, 30.0]
    F = np.array([np.diag([lam, 1.0, 1.0]) for lam in lams])
    names = [f"F{c}" for c in F_COMPONENTS if c != "33"] + ["P33"]
    f = tmp_path / "p.csv"
    f.write_text(",".join(names) + "\n" + "\n".join(
        _row([*F[k].ravel()[:8], P33[k]]) for k in range(3)) + "\n")
    res = drive_model(DriveJob(model="spheres16_imn_d6", phases=[spec, spec], path=f, stress_free="22",
                               out=tmp_path / "r.csv"))
    Fl, Pl = _uniaxial_law(parse_finite_phase(spec).props, lams, P33)
    assert np.abs(res.F - Fl).max() <= 1e-8
    assert np.abs(res.P - Pl).max() <= 1e-8 * np.abs(Pl).max()
    assert np.allclose(res.cauchy, cauchy_stack(Fl, Pl), rtol=0, atol=1e-8 * np.abs(Pl).max())
    assert res.stress_free == [4, 8] and res.to_dict()["stress_free"] == ["22", "33"]
    rows = (tmp_path / "r.csv").read_text().splitlines()
    assert rows[0].startswith("step,F11,F12") and "sigma33" in rows[0] and len(rows) == 4


def test_dns_job_is_dns_finite(tmp_path):
    F = np.array([np.eye(3) + t * np.array([[0.2, 0.3, 0], [0, 0, 0], [0, 0, 0]]) for t in (0.5, 1.0)])
    f = _write(tmp_path / "f.csv", F)
    res = run_dns(DNSJob(micro=MICRO, phases=[NH, "neohooke:E=8000,nu=0.2"], path=f, stress_free="22,33",
                         out=tmp_path / "d.json"))
    ref = dns_finite(MICRO, [parse_finite_phase(NH).props, neohooke_props(E=8000.0, nu=0.2)], F,
                     stress_free=(4, 8))
    assert np.array_equal(res.P, ref.P) and np.array_equal(res.F, ref.F)
    assert abs(res.P[-1, 1, 1]) <= 1e-6 * np.abs(res.P).max()  # P22 free at zero
    d = json.loads((tmp_path / "d.json").read_text())
    assert set(d) >= {"F", "P", "cauchy", "iterations"} and d["stress_free"] == ["22", "33"]


def test_cli_f_paths(tmp_path, capsys):
    F = np.array([np.diag([1.0 + 0.05 * k, 1.0, 1.0]) for k in (1, 2)])
    f = _write(tmp_path / "f.csv", F)
    np.save(tmp_path / "m.npy", MICRO)
    assert main(["drive", "spheres16_imn_d6", "--phase", NH, "--phase", NH, "--path", str(f),
                 "--stress-free", "22,33", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert np.array(d["P"]).shape == (2, 3, 3) and np.array(d["cauchy"]).shape == (2, 3, 3)
    m = str(tmp_path / "m.npy")
    assert main(["dns", m, "--phase", NH, "--phase", NH, "--path", str(f), "--stress-free", "22,33",
                 "--json"]) == 0
    d2 = json.loads(capsys.readouterr().out)
    # homogeneous: the network and the DNS are both the law
    assert np.allclose(d2["P"], d["P"], rtol=0, atol=1e-8 * np.abs(d["P"]).max())
    assert np.allclose(d2["F"], d["F"], rtol=0, atol=1e-8)
    # small-strain phase specs with an F path, and ij/ji both free: one line, exit 2
    el = "elastic:E=1,nu=0.3"
    for argv in (["drive", "spheres16_imn_d6", "--phase", NH, "--phase", el, "--path", str(f)],
                 ["dns", m, "--phase", NH, "--phase", el, "--path", str(f)],
                 ["drive", "spheres16_imn_d6", "--phase", NH, "--phase", NH, "--path", str(f),
                  "--stress-free", "12,21"],
                 ["drive", "spheres16_imn_d6", "--phase", NH, "--phase", NH, "--path", str(f),
                  "--png", str(tmp_path / "x.png")]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and err.startswith("dmn")
