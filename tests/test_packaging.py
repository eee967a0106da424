"""Packaging (issue 15): the runtime (``dmn drive``/``inspect``/``models``, ``dmn abi build``/
``deck``, the C library) runs with the base dependencies only (numpy, numba, cffi, scipy).

Here the optional packages are made unimportable in a subprocess (an import hook refuses
them), so a module-level import of an extra anywhere on these paths fails the test; the
wheel test (``tests/test_wheel.py``) installs the wheel in a fresh venv without them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
#: top-level modules of the extras (train, data, fe2, plot)
EXTRAS = ("torch", "dask", "distributed", "tqdm", "matplotlib", "gmsh", "meshio", "h5py")
README_PHASES = ["j2:E=70e3,nu=0.33,sy=100,H=500", "elastic:E=400e3,nu=0.2"]


def run_without_extras(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``dmn ARGS`` in a fresh interpreter where importing any of :data:`EXTRAS` raises."""
    code = textwrap.dedent(f"""
        import importlib.abc, sys
        class _NoExtras(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path, target=None):
                if name.split(".")[0] in {EXTRAS!r}:
                    raise ModuleNotFoundError("No module named " + repr(name), name=name)
        sys.meta_path.insert(0, _NoExtras())
        from dmn_umat.cli import main
        sys.exit(main(sys.argv[1:]))
    """)
    pypath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=pypath)
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=600)


def test_runtime_commands_need_no_extras(tmp_path):
    """drive (with its progress bar), inspect, models and abi deck with a shipped model name."""
    path = tmp_path / "path.csv"
    np.savetxt(path, [[0.002, 0, 0, 0, 0, 0], [0.004, 0, 0, 0, 0, 0], [0.0, 0, 0, 0, 0, 0]], delimiter=",")
    phases = sum((["--phase", p] for p in README_PHASES), [])
    r = run_without_extras(["drive", "spheres16_imn_d6", *phases, "--path", str(path), "--stress-free",
                            "22,33,23,13,12", "--json"], tmp_path)
    assert r.returncode == 0, r.stderr[-2000:]
    import json

    s = np.array(json.loads(r.stdout)["stress"])
    assert s.shape == (3, 6) and s[1, 0] > s[0, 0] > 0  # loading in tension, stress grows
    for args in (["inspect", "spheres16_imn_d6"], ["models"]):
        r = run_without_extras(args, tmp_path)
        assert r.returncode == 0, (args, r.stderr[-2000:])
        assert "spheres16_imn_d6" in r.stdout or "imn" in r.stdout


def test_a_missing_extra_is_one_line_advice(tmp_path):
    """``dmn drive --png`` without matplotlib: the drive runs, the plot names the extra to install."""
    path = tmp_path / "path.csv"
    np.savetxt(path, [[0.002, 0, 0, 0, 0, 0]], delimiter=",")
    phases = sum((["--phase", p] for p in README_PHASES), [])
    r = run_without_extras(["drive", "spheres16_imn_d6", *phases, "--path", str(path), "--png",
                            str(tmp_path / "a.png")], tmp_path)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert "dmn_umat[plot]" in r.stderr and r.stderr.strip().count("\n") == 0, r.stderr
