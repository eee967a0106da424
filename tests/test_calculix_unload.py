"""CalculiX: load, then unload to exactly zero under ``*STATIC, DIRECT`` through the UMAT (issue 10.1).

The last increment of an unload to zero used to make the network kernel cut back (its Newton test
was relative to the vanishing leaf stresses); with fixed (DIRECT) incrementation ccx then stops
("solution seems to diverge").  Multi-element block, the shipped IMN with two elastic phases or a
J2 matrix that stays elastic.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_calculix import NU, E, block_mesh, ccx, ccx_ok, libdir, read_dat, run_ccx  # noqa: F401

from dmn_umat import model_file
from dmn_umat.abi import deck
from dmn_umat.laws import parse_phase
from dmn_umat.offline.pretrained import resolve

MODEL = "spheres16_imn_d6"
PHASES = {
    "elastic": [f"elastic:E={E},nu={NU}", "elastic:E=400e3,nu=0.2"],
    "j2_elastic": [f"j2:E={E},nu={NU},sy=1e5,H=800", "elastic:E=400e3,nu=0.2"],
}


def direct_deck(material: str, strains: list[np.ndarray], mesh=(2, 2, 2)) -> str:
    """Box with every node displaced affinely, u = ε x, ε per step (4 fixed increments each):
    all integration points see the same strain, exactly zero at the end of an unload to zero."""
    nodes, elems, _, _ = block_mesh(*mesh)
    out = ["*HEADING", "dmn_umat unload to zero, DIRECT", "*NODE"]
    out += [f"{n}, {x:.6f}, {y:.6f}, {z:.6f}" for n, x, y, z in nodes]
    out.append("*ELEMENT, TYPE=C3D8, ELSET=EALL")
    out += [f"{e}, " + ", ".join(map(str, c)) for e, c in elems]
    out.append(material.rstrip())
    out.append("*SOLID SECTION, ELSET=EALL, MATERIAL=" + material.split("NAME=")[1].splitlines()[0].strip())
    for eps in strains:
        out += ["*STEP", "*STATIC, DIRECT", "0.25, 1.0", "*BOUNDARY"]
        for n, x, y, z in nodes:
            u = eps @ np.array([x, y, z])
            out += [f"{n}, {i + 1}, {i + 1}, {deck._field(u[i])}" for i in range(3)]
        out += ["*EL PRINT, ELSET=EALL", "S", "*END STEP"]
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("law", ["elastic", "j2_elastic"])
def test_ccx_direct_unload_to_zero(ccx, libdir, tmp_path, law):  # noqa: F811
    net = model_file.read(resolve(MODEL))
    phases = [parse_phase(s) for s in PHASES[law]]
    umat = deck.material_block(net, phases, "@ABAQUS_DMN@UNLOAD")
    env = {"DMN_UMAT_MODEL_UNLOAD": MODEL}
    e1 = np.array([[3e-3, 2e-4, 7e-4], [2e-4, 1e-3, 5e-4], [7e-4, 5e-4, -1e-3]])  # the path
    r, dat = run_ccx(ccx, libdir, tmp_path / law, "unload", direct_deck(umat, [e1, 0 * e1]), env)
    assert ccx_ok(r), r.stdout[-3000:] + r.stderr[-3000:]
    assert "material @ABAQUS_DMN@UNLOAD -> model" in r.stderr  # the library, not the placeholder
    assert "diverge" not in r.stdout
    blocks = read_dat(dat)
    stresses = [rows[:, 2:] for head, rows in blocks if head.startswith("stresses")]
    assert len(stresses) == 8  # 4 DIRECT increments per step, every one converged
    peak = max(np.abs(s).max() for s in stresses[:4])
    assert peak > 100.0  # O(E * 1e-3): not the placeholder's E = 2
    assert np.abs(stresses[-1]).max() <= 1e-6 * peak  # back at zero strain: zero stress
