"""The README's UMAT recipe, run verbatim inside CalculiX (issue 10 item 2).

The commands are read from the README's code block (so a later README edit is what gets
tested), run by ``bash`` in a scratch folder: ``dmn abi build``, ``dmn inspect --abaqus``
(its printed block goes into a small deck ``job.inp``), then the ``ccx`` line.  Once with the
README's phases, whose CONSTANTS is not a multiple of 8, and once with the phases replaced by
two J2 laws (CONSTANTS = 16), where a block without the temperature line CalculiX reads made
ccx take ``*DEPVAR`` as data and crash.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from test_calculix import (  # noqa: F401 - ccx is a fixture
    J2,
    STEPS,
    assert_same_results,
    builtin_j2_block,
    ccx,
    ccx_ok,
    make_deck,
    read_dat,
    run_ccx,
    shared_numba_cache,
)

ROOT = Path(__file__).resolve().parent.parent
SECTION = "## Calling the surrogate from an FE code (UMAT)"


def recipe() -> dict[str, str]:
    """The README recipe's commands (continuation lines joined, comments dropped) by role."""
    text = (ROOT / "README.md").read_text()
    assert SECTION in text, "README section of the UMAT recipe is missing"
    block = re.search(r"```bash\n(.*?)```", text.split(SECTION, 1)[1], re.S)
    assert block, "no ```bash block in the README's UMAT section"
    cmds, cur = [], ""
    for line in block.group(1).splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line).rstrip()
        if line.endswith("\\"):
            cur += line[:-1] + " "
            continue
        cur += line
        if cur.strip():
            cmds.append(" ".join(cur.split()))
        cur = ""
    roles = {
        "build": [c for c in cmds if c.startswith("dmn abi build")],
        "inspect": [c for c in cmds if c.startswith("dmn inspect") and "--abaqus" in c],
        "ccx": [c for c in cmds if re.search(r"(^|\s)ccx\s", c)],
        "cd": [c for c in cmds if c.startswith("cd ")],  # the folder `dmn abi ccx` runs in
    }
    assert all(len(v) == 1 for v in roles.values()), f"README recipe not recognized: {cmds}"
    return {k: v[0] for k, v in roles.items()}


def with_phases(cmd: str, phases: list[str]) -> str:
    """``cmd`` with its ``--phase`` values replaced, in order, by ``phases``."""
    words = shlex.split(cmd)
    idx = [i + 1 for i, w in enumerate(words) if w == "--phase"]
    assert len(idx) == len(phases)
    for i, p in zip(idx, phases):
        words[i] = p
    return shlex.join(words)


def bash(cmd: str, cwd: Path, env: dict, timeout: int = 1200) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def workdir(ccx, tmp_path_factory):  # noqa: F811 - the ccx fixture
    """Scratch folder after the README's build command, and the environment to run the rest:
    ``dmn`` (this interpreter's) and the UMAT-loading ``ccx`` first on PATH, one ccx thread; the
    kernels already compiled for the session's library (``$DMN_UMAT_NUMBA_CACHE``, so the build's
    self-test loads them: precompilation itself is tests/test_abi.py's)."""
    d = tmp_path_factory.mktemp("recipe")
    env = dict(os.environ, OMP_NUM_THREADS="1", CCX_NPROC_RESULTS="1", CCX_NPROC_EQUATION_SOLVER="1")
    env["PATH"] = os.pathsep.join([str(Path(ccx).parent), str(Path(sys.executable).parent), env["PATH"]])
    env["DMN_UMAT_CCX_CACHE"] = str(Path(ccx).parent)  # what `dmn abi ccx` runs
    env["DMN_UMAT_NUMBA_CACHE"] = shared_numba_cache()
    r = bash(recipe()["build"], d, env)
    assert r.returncode == 0, r.stderr[-3000:]
    return d, env


def run_recipe(workdir, phases: list[str] | None, mesh=(2, 1, 1)):
    """The README's inspect (phases optionally replaced) and ccx commands → (block, ccx result,
    .dat path)."""
    d, env = workdir
    cmds = recipe()
    inspect = cmds["inspect"] if phases is None else with_phases(cmds["inspect"], phases)
    r = bash(inspect, d, env, timeout=600)
    assert r.returncode == 0, r.stderr
    block = r.stdout
    run_dir = d / cmds["cd"].split(None, 1)[1]
    job = re.search(r"-i\s+(\S+)", cmds["ccx"]).group(1)  # the README's deck, replaced by the test's
    (run_dir / f"{job}.inp").write_text(make_deck(block, STEPS[:2], mesh=mesh))
    r = bash(cmds["ccx"], run_dir, env)
    return block, r, run_dir / f"{job}.dat"


def constants(block: str) -> int:
    return int(re.search(r"\*USER MATERIAL, CONSTANTS=(\d+)", block).group(1))


def test_readme_recipe_in_calculix(workdir):
    """The recipe as written: a J2 matrix with elastic inclusions (CONSTANTS not a multiple of 8)."""
    block, r, dat = run_recipe(workdir, None)
    assert constants(block) % 8, "README phases give a multiple of 8: the other test covers that case"
    assert ccx_ok(r), r.stdout[-3000:] + r.stderr[-3000:]
    assert "material @ABAQUS_DMN -> model" in r.stderr  # the library, not ccx's placeholder
    blocks = read_dat(dat)
    assert len(blocks) >= 4
    s = np.concatenate([rows[:, 2:] for head, rows in blocks if "stress" in head])
    assert np.all(np.isfinite(s))
    # the placeholder (E = PROPS(1) = 2) gives stresses ~1e-2; an elastic composite no stiffer
    # than its stiff phase (E = 400e3) cannot exceed ~2 E |strain| = 4800 at strain 0.006
    assert 50.0 < np.abs(s).max() < 2 * 400e3 * 0.006


def test_readme_recipe_multiple_of_8_matches_builtin_j2(workdir, ccx):  # noqa: F811
    """The recipe with both phases the same J2 law (CONSTANTS = 16, a multiple of 8): ccx runs
    it (it crashed on the block without the temperature line) and, the composite being
    homogeneous, its results equal ccx's own *ELASTIC/*PLASTIC to the printed digits."""
    block, r, dat = run_recipe(workdir, [J2, J2])
    assert constants(block) == 16
    assert ccx_ok(r), r.stdout[-3000:] + r.stderr[-3000:]
    assert "material @ABAQUS_DMN -> model" in r.stderr
    d, env = workdir
    r2, dat2 = run_ccx(ccx, d / "build", d / "builtin", "job", make_deck(builtin_j2_block(), STEPS[:2],
                       mesh=(2, 1, 1)), {})
    assert ccx_ok(r2), r2.stdout[-3000:]
    assert assert_same_results(dat, dat2, rtol=2e-6) >= 4
