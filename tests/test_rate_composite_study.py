"""scripts/rate_composite_study.py: the DNS cache (resume), the 2x-resolution reference and the
pure-Norton creep case."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "rate_composite_study.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("rate_composite_study", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _short(case: dict, n: int) -> dict:
    return {**case, "path": case["path"][:n], "time": case["time"][:n],
            "stress": None if case["stress"] is None else case["stress"][:n]}


def test_dns_cache_is_reused_and_keyed_by_geometry(study, tmp_path, monkeypatch):
    m = np.zeros((4, 4, 4), dtype=np.int64)
    m[1:3, 1:3, 1:3] = 1
    case = _short(study.load_case("t1e-5"), 3)
    first = study.run_dns(m, case, tmp_path)
    assert len(list(tmp_path.glob("dns_4_*.npz"))) == 1
    calls = []
    real = study.fft.dns
    monkeypatch.setattr(study.fft, "dns", lambda *a, **k: calls.append(1) or real(*a, **k))
    again = study.run_dns(m, case, tmp_path)  # from the cache: no new DNS
    assert not calls
    np.testing.assert_array_equal(again["stress"], first["stress"])
    m2 = m.copy()
    m2[0, 0, 0] = 1  # another geometry: computed, not taken from the cache
    other = study.run_dns(m2, case, tmp_path)
    assert calls and len(list(tmp_path.glob("dns_4_*.npz"))) == 2
    assert other["stress"][-1, 0] > first["stress"][-1, 0]  # more stiff phase, stiffer


def test_split_voxels_give_the_same_laminate(study, tmp_path):
    """A laminate aligned with the grid is exact at any resolution: the 2x DNS (every voxel
    split in 8) equals the coarse one, so the discretization error measured is zero."""
    m = np.zeros((4, 4, 4), dtype=np.int64)
    m[:, :, :2] = 1
    case = _short(study.load_case("creep"), 3)
    d = study.run_dns(m, case, None)
    d2 = study.run_dns(m.repeat(2, 0).repeat(2, 1).repeat(2, 2), case, None)
    mean, mx = study.report.errors(d["strain"][:, 0], d2["strain"][:, 0])
    assert mx < 1e-6


def test_norton_case_creeps_at_the_norton_rate(study):
    """The pure-Norton case (no yield) on a matrix-only RVE: uniaxial creep at the held
    σ11 is ε11(t) − ε11(0) = A σ^n t (J2 Norton, q = σ11), from the first instant on."""
    case = study.load_case("norton")
    params = dict(kv.split("=") for kv in case["matrix"].split(":")[1].split(","))
    assert "sy" not in params  # no yield: every stress creeps
    a, n = float(params["A"]), float(params["n"])
    d = study.run_dns(np.zeros((2, 2, 2), dtype=np.int64), case, None)
    sig = case["stress"][:, 0]
    creep = d["strain"][:, 0] - d["strain"][0, 0]
    np.testing.assert_allclose(d["stress"][:, 0], sig, rtol=1e-8)
    np.testing.assert_allclose(creep, a * sig ** n * case["time"], rtol=1e-6, atol=1e-12)
    assert creep[-1] > 10 * d["strain"][0, 0]  # creep, not elasticity, dominates the strain


def test_flowing_tangent_is_soft_only_along_the_flow_direction(study):
    """Algorithmic tangent of the creep + plasticity matrix after an isochoric uniaxial ramp:
    the bulk modulus is the elastic one, the stiffness along the deviatoric flow direction
    N ∝ (2, −1, −1) collapses, a shear orthogonal to N keeps most of 2G."""
    C = study.flowing_tangent(study.CREEP, 1e-5)
    E, nu = 70e3, 0.33
    K, G = E / (3 * (1 - 2 * nu)), E / (2 * (1 + nu))
    one = np.r_[1.0, 1.0, 1.0, 0.0, 0.0, 0.0]
    N = np.r_[2.0, -1.0, -1.0, 0.0, 0.0, 0.0] / np.sqrt(6.0)
    assert one @ C @ one / 9.0 == pytest.approx(K, rel=1e-8)
    assert N @ C @ N < 0.2 * 2 * G
    assert C[4, 4] > 0.5 * 2 * G
    np.testing.assert_allclose(C, C.T, atol=1e-9 * np.abs(C).max())


def test_linear_check_of_the_exact_laminate_network_is_zero_and_cached(study, tmp_path, monkeypatch):
    """On a laminate RVE (exact on the staggered grid) the depth-1 network of the same normal
    and volume fractions has no error for any matrix, incl. the anisotropic flowing tangents;
    a second run takes the FFT C̄ from the cache."""
    from dmn_umat.network import complete_tree

    m = np.zeros((4, 4, 4), dtype=np.int64)
    m[:, :, :1] = 1  # spheres phase (1) a quarter of the layers, normal e3
    net = complete_tree(1, np.array([0.75, 0.25]), np.array([[0.0, 0.0, 1.0]]))
    rows = study.linear_check(net, m, tmp_path)
    assert len(rows) == 14 and rows[-1]["matrix"] == "tangent Norton"
    for r in rows:
        assert max(abs(r["frobenius"]), abs(r["deviatoric"]), abs(r["uniaxial"])) < 1e-6, r
    monkeypatch.setattr(study.fft, "homogenize", lambda *a, **k: pytest.fail("not cached"))
    assert study.linear_check(net, m, tmp_path) == rows
