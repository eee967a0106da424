"""The wheel as a newcomer gets it (issue 15 item 1), outside the source tree.

Builds the wheel from a copy of the checkout's files (what a clean clone holds: tracked and
not-ignored untracked files), installs it into a fresh venv *without* system site packages and
without extras (pip fetches numpy, numba, cffi, scipy from the package index, so the test
needs the index or a pip cache: it is skipped when neither can provide them), then, in a
scratch folder with that venv's ``dmn``: ``dmn abi build`` (library, header, shim, drivers, CMake
files, example deck), ``dmn drive`` with a shipped model, a C program compiled against the
installed header and library (model by shipped name through ``dmn_open``) and the example deck
in CalculiX (``dmn abi ccx``; skipped only when no ccx was built) — the README's newcomer block,
run verbatim — then the CMake route to the C and Fortran drivers.  torch, dask, tqdm,
matplotlib, gmsh, meshio, h5py are not installed in the venv at all, which the test checks.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
MODEL = "spheres16_imn_d6"
PHASES = ["j2:E=70e3,nu=0.33,sy=100,H=500", "elastic:E=400e3,nu=0.2"]
EXTRAS = ("torch", "dask", "distributed", "tqdm", "matplotlib", "gmsh", "meshio", "h5py")
SHARE = ("include/dmn_umat.h", "src/umat_shim.f90", "drivers/dmn_driver_c.c", "drivers/dmn_driver_f.f90",
         "CMakeLists.txt", "dmn_umatConfig.cmake", "scripts/build_calculix.sh")
BUILT = ("libdmn_umat.so", "libDMN.so", "dmn_umat.h", "src/umat_shim.f90", "drivers/dmn_driver_c.c",
         "drivers/dmn_driver_f.f90", "CMakeLists.txt", "dmn_umatConfig.cmake", "dmn_example.inp")


def run(cmd, cwd, env=None, timeout=1800, check=True) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check:
        assert r.returncode == 0, f"{cmd}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def clean_copy(dst: Path) -> Path:
    """The checkout's tracked and not-ignored untracked files (no build outputs, no caches)."""
    files = run(["git", "ls-files", "-co", "--exclude-standard", "-z"], ROOT).stdout.split("\0")
    for f in filter(None, files):
        if (ROOT / f).is_file():
            (dst / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / f, dst / f)
    return dst


def readme_block(marker: str) -> str:
    """The bash code block that follows ``<!-- marker -->`` in the README."""
    text = (ROOT / "README.md").read_text()
    m = re.search(rf"<!-- {marker} -->\s*```bash\n(.*?)```", text, re.S)
    assert m, f"README has no code block after <!-- {marker} -->"
    return m.group(1)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from a clean copy of the checkout; it carries the C/Fortran side."""
    for tool in ("git", "cc"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} missing")
    tmp = tmp_path_factory.mktemp("wheel")
    src = clean_copy(tmp / "src")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
         str(tmp / "dist"), str(src)], tmp)
    [whl] = (tmp / "dist").glob("dmn_umat-*.whl")
    names = zipfile.ZipFile(whl).namelist()
    for rel in SHARE:
        assert any(n.endswith(f".data/data/share/dmn_umat/{rel}") for n in names), rel
    assert "dmn_umat/abi/dmn_example.inp" in names and "dmn_umat/abi/libdmn.c" in names
    print(f"\nwheel {whl.name}: {whl.stat().st_size / 1e3:.0f} kB, {len(names)} files")
    return whl


@pytest.mark.slow
def test_wheel_with_all_extras_resolves_against_this_environment(wheel, tmp_path):
    """``pip install 'dmn_umat[all]'`` in a venv that sees this environment's packages (no
    download: every extra is satisfied here, ``--no-index``): the installed copy trains (torch)."""
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], tmp_path)
    py = venv / "bin" / "python"
    # the venv's own (older) setuptools would hide this environment's, which torch's metadata needs
    run([str(py), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], tmp_path, check=False)
    run([str(py), "-m", "pip", "install", "-q", "--no-index", f"{wheel}[all]"], tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMN_UMAT_", "PYTHON"))}
    r = run([str(py), "-c", "import dmn_umat, dmn_umat.offline.train, torch, dask, meshio, matplotlib; "
             "print(dmn_umat.__file__)"], tmp_path, env)
    assert venv.resolve() in Path(r.stdout.strip()).resolve().parents  # the wheel's copy, not the checkout
    r = run([str(venv / "bin" / "dmn"), "models"], tmp_path, env)
    assert MODEL in r.stdout


@pytest.mark.slow
def test_wheel_runtime_install_c_program_and_calculix(wheel, tmp_path):
    whl = wheel

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path)
    py, dmn = venv / "bin" / "python", venv / "bin" / "dmn"
    r = run([str(py), "-m", "pip", "install", "-q", str(whl)], tmp_path, timeout=1800, check=False)
    if r.returncode != 0 and ("Could not find a version" in r.stderr or "NewConnectionError" in r.stderr
                              or "No matching distribution" in r.stderr):
        pytest.skip("the runtime dependencies cannot be fetched (no package index, no pip cache)")
    assert r.returncode == 0, r.stderr[-3000:]
    r = run([str(py), "-c", "import importlib.util as u, sys; "
             f"print(' '.join(m for m in {EXTRAS!r} if u.find_spec(m)))"], tmp_path)
    assert r.stdout.strip() == "", f"extras installed with the base wheel: {r.stdout}"

    work = tmp_path / "user"  # outside the source tree, no PYTHONPATH
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DMN_UMAT_", "PYTHON"))}
    env.update(OMP_NUM_THREADS="1", CCX_NPROC_RESULTS="1", CCX_NPROC_EQUATION_SOLVER="1",
               PATH=os.pathsep.join([str(venv / "bin"), env["PATH"]]),
               XDG_CACHE_HOME=str(tmp_path / "cache"))  # the venv's numba/library caches are its own
    if os.environ.get("DMN_UMAT_CCX_CACHE"):
        env["DMN_UMAT_CCX_CACHE"] = os.environ["DMN_UMAT_CCX_CACHE"]
    else:
        env["DMN_UMAT_CCX_CACHE"] = str(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
                                        / "dmn_umat" / "ccx")
    # the README's newcomer block, verbatim (its CalculiX line only where a ccx was built)
    block = readme_block("newcomer")
    has_ccx = (Path(env["DMN_UMAT_CCX_CACHE"]) / "ccx").is_file()
    if not has_ccx:
        block = "\n".join(ln for ln in block.splitlines() if "abi ccx" not in ln)
    (work / "newcomer.sh").write_text("set -euo pipefail\n" + block + "\n")
    block_run = run(["bash", "newcomer.sh"], work, env)
    assert MODEL in block_run.stdout and "final stress" in block_run.stdout, block_run.stdout[-3000:]
    lib = work / "dmnlib"
    for rel in BUILT:
        assert (lib / rel).is_file(), rel

    # the C program's stresses (umat_, Voigt) = the point driver's (Mandel; normal components
    # agree, the shears of this uniaxial-strain path are small and differ by sqrt(2) only)
    r = run([str(dmn), "drive", MODEL, *sum((["--phase", p] for p in PHASES), []), "--path", "path.csv",
             "--json"], work, env)
    s_py = np.array(json.loads(r.stdout)["stress"])
    r = run(["./drv", "props.txt", "path.csv"], work, dict(env, DMN_UMAT_MODEL=MODEL))
    s_c = np.array([[float(x) for x in ln.split()] for ln in r.stdout.splitlines()])
    assert s_c.shape == (3, 6) and s_c[1, 0] > s_c[0, 0] > 0  # tension grows, then unloads
    np.testing.assert_allclose(s_c[:, :3], s_py[:, :3], rtol=1e-8, atol=1e-8 * np.abs(s_py).max())

    # the CMake route: the C and Fortran drivers from the installed files
    if shutil.which("cmake") and shutil.which("gfortran"):
        run(["cmake", "-S", "dmnlib", "-B", "dmnlib/cmake-build", "-DCMAKE_BUILD_TYPE=Release"], work, env)
        run(["cmake", "--build", "dmnlib/cmake-build", "-j2"], work, env)
        nsv = json.loads(run([str(dmn), "abi", "deck", MODEL, *sum((["--phase", p] for p in PHASES), []),
                              "--json"], work, env).stdout)["nstatv"]
        r = run(["dmnlib/cmake-build/dmn_driver_f", "props.txt", "path.csv", str(nsv)], work,
                dict(env, DMN_UMAT_MODEL=MODEL))
        s_f = np.array([[float(x) for x in ln.split()] for ln in r.stdout.splitlines() if ln.strip()])
        np.testing.assert_allclose(s_f, s_c, rtol=1e-10, atol=1e-10 * np.abs(s_c).max())

    # the example deck in CalculiX, as the README block ran it
    if not has_ccx:
        pytest.skip("no CalculiX with the UMAT loader built (scripts/build_calculix.sh): C parts passed")
    assert "Job finished" in block_run.stdout and "*ERROR" not in block_run.stdout, block_run.stdout[-3000:]
    assert (lib / "dmn_example.dat").stat().st_size > 0
    served = re.search(r"material @ABAQUS_DMN -> model (\S+)", block_run.stderr)  # the venv's model
    assert served and venv.resolve() in Path(served.group(1)).resolve().parents, block_run.stderr[-2000:]
    assert Path(served.group(1)).name == f"{MODEL}.dmn"
