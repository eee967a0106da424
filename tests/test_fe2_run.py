"""``dmn fe2 run MESH`` and the typed FE² API (dmn_umat.fe.api): a user's mesh file with boundary
conditions by group name reproduces closed-form answers and the one-point law; pictures; errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dmn_umat.cli import main
from dmn_umat.fe import api
from dmn_umat.fe import examples as X
from dmn_umat.fe import mesh as M

E, NU = 1000.0, 0.3
J2 = "j2:E=1000,nu=0.3,sy=1,H=100,Hk=50"
SPEC = f"elastic:E={E:g},nu={NU:g}"


def gmsh_block(path, xs=(0.0, 2.0), ly=1.0, lz=1.0, n=2, hexa=True):
    """A gmsh block [xs[0], xs[-1]]×[0,ly]×[0,lz] cut at ``xs`` into volumes ``part0``, ``part1``…
    (physical groups), faces ``left``/``right`` (x), ``front``/``back`` (y), ``bottom``/``top`` (z);
    ``n`` hexahedra (or 6n tetrahedra) per part edge."""
    import gmsh

    gmsh.initialize(readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.add("block")
        occ = gmsh.model.occ
        boxes = [(3, occ.addBox(a, 0, 0, b - a, ly, lz)) for a, b in zip(xs[:-1], xs[1:])]
        if len(boxes) > 1:
            occ.fragment(boxes[:1], boxes[1:])
        occ.synchronize()
        lo, hi = np.array([xs[0], 0, 0]), np.array([xs[-1], ly, lz])
        faces: dict[str, list[int]] = {}
        for _, s in gmsh.model.getEntities(2):
            c = np.array(occ.getCenterOfMass(2, s))
            for i, (lo_name, hi_name) in enumerate((("left", "right"), ("front", "back"), ("bottom", "top"))):
                if abs(c[i] - lo[i]) < 1e-9:
                    faces.setdefault(lo_name, []).append(s)
                if abs(c[i] - hi[i]) < 1e-9:
                    faces.setdefault(hi_name, []).append(s)
        for name, tags in faces.items():
            gmsh.model.addPhysicalGroup(2, tags, name=name)
        for _, v in gmsh.model.getEntities(3):
            x = occ.getCenterOfMass(3, v)[0]
            gmsh.model.addPhysicalGroup(3, [v], name=f"part{int(np.searchsorted(xs, x)) - 1}")
        gmsh.option.setNumber("Mesh.MeshSizeMin", 0.0)
        for _, c in gmsh.model.getEntities(1):
            gmsh.model.mesh.setTransfiniteCurve(c, n + 1)
        for _, s in gmsh.model.getEntities(2):
            gmsh.model.mesh.setTransfiniteSurface(s)
            if hexa:
                gmsh.model.mesh.setRecombine(2, s)
        for _, v in gmsh.model.getEntities(3):
            gmsh.model.mesh.setTransfiniteVolume(v)
        gmsh.model.mesh.generate(3)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    return path


UNIAXIAL = ["--fix", "left:x", "--fix", "front:y", "--fix", "bottom:z"]  # symmetry rollers


def _last_cell_stress(xdmf):
    import meshio

    with meshio.xdmf.TimeSeriesReader(str(xdmf)) as r:
        r.read_points_cells()
        steps = [r.read_data(k) for k in range(r.num_steps)]
    return [cd["stress"][0] for _, _, cd in steps], [pd["displacement"] for _, pd, _ in steps]


@pytest.mark.parametrize("hexa", [True, False])
def test_elastic_block_gives_the_analytic_stress_and_reaction(tmp_path, capsys, hexa):
    """Uniaxial stress in a gmsh block (hexahedra / tetrahedra): σxx = E δ/L, other stresses 0,
    reaction = σxx·A on both ends, lateral contraction −ν ε at the free faces (≤ 1e-8 relative)."""
    msh = gmsh_block(tmp_path / "block.msh", hexa=hexa)
    delta, L, A = 0.004, 2.0, 1.0
    rc = main(["fe2", "run", str(msh), *UNIAXIAL, "--displace", f"right:x={delta}", "--phase", SPEC,
               "--steps", "2", "--out", str(tmp_path / "o"), "--json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0 and s["cell_type"] == ("hexahedron" if hexa else "tetra")
    sig = E * delta / L
    lam = np.array([0.5, 1.0])
    assert np.allclose(s["reactions"]["right"]["x"], lam * sig * A, rtol=1e-8, atol=0)
    assert np.allclose(s["reactions"]["left"]["x"], -lam * sig * A, rtol=1e-8, atol=0)
    assert np.allclose(s["curve"]["force"], lam * sig * A, rtol=1e-8, atol=0)
    stresses, disps = _last_cell_stress(tmp_path / "o" / "block.xdmf")
    for k, st in enumerate(stresses):  # Tensor6 order xx, xy, xz, yy, yz, zz
        assert np.allclose(st[:, 0], lam[k] * sig, rtol=1e-8, atol=0)
        assert np.abs(st[:, 1:]).max() <= 1e-8 * sig
    pts = M.read_mesh(msh).points
    back = np.abs(pts[:, 1] - 1.0) < 1e-12
    assert np.allclose(disps[-1][back, 1], -NU * delta / L * 1.0, rtol=1e-8, atol=0)
    assert s["checks"]["equilibrium"]["ok"]


def test_j2_block_reproduces_the_one_point_law(tmp_path):
    """The same block with a J2 phase (isotropic + kinematic hardening) loaded, unloaded and
    reversed: reaction/area equals the uniaxial-stress response of one material point (≤ 1e-8)."""
    msh = gmsh_block(tmp_path / "block.msh", n=1)
    delta, L = 0.01, 2.0
    factors = [0.1, 0.4, 1.0, 0.5, -0.3, -1.0]
    res = api.run_mesh(api.MeshJob(
        msh, [api.parse_fix(s) for s in ("left:x", "front:y", "bottom:z")],
        [api.parse_displace(f"right:x={delta}")], phases=[J2], factors=factors))
    mat = X.phase_material(J2)
    e11 = np.array(factors) * delta / L
    sig = X._point_stress(mat, e11, (1, 2, 3, 4, 5))
    assert np.abs(sig).max() > 2.0  # well into plasticity (σy = 1) and reversed
    assert np.allclose(res.reactions["right"]["x"], sig * 1.0, rtol=1e-8, atol=1e-10 * np.abs(sig).max())
    assert res.n_increments == len(factors) and res.ok


def test_two_regions_in_series(tmp_path):
    """Two material regions (physical volumes) in series along x, ν = 0: the bar's stiffness is
    A / (L_a/E_a + L_b/E_b) (closed form, ≤ 1e-8); ``--material GROUP=SPEC`` per region."""
    msh = gmsh_block(tmp_path / "two.msh", xs=(0.0, 1.0, 3.0), n=1)
    ea, eb, delta = 1000.0, 3000.0, 0.003
    res = api.run_mesh(api.MeshJob(
        msh, [api.Fix("left", (0,)), api.Fix("front", (1,)), api.Fix("bottom", (2,))],
        [api.Displace("right", {0: delta})], steps=1,
        regions={"part0": f"elastic:E={ea:g},nu=0", "part1": f"elastic:E={eb:g},nu=0"}))
    k = 1.0 / (1.0 / ea + 2.0 / eb)
    assert res.reactions["right"]["x"][0] == pytest.approx(k * delta, rel=1e-8)
    assert "part0=" in res.material and "part1=" in res.material


def test_traction_on_a_2d_gmsh_mesh(tmp_path):
    """Plane strain, a traction on a physical line: σxx = t, reaction on the fixed edge −t·H."""
    import gmsh

    path = tmp_path / "plate.msh"
    gmsh.initialize(readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        r = gmsh.model.occ.addRectangle(0, 0, 0, 3.0, 1.5)
        gmsh.model.occ.synchronize()
        for _, c in gmsh.model.getEntities(1):
            x = gmsh.model.occ.getCenterOfMass(1, c)[0]
            if abs(x) < 1e-9:
                gmsh.model.addPhysicalGroup(1, [c], name="clamp")
            elif abs(x - 3.0) < 1e-9:
                gmsh.model.addPhysicalGroup(1, [c], name="pull")
        gmsh.model.addPhysicalGroup(2, [r], name="plate")
        gmsh.option.setNumber("Mesh.MeshSizeMax", 0.5)
        gmsh.model.mesh.generate(2)
        gmsh.write(str(path))
    finally:
        gmsh.finalize()
    t = 5.0
    res = api.run_mesh(api.MeshJob(path, [api.parse_fix("clamp:x"), api.parse_fix("ymin:y")],
                                   traction=[api.parse_traction(f"pull:x={t}")], phases=[SPEC], steps=1))
    assert res.cell_type == "triangle"
    assert res.reactions["clamp"]["x"][0] == pytest.approx(-t * 1.5, rel=1e-10)
    assert res.curve_force[0] == pytest.approx(t * 1.5, rel=1e-12)


@pytest.fixture(scope="module")
def plate_hole_tiny() -> dict:
    """The plate-hole example (tiny, default phase): one run shared by both mesh formats."""
    return X.plate_hole(X.phase_material(X.DEFAULT_PHASE["plate-hole"]), "tiny", png_at=None)


@pytest.mark.parametrize("fmt", ["msh", "inp"])
def test_run_reproduces_the_plate_hole_example(tmp_path, fmt, plate_hole_tiny):
    """The bundled plate-with-a-hole mesh, saved by gmsh with physical groups (``.msh``) or
    written by meshio to an Abaqus ``.inp`` with ``*NSET`` node sets, run with the example's BCs
    and load schedule gives the example's load curve to 1e-10."""
    import meshio

    spec = X.DEFAULT_PHASE["plate-hole"]
    ref = plate_hole_tiny
    path = tmp_path / f"plate.{fmt}"
    mesh = M.plate_with_hole(10.0, 10.0, 1.0, 1.0 / 5, 2.5, save=path if fmt == "msh" else None)
    if fmt == "inp":
        sets = {"ligament": "xmin", "symmetry": "ymin", "end": "xmax"}
        meshio.Mesh(mesh.points, [("quad", mesh.cells)],
                    point_sets={k: mesh.node_sets[v] for k, v in sets.items()}).write(path)
    lams = np.r_[0.01, np.linspace(0.02, 1.0, 12)]
    res = api.run_mesh(api.MeshJob(path, [api.Fix("ligament", (0,)), api.Fix("symmetry", (1,))],
                                   [api.Displace("end", {0: 0.2})], phases=[spec], factors=lams, png_at=None))
    assert res.n_cells == ref["n_cells"] and res.n_nodes == ref["n_nodes"]
    assert np.allclose(res.curve_force, ref["curve"]["force"], rtol=1e-10, atol=0)
    assert np.allclose(res.curve_displacement, ref["curve"]["displacement"], rtol=1e-14)


# ----------------------------------------------------------------------------- pictures
def _image_colours(png) -> int:
    import matplotlib.image

    img = matplotlib.image.imread(str(png))
    assert img.std() > 0.01  # not a constant image
    return len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))


def test_field_pngs_of_an_example_and_a_3d_run(tmp_path, capsys):
    """Contour PNGs at the chosen increments (2-D example, J2: von Mises and PEEQ panels) and of a
    3-D run (surface view): files exist and hold many colours (a real field, not a blank)."""
    out = tmp_path / "ex"
    rc = main(["fe2", "plate-hole", "--phase", X.DEFAULT_PHASE["plate-hole"], "--size", "tiny",
               "--steps", "3", "--png-at", "2,last", "--out", str(out), "--json"])
    s = json.loads(capsys.readouterr().out)
    assert rc == 0
    pngs = sorted(out.glob("plate-hole_fields_*.png"))
    assert [p.name for p in pngs] == ["plate-hole_fields_002.png", "plate-hole_fields_004.png"]
    assert [str(p) for p in pngs] == s["pictures"] and all(p in s["files"] for p in s["pictures"])
    assert _image_colours(pngs[-1]) > 200  # a graded field on two panels
    msh = gmsh_block(tmp_path / "b3.msh", n=1)
    res = api.run_mesh(api.MeshJob(msh, [api.parse_fix("left")], [api.parse_displace("right:y=0.2")],
                                   phases=[J2], steps=2, out=tmp_path / "b3"))
    assert len(res.pictures) == 1 and _image_colours(res.pictures[0]) > 50
    assert main(["fe2", "plate-hole", "--size", "tiny", "--png-at", "99"]) == 2
    assert "out of range" in capsys.readouterr().err


def test_load_displacement_title_fits_the_figure(tmp_path, monkeypatch):
    """A long material label (a network + two phase specs) wraps instead of running off the PNG."""
    import matplotlib.figure

    from dmn_umat.fe.output import plot_curve

    seen = []
    save = matplotlib.figure.Figure.savefig

    def check(fig, *a, **k):
        r = fig.canvas.get_renderer()
        bb = fig.axes[0].title.get_window_extent(r)
        seen.append((bb.x0 >= 0) and (bb.x1 <= fig.bbox.width) and (bb.y1 <= fig.bbox.height))
        return save(fig, *a, **k)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", check)
    label = "plate-hole (spheres16_imn_d6 + j2:E=70000,nu=0.33,sy=250,H=500 | elastic:E=400000,nu=0.2)"
    plot_curve(tmp_path / "c.png", np.array([0.1, 0.2]), np.array([1.0, 2.0]), xlabel="u", ylabel="F",
               title=label)
    assert seen == [True]


# ----------------------------------------------------------------------------- errors and API
def _refused(capsys, argv, *needles):
    rc = main(argv)
    err = capsys.readouterr().err
    assert rc == 2, err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    for n in needles:
        assert n in err, err


def test_run_errors_are_one_line(tmp_path, capsys):
    import meshio

    msh = str(gmsh_block(tmp_path / "block.msh", n=1))
    load = ["--displace", "right:x=0.01", "--phase", SPEC, "--out", str(tmp_path / "o")]
    _refused(capsys, ["fe2", "run", msh, "--fix", "nosuch:x", *load], "unknown group 'nosuch'",
             "left", "right")
    _refused(capsys, ["fe2", "run", msh, "--fix", "left:w", *load], "component 'w'")
    _refused(capsys, ["fe2", "run", msh, *load], "rigid-body", "singular")  # nothing fixed
    _refused(capsys, ["fe2", "run", msh, "--traction", "right:x=1", "--phase", SPEC], "rigid-body")
    _refused(capsys, ["fe2", "run", msh, "--fix", "left", "--phase", SPEC], "no load")
    _refused(capsys, ["fe2", "run", msh, "--fix", "left", *load, "--material", "left=" + SPEC],
             "holds no solid cells")
    _refused(capsys, ["fe2", "run", msh, "--fix", "left", "--displace", "right:x=0.01", "--model",
                      "spheres16_imn_d6", "--phase", J2], "has 2 phases but 1 --phase given")
    lines = tmp_path / "lines.vtu"
    meshio.Mesh(np.array([[0.0, 0, 0], [1, 0, 0]]), [("line", np.array([[0, 1]]))]).write(lines)
    _refused(capsys, ["fe2", "run", str(lines), "--fix", "xmin", *load], "no supported cells", "line")
    import gmsh  # a physical group on a face only: gmsh saves no volume cells

    gmsh.initialize(readConfigFiles=False)
    try:
        gmsh.option.setNumber("General.Terminal", 0)
        gmsh.model.occ.addBox(0, 0, 0, 1, 1, 1)
        gmsh.model.occ.synchronize()
        gmsh.model.addPhysicalGroup(2, [1], name="left")
        gmsh.model.mesh.generate(3)
        gmsh.write(str(tmp_path / "faces.msh"))
    finally:
        gmsh.finalize()
    _refused(capsys, ["fe2", "run", str(tmp_path / "faces.msh"), "--fix", "left", *load], "Mesh.SaveAll")
    assert not (tmp_path / "o").exists()


def test_example_api_is_typed_and_reads_the_model_once(tmp_path, monkeypatch):
    """``run_fe2(FE2Job)`` → ``FE2Result`` with typed checks; ``dmn fe2 --model`` reads the model
    file once (it used to read it twice: once for the phase count, once for the material)."""
    from dmn_umat import model_file
    from dmn_umat.network import complete_tree

    model = tmp_path / "m.dmn"
    model_file.write(model, complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]),
                                          np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]])))
    calls = []
    read = model_file._read_bytes  # every reader (read, read_any, read_parametric) goes through it
    monkeypatch.setattr(model_file, "_read_bytes", lambda p, *a, **k: calls.append(p) or read(p, *a, **k))
    spec = X.DEFAULT_PHASE["cyclic"]
    assert main(["fe2", "cyclic", "--model", str(model), "--phase", spec, "--phase", SPEC, "--size", "tiny",
                 "--steps", "2", "--out", str(tmp_path / "o"), "--png-at", "none"]) in (0, 1)
    assert len(calls) == 1
    r = api.run_fe2(api.FE2Job("cyclic", phases=[spec], size="tiny", n_steps=2))
    assert isinstance(r, api.FE2Result) and r.ok and isinstance(r.checks["loop_closure"], api.Check)
    assert r.to_dict()["checks"]["loop_closure"]["ratio"] == r.checks["loop_closure"].ratio
    with pytest.raises(X.ExampleError, match="--steps"):
        api.run_fe2(api.FE2Job("cyclic", n_steps=1))


def test_toml_job_file(tmp_path, capsys):
    """A TOML job file with the options as keys runs like the command line (same reactions);
    command-line options extend it; an unknown key is one line."""
    msh = gmsh_block(tmp_path / "block.msh", n=1)
    job = tmp_path / "job.toml"
    job.write_text('mesh = "block.msh"\nfix = ["left:x", "front:y", "bottom:z"]\ndisplace = "right:x=0.004"\n'
                   f'phase = ["{SPEC}"]\nsteps = 2\nout = "res"\npng_at = "none"\n')
    assert main(["fe2", "run", str(job), "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert np.allclose(s["reactions"]["right"]["x"], [1.0, 2.0], rtol=1e-8)  # E δ/L · A · λ
    assert (tmp_path / "res" / "block_summary.json").is_file() and not s["pictures"]
    out2 = str(tmp_path / "r2")
    assert main(["fe2", "run", str(job), "--traction", "top:z=-0.5", "--out", out2, "--json"]) == 0
    s2 = json.loads(capsys.readouterr().out)
    assert s2["reactions"]["bottom"]["z"][-1] == pytest.approx(0.5 * 2.0, rel=1e-8)  # t · top area
    job.write_text(f'mesh = "{msh.name}"\nfixx = ["left"]\n')
    _refused(capsys, ["fe2", "run", str(job)], "unknown key 'fixx'")
