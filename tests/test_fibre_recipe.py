"""docs/fibres.md §5, the orientation-aware CalculiX recipe, run verbatim (issue 13 item c): the
``bash`` block of "FE² example part" runs in an empty folder (``bash -e``, ``dmn`` = this
interpreter on this checkout); the bundled solver, the same job read from the mesh file and
CalculiX through the UMAT (A₂ per element and point by ``*INITIAL CONDITIONS``) give the same
load–displacement curve, and the deck holds the recipe's lines as the docs show them."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import numpy as np
from test_calculix import ccx  # noqa: F401 - ccx is a fixture
from test_fibre_part import _ccx_forces
from test_umat_example import dmn_env

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "fibres.md"
PART = "**FE² example part**"
RECIPE = "So (C3D8: points"


def doc_block(after: str, lang: str = "") -> str:
    """The first fenced block (```lang) after the marker ``after`` in docs/fibres.md."""
    text = DOC.read_text()
    assert after in text, f"docs/fibres.md lost {after!r}"
    m = re.search(rf"```{lang}\n(.*?)```", text.split(after, 1)[1], re.S)
    assert m, f"no ```{lang} block after {after!r} in docs/fibres.md"
    return m.group(1)


def test_docs_fibre_recipe_runs_verbatim(ccx, tmp_path):  # noqa: F811 - the ccx fixture
    block = doc_block(PART, "bash")
    env = dmn_env(tmp_path, DMN_UMAT_CCX_CACHE=str(Path(ccx).parent))
    r = subprocess.run(["bash", "-e", "-c", block], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=1800)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "Job finished" in r.stdout and "*ERROR" not in r.stdout, r.stdout[-3000:]
    assert "orientation-aware: A2 in STATEV(1..6)" in r.stderr, r.stderr[-2000:]
    # the folders the block names
    example = re.search(r"dmn fe2 fibre-plate .*--out (\S+)", block).group(1)
    run_out = re.search(r"--out (\S+)\s+#[^\n]*mesh file", block).group(1)
    job = re.search(r"dmn abi ccx -i (\S+)", block).group(1)
    f = np.array(json.loads((tmp_path / example / "fibre-plate_summary.json").read_text())["curve"]["force"])
    g = np.array(json.loads((tmp_path / run_out / "fibre-plate_summary.json").read_text())["curve"]["force"])
    c = _ccx_forces(tmp_path / example / f"{job}.dat")
    assert f.size >= 4 and f[-1] < 0.8 * f[1]  # loaded past yield, unloaded: plastic flow
    np.testing.assert_array_equal(g, f)  # the mesh file's a2 field = the example's
    assert c.shape == f.shape
    assert np.abs(c - f).max() <= 1e-6 * np.abs(f).max(), (c, f)
    # the recipe's lines, as the docs show them, are the deck's first *INITIAL CONDITIONS
    recipe = doc_block(RECIPE).strip()
    deck = (tmp_path / example / f"{job}.inp").read_text()
    assert recipe.startswith("*INITIAL CONDITIONS, TYPE=SOLUTION") and recipe in deck
    assert deck.index(recipe) == deck.index("*INITIAL CONDITIONS")
    assert deck.index("*SOLID SECTION") < deck.index(recipe) < deck.index("*STEP")
