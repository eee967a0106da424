"""Catalogue rows of the finite-strain laws (ids 6 neo-Hookean, 7 SVK, 8 finite J2): spec
parsing, sizes that match the law modules, and each network refusing the other's laws."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dmn_umat import network
from dmn_umat.laws import catalogue, finite_j2, finite_update, hyperelastic, parse_phase
from dmn_umat.laws.spec import PhaseSpecError, props_problem
from dmn_umat.online import finite_kernel, kernel
from dmn_umat.online.finite_solver import FiniteNetworkMaterial
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.status import ST_FAILED

DOCS = Path(__file__).resolve().parents[1] / "docs" / "laws.md"
FINITE = {  # name -> (id, props length, nstate, scratch) from the law modules
    "neohooke": (hyperelastic.LAW_NEOHOOKE, hyperelastic.NPROPS_NEOHOOKE, 0, hyperelastic.NWS_NEOHOOKE),
    "svk": (hyperelastic.LAW_SVK, hyperelastic.NPROPS_SVK, 0, hyperelastic.NWS_SVK),
    "fj2": (finite_j2.LAW_FJ2, finite_j2.NPROPS, finite_j2.NSTATE, finite_j2.NWS),
}


def _net(depth: int = 2) -> network.Network:
    rng = np.random.default_rng(3)
    n = 2**depth
    return network.complete_tree(depth, rng.uniform(0.2, 1.0, n), rng.normal(size=(n - 1, 3)))


@pytest.mark.parametrize("name", list(FINITE))
def test_rows_match_the_law_modules(name):
    lid, nprops, nstate, nws = FINITE[name]
    row = catalogue.BY_NAME[name]
    assert (row.id, row.nprops, row.nstate, row.nws, row.finite) == (lid, nprops, nstate, nws, True)
    assert finite_update.fs_law_nstate(np.r_[float(lid), np.zeros(nprops - 1)]) == row.nstate
    assert name in DOCS.read_text() and f"| {lid} |" in DOCS.read_text()


def test_sizes_split_by_kind():
    """The small-strain maxima are those of the small-strain rows only (the kernels' workspaces
    do not grow by the finite laws); the finite-strain maxima are the finite rows'."""
    small = [law for law in catalogue.LAWS if not law.finite]
    assert catalogue.MAX_NWS == max(law.nws for law in small)
    assert catalogue.MAX_NPROPS == max(law.nprops for law in small)
    assert finite_update.MAX_NWS_FS == max(v[3] for v in FINITE.values())
    assert finite_update.MAX_NPROPS_FS == max(v[1] for v in FINITE.values())
    assert finite_update.MAX_NSTATE_FS == max(v[2] for v in FINITE.values())


def test_parse_phase_reads_the_finite_laws():
    assert np.array_equal(parse_phase("neohooke:C10=2,D1=0.5").props, hyperelastic.neohooke_props(2.0, 0.5))
    # E, nu instead of C10, D1: the same conversion as neohooke_props
    ph = parse_phase("neohooke:E=1000,nu=0.3")
    assert np.array_equal(ph.props, hyperelastic.neohooke_props(E=1000.0, nu=0.3))
    assert np.array_equal(parse_phase("svk:E=1000,nu=0.3").props, finite_update.svk_props(1000.0, 0.3))
    fj2 = parse_phase("fj2:E=1000,nu=0.3,sy=5,H=100,Q=10,b=20")
    assert np.array_equal(fj2.props, finite_update.fj2_props(1000.0, 0.3, 5.0, 100.0, 10.0, 20.0))
    assert fj2.nstate == finite_j2.NSTATE and fj2.fields == {"peeq": 6}
    assert np.array_equal(parse_phase("fj2:E=1,nu=0.3,sy=1").props, finite_update.fj2_props(1.0, 0.3, 1.0))
    assert props_problem(fj2.props) is None
    for bad, msg in (("neohooke:E=1", "neohooke needs"), ("neohooke:C10=1,D1=1,E=1,nu=0.3", "neohooke"),
                     ("neohooke:C10=-1,D1=1", "C10 must be > 0"), ("fj2:E=1,nu=0.3", "fj2 needs"),
                     ("fj2:E=1,nu=0.3,sy=1,Hk=3", "unknown fj2 keys"), ("svk:E=1,nu=0.7", "nu must be"),
                     ("fj2:E=1,nu=0.3,sy=1,Q=2", "both Q and b")):
        with pytest.raises(PhaseSpecError, match=msg) as e:
            parse_phase(bad)
        assert "\n" not in str(e.value)


def test_small_strain_network_refuses_finite_laws():
    net = _net()
    with pytest.raises(PhaseSpecError, match="finite-strain law") as e:
        NetworkMaterial(net, ["fj2:E=70e3,nu=0.3,sy=100,H=500", "elastic:E=400e3,nu=0.2"])
    assert "\n" not in str(e.value)
    # the numba kernel itself: no state size, status FAILED
    mi, mf = kernel.pack_network(net)
    table = np.zeros((2, catalogue.MAX_NPROPS))
    table[0, :7] = finite_update.fj2_props(70e3, 0.3, 100.0, 500.0)
    table[1, :3] = [0.0, 400e3, 0.2]
    assert kernel.state_size(mi, table) == -1
    out = np.zeros(6), np.zeros((6, 6)), np.zeros(64), np.zeros(5)
    st = kernel.network_update(mi, mf, table, np.full(6, 1e-3), np.zeros(64), out[0], out[1], out[2],
                               np.zeros(int(kernel.work_size(mi))), out[3])
    assert st == ST_FAILED and not np.any(out[0])


def test_finite_network_takes_specs_and_refuses_small_strain_laws():
    net = _net()
    specs = ["fj2:E=70e3,nu=0.3,sy=100,H=500", "neohooke:E=400e3,nu=0.2"]
    rows = [finite_update.fj2_props(70e3, 0.3, 100.0, 500.0), hyperelastic.neohooke_props(E=400e3, nu=0.2)]
    F = np.eye(3) + np.array([[0.05, 0.02, 0.0], [0.0, -0.01, 0.01], [0.03, 0.0, 0.02]])
    res = []
    for phases in (specs, [parse_phase(s) for s in specs], rows):
        m = FiniteNetworkMaterial(net, phases)
        res.append(m.update(F[None], m.initial_state(1)))
    for r in res[1:]:
        assert all(np.array_equal(a, b) for a, b in zip(r, res[0]))
    for bad in ("j2:E=70e3,nu=0.3,sy=100", "elastic:E=1,nu=0.3"):
        with pytest.raises(ValueError, match="small-strain law") as e:
            FiniteNetworkMaterial(net, [bad, specs[1]])
        assert "\n" not in str(e.value)
    assert finite_kernel.fs_state_size(kernel.pack_network(net)[0], np.zeros((2, 7))) == -1  # id 0 refused
