"""CMake build of the native parts (library, Fortran shim, C/Fortran drivers) and their ctest
suite: the C and Fortran drivers must reproduce the Python driver's stress history (≤ 1e-10)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def build_dir() -> Path:
    """A build directory kept between runs (incremental), keyed by the checkout path."""
    key = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dmn_umat" / "cmake" / key


def cmake_build() -> Path:
    missing = [t for t in ("cmake", "gfortran", "cc") if shutil.which(t) is None]
    if missing:
        pytest.skip(f"build tools missing: {', '.join(missing)}")
    b = build_dir()
    b.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cmake", "-S", str(ROOT), "-B", str(b), f"-DPython3_EXECUTABLE={sys.executable}",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True, text=True)
    r = subprocess.run(["cmake", "--build", str(b), "-j2"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return b


@pytest.fixture(scope="module")
def cmake_dir() -> Iterator[Path]:
    """One CMake build for the module.  Its library (and the drivers ctest runs) load the kernels
    compiled for the session's library (:func:`ensure_library`) through ``$DMN_UMAT_NUMBA_CACHE``
    instead of compiling a third copy: what is checked here is the drivers' numbers (the build's
    own precompilation: tests/test_abi.py)."""
    from dmn_umat.abi.build import ensure_library

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DMN_UMAT_NUMBA_CACHE", str(ensure_library().parent / "numba"))
        yield cmake_build()


def test_ctest_drivers_match_python_driver(cmake_dir):
    b = cmake_dir
    r = subprocess.run(["ctest", "--test-dir", str(b), "--output-on-failure", "-V"], capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-5000:]
    lines = [ln for ln in r.stdout.splitlines() if "max relative difference" in ln]
    assert len(lines) == 4 and all("(ok," in ln for ln in lines), "\n".join(lines)


def test_dmn_drive_c_and_fortran_drivers_agree(tmp_path, cmake_dir):
    """The project's Python driver (`dmn drive --json`), the C driver (umat_) and the Fortran
    driver (UMAT shim) give the same stress history on a composite load/unload path."""
    import json

    import numpy as np

    from dmn_umat import tensors
    from dmn_umat.abi import selftest

    b = cmake_dir
    d = tmp_path / "st"
    selftest.setup(d)
    phases = sum((["--phase", s] for s in selftest.PHASES), [])
    cmd = [sys.executable, "-m", "dmn_umat.cli", "drive", str(d / "model.dmn"), *phases]
    r = subprocess.run(cmd + ["--path", str(d / "path.csv"), "--json"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    mandel = np.array(json.loads(r.stdout)["stress"])
    py = np.zeros((len(mandel), 6))
    for i, s in enumerate(mandel):
        tensors.mandel_stress_to_voigt(s, 6, py[i])
    c = selftest.run_driver("c", str(b / "fortran_bridge" / "dmn_driver_c"), d, 6)
    f = selftest.run_driver("f", str(b / "fortran_bridge" / "dmn_driver_f"), d, 6)
    scale = np.abs(py).max()
    assert scale > 100.0  # plastic composite, not a trivial path
    assert np.abs(c - py).max() <= 1e-10 * scale
    assert np.abs(f - py).max() <= 1e-10 * scale
