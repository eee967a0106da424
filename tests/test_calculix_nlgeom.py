"""The UMAT under NLGEOM (issue 14, item 4): finite-strain phase laws through ``umat_`` in
CalculiX, in both of its UMAT interfaces (``@ABAQUS_``: Green–Lagrange strain, PK2 stress,
dS/dE; ``@ABAQUSNL_``: ln U, Rᵀ σ R, U-pushed dS/dE), against ccx's own finite-strain laws.

A 2×2×2 C3D8 block whose end faces are carried through a rigid rotation of 90° about z with
an axial stretch to 1.3 (the faces keep their lateral size: the field is not homogeneous),
three NLGEOM steps.  A depth-2 network with the same neo-Hookean law on every leaf equals
``*HYPERELASTIC, NEO HOOKE`` (same C10, D1) in every printed stress, displacement and force,
with the same Newton iteration count in every increment (the tangent is exact).
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from test_calculix import block_mesh, ccx, ccx_ok, libdir, read_dat, run_ccx  # noqa: F401

from dmn_umat import model_file
from dmn_umat.laws.finite import VOIGT_I, VOIGT_J
from dmn_umat.network import complete_tree

ROOT = Path(__file__).resolve().parent.parent
C10, D1 = 40.0, 0.004  # μ = 80, K = 500 (MPa)
THETA = (30.0, 60.0, 90.0)  # rotation about z at the end of each step (degrees)
STRETCH = (1.1, 1.2, 1.3)
INC = 0.25  # fixed-size increments (automatic incrementation, no cut backs needed)
#: Newton to round-off (residual and correction 1e-9 of the average force / increment; ccx's
#: defaults 0.005, 0.01 would leave differences of the order of 1e-4 between two runs)
CONTROLS = "1e-9, 1e-9"


def nh_network(tmp: Path) -> tuple[Path, np.ndarray, int]:
    """Depth-2 network file, PROPS (the same neo-Hookean law on both phases) and NSTATV."""
    from dmn_umat.abi.nlgeom import fs_table_from_props, sizes
    from dmn_umat.online.kernel import pack_network

    net = complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]), np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]]))
    path = tmp / "nh.dmn"
    model_file.write(path, net)
    props = np.array([6.0, C10, D1, 6.0, C10, D1])
    mi, _ = pack_network(net)
    nsv, _ = sizes(mi, fs_table_from_props(props, net.n_phases))
    return path, props, nsv


def umat_block(name: str, props: np.ndarray, nsv: int) -> str:
    """CalculiX *USER MATERIAL block: 8 constants per line, then the temperature (docs/abi.md)."""
    vals = [repr(float(v)) for v in props] + ["0."]
    rows = "\n".join(", ".join(vals[i:i + 8]) for i in range(0, len(vals), 8))
    return f"*MATERIAL, NAME={name}\n*USER MATERIAL, CONSTANTS={props.size}\n{rows}\n*DEPVAR\n{nsv}\n"


BUILTIN_NH = f"*MATERIAL, NAME=BUILTIN\n*HYPERELASTIC, NEO HOOKE\n{C10}, {D1}, 0.\n"


def rotation_deck(material: str, nlgeom: bool = True) -> str:
    """The block, its end faces rotated and stretched per step (module doc)."""
    nodes, elems, left, right = block_mesh(2, 2, 2)
    xyz = {n: (x, y, z) for n, x, y, z in nodes}
    out = ["*HEADING", "dmn_umat NLGEOM", "*NODE"]
    out += [f"{n}, {x:.6f}, {y:.6f}, {z:.6f}" for n, x, y, z in nodes]
    out += ["*NSET, NSET=NALL, GENERATE", f"1, {len(nodes)}, 1"]
    out.append("*ELEMENT, TYPE=C3D8, ELSET=EALL")
    out += [f"{e}, " + ", ".join(map(str, c)) for e, c in elems]
    out.append(material.rstrip())
    out.append("*SOLID SECTION, ELSET=EALL, MATERIAL=" + material.split("NAME=")[1].splitlines()[0].strip())
    for th, lam in zip(THETA, STRETCH):
        c, s = math.cos(math.radians(th)), math.sin(math.radians(th))
        step = "*STEP, NLGEOM, INC=100" if nlgeom else "*STEP, INC=100"
        out += [step, "*STATIC", f"{INC}, 1.0, 1e-4, {INC}", "*CONTROLS, PARAMETERS=FIELD", CONTROLS,
                "*BOUNDARY"]
        for n in left + right:
            X, Y, Z = xyz[n]
            p = (lam * X, Y, Z)
            x = (c * p[0] - s * p[1], s * p[0] + c * p[1], p[2])
            out += [f"{n}, {d + 1}, {d + 1}, {x[d] - (X, Y, Z)[d]:.12g}" for d in range(3)]
        out += ["*EL PRINT, ELSET=EALL", "S", "*NODE PRINT, NSET=NALL", "U, RF", "*END STEP"]
    return "\n".join(out) + "\n"


def iterations(sta: Path) -> list[tuple[int, int, int]]:
    """(step, increment, Newton iterations) of every converged increment of a ccx .sta file."""
    out = []
    for line in sta.read_text().splitlines():
        f = line.split()
        if len(f) >= 4 and all(re.fullmatch(r"\d+U?", v) for v in f[:4]):
            out.append((int(f[0]), int(f[1]), int(f[3])))
    return out


def residuals(stdout: str) -> list[list[float]]:
    """ccx's "largest residual force" of every iteration, one list per increment attempt."""
    out: list[list[float]] = []
    for line in stdout.splitlines():
        if line.strip().startswith("increment") and "attempt" in line:
            out.append([])
        m = re.search(r"largest residual force=\s*(\S+)", line)
        if m and out:
            out[-1].append(float(m.group(1)))
    return out


def assert_printed_digits_equal(a: Path, b: Path) -> float:
    """Every number of two .dat files equal to ccx's 7 printed digits; returns the largest
    difference relative to the block's largest value."""
    A, B = read_dat(a), read_dat(b)
    assert [h for h, _ in A] == [h for h, _ in B]
    worst = 0.0
    for (h, x), (_, y) in zip(A, B):
        assert x.shape == y.shape, h
        scale = max(np.abs(x).max(), 1e-300)
        np.testing.assert_allclose(x, y, rtol=2e-6, atol=2e-6 * scale, err_msg=h)
        worst = max(worst, float(np.abs(x - y).max() / scale))
    return worst


# --------------------------------------------------------------------------- conversions
def _nh_law(F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from dmn_umat.laws import finite_update as fs

    P, A = np.zeros((3, 3)), np.zeros((9, 9))
    st = fs.fs_update(np.array([6.0, C10, D1]), np.eye(3), F, np.zeros(1), 0.0, 0.0, 0.0, P, A, np.zeros(1),
                      np.zeros(fs.MAX_NWS_FS))
    assert st == 0
    return P, A


def _convert(conv: int, F: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    from dmn_umat.abi.nlgeom import convert

    P, A = _nh_law(F)
    s6, c66 = np.zeros(6), np.zeros((6, 6))
    assert convert(conv, F, P, A, np.zeros((8, 9)), s6, c66) == 0
    return s6, c66


def _tensor(v: np.ndarray) -> np.ndarray:
    m = np.zeros((3, 3))
    for n in range(6):
        m[VOIGT_I[n], VOIGT_J[n]] = m[VOIGT_J[n], VOIGT_I[n]] = v[n]
    return m


def _rot(axis, angle) -> np.ndarray:
    from scipy.spatial.transform import Rotation

    a = np.asarray(axis, float)
    return Rotation.from_rotvec(angle * a / np.linalg.norm(a)).as_matrix()


def _sqrtm(C: np.ndarray) -> np.ndarray:
    w, V = np.linalg.eigh(C)
    return V @ np.diag(np.sqrt(w)) @ V.T


F_TEST = _rot([0.3, 1.9, -0.7], 2.5) @ (np.eye(3) + 0.3 * np.array([[0.4, 0.1, -0.3], [0.1, -0.5, 0.2],
                                                                    [-0.3, 0.2, 0.8]]))


def test_calculix_total_lagrangian_convention_is_pk2_and_its_exact_tangent():
    """@ABAQUS_: STRESS = S, DDSDDE = dS/dE (central differences in E, any rotation)."""
    from dmn_umat.status import NL_CALCULIX

    F = F_TEST
    R = F @ np.linalg.inv(_sqrtm(F.T @ F))
    s6, c66 = _convert(NL_CALCULIX, F)
    P, _ = _nh_law(F)
    np.testing.assert_allclose(_tensor(s6), np.linalg.solve(F, P), atol=1e-12 * np.abs(P).max())
    E0 = 0.5 * (F.T @ F - np.eye(3))
    h, fd = 1e-6, np.zeros((6, 6))
    for m in range(6):
        d = np.zeros((3, 3))
        d[VOIGT_I[m], VOIGT_J[m]] += 0.5
        d[VOIGT_J[m], VOIGT_I[m]] += 0.5
        sp = _convert(NL_CALCULIX, R @ _sqrtm(np.eye(3) + 2 * (E0 + h * d)))[0]
        sm = _convert(NL_CALCULIX, R @ _sqrtm(np.eye(3) + 2 * (E0 - h * d)))[0]
        fd[:, m] = (sp - sm) / (2 * h)
    assert np.abs(fd - c66).max() <= 1e-6 * np.abs(c66).max()


def test_calculix_corotational_convention_maps_back_to_pk2_and_dsde():
    """@ABAQUSNL_: ccx's own back-conversion (umat_abaqusnl.f: S = J U⁻¹ STRESS U⁻¹, dS/dE =
    DDSDDE with U⁻¹ on every index) of what the UMAT returns gives S and dS/dE exactly; STRESS
    is Rᵀ σ R."""
    from dmn_umat.status import NL_CALCULIX, NL_CALCULIX_COROT

    F = F_TEST
    U = _sqrtm(F.T @ F)
    Ui, J, R = np.linalg.inv(U), np.linalg.det(F), F @ np.linalg.inv(U)
    s_tl, c_tl = _convert(NL_CALCULIX, F)
    s6, c66 = _convert(NL_CALCULIX_COROT, F)
    P, _ = _nh_law(F)
    sigma = P @ F.T / J
    np.testing.assert_allclose(_tensor(s6), R.T @ sigma @ R, atol=1e-12 * np.abs(sigma).max())
    np.testing.assert_allclose(J * Ui @ _tensor(s6) @ Ui, _tensor(s_tl), atol=1e-12 * np.abs(s_tl).max())
    D = np.zeros((3, 3, 3, 3))
    for n in range(6):
        for m in range(6):
            for a, b in ((VOIGT_I[n], VOIGT_J[n]), (VOIGT_J[n], VOIGT_I[n])):
                for c, d in ((VOIGT_I[m], VOIGT_J[m]), (VOIGT_J[m], VOIGT_I[m])):
                    D[a, b, c, d] = c66[n, m]
    back = np.einsum("abcd,ia,jb,kc,ld->ijkl", D, Ui, Ui, Ui, Ui)
    back6 = np.array([[back[VOIGT_I[n], VOIGT_J[n], VOIGT_I[m], VOIGT_J[m]] for m in range(6)]
                      for n in range(6)])
    np.testing.assert_allclose(back6, c_tl, atol=1e-12 * np.abs(c_tl).max())


def test_abaqus_convention_is_cauchy_and_jaumann_tangent():
    from dmn_umat.laws.finite import umat_tangent
    from dmn_umat.status import NL_ABAQUS

    F = F_TEST
    s6, c66 = _convert(NL_ABAQUS, F)
    P, A = _nh_law(F)
    np.testing.assert_allclose(_tensor(s6), P @ F.T / np.linalg.det(F), atol=1e-12 * np.abs(P).max())
    ref = np.zeros((6, 6))
    umat_tangent(F, P, A, ref)
    np.testing.assert_array_equal(c66, ref)


# --------------------------------------------------------------------------- CalculiX
@pytest.mark.parametrize("iface", ["@ABAQUS_DMN@NH", "@ABAQUSNL_DMN@NH"])
def test_ccx_neohooke_network_matches_builtin_hyperelastic(ccx, libdir, tmp_path, iface):  # noqa: F811
    model, props, nsv = nh_network(tmp_path)
    env = {"DMN_UMAT_MODEL_NH": str(model)}
    text = rotation_deck(umat_block(iface, props, nsv))
    r1, dat1 = run_ccx(ccx, libdir, tmp_path / "umat", "rot", text, env)
    assert ccx_ok(r1), r1.stdout[-3000:] + r1.stderr[-3000:]
    assert f"material {iface} -> model" in r1.stderr  # the library, not ccx's placeholder
    r2, dat2 = run_ccx(ccx, libdir, tmp_path / "builtin", "rot", rotation_deck(BUILTIN_NH), {})
    assert ccx_ok(r2), r2.stdout[-3000:]
    worst = assert_printed_digits_equal(dat1, dat2)
    it1, it2 = iterations(dat1.with_suffix(".sta")), iterations(dat2.with_suffix(".sta"))
    print(f"{iface}: largest printed difference {worst:.2e} of the block maximum; Newton iterations per "
          f"increment (step, inc, iterations): {it1}, built-in {it2}; largest residual force per iteration "
          f"of each increment: {residuals(r1.stdout)}, built-in {residuals(r2.stdout)}")
    # the same Newton iterations as ccx's own law in every increment (exact tangent; in ccx's
    # elastic predictor pass, JSTEP(3) = 0, both give the elastic tangent), quadratic: ≤ 5 each
    assert it1 == it2 and len(it1) == len(THETA) / INC
    assert max(i for _, _, i in it1) <= 5
    # large rotation: the end face really turned by 90° (x displacement of node (1, 0, 0) = -1)
    u = [x for h, x in read_dat(dat1) if h.startswith("displacements")][-1]
    assert np.abs(u[:, 1:]).max() > 1.0


HARNESS = """
import ctypes, json, sys
import numpy as np
spec = json.load(open(sys.argv[1]))
lib = ctypes.CDLL(spec["lib"])
P = lambda a: a.ctypes.data_as(ctypes.c_void_p)
I = lambda v: ctypes.byref(ctypes.c_int(v))
F = np.asfortranarray(np.array(spec["F"]))  # DFGRD1, column-major
props = np.array(spec["props"])
nsv = spec["nsv"]
stress, sv, dd, z = np.zeros(6), np.zeros(nsv), np.zeros(36), np.zeros(64)
jstep = (ctypes.c_int * 4)(1, 1, spec["nlgeom"], 0)
name = spec["name"].encode()
if spec["entry"] == "dmn_umat_nl":  # what the Fortran shim calls (DFGRD1, JSTEP(3))
    C, D = ctypes.c_int, ctypes.c_double
    lib.dmn_umat_nl(P(stress), P(sv), P(dd), P(z), P(z), P(F), C(spec["nlgeom"]), D(1.0), D(0.0), D(0.0),
                    name, ctypes.c_int64(len(name)), C(3), C(3), C(6), C(nsv), P(props), C(props.size),
                    P(np.ones(1)), C(1), C(1))
else:
  lib.umat_(P(stress), P(sv), P(dd), *[P(z)] * 15, name, I(3), I(3), I(6), I(nsv), P(props), I(props.size),
            P(z), P(z), P(np.ones(1)), P(z), P(np.asfortranarray(np.eye(3))), P(F), I(1), I(1), I(0), I(0),
            jstep, I(1), ctypes.c_size_t(len(name)))
print(json.dumps({"stress": stress.tolist(), "ddsdde": dd.reshape(6, 6).T.tolist()}))
"""


def _abaqus_call(lib_dir: Path, tmp: Path, model: Path, props, nsv: int, name: str, nlgeom: int, F,
                 entry: str = "umat_"):
    import json
    import os
    import subprocess
    import sys

    (tmp / "h.py").write_text(HARNESS)
    spec = {"lib": str(lib_dir / "libdmn_umat.so"), "F": np.asarray(F).tolist(), "nsv": nsv, "nlgeom": nlgeom,
            "props": list(map(float, props)), "name": name, "entry": entry}
    (tmp / "spec.json").write_text(json.dumps(spec))
    env = dict(os.environ, DMN_UMAT_MODEL=str(model), DMN_UMAT_QUIET="1")
    return subprocess.run([sys.executable, str(tmp / "h.py"), str(tmp / "spec.json")], capture_output=True,
                          text=True, env=env, timeout=600)


def test_umat_abaqus_convention_through_the_library(libdir, tmp_path):  # noqa: F811
    """An Abaqus-named material with JSTEP(3) = 1: STRESS = Cauchy σ of the law at DFGRD1,
    DDSDDE = its Jaumann tangent; with JSTEP(3) = 0 the analysis stops with a message."""
    import json

    from dmn_umat.laws.finite import umat_tangent

    model, props, nsv = nh_network(tmp_path)
    r = _abaqus_call(libdir, tmp_path, model, props, nsv, "RUBBER", 1, F_TEST)
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.splitlines()[-1])
    P, A = _nh_law(F_TEST)
    sigma = P @ F_TEST.T / np.linalg.det(F_TEST)
    ref = np.zeros((6, 6))
    umat_tangent(F_TEST, P, A, ref)
    np.testing.assert_allclose(_tensor(np.array(out["stress"])), sigma, atol=1e-10 * np.abs(sigma).max())
    np.testing.assert_allclose(np.array(out["ddsdde"]), ref, atol=1e-10 * np.abs(ref).max())
    r = _abaqus_call(libdir, tmp_path, model, props, nsv, "RUBBER", 0, F_TEST)
    assert r.returncode == 3 and "need a geometrically nonlinear step (NLGEOM)" in r.stderr, r.stderr[-2000:]


def test_umat_small_strain_model_under_abaqus_nlgeom_is_refused(libdir, tmp_path):  # noqa: F811
    """dmn_umat_nl (the Fortran shim's entry: Abaqus links the shim) with JSTEP(3) = 1 and a
    small-strain model: the analysis stops with a message (its tensor state would not rotate)."""
    from dmn_umat.abi import deck
    from dmn_umat.laws import parse_phase

    net = complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]), np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]]))
    model_file.write(tmp_path / "el.dmn", net)
    ph = [parse_phase("elastic:E=200,nu=0.3")] * 2
    props = deck.props_vector(ph)
    nsv = deck.nstatv(net, ph)
    r = _abaqus_call(libdir, tmp_path, tmp_path / "el.dmn", props, nsv, "RUBBER", 1, np.eye(3), "dmn_umat_nl")
    assert r.returncode == 3, r.stderr[-2000:]
    assert "small-strain model under NLGEOM in the Abaqus interface is refused" in r.stderr


def test_ccx_small_strain_model_in_the_corotational_interface_is_refused(ccx, libdir, tmp_path):  # noqa: F811
    from dmn_umat.abi import deck
    from dmn_umat.laws import parse_phase

    net = complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]), np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]]))
    model_file.write(tmp_path / "el.dmn", net)
    ph = [parse_phase("elastic:E=200,nu=0.3")] * 2
    text = rotation_deck(deck.material_block(net, ph, "@ABAQUSNL_DMN@EL"))
    r, _ = run_ccx(ccx, libdir, tmp_path, "small", text, {"DMN_UMAT_MODEL_EL": str(tmp_path / "el.dmn")})
    assert "small-strain model under NLGEOM in the CalculiX @ABAQUSNL interface is refused" in r.stderr, (
        r.stderr[-2000:])
    assert "Job finished" not in r.stdout


def _docs_deck() -> str:
    text = (ROOT / "docs" / "abi.md").read_text()
    i = text.index("**Example deck**")
    j = text.index("```\n", i) + 4
    return text[j:text.index("```", j)]


def test_docs_nlgeom_deck_runs_verbatim(ccx, libdir, tmp_path):  # noqa: F811
    """The deck of docs/abi.md (NLGEOM): its *DEPVAR is the model's NSTATV, and the Cauchy
    stress at every integration point is the neo-Hookean law's at F = R diag(1.3, 1, 1),
    rotated by R (90° about z): σ = R σ(diag(1.3, 1, 1)) Rᵀ."""
    text = _docs_deck()
    model, props, nsv = nh_network(tmp_path)
    assert f"*DEPVAR\n{nsv}\n" in text
    r, dat = run_ccx(ccx, libdir, tmp_path, "nlgeom", text, {"DMN_UMAT_MODEL_NH": str(model)})
    assert ccx_ok(r), r.stdout[-3000:] + r.stderr[-3000:]
    assert "material @ABAQUSNL_DMN@NH -> model" in r.stderr
    s = read_dat(dat)[-1][1][:, 2:]  # last increment: elem, ip, sxx, syy, szz, sxy, sxz, syz
    Fs = np.diag([1.3, 1.0, 1.0])
    P, _ = _nh_law(Fs)
    R = _rot([0, 0, 1], math.pi / 2)
    sig = R @ (P @ Fs.T / 1.3) @ R.T
    want = np.array([sig[VOIGT_I[n], VOIGT_J[n]] for n in range(6)])
    assert s.shape == (8, 6)
    np.testing.assert_allclose(s, np.tile(want, (8, 1)), rtol=2e-6, atol=2e-6 * np.abs(want).max())


# --------------------------------------------------------------------------- finite J2
def bar_deck(material: str, stretch: float = 1.25, ninc: int = 8) -> str:
    """A 2×1×1 bar of 2 C3D8 on symmetry planes x = 0, y = 0, z = 0, the end x = 2 pulled to
    ``stretch`` under NLGEOM (uniaxial stress), in ``ninc`` equal increments."""
    nodes, elems, left, right = block_mesh(2, 1, 1, 2.0, 1.0, 1.0)
    y0 = [n for n, x, y, z in nodes if y == 0.0]
    z0 = [n for n, x, y, z in nodes if z == 0.0]
    out = ["*HEADING", "dmn_umat finite J2", "*NODE"]
    out += [f"{n}, {x:.6f}, {y:.6f}, {z:.6f}" for n, x, y, z in nodes]
    out.append("*ELEMENT, TYPE=C3D8, ELSET=EALL")
    out += [f"{e}, " + ", ".join(map(str, c)) for e, c in elems]
    for name, ids in (("NX0", left), ("NX1", right), ("NY0", y0), ("NZ0", z0)):
        out.append(f"*NSET, NSET={name}\n" + ", ".join(map(str, ids)))
    out.append(material.rstrip())
    out.append("*SOLID SECTION, ELSET=EALL, MATERIAL=" + material.split("NAME=")[1].splitlines()[0].strip())
    out += ["*BOUNDARY", "NX0, 1, 1, 0.", "NY0, 2, 2, 0.", "NZ0, 3, 3, 0.",
            "*STEP, NLGEOM, INC=1000", "*STATIC, DIRECT", f"{1.0 / ninc}, 1.0", "*BOUNDARY",
            f"NX1, 1, 1, {2.0 * (stretch - 1.0):.12g}", "*EL PRINT, ELSET=EALL", "S", "*END STEP"]
    return "\n".join(out) + "\n"


def test_ccx_finite_j2_network_vs_builtin_plastic(ccx, libdir, tmp_path):  # noqa: F811
    """Finite J2 (Hencky elasticity, Kirchhoff yield, exponential-map return) vs ccx's *PLASTIC
    under NLGEOM (Simo 1988: neo-Hookean-type elasticity in b̄e, yield J·σy, additive return on
    b̄e).  They coincide when the elastic strains vanish (σy/E → 0: here 1.7e-5) and the
    increments shrink: ccx's return is first order in the increment, ours exact on this
    fixed-axes path.  Uniaxial stress to stretch 1.25: our stress is the same with 8 and 32
    increments and on the hardening curve at p = ln λ; ccx's approaches it as 1/increments."""
    E, nu, sy, H = 7.0e6, 0.3, 120.0, 800.0
    net = complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]), np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]]))
    model_file.write(tmp_path / "j2.dmn", net)
    props = np.array([8.0, E, nu, sy, H, 0.0, 0.0] * 2)
    from dmn_umat.abi.nlgeom import fs_table_from_props, sizes
    from dmn_umat.online.kernel import pack_network

    nsv, _ = sizes(pack_network(net)[0], fs_table_from_props(props, 2))
    env = {"DMN_UMAT_MODEL_FJ2": str(tmp_path / "j2.dmn")}
    builtin = f"*MATERIAL, NAME=BUILTIN\n*ELASTIC\n{E}, {nu}\n*PLASTIC\n{sy}, 0.\n{sy + H * 2.0}, 2.0\n"
    ours, theirs = {}, {}
    for n in (8, 32):
        text = bar_deck(umat_block("@ABAQUS_DMN@FJ2", props, nsv), ninc=n)
        r1, dat1 = run_ccx(ccx, libdir, tmp_path / f"umat{n}", "bar", text, env)
        assert ccx_ok(r1), r1.stdout[-3000:] + r1.stderr[-3000:]
        r2, dat2 = run_ccx(ccx, libdir, tmp_path / f"builtin{n}", "bar", bar_deck(builtin, ninc=n), {})
        assert ccx_ok(r2), r2.stdout[-3000:]
        a, b = read_dat(dat1)[-1][1][:, 2:], read_dat(dat2)[-1][1][:, 2:]
        assert a.shape == b.shape and np.abs(a[:, 1:]).max() < 1e-6 * a[:, 0].max()  # uniaxial, homogeneous
        ours[n], theirs[n] = a[:, 0].mean(), b[:, 0].mean()
    gap = {n: abs(theirs[n] - ours[n]) / ours[n] for n in ours}
    print(f"finite J2 vs *PLASTIC (sy/E = {sy / E:.1e}), end σ11 with 8 / 32 increments: network "
          f"{ours[8]:.4f} / {ours[32]:.4f}, ccx {theirs[8]:.4f} / {theirs[32]:.4f}; relative gap "
          f"{gap[8]:.2e} / {gap[32]:.2e}")
    assert abs(ours[8] - ours[32]) <= 2e-6 * ours[8]
    assert abs(ours[32] - (sy + H * (math.log(1.25) - ours[32] / E))) < 1e-4 * sy  # σy(p), p = ln λ − σ/E
    assert gap[32] < 0.35 * gap[8] and gap[32] < 3e-3  # ccx → the network at first order
