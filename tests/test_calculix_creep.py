"""CalculiX: Norton creep through the UMAT (a homogeneous ``creep`` network, DTIME from ccx) vs
ccx's built-in ``*CREEP, LAW=NORTON`` in ``*VISCO`` steps (issue 12).

A bar in uniaxial tension (symmetry planes x = 0, y = 0, z = 0; the end x = L displaced), load
applied in a first ``*VISCO`` step (ccx applies it at once), then held: the stress relaxes.
Fixed increments (DIRECT) so both runs see the same DTIME.  Measured: every printed stress of
the UMAT run equals the built-in law's (Norton, Norton with time hardening, *PLASTIC + *CREEP)
at strain 1e-3 (ccx's *CREEP is written for finite strain; here that makes no printed difference).
"""

from __future__ import annotations

import numpy as np
import pytest
from test_calculix import block_mesh, ccx, ccx_ok, libdir, read_dat, run_ccx  # noqa: F401

from dmn_umat import model_file, network
from dmn_umat.abi import deck
from dmn_umat.laws import parse_phase

E, NU = 70000.0, 0.3
A, N = 1e-11, 3.0  # Norton: ε̇ = A σ^n (MPa, s)
L = 2.0
U = 0.002  # end displacement: strain 1e-3, 70 MPa before relaxation


def _nset(name: str, ids) -> str:
    ids = sorted(ids)
    rows = (", ".join(map(str, ids[i:i + 8])) for i in range(0, len(ids), 8))
    return f"*NSET, NSET={name}\n" + "\n".join(rows)


def bar_deck(material: str) -> str:
    nodes, elems, left, right = block_mesh(4, 2, 2, L, 1.0, 1.0)
    y0 = [n for n, x, y, z in nodes if y == 0.0]
    z0 = [n for n, x, y, z in nodes if z == 0.0]
    out = ["*HEADING", "dmn_umat creep", "*NODE"]
    out += [f"{n}, {x:.6f}, {y:.6f}, {z:.6f}" for n, x, y, z in nodes]
    out.append("*ELEMENT, TYPE=C3D8, ELSET=EALL")
    out += [f"{e}, " + ", ".join(map(str, c)) for e, c in elems]
    out += [_nset("X0", left), _nset("Y0", y0), _nset("Z0", z0), _nset("XL", right)]
    out.append(material.rstrip())
    out.append("*SOLID SECTION, ELSET=EALL, MATERIAL=" + material.split("NAME=")[1].splitlines()[0].strip())
    out += ["*BOUNDARY", "X0, 1, 1, 0.", "Y0, 2, 2, 0.", "Z0, 3, 3, 0."]
    for dt, period in ((0.25, 1.0), (2.0, 40.0)):
        out += ["*STEP, INC=1000", "*VISCO, CETOL=1e-3, DIRECT", f"{dt}, {period}", "*BOUNDARY",
                f"XL, 1, 1, {U}", "*EL PRINT, ELSET=EALL", "S", "*NODE PRINT, NSET=XL, TOTALS=ONLY", "RF",
                "*END STEP"]
    return "\n".join(out) + "\n"


def _stresses(dat) -> np.ndarray:
    """σ11 of every integration point, per printed increment (n_incr, n_points)."""
    return np.array([b[:, 2] for head, b in read_dat(dat) if head.startswith("stresses")])


CASES = {  # name: (A, extra spec keys, k, *PLASTIC block of the built-in law)
    "norton": (A, "", 0.0, ""),
    "norton time hardening": (A, ",k=-0.2", -0.2, ""),
    # one inelastic strain, Norton on the overstress q − σy(p) (no creep below yield)
    "creep + plasticity": (1e-8, ",sy=50,H=1000", 0.0, "*PLASTIC\n50., 0.\n1050., 1.\n"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_ccx_umat_creep_network_matches_builtin_norton(ccx, libdir, tmp_path, case):  # noqa: F811
    """Every printed stress of the UMAT run (homogeneous two-leaf creep network) equals ccx's
    built-in *CREEP (+ *PLASTIC) to ccx's printed digits."""
    a, extra, k, plastic = CASES[case]
    spec = f"creep:E={E},nu={NU},A={a},n={N}{extra}"
    net = network.complete_tree(1, np.array([0.4, 0.6]), np.array([[1.0, 0.2, 0.0]]))
    model_file.write(tmp_path / "creep.dmn", net)
    umat = deck.material_block(net, [parse_phase(spec)] * 2, "@ABAQUS_DMN@CREEP")
    env = {"DMN_UMAT_MODEL_CREEP": str(tmp_path / "creep.dmn")}
    r1, dat1 = run_ccx(ccx, libdir, tmp_path / "umat", "bar", bar_deck(umat), env)
    assert ccx_ok(r1), r1.stdout[-3000:] + r1.stderr[-3000:]
    assert "material @ABAQUS_DMN@CREEP -> model" in r1.stderr
    builtin = f"*MATERIAL, NAME=BUILTIN\n*ELASTIC\n{E}, {NU}\n{plastic}*CREEP, LAW=NORTON\n{a}, {N}, {k}\n"
    r2, dat2 = run_ccx(ccx, libdir, tmp_path / "builtin", "bar", bar_deck(builtin), {})
    assert ccx_ok(r2), r2.stdout[-3000:]
    s1, s2 = _stresses(dat1), _stresses(dat2)
    assert s1.shape == s2.shape and s1.shape[0] >= 20
    # uniaxial and homogeneous: one stress per increment; it relaxes during the hold
    assert np.ptp(s1, axis=1).max() <= 1e-5 * np.abs(s1).max()
    assert s1[-1, 0] < s1[3, 0] - 0.1  # MPa
    err = np.abs(s1 - s2).max() / np.abs(s2).max()
    print(f"{case}: max |σ_umat − σ_ccx| / max σ = {err:.2e}; σ11 {s2[0, 0]:.5g} → {s2[-1, 0]:.5g}")
    assert err <= 2e-6  # ccx prints 7 significant digits
