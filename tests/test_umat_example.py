"""The README's UMAT section, run verbatim (issue 15 item 3): ``dmn abi build`` writes the
shipped example deck next to the library, ``dmn abi ccx`` runs the install's CalculiX on it
through the UMAT with a shipped model, ``dmn inspect --abaqus`` prints the deck's block.

The commands are read from the section's first ``bash`` block and run by ``bash -e`` in a
scratch folder with ``dmn`` = this interpreter on this checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
from test_calculix import ccx, read_dat, shared_numba_cache  # noqa: F401 - ccx is a fixture

from dmn_umat import model_file
from dmn_umat.abi import deck
from dmn_umat.abi.build import EXAMPLE_DECK
from dmn_umat.cli import main
from dmn_umat.cliutil import load_phases
from dmn_umat.offline import pretrained

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Calling the surrogate from an FE code (UMAT)"
MODEL = "spheres16_imn_d6"
PHASES = ["j2:E=70e3,nu=0.33,sy=100,H=500", "elastic:E=400e3,nu=0.2"]  # the deck's (its comment)


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, "README section of the UMAT recipe is missing"
    m = re.search(r"```bash\n(.*?)```", text.split(SECTION, 1)[1], re.S)
    assert m, "no ```bash block in the README's UMAT section"
    return m.group(1)


def dmn_env(tmp_path: Path, **extra: str) -> dict:
    """Environment whose ``dmn`` runs this interpreter on this checkout; one ccx thread."""
    bindir = tmp_path / "bin"
    bindir.mkdir(exist_ok=True)
    (bindir / "dmn").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m dmn_umat.cli "$@"\n')
    (bindir / "dmn").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMN_UMAT_MODEL")}
    env.update(PATH=os.pathsep.join([str(bindir), env["PATH"]]), OMP_NUM_THREADS="1",
               CCX_NPROC_RESULTS="1", CCX_NPROC_EQUATION_SOLVER="1",
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])), **extra)
    return env


def test_example_deck_holds_the_models_block():
    """The shipped deck's material block is what ``dmn abi deck`` prints for the shipped model
    and its phases today (so a change of the PROPS layout or NSTATV cannot leave it stale)."""
    net = model_file.read(pretrained.path(MODEL))
    block = deck.material_block(net, load_phases(PHASES))
    text = EXAMPLE_DECK.read_text()
    assert block in text
    assert all(p in text for p in PHASES) and "*SOLID SECTION, ELSET=EALL, MATERIAL=@ABAQUS_DMN" in text


def test_abi_ccx_errors_are_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DMN_UMAT_CCX_CACHE", str(tmp_path / "none"))
    monkeypatch.chdir(tmp_path)
    assert main(["abi", "ccx", "-i", "job"]) == 2
    err = capsys.readouterr().err
    assert "no CalculiX with the UMAT loader" in err and "build_calculix.sh" in err and err.count("\n") == 1
    exe = tmp_path / "fake" / "ccx"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\nexit 0\n")
    exe.chmod(0o755)
    monkeypatch.setenv("DMN_UMAT_CCX_CACHE", str(exe.parent))
    assert main(["abi", "ccx", "-i", "job"]) == 2
    assert "job.inp not found" in capsys.readouterr().err
    (tmp_path / "job.inp").write_text("*HEADING\n")
    assert main(["abi", "ccx", "--lib", str(tmp_path), "-i", "job"]) == 2
    assert "no libDMN.so" in capsys.readouterr().err


def test_readme_umat_section_runs_verbatim(ccx, tmp_path):  # noqa: F811 - the ccx fixture
    # the kernels compiled for the session's library: the build's self-test loads them
    env = dmn_env(tmp_path, DMN_UMAT_CCX_CACHE=str(Path(ccx).parent),
                  DMN_UMAT_NUMBA_CACHE=shared_numba_cache())
    r = subprocess.run(["bash", "-e", "-c", readme_block()], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Job finished" in r.stdout and "*ERROR" not in r.stdout, r.stdout[-3000:]
    assert re.search(rf"material @ABAQUS_DMN -> model \S*{MODEL}\.dmn", r.stderr), r.stderr[-2000:]
    lib = tmp_path / "dmnlib"
    for f in ("libdmn_umat.so", "libDMN.so", "dmn_umat.h", "src/umat_shim.f90", "drivers/dmn_driver_c.c",
              "drivers/dmn_driver_f.f90", "CMakeLists.txt", "dmn_umatConfig.cmake", "dmn_example.inp"):
        assert (lib / f).is_file(), f
    printed = re.search(r"\*MATERIAL.*?\*DEPVAR\n\d+\n", r.stdout, re.S)
    assert printed and printed.group(0) in (lib / "dmn_example.inp").read_text()  # the deck's block
    blocks = read_dat(lib / "dmn_example.dat")
    s = np.concatenate([rows[:, 2:] for head, rows in blocks if "stress" in head])
    assert np.all(np.isfinite(s))
    # the library, not ccx's placeholder (E = PROPS(1) = 2 gives ~1e-2): a composite with yield
    # stress 100 in the matrix, pulled to 0.6 %, carries > 100 along the bar, below the stiff
    # phase's elastic bound 2 E |strain| = 4800
    assert 100.0 < s[:, 0].max() < 2 * 400e3 * 0.006
    u = [rows for head, rows in blocks if "displacements" in head][-1]
    ux = u[:, 1]  # released face: plastic set left, elastic part recovered
    assert np.all((ux > 0.0) & (ux < 0.012)), ux
