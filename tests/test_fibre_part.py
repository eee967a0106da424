"""A part with a fibre-orientation field (issue 13 items 4–5, docs/fibres.md §4): the skin–core
field, the mesh file's cell data ``a2``, the CalculiX recipe that gives each element and
integration point its own A₂ in STATEV 1–6, and the orientation-aware model in the bundled solver
and in CalculiX through the UMAT."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dmn_umat.abi import deck
from dmn_umat.fe import fibre_part as fp
from dmn_umat.fe.elements import MeshError
from dmn_umat.fe.mesh import read_mesh


def _a2_matrix(v: np.ndarray) -> np.ndarray:
    a = np.empty((v.shape[0], 3, 3))
    for k, (i, j) in enumerate(((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))):
        a[:, i, j] = a[:, j, i] = v[:, k]
    return a


# --------------------------------------------------------------------------- the field
def test_skin_core_field_is_a_valid_orientation_tensor_everywhere():
    zeta = np.linspace(-1.0, 1.0, 201)
    a = _a2_matrix(fp.skin_core_a2(zeta))
    np.testing.assert_allclose(np.trace(a, axis1=1, axis2=2), 1.0, atol=1e-14)
    assert np.linalg.eigvalsh(a).min() >= -1e-14
    lam = fp.SKIN_CORE_EIGENVALUES
    # skin: fibres along the flow x; core: across it (y); the same strength; symmetric in ζ
    np.testing.assert_allclose(a[0], np.diag(lam), atol=1e-14)
    np.testing.assert_allclose(a[100], np.diag([lam[1], lam[0], lam[2]]), atol=1e-14)
    np.testing.assert_allclose(a, a[::-1], atol=1e-14)
    # smooth transition: a11 falls monotonically from the skin to the core
    a11 = a[:101, 0, 0]
    assert np.all(np.diff(a11) <= 1e-15) and a11[0] > a11[-1]
    with pytest.raises(MeshError, match="eigenvalues"):
        fp.skin_core_a2(zeta, eigenvalues=(0.8, 0.3, 0.05))


def test_mesh_file_round_trip_keeps_the_a2_cell_data(tmp_path):
    mesh = fp.fibre_plate(nx=3, ny=2, nz=4)
    path = fp.write_mesh(tmp_path / "plate.vtu", mesh)
    back = read_mesh(path)
    np.testing.assert_array_equal(back.cells, mesh.cells)
    np.testing.assert_array_equal(back.cell_data["a2"], mesh.cell_data["a2"])
    np.testing.assert_allclose(fp.a2_field(back), mesh.cell_data["a2"], atol=1e-15)
    # through the thickness: the cells of one z layer share A₂, skin and core differ
    zc = back.points[back.cells, 2].mean(1)
    for z in np.unique(zc):
        rows = back.cell_data["a2"][zc == z]
        assert np.all(rows == rows[0])
    assert back.cell_data["a2"][np.argmin(zc), 0] > back.cell_data["a2"][np.argmin(np.abs(zc - 1.0)), 0]


def test_bad_orientation_fields_are_one_line_errors():
    mesh = fp.fibre_plate(nx=2, ny=1, nz=2)
    good = mesh.cell_data.pop("a2")
    with pytest.raises(MeshError, match="no cell data 'a2'"):
        fp.a2_field(mesh)
    mesh.cell_data["a2"] = good[:, :5]
    with pytest.raises(MeshError, match=r"must be \(n_cells, 6\)"):
        fp.a2_field(mesh)
    bad = good.copy()
    bad[2, 0] += 0.1  # trace 1.1
    mesh.cell_data["a2"] = bad
    with pytest.raises(MeshError, match="cell 2 .*trace 1") as err:
        fp.a2_field(mesh)
    assert "\n" not in str(err.value)
    bad = good.copy()
    bad[1] = [1.2, -0.1, -0.1, 0.0, 0.0, 0.0]  # trace 1, not positive semidefinite
    mesh.cell_data["a2"] = bad
    with pytest.raises(MeshError, match="cell 1 .*semidefinite"):
        fp.a2_field(mesh)
    mesh.cell_data["a2"] = _a2_matrix(good)  # (n, 3, 3) is accepted too
    np.testing.assert_allclose(fp.a2_field(mesh), good, atol=1e-15)


# --------------------------------------------------------------------------- the deck recipe
def test_a2_initial_conditions_text():
    a2 = fp.skin_core_a2(np.array([-1.0, 0.0]))
    ccx = deck.a2_initial_conditions([7, 9], a2, ngp=2)
    lines = ccx.splitlines()
    assert lines[0::2] == ["*INITIAL CONDITIONS, TYPE=SOLUTION"] * 4  # repeated: ccx reads one line each
    assert [ln.split(",")[:2] for ln in lines[1::2]] == [["7", " 1"], ["7", " 2"], ["9", " 1"], ["9", " 2"]]
    np.testing.assert_array_equal([float(x) for x in lines[3].split(",")[2:]], a2[0])
    abq = deck.a2_initial_conditions([7, 9], a2, flavor="abaqus", nstatv=20).splitlines()
    assert abq[0] == "*INITIAL CONDITIONS, TYPE=SOLUTION"
    first = abq[1].split(",")
    assert first[0] == "7" and len(first) == 8  # element + 7 values, then 8 per line
    vals = [float(x) for row in abq[1:4] for x in row.split(",")][1:]
    assert len(vals) == 20 and vals[:6] == list(a2[0]) and not any(vals[6:])
    with pytest.raises(deck.DeckError, match="nstatv"):
        deck.a2_initial_conditions([7, 9], a2, flavor="abaqus")
    with pytest.raises(deck.DeckError, match="finite"):
        deck.a2_initial_conditions([7], a2)


def _ccx() -> Path:
    exe = Path(os.environ.get("DMN_UMAT_CCX_CACHE", Path.home() / ".cache" / "dmn_umat" / "ccx")) / "ccx"
    if not exe.is_file():
        pytest.skip("no CalculiX with the UMAT loader (scripts/build_calculix.sh)")
    return exe


PROBE_UMAT = r"""
#include <stdio.h>
#include <stddef.h>
/* linear elastic (E = PROPS(1), nu = PROPS(2)); prints STATEV on entry at the first call of each point */
void umat_(double *stress, double *statev, double *ddsdde, double *sse, double *spd, double *scd,
           double *rpl, double *ddsddt, double *drplde, double *drpldt, const double *stran,
           const double *dstran, const double *time, const double *dtime, const double *temp,
           const double *dtemp, const double *predef, const double *dpred, const char *cmname,
           const int *ndi, const int *nshr, const int *ntens, const int *nstatv, const double *props,
           const int *nprops, const double *coords, const double *drot, double *pnewdt,
           const double *celent, const double *dfgrd0, const double *dfgrd1, const int *noel,
           const int *npt, const int *layer, const int *kspt, const int *kstep, const int *kinc,
           size_t len) {
    double E = props[0], nu = props[1], l = E * nu / ((1 + nu) * (1 - 2 * nu)), m = E / (2 * (1 + nu));
    int n = *ntens;
    for (int i = 0; i < n * n; ++i) ddsdde[i] = 0.0;
    for (int i = 0; i < 3; ++i) {
        for (int j = 0; j < 3; ++j) ddsdde[i * n + j] = l;
        ddsdde[i * n + i] += 2 * m;
    }
    for (int i = 3; i < n; ++i) ddsdde[i * n + i] = m;
    for (int i = 0; i < n; ++i) {
        double s = 0.0;
        for (int j = 0; j < n; ++j) s += ddsdde[j * n + i] * (stran[j] + dstran[j]);
        stress[i] = s;
    }
    if (*kinc == 1 && statev[*nstatv - 1] == 0.0) {
        printf("PROBE %d %d", *noel, *npt);
        for (int i = 0; i < *nstatv; ++i) printf(" %.17g", statev[i]);
        printf("\n");
    }
    statev[*nstatv - 1] = 1.0;
}
"""


def test_calculix_recipe_gives_each_element_and_point_its_own_a2(tmp_path):
    """The measured basis of the recipe: with the keyword repeated per line, ccx hands every
    element and integration point its own six values in STATEV 1–6 (the rest zero) — with a
    single keyword and NSTATV > 6 it keeps only the first line (ccx 2.20's continuation bug)."""
    exe = _ccx()
    if shutil.which("cc") is None:
        pytest.skip("no C compiler")
    (tmp_path / "probe.c").write_text(PROBE_UMAT)
    subprocess.run(["cc", "-O1", "-shared", "-fPIC", "-o", str(tmp_path / "libPROBE.so"),
                    str(tmp_path / "probe.c")], check=True)
    mesh = fp.fibre_plate(lx=3.0, ly=1.0, lz=2.0, nx=1, ny=1, nz=3)
    a2 = mesh.cell_data["a2"]
    block = "*MATERIAL, NAME=@ABAQUS_PROBE\n*USER MATERIAL, CONSTANTS=2\n1000., 0.3, 0.\n*DEPVAR\n10\n"
    text = fp.calculix_deck(mesh, a2, block, [("xmin", [0]), ("ymin", [1]), ("zmin", [2])],
                            ("xmax", 0, 0.01), [1.0])
    env = dict(os.environ, LD_LIBRARY_PATH=str(tmp_path), OMP_NUM_THREADS="1", CCX_NPROC_RESULTS="1")

    def probe(deck_text: str) -> dict:
        (tmp_path / "job.inp").write_text(deck_text)
        r = subprocess.run([str(exe), "-i", "job"], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=120)
        assert "Job finished" in r.stdout and "*ERROR" not in r.stdout, r.stdout[-2000:]
        seen = {}
        for line in r.stdout.splitlines():
            if line.startswith("PROBE"):
                f = line.split()
                seen[int(f[1]), int(f[2])] = np.array([float(x) for x in f[3:]])
        return seen

    seen = probe(text)
    assert sorted(seen) == [(e, k) for e in (1, 2, 3) for k in range(1, 9)]
    for (e, _), sv in seen.items():
        np.testing.assert_array_equal(sv[:6], a2[e - 1])
        assert not sv[6:].any()
    # one keyword for all lines: only the first line survives (why the recipe repeats it)
    single = text.replace("*INITIAL CONDITIONS, TYPE=SOLUTION\n", "").replace(
        "*SOLID SECTION, ELSET=EALL, MATERIAL=@ABAQUS_PROBE\n",
        "*SOLID SECTION, ELSET=EALL, MATERIAL=@ABAQUS_PROBE\n*INITIAL CONDITIONS, TYPE=SOLUTION\n")
    seen = probe(single)
    lost = [key for key, sv in seen.items() if not sv[:6].any()]
    assert len(lost) >= 20


# --------------------------------------------------------------------------- the C API and the UMAT
def synthetic_model(depth: int = 3, seed: int = 0):
    """A small orientation-aware IMN with random (seeded) parameters: no training needed."""
    from dmn_umat.model_file import ParametricModel, n_features

    rng = np.random.default_rng(seed)
    P, F = 3 * 2**depth - 2, n_features(2)
    L = 2**depth
    p0 = np.concatenate([rng.normal(0.5, 0.3, L), rng.uniform(0.3, 2.8, P - L)])
    return ParametricModel(depth, 2, "softplus", p0, rng.normal(0.0, 0.8, (P, F)), {"formulation": "imn"})


PHASES = ["j2:E=3000,nu=0.35,sy=40,H=300", "elastic:E=72000,nu=0.22"]

BATCH = r"""
import ctypes, json, sys
import numpy as np
from dmn_umat.laws import parse_phase
from dmn_umat.abi import deck
from dmn_umat import model_file
from dmn_umat.online.parametric import ParametricNetworkMaterial
from dmn_umat.fe.fibre_part import skin_core_a2
lib_path, model = sys.argv[1], sys.argv[2]
phases = json.loads(sys.argv[3])
lib = ctypes.CDLL(lib_path)
lib.dmn_last_error.restype = ctypes.c_char_p
P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
props = deck.props_vector([parse_phase(s) for s in phases])
h = lib.dmn_open(model.encode(), P(props), props.size)
assert h >= 1, lib.dmn_last_error()
nsv = lib.dmn_nstate(h)
mat = ParametricNetworkMaterial(model_file.read_parametric(model), phases)
n = 12
rng = np.random.default_rng(5)
a2 = skin_core_a2(np.linspace(-1, 1, n))
R = np.linalg.qr(rng.normal(size=(3, 3)))[0]  # turned principal axes: off-diagonal components
A = np.einsum("ij,njk,lk->nil", R, np.stack([np.diag(a[:3]) for a in a2]), R)
a2[n // 2:] = np.stack([A[:, 0, 0], A[:, 1, 1], A[:, 2, 2], A[:, 1, 2], A[:, 0, 2], A[:, 0, 1]], 1)[n // 2:]
direction = rng.normal(size=(n, 6))
state = np.zeros((n, nsv)); state[:, :6] = a2
ref_state = mat.initial_state(n)
err = {"stress": 0.0, "tangent": 0.0, "state": 0.0}
for t in (0.004, 0.012, 0.02, 0.01):  # load past yield and partly back
    eps = np.ascontiguousarray(t * direction)
    S, C, N, I = np.zeros((n, 6)), np.zeros((n, 6, 6)), np.zeros((n, nsv)), np.zeros((n, 4))
    r = lib.dmn_eval_batch(h, n, P(eps), P(state), P(S), P(C), P(N), P(I))
    assert r == 0, (r, lib.dmn_last_error())
    ref = mat.update(eps, ref_state, a2)
    assert np.all(ref.status == 0)
    err["stress"] = max(err["stress"], float(np.abs(S - ref.stress).max() / np.abs(ref.stress).max()))
    err["tangent"] = max(err["tangent"], float(np.abs(C - ref.tangent).max() / np.abs(ref.tangent).max()))
    err["state"] = max(err["state"], float(np.abs(N[:, 6:] - ref.state).max() / np.abs(ref.state).max()))
    assert np.array_equal(N[:, :6], a2)  # A2 copied, never changed
    state, ref_state = N, ref.state
plastic = float(np.abs(ref_state).max())
# a point with a bad A2 (trace 2) fails alone, with a message; the others are unaffected
bad = state.copy(); bad[3, 0] += 1.0
S, C, N, I = np.zeros((n, 6)), np.zeros((n, 6, 6)), np.zeros((n, nsv)), np.zeros((n, 4))
r = lib.dmn_eval_batch(h, n, P(eps), P(bad), P(S), P(C), P(N), P(I))
print(json.dumps({"nsv": nsv, "kernel_nsv": mat.nstate, "err": err, "plastic": plastic, "bad_return": r,
                  "bad_status": I[:, 2].tolist(), "bad_msg": lib.dmn_last_error().decode()}))
"""


@pytest.fixture(scope="module")
def libpath():
    from dmn_umat.abi.build import ensure_library

    return ensure_library()


@pytest.fixture(scope="module")
def v2_model(tmp_path_factory) -> Path:
    from dmn_umat import model_file

    path = tmp_path_factory.mktemp("v2") / "synthetic_pimn.dmn"
    model_file.write_parametric(path, synthetic_model())
    return path


def test_c_api_equals_parametric_material(tmp_path, libpath, v2_model):
    """dmn_eval_batch on an orientation-aware model (A₂ in state_old[0..5]) = the Python
    ParametricNetworkMaterial with the same A₂ per point, over a load/unload path past yield."""
    import json
    import sys

    script = tmp_path / "batch.py"
    script.write_text(BATCH)
    r = subprocess.run([sys.executable, str(script), str(libpath), str(v2_model), json.dumps(PHASES)],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["nsv"] == 6 + out["kernel_nsv"]
    assert out["plastic"] > 1e-4
    for k, v in out["err"].items():
        assert v <= 1e-12, (k, v)
    assert out["bad_return"] == 1 and out["bad_status"][3] == 2
    assert out["bad_status"][:3] == [0, 0, 0] and out["bad_status"][4:] == [0] * 8
    assert "point 3" in out["bad_msg"] and "not a fibre orientation tensor" in out["bad_msg"]


# --------------------------------------------------------------------------- the FE² part in both codes
def _ccx_forces(dat: Path, nset: str = "NXMAX") -> np.ndarray:
    """Total reaction force x of ``nset`` at every printed time of a ccx .dat file."""
    import re

    pat = rf"total force \(fx,fy,fz\) for set {nset} and time\s+\S+\s*\n\s*\n\s*(\S+)"
    return np.array([float(v) for v in re.findall(pat, dat.read_text())])


def test_fibre_plate_bundled_solver_equals_calculix(tmp_path, libpath):
    """The skin–core plate (36 C3D8, A₂ per cell from the mesh field, J2 matrix + elastic glass,
    load past yield and partial unload): the bundled FE² solver, the same job read back from the
    mesh file (``run_mesh``), and CalculiX through the UMAT with the example's deck (A₂ by
    *INITIAL CONDITIONS) give the same load–displacement curve."""
    from dmn_umat.fe.api import Displace, FE2Job, Fix, MeshJob, run_fe2, run_mesh
    from dmn_umat.fe.examples import DEFAULT_COMPOSITE

    exe = _ccx()
    out = tmp_path / "fe2"
    res = run_fe2(FE2Job("fibre-plate", size="tiny", out=out, png_at="6,last"))
    assert res.ok, res.checks
    f = np.asarray(res.curve_force)
    assert f[-1] < 0.8 * f[2]  # unloaded to λ = 0.5 well below the loading branch: plastic flow
    names = {Path(p).name for p in res.files}
    assert {"fibre-plate.xdmf", "fibre-plate.vtu", "fibre-plate.inp", "fibre-plate_fields_006.png"} <= names
    assert 'Attribute Name="a2"' in (out / "fibre-plate.xdmf").read_text()
    # the same job from the mesh file's cell data, its first three increments (the increments are
    # sequential: a prefix of the schedule reproduces a prefix of the curve)
    lams = fp.plate_factors(6)[:3]
    job = MeshJob(out / "fibre-plate.vtu", fix=[Fix(s, c) for s, c in fp.PLATE_FIX],
                  displace=[Displace("xmax", {0: 0.4})], model="fibres32_pimn_d7",
                  phases=DEFAULT_COMPOSITE["fibre-plate"], factors=lams, bbar=False)
    again = run_mesh(job)
    np.testing.assert_allclose(again.reactions["xmax"]["x"], f[:3], rtol=1e-12)
    # CalculiX through the UMAT
    env = dict(os.environ, LD_LIBRARY_PATH=str(libpath.parent), DMN_UMAT_MODEL_PLATE="fibres32_pimn_d7",
               OMP_NUM_THREADS="1", CCX_NPROC_RESULTS="1", CCX_NPROC_EQUATION_SOLVER="1")
    r = subprocess.run([str(exe), "-i", "fibre-plate"], cwd=out, env=env, capture_output=True, text=True,
                       timeout=600)
    assert "Job finished" in r.stdout and "*ERROR" not in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    assert "orientation-aware: A2 in STATEV(1..6)" in r.stderr
    g = _ccx_forces(out / "fibre-plate.dat")
    assert g.shape == f.shape
    assert np.abs(g - f).max() <= 1e-6 * np.abs(f).max(), (g, f)
    # the same deck without the A₂ lines: a clear stop, naming the recipe
    text = (out / "fibre-plate.inp").read_text().splitlines()
    keep = [ln for i, ln in enumerate(text) if not ln.startswith("*INITIAL CONDITIONS")
            and not (i > 0 and text[i - 1].startswith("*INITIAL CONDITIONS"))]
    (out / "no_a2.inp").write_text("\n".join(keep) + "\n")
    r = subprocess.run([str(exe), "-i", "no_a2"], cwd=out, env=env, capture_output=True, text=True,
                       timeout=600)
    assert "Job finished" not in r.stdout
    assert "is not a fibre orientation tensor A2" in r.stderr and "*INITIAL CONDITIONS" in r.stderr, r.stderr


def test_inspect_abaqus_prints_the_a2_recipe(capsys, v2_model):
    from dmn_umat import model_file
    from dmn_umat.cli import main
    from dmn_umat.laws import parse_phase

    nsv = deck.nstatv(model_file.read_parametric(v2_model), [parse_phase(s) for s in PHASES])
    for flavor, first in (("calculix", "** 1, 1, 0.8, 0.15, 0.05,"), ("abaqus", "** 1, 0.8, 0.15, 0.05,")):
        rc = main(["inspect", str(v2_model), "--abaqus", "--flavor", flavor, "--phase", PHASES[0],
                   "--phase", PHASES[1]])
        out = capsys.readouterr().out
        assert rc == 0
        assert f"*DEPVAR\n{nsv}\n" in out and "STATEV(1..6) = A2" in out
        assert "** *INITIAL CONDITIONS, TYPE=SOLUTION" in out and first in out
    # the C API and the UMAT count the same slots (6 + the network's state)
    from dmn_umat.abi.runtime import open_model

    assert open_model(v2_model, deck.props_vector([parse_phase(s) for s in PHASES]))["nsv"] == nsv


def test_mesh_job_orientation_errors_are_one_line(tmp_path, v2_model, capsys):
    """An orientation-aware model needs the mesh's A₂ field; a fixed model refuses one."""
    from dmn_umat.cli import main
    from dmn_umat.fe.api import Displace, Fix, JobError, MeshJob, run_mesh

    mesh = fp.fibre_plate(nx=2, ny=1, nz=2)
    with_field = fp.write_mesh(tmp_path / "with.vtu", mesh)
    mesh.cell_data.clear()
    without = fp.write_mesh(tmp_path / "without.vtu", mesh)
    bcs = {"fix": [Fix(s, c) for s, c in fp.PLATE_FIX], "displace": [Displace("xmax", {0: 0.01})]}
    with pytest.raises(JobError, match="orientation-aware: the mesh has no cell data 'a2'"):
        run_mesh(MeshJob(without, model=v2_model, phases=PHASES, **bcs))
    with pytest.raises(JobError, match="no cell data 'fibres'"):
        run_mesh(MeshJob(with_field, model=v2_model, phases=PHASES, orientation="fibres", **bcs))
    with pytest.raises(JobError, match="not an orientation-aware"):
        run_mesh(MeshJob(with_field, phases=PHASES[:1], orientation="a2", **bcs))
    rc = main(["fe2", "run", str(without), "--model", str(v2_model), "--phase", PHASES[0], "--phase",
               PHASES[1], "--fix", "xmin:x", "--fix", "ymin:y", "--fix", "zmin:z", "--displace",
               "xmax:x=0.01", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "no cell data 'a2'" in err and len(err.splitlines()) == 1
