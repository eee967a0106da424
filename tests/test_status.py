"""One status enum and one ``info`` layout: dmn_umat/status.py = the public header = what the
kernel writes and what the C library compiles against."""

from __future__ import annotations

import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import numpy as np
import pytest

from dmn_umat import network, status
from dmn_umat.online import kernel
from dmn_umat.online.solver import NetworkMaterial

ROOT = Path(__file__).resolve().parent.parent
HEADER = ROOT / "fortran_bridge" / "include" / "dmn_umat.h"
LIBDMN = ROOT / "dmn_umat" / "abi" / "libdmn.c"


def header_constants(text: str) -> dict[str, int]:
    """``DMN_ST_*``/``DMN_INFO_*`` enumerators and ``#define DMN_RET_BASE`` of a C header."""
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    out = {}
    for body in re.findall(r"enum\s+dmn_\w+\s*\{(.*?)\}", text, flags=re.S):
        for name, value in re.findall(r"(DMN_\w+)\s*=\s*(-?\d+)", body):
            out[name] = int(value)
    for name, value in re.findall(r"#define\s+(DMN_RET_BASE)\s+(\d+)", text):
        out[name] = int(value)
    return out


def test_header_declares_the_python_enum_and_info_layout():
    assert header_constants(HEADER.read_text()) == status.c_constants()


def test_header_check_catches_a_drifted_value():
    drifted = HEADER.read_text().replace("DMN_ST_CUTBACK = 1", "DMN_ST_CUTBACK = 3")
    assert drifted != HEADER.read_text()
    assert header_constants(drifted) != status.c_constants()


def test_c_library_defines_no_status_of_its_own():
    src = re.sub(r"/\*.*?\*/", "", LIBDMN.read_text(), flags=re.S)
    assert not re.search(r"#define\s+DMN_(ST|INFO|RET)_", src)
    assert "DMN_ST_OK" in src and "DMN_INFO_STATUS" in src and "DMN_RET_BASE" in src


@pytest.mark.skipif(shutil.which("gcc") is None, reason="no C compiler")
@pytest.mark.parametrize("with_header", [True, False])
def test_c_library_compiles_with_and_without_the_header(with_header):
    """The build includes the header from the source tree, else passes status.c_constants() as
    macros (an installed package has no fortran_bridge/)."""
    inc = sysconfig.get_paths()["include"]
    cmd = ["gcc", "-fsyntax-only", "-std=gnu11", "-Wall", "-Werror", "-Wno-unused-function", f"-I{inc}",
           "-include", "Python.h", '-DDMN_BUILD_PYTHON="python"', '-DDMN_BUILD_LIBPYTHON=""']
    if with_header:
        cmd += ["-DDMN_HAVE_HEADER=1", f"-I{HEADER.parent}"]
    else:
        cmd += [f"-D{k}={v}" for k, v in status.c_constants().items()]
    r = subprocess.run(cmd + [str(LIBDMN)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def _point(info_len: int, strain: np.ndarray):
    rng = np.random.default_rng(2)
    net = network.complete_tree(3, rng.uniform(0.1, 1, 8), rng.normal(size=(7, 3)))
    m = NetworkMaterial(net, ["j2:E=70e3,nu=0.3,sy=100", "elastic:E=4e5,nu=0.2"])
    info = np.full(info_len, -7.0)
    state = np.zeros(m.nstate)
    st = kernel.network_update(m.mi, m.mf, m.table, strain, state, np.zeros(6), np.zeros((6, 6)),
                               state.copy(), np.zeros(m.nwork), info)
    return st, info


def test_kernel_fills_the_declared_info_slots():
    st, info = _point(status.KERNEL_INFO_SIZE, np.array([0.01, -0.002, 0, 0.001, 0, 0]))
    assert st == status.Status.OK and info[status.INFO_STATUS] == status.Status.OK
    assert info[status.INFO_RATIO] == 1.0
    assert info[status.INFO_ITERATIONS] >= 1  # plastic: Newton had work to do
    assert 0 <= info[status.INFO_RESIDUAL] <= kernel.RTOL
    assert info[status.INFO_SUBSTEPS] >= 1
    st, info4 = _point(status.INFO_SIZE, np.array([0.01, -0.002, 0, 0.001, 0, 0]))  # the C API's length
    assert np.array_equal(info4, info[: status.INFO_SIZE])
    st, info = _point(status.KERNEL_INFO_SIZE, np.array([np.nan, 0, 0, 0, 0, 0]))
    assert st == status.Status.FAILED and info[status.INFO_STATUS] == status.Status.FAILED
