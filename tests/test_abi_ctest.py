"""CMake build of the native parts (library, Fortran shim, C/Fortran drivers) and their ctest
suite: the C and Fortran drivers must reproduce the Python driver's stress history (≤ 1e-10)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
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


def test_ctest_drivers_match_python_driver():
    b = cmake_build()
    r = subprocess.run(["ctest", "--test-dir", str(b), "--output-on-failure", "-V"], capture_output=True,
                       text=True, timeout=1200)
    assert r.returncode == 0, r.stdout[-5000:]
    lines = [ln for ln in r.stdout.splitlines() if "max relative difference" in ln]
    assert len(lines) == 4 and all("(ok," in ln for ln in lines), "\n".join(lines)
