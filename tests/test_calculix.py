"""CalculiX (ccx 2.20 rebuilt with its run-time UMAT loader) as a real client of libdmn_umat.

Every test proves that the library was really called: the library's log line for the material,
and results that ccx's built-in ``ABAQUS`` placeholder (isotropic elasticity with E = PROPS(1) = 2)
cannot produce.  ccx is built by ``scripts/build_calculix.sh`` when missing (cached).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from dmn_umat import model_file
from dmn_umat.abi import deck, selftest
from dmn_umat.laws import parse_phase
from dmn_umat.network import complete_tree

ROOT = Path(__file__).resolve().parent.parent
E, NU, SY, H = 70000.0, 0.33, 120.0, 800.0
J2 = f"j2:E={E},nu={NU},sy={SY},H={H}"


@pytest.fixture(scope="module")
def ccx() -> Path:
    cache = Path(os.environ.get("DMN_UMAT_CCX_CACHE", Path.home() / ".cache" / "dmn_umat" / "ccx"))
    exe = cache / "ccx"
    if not exe.is_file():
        tools = [t for t in ("gfortran", "make", "apt-get", "patch") if shutil.which(t) is None]
        if tools:
            pytest.skip(f"cannot build ccx: build tools missing ({', '.join(tools)})")
        script = ROOT / "scripts" / "build_calculix.sh"
        r = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=3600)
        assert r.returncode == 0, r.stderr[-3000:]
        exe = Path(r.stdout.strip().splitlines()[-1])
    return exe


@pytest.fixture(scope="module")
def libdir() -> Path:
    from dmn_umat.abi.build import ensure_library

    return ensure_library().parent


def shared_numba_cache() -> str:
    """``$DMN_UMAT_NUMBA_CACHE`` for a library a test builds itself (a README recipe): the kernels
    compiled for the session's library (:func:`ensure_library`), so its build and first calls load
    them instead of compiling another copy (the build's precompilation: tests/test_abi.py)."""
    from dmn_umat.abi.build import ensure_library

    return str(ensure_library().parent / "numba")


# --------------------------------------------------------------------------- decks
def block_mesh(nx: int, ny: int, nz: int, lx: float = 1.0, ly: float = 1.0, lz: float = 1.0):
    """Nodes and C3D8 elements of a box [0,lx]x[0,ly]x[0,lz]."""
    nid = {}
    nodes = []
    for k in range(nz + 1):
        for j in range(ny + 1):
            for i in range(nx + 1):
                nid[i, j, k] = len(nodes) + 1
                nodes.append((len(nodes) + 1, i * lx / nx, j * ly / ny, k * lz / nz))
    elems = []
    for k in range(nz):
        for j in range(ny):
            for i in range(nx):
                c = [nid[i, j, k], nid[i + 1, j, k], nid[i + 1, j + 1, k], nid[i, j + 1, k],
                     nid[i, j, k + 1], nid[i + 1, j, k + 1], nid[i + 1, j + 1, k + 1], nid[i, j + 1, k + 1]]
                elems.append((len(elems) + 1, c))
    left = [n for (i, j, k), n in nid.items() if i == 0]
    right = [n for (i, j, k), n in nid.items() if i == nx]
    return nodes, elems, left, right


def _set(name: str, ids) -> str:
    ids = sorted(ids)
    rows = [", ".join(map(str, ids[i:i + 8])) for i in range(0, len(ids), 8)]
    return f"*NSET, NSET={name}\n" + "\n".join(rows) + "\n"


def make_deck(material: str, steps: list[tuple[float, float]], mesh=(2, 2, 2)) -> str:
    """Box clamped at x=0, the x=lx face displaced by (ux, uy) per step (load, unload, reverse)."""
    nodes, elems, left, right = block_mesh(*mesh)
    out = ["*HEADING", "dmn_umat CalculiX test", "*NODE"]
    out += [f"{n}, {x:.6f}, {y:.6f}, {z:.6f}" for n, x, y, z in nodes]
    out.append("*ELEMENT, TYPE=C3D8, ELSET=EALL")
    out += [f"{e}, " + ", ".join(map(str, c)) for e, c in elems]
    out.append(_set("NLEFT", left) + _set("NRIGHT", right).rstrip())
    out.append(material.rstrip())
    out.append("*SOLID SECTION, ELSET=EALL, MATERIAL=" + material.split("NAME=")[1].splitlines()[0].strip())
    out += ["*BOUNDARY", "NLEFT, 1, 3, 0."]
    for ux, uy in steps:
        out += ["*STEP, INC=200", "*STATIC", "0.25, 1.0, 1e-5, 0.25", "*BOUNDARY", f"NRIGHT, 1, 1, {ux}",
                f"NRIGHT, 2, 2, {uy}", "NRIGHT, 3, 3, 0.", "*EL PRINT, ELSET=EALL", "S",
                "*NODE PRINT, NSET=NRIGHT, TOTALS=ONLY", "RF", "*END STEP"]
    return "\n".join(out) + "\n"


def builtin_j2_block(name: str = "BUILTIN") -> str:
    return (f"*MATERIAL, NAME={name}\n*ELASTIC\n{E}, {NU}\n*PLASTIC\n{SY}, 0.\n{SY + H * 1.0}, 1.0\n")


def run_ccx(ccx: Path, libdir: Path, workdir: Path, job: str, text: str, env_extra: dict, nproc: int = 1):
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / f"{job}.inp").write_text(text)
    env = dict(os.environ, **env_extra)
    env["LD_LIBRARY_PATH"] = f"{libdir}:{env.get('LD_LIBRARY_PATH', '')}"
    env["CCX_NPROC_RESULTS"] = str(nproc)
    env["OMP_NUM_THREADS"] = str(nproc)
    env["CCX_NPROC_EQUATION_SOLVER"] = "1"
    r = subprocess.run([str(ccx), "-i", job], cwd=workdir, capture_output=True, text=True, env=env,
                       timeout=1200)
    return r, workdir / f"{job}.dat"


def read_dat(path: Path) -> list[tuple[str, np.ndarray]]:
    """Blocks of a ccx .dat file: (header without the time, numbers)."""
    blocks: list[tuple[str, list]] = []
    for line in path.read_text().splitlines():
        s = line.strip()
        if not s:
            continue
        if re.match(r"^[a-z]", s):
            head = re.sub(r"time\s+\S+", "", s)
            blocks.append((head + " @" + s.split()[-1], []))
        elif blocks:
            blocks[-1][1].append([float(x) for x in s.split()])
    return [(h, np.array(rows)) for h, rows in blocks]


def assert_same_results(a: Path, b: Path, rtol: float) -> int:
    A, B = read_dat(a), read_dat(b)
    assert [h for h, _ in A] == [h for h, _ in B]
    assert len(A) >= 4
    for (h, x), (_, y) in zip(A, B):
        assert x.shape == y.shape, h
        scale = np.abs(x).max() if x.size else 1.0
        np.testing.assert_allclose(x, y, rtol=rtol, atol=rtol * scale, err_msg=h)
    return len(A)


def ccx_ok(r) -> bool:
    return "Job finished" in r.stdout and "*ERROR" not in r.stdout


# --------------------------------------------------------------------------- tests
STEPS = [(0.006, 0.002), (-0.001, 0.0), (-0.004, -0.001)]  # load past yield, unload, reverse


def test_ccx_j2_network_matches_builtin_plasticity(ccx, libdir, tmp_path):
    """A depth-2 network whose two phases are the same J2 law = ccx's *ELASTIC/*PLASTIC."""
    net = complete_tree(2, np.array([0.3, 0.2, 0.4, 0.1]), np.array([[1, 0, 0], [0.3, 1, 0], [0, 0.2, 1.0]]))
    model_file.write(tmp_path / "j2net.dmn", net)
    phases = [parse_phase(J2), parse_phase(J2)]
    umat = deck.material_block(net, phases, "@ABAQUS_DMN@J2NET")
    env = {"DMN_UMAT_MODEL_J2NET": str(tmp_path / "j2net.dmn")}
    r1, dat1 = run_ccx(ccx, libdir, tmp_path / "umat", "box", make_deck(umat, STEPS), env)
    assert ccx_ok(r1), r1.stdout[-3000:] + r1.stderr[-3000:]
    assert "material @ABAQUS_DMN@J2NET -> model" in r1.stderr  # the library, not the placeholder
    r2, dat2 = run_ccx(ccx, libdir, tmp_path / "builtin", "box", make_deck(builtin_j2_block(), STEPS), {})
    assert ccx_ok(r2), r2.stdout[-3000:]
    nblocks = assert_same_results(dat1, dat2, rtol=2e-6)  # ccx prints 7 significant digits
    assert nblocks >= 2 * len(STEPS)  # stresses and forces of every increment
    # plastic: the stress is far from elastic E * strain at the end of the first step
    s = read_dat(dat1)[0][1][:, 2:]
    assert np.abs(s).max() < 0.5 * E * 0.006


SHIPPED = ROOT / "dmn_umat" / "models" / "spheres16_dmn_d6.dmn"


def test_ccx_composite_model_threads_identical(ccx, libdir, tmp_path):
    """Shipped pretrained composite (J2 matrix, elastic spheres) on a 3x2x2 box: 1 and 2 ccx
    worker threads give identical output.  Falls back to a hand-built depth-3 network."""
    if SHIPPED.is_file():
        net = model_file.read(SHIPPED)
        model = SHIPPED.stem  # selected by name: a model shipped in dmn_umat/models
    else:  # pragma: no cover - before the pretrained models landed
        net = selftest.example_network()
        model_file.write(tmp_path / "comp.dmn", net)
        model = str(tmp_path / "comp.dmn")
    phases = [parse_phase(s) for s in selftest.PHASES]
    umat = deck.material_block(net, phases, "@ABAQUS_DMN@COMPOSITE")
    env = {"DMN_UMAT_MODEL_COMPOSITE": model}
    text = make_deck(umat, STEPS[:2], mesh=(3, 2, 2))
    r1, dat1 = run_ccx(ccx, libdir, tmp_path / "t1", "comp", text, env, nproc=1)
    assert ccx_ok(r1), r1.stdout[-3000:] + r1.stderr[-3000:]
    r2, dat2 = run_ccx(ccx, libdir, tmp_path / "t2", "comp", text, env, nproc=2)
    assert ccx_ok(r2), r2.stdout[-3000:] + r2.stderr[-3000:]
    assert "material @ABAQUS_DMN@COMPOSITE -> model" in r1.stderr
    if SHIPPED.is_file():
        assert f"-> model {SHIPPED} ({len(net.leaves)} leaves" in r1.stderr
    assert dat1.read_text() == dat2.read_text()
    # the placeholder (E = PROPS(1) = 2) would give stresses of order 1e-2; ours are O(100)
    s = read_dat(dat1)[0][1][:, 2:]
    assert np.abs(s).max() > 50.0


def test_ccx_missing_model_stops_cleanly(ccx, libdir, tmp_path):
    net = selftest.example_network()
    umat = deck.material_block(net, [parse_phase(s) for s in selftest.PHASES], "@ABAQUS_DMN@NOPE")
    env = {k: "" for k in os.environ if k.startswith("DMN_UMAT_MODEL")}
    r, _ = run_ccx(ccx, libdir, tmp_path, "bad", make_deck(umat, STEPS[:1], mesh=(1, 1, 1)), env)
    assert "Job finished" not in r.stdout
    assert "no model file; set DMN_UMAT_MODEL_NOPE or DMN_UMAT_MODEL" in r.stderr
    assert r.returncode != 0


def test_ccx_homogeneous_strain_matches_python_driver(ccx, libdir, tmp_path):
    """One C3D8 cube with every node displaced affinely (u = ε x): every integration point
    follows the same strain path, so ccx's printed stresses must equal the in-process
    Python driver of the composite network at every increment (to the printed digits)."""
    from dmn_umat import tensors

    net = selftest.example_network()
    model_file.write(tmp_path / "comp.dmn", net)
    phases = [parse_phase(s) for s in selftest.PHASES]
    umat = deck.material_block(net, phases, "@ABAQUS_DMN@HOMOG")
    nodes, elems, _, _ = block_mesh(1, 1, 1)
    e1 = np.array([[4e-3, 1e-3, 0.5e-3], [1e-3, -1e-3, -0.8e-3], [0.5e-3, -0.8e-3, -1.5e-3]])
    e2 = -0.3 * e1
    out = ["*HEADING", "homogeneous strain", "*NODE"] + [f"{n}, {x}, {y}, {z}" for n, x, y, z in nodes]
    out += ["*ELEMENT, TYPE=C3D8, ELSET=EALL", f"{elems[0][0]}, " + ", ".join(map(str, elems[0][1]))]
    out += [umat.rstrip(), "*SOLID SECTION, ELSET=EALL, MATERIAL=@ABAQUS_DMN@HOMOG"]
    for eps in (e1, e2):
        out += ["*STEP", "*STATIC, DIRECT", "0.25, 1.0", "*BOUNDARY"]
        for n, x, y, z in nodes:
            u = eps @ np.array([x, y, z])
            out += [f"{n}, {i + 1}, {i + 1}, {deck._field(u[i])}" for i in range(3)]  # 20-char fields
        out += ["*EL PRINT, ELSET=EALL", "S", "*END STEP"]
    env = {"DMN_UMAT_MODEL_HOMOG": str(tmp_path / "comp.dmn")}
    r, dat = run_ccx(ccx, libdir, tmp_path / "run", "homog", "\n".join(out) + "\n", env)
    assert ccx_ok(r), r.stdout[-3000:] + r.stderr[-3000:]
    assert "material @ABAQUS_DMN@HOMOG -> model" in r.stderr
    blocks = read_dat(dat)
    assert len(blocks) == 8
    # strain path of the increments: 4 per step, linear in time
    comps = lambda e: np.array([e[0, 0], e[1, 1], e[2, 2], e[1, 2], e[0, 2], e[0, 1]])  # noqa: E731
    path = [t * comps(e1) for t in (0.25, 0.5, 0.75, 1.0)]
    path += [comps(e1) + t * (comps(e2) - comps(e1)) for t in (0.25, 0.5, 0.75, 1.0)]
    path = tensors.tensor_components_to_mandel(np.array(path))
    ref = selftest.python_driver(net, deck.props_vector(phases), path)
    for (_, rows), s_ref in zip(blocks, ref):
        assert rows.shape == (8, 8)  # 8 integration points: element, point, 6 stresses
        tol = 2e-6 * np.abs(s_ref).max()
        np.testing.assert_allclose(rows[:, 2:], np.tile(s_ref, (8, 1)), rtol=2e-6, atol=tol)
    assert np.abs(ref).max() > 100.0
