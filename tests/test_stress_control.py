"""Prescribed non-zero macroscopic stress (path CSV columns s11..s12; docs/online.md, docs/fft.md):
creep at constant uniaxial stress through the point driver (homogeneous network) and the DNS
(one-phase RVE) = Norton's closed form; a stress ramp through the network = the law; bad headers
and a component both stress-free and stress-prescribed are one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dmn_umat import loadpath, model_file, network, tensors
from dmn_umat.cli import main
from dmn_umat.laws import PhaseMaterial, parse_phase
from dmn_umat.online.driver import drive
from dmn_umat.online.solver import NetworkMaterial

E, NU, A, N_EXP, SIG = 70e3, 0.3, 1e-10, 3.0, 100.0
CREEP = f"creep:E={E},nu={NU},A={A},n={N_EXP}"  # Norton, no time hardening (k = 0)
HEADER = "s11,e22,e33,e23,e13,e12,time"


def _tree(depth: int, seed: int) -> network.Network:
    rng = np.random.default_rng(seed)
    n = 2**depth
    R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])
    return network.complete_tree(depth, rng.uniform(0.2, 1.0, n), rng.normal(size=(n - 1, 3)), rotations=R)


def _creep_csv(path) -> np.ndarray:
    """Load to SIG in one step of dt = 0, then hold SIG over 100 s (20 steps): writes the CSV and
    returns the times (n,)."""
    t = np.r_[0.0, np.linspace(5.0, 100.0, 20)]
    rows = np.zeros((t.size, 7))
    rows[:, 0], rows[:, 6] = SIG, t
    np.savetxt(path, rows, delimiter=",", header=HEADER, comments="")
    return t


def _closed_form(t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Norton creep at constant uniaxial stress: (ε11, ε22) (n,) = elastic + A σ^n t (incompressible)."""
    ecr = A * SIG**N_EXP * t
    return SIG / E + ecr, -NU * SIG / E - 0.5 * ecr


def _check_creep(strain: np.ndarray, stress: np.ndarray, t: np.ndarray) -> None:
    e11, e22 = _closed_form(t)
    scale = np.abs(e11).max()
    assert np.abs(strain[:, 0] - e11).max() <= 1e-8 * scale
    assert np.abs(strain[:, 1] - e22).max() <= 1e-8 * scale
    assert np.abs(stress[:, 0] - SIG).max() <= 1e-8 * SIG
    assert np.abs(stress[:, 1:]).max() <= 1e-8 * SIG
    assert e11[-1] - e11[0] > 0.5 * SIG / E  # creep is significant


def test_path_csv_stress_columns(tmp_path):
    t = _creep_csv(tmp_path / "p.csv")
    lp = loadpath.read_load_path(tmp_path / "p.csv")
    assert lp.stress_control == (0,)
    assert np.allclose(lp.stress[:, 0], SIG) and not lp.stress[:, 1:].any()
    assert np.array_equal(lp.time, t) and not lp.strain.any()
    # shear stress columns are tensor components (Mandel √2 in memory), like the strains
    (tmp_path / "q.csv").write_text("e11,e22,e33,e23,e13,s12,e12\n0.001,0,0,0,0,10,0.5\n")
    lq = loadpath.read_load_path(tmp_path / "q.csv")
    assert lq.stress_control == (5,) and np.isclose(lq.stress[0, 5], 10 * np.sqrt(2))
    assert lq.strain[0, 5] == 0.0 and lq.time is None  # a stress-controlled strain is ignored


def test_network_creep_at_constant_stress_is_norton(tmp_path, capsys):
    """`dmn drive` with an s11 column on a homogeneous network (every leaf the same creep law):
    the creep strain = A σ^n t ≤ 1e-8, laterals stress free."""
    t = _creep_csv(tmp_path / "p.csv")
    model_file.write(tmp_path / "m.dmn", _tree(3, 4))
    argv = ["drive", str(tmp_path / "m.dmn"), "--phase", CREEP, "--phase", CREEP, "--path",
            str(tmp_path / "p.csv"), "--stress-free", "22,33,23,13,12", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    _check_creep(np.array(out["strain"]), np.array(out["stress"]), t)
    assert out["stress_free"] == [0, 1, 2, 3, 4, 5]


def test_dns_creep_at_constant_stress_is_norton(tmp_path, capsys):
    """`dmn dns` on a one-phase RVE with the same path file = the same closed form."""
    t = _creep_csv(tmp_path / "p.csv")
    np.save(tmp_path / "m.npy", np.zeros((4, 4, 4), dtype=np.int64))
    argv = ["dns", str(tmp_path / "m.npy"), "--phase", CREEP, "--path", str(tmp_path / "p.csv"),
            "--stress-free", "22,33,23,13,12", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    _check_creep(np.array(out["strain"]), np.array(out["stress"]), t)


def test_stress_ramp_and_unload_network_equals_law():
    """A stress ramp up, hold, partial unload (s11 prescribed, one strain component e22
    prescribed) through a homogeneous network = the law ≤ 1e-8; the prescribed stress is met."""
    spec = "creep:E=70e3,nu=0.3,A=1e-8,n=2,sy=80,H=300"
    t = np.linspace(1.0, 40.0, 30)
    s = np.interp(t, [0, 10, 30, 40], [0, 150, 150, 40])
    path = np.zeros((t.size, 6))
    path[:, 1] = 2e-4 * t / t[-1]
    stress = np.zeros_like(path)
    stress[:, 0] = s
    free = (0, 2, 3, 4, 5)
    ref = drive(PhaseMaterial(spec), path, free, time=t, stress=stress)
    got = drive(NetworkMaterial(_tree(3, 7), [spec, spec], threads=1), path, free, time=t, stress=stress)
    scale = np.abs(ref["strain"]).max()
    assert np.abs(got["strain"] - ref["strain"]).max() <= 1e-8 * scale
    assert np.abs(got["stress"][:, 0] - s).max() <= 1e-8 * s.max()
    assert np.abs(got["stress"][:, 2:]).max() <= 1e-8 * s.max()
    assert ref["fields"]["peeq"][-1] > 0.2 * s.max() / 70e3  # the law crept (> 20 % of elastic)


def test_dns_all_six_stresses_prescribed():
    """fft.dns with every component stress controlled (s11 = σ, the rest 0) on a one-phase RVE."""
    from dmn_umat.rve import fft

    t = np.r_[0.0, np.linspace(10.0, 100.0, 10)]
    stress = np.zeros((t.size, 6))
    stress[:, 0] = SIG
    res = fft.dns(np.zeros((2, 2, 2), dtype=np.int64), [parse_phase(CREEP)], np.zeros((t.size, 6)),
                  stress_free=(0, 1, 2, 3, 4, 5), times=t, stresses=stress)
    _check_creep(res.strain, res.stress, t)


@pytest.mark.parametrize("header, match", [
    ("s11,e22,e33,e23,e13,time", "must name each component once"),  # e12 missing
    ("s11,e22,e33,e23,e13,e12,sxx,time", "must name each component once"),
    ("s11,s11,e22,e33,e23,e13,e12", "must name each component once"),
])
def test_bad_stress_header_is_one_line_error(tmp_path, capsys, header, match):
    ncol = len(header.split(","))
    (tmp_path / "p.csv").write_text(header + "\n" + ",".join(["1"] * ncol) + "\n")
    with pytest.raises(loadpath.PathError, match=match):
        loadpath.read_load_path(tmp_path / "p.csv")
    model_file.write(tmp_path / "m.dmn", _tree(2, 0))
    argv = ["drive", str(tmp_path / "m.dmn"), "--phase", CREEP, "--phase", CREEP,
            "--path", str(tmp_path / "p.csv")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert match in err and err.count("\n") == 1


def test_stress_free_and_stress_column_on_one_component_is_one_line_error(tmp_path, capsys):
    _creep_csv(tmp_path / "p.csv")
    model_file.write(tmp_path / "m.dmn", _tree(2, 0))
    np.save(tmp_path / "m.npy", np.zeros((2, 2, 2), dtype=np.int64))
    for argv in (["drive", str(tmp_path / "m.dmn"), "--phase", CREEP, "--phase", CREEP],
                 ["dns", str(tmp_path / "m.npy"), "--phase", CREEP]):
        assert main([*argv, "--path", str(tmp_path / "p.csv"), "--stress-free", "11,22"]) == 2
        err = capsys.readouterr().err
        assert "both --stress-free and a stress column" in err and err.count("\n") == 1
