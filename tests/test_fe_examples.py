"""FE² examples at reduced size: each checks physical numbers (stress concentration, limit
loads, equilibrium, elastic unloading), plus the ``dmn fe2`` command and its output files."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dmn_umat.cli import main
from dmn_umat.fe import examples as X
from dmn_umat.fe import mesh as M
from dmn_umat.fe.solver import Dirichlet, Problem, solve
from dmn_umat.laws import PhaseMaterial


def test_plate_hole_tiny_checks(tmp_path):
    mat = X.make_material(None, [X.DEFAULT_PHASE["plate-hole"]], "plate-hole")
    s = X.plate_hole(mat, "tiny", out=tmp_path)
    c = s["checks"]
    assert all(v["ok"] for v in c.values()), c
    # elastic Kt within 3 % of Heywood even on the tiny mesh (displacement-based hole stress)
    assert c["stress_concentration"]["ratio"] == pytest.approx(1.0, abs=0.03)
    # plane-strain limit load between the net-section and the gross-section loads
    assert 1.0 <= c["limit_load"]["ratio"] <= 10 / 9
    assert c["equilibrium"]["value"] < 1e-8
    for f in s["files"]:
        assert (tmp_path / f.split("/")[-1]).stat().st_size > 0


def test_plate_hole_kt_converges_to_kirsch_heywood():
    """Elastic plate with a small hole (a/W = 0.05): σxx at the hole → Kt ≈ 3.0 (Heywood 3.01)."""
    W, a = 20.0, 1.0
    mesh = M.plate_with_hole(W, W, a, a / 12, 2.0)
    mat = PhaseMaterial("elastic:E=70000,nu=0.3")
    bcs = [Dirichlet(mesh.node_sets["xmin"], 0), Dirichlet(mesh.node_sets["ymin"], 1),
           Dirichlet(mesh.node_sets["xmax"], 0, 1e-3 * W)]
    res = solve(Problem(mesh, mat, bcs), [1.0])
    P = res.reaction_sum(mesh.node_sets["xmax"], 0)[0]
    kt = X._hole_top_stress(res, mat, mesh, a) / (P / W)
    kt_ref = (2.0 + (1.0 - a / W) ** 3) / (1.0 - a / W)
    assert kt == pytest.approx(kt_ref, rel=0.015)


def test_notched_bar_tiny_checks():
    s = X.notched_bar(X.make_material(None, [X.DEFAULT_PHASE["notched-bar"]], "notched-bar"), "tiny")
    assert s["cell_type"] == "hexahedron"
    assert all(v["ok"] for v in s["checks"].values()), s["checks"]
    assert 1.0 <= s["checks"]["limit_load"]["ratio"] <= 1.35


def test_cyclic_tiny_checks():
    s = X.cyclic(X.make_material(None, [X.DEFAULT_PHASE["cyclic"]], "cyclic"), "tiny")
    c = s["checks"]
    assert all(v["ok"] for v in c.values()), c
    assert abs(c["elastic_unloading"]["ratio"] - 1.0) < 1e-6
    f = np.array(s["curve"]["force"])
    assert f.min() < 0 < f.max()


def test_cli_fe2_json_and_outputs(tmp_path, capsys):
    rc = main(["fe2", "cyclic", "--size", "tiny", "--steps", "3", "--out", str(tmp_path / "o"), "--json",
               "--solver", "cg", "--phase", X.DEFAULT_PHASE["cyclic"]])
    out = capsys.readouterr().out
    s = json.loads(out)
    assert rc == 0 and s["example"] == "cyclic"
    import meshio

    with meshio.xdmf.TimeSeriesReader(str(tmp_path / "o" / "cyclic.xdmf")) as r:
        pts, _ = r.read_points_cells()
        t, pd, cd = r.read_data(r.num_steps - 1)
    assert r.num_steps == s["n_increments"]
    assert pd["displacement"].shape == (pts.shape[0], 3)
    assert "peeq" in cd and cd["peeq"][0].max() > 0


def test_cli_fe2_user_errors(capsys):
    assert main(["fe2", "plate-hole", "--phase", "j2:E=1"]) == 2
    assert "j2 needs" in capsys.readouterr().err
    assert main(["fe2", "plate-hole", "--model", "no-such-model.dmn", "--phase", "elastic:E=1,nu=0.2"]) == 2
    assert "not found" in capsys.readouterr().err
    assert main(["fe2", "plate-hole", "--phase", "elastic:E=1,nu=0.2", "--phase", "elastic:E=2,nu=0.2"]) == 2


def test_network_material_in_fe_homogeneous_limit(tmp_path):
    """A random depth-3 network whose phases are the same J2 law behaves like that law: the FE
    plate (NetworkMaterial via a model file, as ``dmn fe2 --model``) equals the PhaseMaterial run."""
    from dmn_umat import model_file
    from dmn_umat.network import complete_tree

    rng = np.random.default_rng(4)
    net = complete_tree(3, rng.uniform(0.2, 1.0, 8), rng.normal(size=(7, 3)))
    path = model_file.write(tmp_path / "rand.dmn", net)
    spec = "j2:E=70000,nu=0.3,sy=250,H=700"
    mat_net = X.make_material(str(path), [spec, spec], "plate-hole")
    assert type(mat_net).__name__ == "NetworkMaterial"
    kw = {"size": "tiny", "n_steps": 4, "strain": 0.005}
    a = X.plate_hole(mat_net, **kw)
    b = X.plate_hole(PhaseMaterial(spec), **kw)
    fa, fb = np.array(a["curve"]["force"]), np.array(b["curve"]["force"])
    assert np.abs(fa - fb).max() <= 1e-7 * np.abs(fb).max()
    d = np.array(b["curve"]["displacement"])
    assert fb[-1] < 0.9 * fb[0] * d[-1] / d[0]  # plastic (below the elastic line)


def test_output_tensor_order(tmp_path):
    """Stress written as XDMF Tensor6 in ParaView order (xx, xy, xz, yy, yz, zz)."""
    import meshio

    from dmn_umat.fe.output import XdmfSeries, increment_fields

    m = M.rectangle(1.0, 1.0, 1, 1)
    bcs = [Dirichlet(m.node_sets["xmin"], 0), Dirichlet(m.node_sets["ymin"], 1),
           Dirichlet(m.node_sets["xmax"], 0, 1e-3), Dirichlet(m.node_sets["ymax"], 0, 4e-4)]
    mat = PhaseMaterial("elastic:E=1000,nu=0.25")
    res = solve(Problem(m, mat, bcs), [1.0])
    w = XdmfSeries(tmp_path / "r", res.assembler)
    w.write(1.0, *increment_fields(res.assembler, res.increments[0], mat))
    w.close()
    with meshio.xdmf.TimeSeriesReader(str(tmp_path / "r.xdmf")) as r:
        r.read_points_cells()
        _, pd, cd = r.read_data(0)
    s = res.assembler.cell_average(res.increments[0].stress)[0]  # Mandel 11, 22, 33, 23, 13, 12
    expect = [s[0], s[5] / np.sqrt(2), s[4] / np.sqrt(2), s[1], s[3] / np.sqrt(2), s[2]]
    assert cd["stress"][0][0] == pytest.approx(expect, rel=1e-10, abs=1e-12)
    assert abs(expect[1]) > 0.02 * abs(expect[0])  # shear present, so the order is really tested


def test_default_material_is_the_shipped_composite(tmp_path, capsys):
    """Without --model/--phase the examples run the shipped IMN composite (if installed), and the
    physical checks hold for it too (Kt, equilibrium, net-section load from its point response)."""
    from dmn_umat.offline import pretrained

    assert X.DEFAULT_MODEL in pretrained.names()
    rc = main(["fe2", "plate-hole", "--size", "tiny", "--steps", "4", "--out", str(tmp_path), "--json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0 and s["material"].startswith(X.DEFAULT_MODEL)
    assert all(c["ok"] for c in s["checks"].values()), s["checks"]
    assert s["checks"]["stress_concentration"]["ratio"] == pytest.approx(1.0, abs=0.03)
