"""FFT homogenization (rotated staggered grid): laminates, homogeneous limits, bounds, convergence."""

import numpy as np
import pytest

from dmn_umat import tensors
from dmn_umat.rve import fft


def _laminate(shape, axis, n1):
    m = np.zeros(shape, dtype=np.int32)
    sl = [slice(None)] * 3
    sl[axis] = slice(0, n1)
    m[tuple(sl)] = 1
    return m


@pytest.mark.parametrize("axis", [0, 1, 2])
@pytest.mark.parametrize("contrast", [1e-3, 0.1, 10.0, 1e3])
def test_laminate_is_exact(axis, contrast):
    """Layers normal to each axis, f != 1/2, non-cubic grid: C̄ = analytic laminate."""
    shape = (10, 8, 12)
    n1 = 3  # f = 3/10, 3/8, 3/12
    m = _laminate(shape, axis, n1)
    f_one = n1 / shape[axis]
    C0 = tensors.isotropic_stiffness(1.0, 0.3)
    C1 = tensors.isotropic_stiffness(contrast, 0.2)
    n = np.zeros(3)
    n[axis] = 1.0
    ref = tensors.laminate_stiffness(C1, C0, f_one, n)
    res = fft.homogenize(m, [C0, C1], tol=1e-12)
    assert tensors.relative_error(res.C, ref) <= 1e-6
    assert res.asymmetry <= 1e-9


def test_laminate_anisotropic_oblique_phase():
    """Anisotropic (rotated orthotropic) layers: the staggered grid stays exact."""
    Co = tensors.orthotropic_stiffness(100.0, 5.0, 3.0, 0.25, 0.3, 0.35, 4.0, 2.0, 1.5)
    Ca = tensors.rotate_stiffness(Co, tensors.rotation_from_euler(0.3, 0.7, -0.4))
    Cb = tensors.isotropic_stiffness(0.5, 0.45)
    m = _laminate((6, 7, 9), 2, 4)
    ref = tensors.laminate_stiffness(Ca, Cb, 4 / 9, np.array([0.0, 0.0, 1.0]))
    res = fft.homogenize(m, [Cb, Ca], tol=1e-12)
    assert tensors.relative_error(res.C, ref) <= 1e-6


def test_homogeneous_rve_returns_phase_stiffness():
    Co = tensors.orthotropic_stiffness(10.0, 5.0, 3.0, 0.25, 0.3, 0.35, 4.0, 2.0, 1.5)
    C = tensors.rotate_stiffness(Co, tensors.rotation_from_euler(1.0, 0.5, 0.2))
    res = fft.homogenize(np.zeros((8, 6, 5), dtype=np.int64), [C])
    assert tensors.relative_error(res.C, C) <= 1e-12
    # two phases with the same stiffness also give it back
    rng = np.random.default_rng(0)
    res2 = fft.homogenize(rng.integers(0, 2, (6, 6, 6)), [C, C.copy()])
    assert tensors.relative_error(res2.C, C) <= 1e-10


def test_random_anisotropic_micro_is_spd_and_between_voigt_reuss():
    rng = np.random.default_rng(3)
    m = rng.integers(0, 3, (8, 8, 8))
    Cs = []
    for seed in range(3):
        A = np.random.default_rng(seed).normal(size=(6, 6))
        Cs.append(A @ A.T + 2.0 * np.eye(6) * (1 + 20 * seed))
    res = fft.homogenize(m, Cs, tol=1e-10)
    assert res.asymmetry <= 1e-8
    assert np.linalg.eigvalsh(res.C).min() > 0.0
    fr = np.array([(m == p).mean() for p in range(3)])
    voigt = sum(f * C for f, C in zip(fr, Cs))
    reuss = np.linalg.inv(sum(f * np.linalg.inv(C) for f, C in zip(fr, Cs)))
    assert np.linalg.eigvalsh(voigt - res.C).min() > -1e-9 * np.abs(voigt).max()
    assert np.linalg.eigvalsh(res.C - reuss).min() > -1e-9 * np.abs(voigt).max()


def test_iterations_independent_of_batch_like_scaling():
    """Scaling all stiffnesses scales C̄ and leaves PCG iterations unchanged."""
    rng = np.random.default_rng(1)
    m = rng.integers(0, 2, (8, 8, 8))
    C1, C2 = tensors.isotropic_stiffness(1.0, 0.3), tensors.isotropic_stiffness(50.0, 0.25)
    a = fft.homogenize(m, [C1, C2])
    b = fft.homogenize(m, [7.0 * C1, 7.0 * C2])
    assert tensors.relative_error(b.C, 7.0 * a.C) <= 1e-7
    assert max(abs(i - j) for i, j in zip(a.iterations, b.iterations)) <= 1  # round-off only


# --------------------------------------------------------------------------- spheres
def _centres(f_target, radius, gap, seed=0):
    """Random sequential addition of non-overlapping periodic spheres (surface gap >= gap)."""
    rng = np.random.default_rng(seed)
    count = int(round(f_target / (4.0 / 3.0 * np.pi * radius**3)))
    out = []
    while len(out) < count:
        c = rng.random(3)
        if all(np.linalg.norm((c - o) - np.round(c - o)) >= 2 * radius + gap for o in out):
            out.append(c)
    return np.array(out)


def _voxelize(centres, radius, n):
    x = (np.arange(n) + 0.5) / n
    X = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    m = np.zeros((n, n, n), dtype=np.int32)
    for c in centres:
        d = X - c
        d -= np.round(d)
        m[(d**2).sum(-1) < radius**2] = 1
    return m


def _hs_bounds(K1, G1, K2, G2, f1):
    """Hashin–Shtrikman bounds for a well-ordered two-phase isotropic composite (K1<K2, G1<G2)."""
    f2 = 1.0 - f1
    Kl = K1 + f2 / (1 / (K2 - K1) + 3 * f1 / (3 * K1 + 4 * G1))
    Ku = K2 + f1 / (1 / (K1 - K2) + 3 * f2 / (3 * K2 + 4 * G2))
    Gl = G1 + f2 / (1 / (G2 - G1) + 6 * f1 * (K1 + 2 * G1) / (5 * G1 * (3 * K1 + 4 * G1)))
    Gu = G2 + f1 / (1 / (G1 - G2) + 6 * f2 * (K2 + 2 * G2) / (5 * G2 * (3 * K2 + 4 * G2)))
    return (Kl, Ku), (Gl, Gu)


RADIUS = 0.15
SPH = _centres(0.2, RADIUS, 0.05, seed=0)  # 14 spheres, vf 0.2
C_MAT = tensors.isotropic_stiffness(1.0, 0.3)
C_INC = tensors.isotropic_stiffness(100.0, 0.2)


def test_spheres_inside_hashin_shtrikman_bounds():
    m = _voxelize(SPH, RADIUS, 16)
    res = fft.homogenize(m, [C_MAT, C_INC])
    K, G = tensors.bulk_shear_moduli(res.C)
    K1, G1 = tensors.bulk_shear_moduli(C_MAT)
    K2, G2 = tensors.bulk_shear_moduli(C_INC)
    (Kl, Ku), (Gl, Gu) = _hs_bounds(K1, G1, K2, G2, 1.0 - m.mean())
    assert Kl < K < Ku
    assert Gl < G < Gu
    assert np.linalg.eigvalsh(res.C).min() > 0.0
    assert res.asymmetry < 1e-7


def _resolution_study(ns):
    Cs = [fft.homogenize(_voxelize(SPH, RADIUS, n), [C_MAT, C_INC]).C for n in ns]
    return [np.linalg.norm(a - b) / np.linalg.norm(b) for a, b in zip(Cs[:-1], Cs[1:])]


def test_spheres_converge_with_resolution():
    d = _resolution_study((8, 16, 32))
    assert d[1] < 0.6 * d[0]  # measured: 0.098, 0.032


@pytest.mark.slow
def test_spheres_converge_with_resolution_to_64():
    d = _resolution_study((16, 32, 64))
    assert d[1] < 0.6 * d[0]  # measured: 0.032, 0.014


# --------------------------------------------------------------------------- input errors
def test_bad_inputs_raise_clear_errors():
    C = tensors.isotropic_stiffness(1.0, 0.3)
    with pytest.raises(ValueError, match="integer"):
        fft.homogenize(np.zeros((4, 4, 4)), [C])
    with pytest.raises(ValueError, match="3-D"):
        fft.homogenize(np.zeros((4, 4), dtype=int), [C])
    with pytest.raises(ValueError, match="phase ids"):
        fft.homogenize(np.ones((4, 4, 4), dtype=int), [C])
    with pytest.raises(ValueError, match="NaN"):
        fft.homogenize(np.zeros((4, 4, 4), dtype=int), [C * np.nan])
    with pytest.raises(ValueError, match="positive definite"):
        fft.homogenize(np.zeros((4, 4, 4), dtype=int), [-C])


# --------------------------------------------------------------------------- CLI
def test_cli_homogenize_json_matches_api(tmp_path, capsys):
    import json

    from dmn_umat.cli import main

    m = _laminate((6, 4, 4), 0, 2)
    f = tmp_path / "m.npy"
    np.save(f, m)
    out = tmp_path / "C.json"
    rc = main(["homogenize", str(f), "--phase", "elastic:E=1,nu=0.3", "--phase", "elastic:E=10,nu=0.2",
               "--tol", "1e-12", "--json", "--out", str(out)])
    assert rc == 0
    d = json.loads(capsys.readouterr().out)  # stdout holds only JSON
    C_soft, C_stiff = tensors.isotropic_stiffness(1.0, 0.3), tensors.isotropic_stiffness(10.0, 0.2)
    ref = tensors.laminate_stiffness(C_stiff, C_soft, 1 / 3, np.array([1.0, 0, 0]))
    assert tensors.relative_error(np.array(d["C"]), ref) <= 1e-8
    assert len(d["iterations"]) == 6 and d["seconds"] > 0
    assert json.loads(out.read_text())["C"] == d["C"]


@pytest.mark.parametrize(
    "array, phases, message",
    [
        (np.full((4, 4, 4), 1), ["elastic:E=1,nu=0.3"], "phase id 1"),
        (np.zeros((4, 4, 4)), ["elastic:E=1,nu=0.3"], "integers"),
        (np.zeros((4, 4, 4), dtype=int), ["elastic:E=1,nu=0.7"], "nu"),
        (np.zeros((4, 4, 4), dtype=int), ["elastic:E=nan,nu=0.3"], "finite"),
        (np.zeros((4, 4, 4), dtype=int), ["elastc:E=1,nu=0.3"], "unknown law"),
        (np.zeros((4, 4, 4), dtype=int), [], "--phase"),
    ],
)
def test_cli_homogenize_input_errors_one_line(tmp_path, capsys, array, phases, message):
    from dmn_umat.cli import main

    f = tmp_path / "m.npy"
    np.save(f, array)
    argv = ["homogenize", str(f)]
    for p in phases:
        argv += ["--phase", p]
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc != 0
    assert len(err.splitlines()) == 1 and message in err and "Traceback" not in err


# --------------------------------------------------------------------------- discrete operators
def test_divergence_is_transpose_of_strain_and_green_inverts_reference():
    from dmn_umat.rve import fft_kernels as kern

    rng = np.random.default_rng(7)
    shape = (5, 6, 4)
    N = int(np.prod(shape))
    u = rng.normal(size=(3, *shape))
    sig = rng.normal(size=(N, 6))
    eps = np.empty((N, 6))
    kern.strain(u, np.zeros(6), eps)
    f = np.empty((3, *shape))
    kern.divergence(sig, f)
    assert np.isclose(np.sum(eps * sig), np.sum(u * f), rtol=1e-12)
    # constant strain E is reproduced; a rigid translation gives zero strain
    kern.strain(np.ones((3, *shape)), np.arange(6.0), eps)
    assert np.allclose(eps, np.arange(6.0), atol=1e-14)
    # preconditioner = pseudo-inverse of D^T C0 D: applying the operator then M^-1 returns the
    # field projected off the kernel (mean and hourglass modes)
    s = fft.StaggeredGridSolver(shape, 2.0, 0.7, (), 1)
    table = fft._iso(2.0, 0.7)[None]
    idx = np.zeros(N, dtype=np.int64)
    x = rng.normal(size=s.n)
    q, z = np.empty(s.n), np.empty(s.n)
    s.apply(x, table, idx, q)
    s.precond(q, z)
    s.apply(z, table, idx, x)  # x <- A M^-1 A x  must equal A x
    assert np.allclose(x, q, atol=1e-10 * np.abs(q).max())
    # isotropic fast path == general 6x6 path; anisotropic tables are not taken for isotropic
    tab = np.array([tensors.isotropic_stiffness(1.0, 0.3), tensors.isotropic_stiffness(7.0, -0.2)])
    iso = kern.isotropic_table(tab)
    assert iso is not None
    ortho = tensors.orthotropic_stiffness(1, 2, 3, 0.1, 0.2, 0.3, 1, 1, 1)
    assert kern.isotropic_table(ortho[None]) is None
    ph = rng.integers(0, 2, N)
    s1, s2, part = np.empty((N, 6)), np.empty((N, 6)), np.empty((shape[0], 6))
    E = rng.normal(size=6)
    kern.stress_linear(u, E, tab, ph, s1, part)
    kern.stress_linear(u, E, tab, ph, s2, part, iso)
    assert np.allclose(s1, s2, rtol=1e-13, atol=1e-13 * np.abs(s1).max())
    assert np.allclose(part.sum(0), s2.sum(0))
