"""Short-fibre RVEs with a prescribed orientation tensor A2 (issue 13, deliverable 1): the direction
sampler's second moment, realised A2 and volume fraction of generated RVEs, frame rotation, UD =
aligned, invalid input, and the CLI sidecar."""

import json

import numpy as np
import pytest

from dmn_umat.cli import main
from dmn_umat.rve import micro as m
from dmn_umat.rve import orientation as o

A2_TOL = 0.01  # stated tolerance on max |A2_realised - A2| (docs/fibres.md)
ROT = o.axes_from_vectors((1.0, 2.0, 2.0), (2.0, 1.0, -2.0))  # a generic rotation


def _min_image(d, L):
    return d - L * np.round(d / L)


@pytest.mark.parametrize("lam,rotated", [((1 / 3, 1 / 3, 1 / 3), False), ((0.5, 0.5, 0.0), True),
                                         ((0.5, 0.3, 0.2), True), ((0.7, 0.25, 0.05), False),
                                         ((0.9, 0.06, 0.04), True)])
def test_sampler_second_moment_is_a2(lam, rotated):
    """Sample mean of p⊗p → A2 within the CLT band (5 standard errors per component)."""
    a2 = o.a2_from_eigen(lam, ROT if rotated else None)
    s = o.DirectionSampler(a2)
    p = s.sample(np.random.default_rng(1), 200_000)
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0)
    pp = p[:, :, None] * p[:, None, :]
    se = pp.std(axis=0) / np.sqrt(len(p))
    assert np.all(np.abs(pp.mean(axis=0) - a2) <= 5.0 * se + 1e-12)
    # the closed-form ACG moments are those of the fitted shape
    assert np.allclose(o.acg_second_moment(s.shape), s.eigenvalues, atol=1e-10)


def test_eigen_frame_and_triangle():
    lam = np.array([0.6, 0.3, 0.1])
    vals, r = o.eigen(o.a2_from_eigen(lam, ROT))
    assert np.allclose(vals, lam) and np.isclose(np.linalg.det(r), 1.0)
    assert np.allclose(np.abs(np.sum(r * ROT, axis=0)), 1.0)  # same principal directions
    for pts in (np.array(list(o.triangle_points().values())), o.triangle_grid(10)):
        assert np.allclose(pts.sum(axis=1), 1.0) and np.all(pts >= 0.0)
        assert np.all(pts[:, 0] >= pts[:, 1]) and np.all(pts[:, 1] >= pts[:, 2])
    assert len(o.triangle_grid(10)) == len({tuple(x) for x in np.round(o.triangle_grid(10), 9)})


def _check_non_overlap_and_voxels(mic):
    seg, L, r = mic.objects, np.array(mic.shape, float), mic.params["radius"]
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) * L
    i, j = np.triu_indices(len(seg), 1)
    cen = seg.mean(axis=1)
    rel = cen[j] - cen[i]
    off = (_min_image(rel, L) - rel)[:, None, :] + shifts[None]
    dd = m.segment_distance(seg[i, 0][:, None], seg[i, 1][:, None], seg[j, 0][:, None] + off,
                            seg[j, 1][:, None] + off)
    assert dd.min() >= 2.0 * r - 1e-9
    # voxels are exactly the union of the (periodic) fibres
    x = [np.arange(n) + 0.5 for n in mic.shape]
    pts = np.stack(np.meshgrid(*x, indexing="ij"), -1).reshape(-1, 3)
    inside = np.zeros(len(pts), bool)
    for p, q in seg:
        d = q - p
        rel = _min_image(pts - 0.5 * (p + q), L) + 0.5 * (q - p)  # relative to p, nearest image
        t = np.clip(rel @ d / (d @ d), 0.0, 1.0)
        inside |= np.sum((rel - t[:, None] * d) ** 2, axis=1) <= r * r
    assert np.array_equal(inside.reshape(mic.shape).astype(np.int32), mic.voxels)


@pytest.mark.parametrize("lam,seed", [((1 / 3, 1 / 3, 1 / 3), 0), ((0.5, 0.5, 0.0), 1), ((0.5, 0.3, 0.2), 2),
                                      ((0.7, 0.25, 0.05), 3), ((0.6, 0.2, 0.2), 4)])
def test_realised_a2_and_vf_within_tolerance_and_rotate_with_the_axes(lam, seed):
    kw = dict(seed=seed, radius=1.5, aspect=5.0)
    plain = m.short_fibres(32, 0.12, a2=o.a2_from_eigen(lam), **kw)
    turned = m.short_fibres(32, 0.12, a2=o.a2_from_eigen(lam, ROT), **kw)
    for mic in (plain, turned):
        real = o.fibre_a2(mic.objects)
        target = o.parse_a2(mic.params["a2"])
        assert np.max(np.abs(real - target)) <= A2_TOL
        assert mic.params["a2_error"] == pytest.approx(np.max(np.abs(real - target)))
        assert np.allclose(mic.params["a2_realized"], o.voigt(real))
        one = np.count_nonzero(mic.voxels) / mic.count / mic.voxels.size  # one fibre's volume fraction
        assert abs(mic.volume_fraction - 0.12) <= 0.6 * one
    # rotating the principal axes rotates the realised tensor: R^T A_turned R ≈ A_plain
    assert np.max(np.abs(ROT.T @ o.fibre_a2(turned.objects) @ ROT - o.fibre_a2(plain.objects))) <= 2 * A2_TOL
    _check_non_overlap_and_voxels(turned)


def test_orientation_bias_is_corrected():
    """Independent draws (RSA orientation mode 'random') miss I/3 by far more than the tensor mode."""
    iid = m.short_fibres(32, 0.12, seed=5, radius=1.5, aspect=5.0, orientation="random")
    tensor = m.short_fibres(32, 0.12, seed=5, radius=1.5, aspect=5.0, a2=np.eye(3) / 3.0)
    assert iid.params["a2_error"] > 2 * A2_TOL >= 2 * tensor.params["a2_error"]


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_ud_reproduces_aligned(axis):
    k = "xyz".index(axis)
    a2 = np.zeros((3, 3))
    a2[k, k] = 1.0
    kw = dict(seed=3, radius=1.5, aspect=6.0)
    ud = m.short_fibres(32, 0.12, a2=a2, **kw)
    aligned = m.short_fibres(32, 0.12, orientation="aligned", axis=axis, **kw)
    assert np.array_equal(ud.voxels, aligned.voxels) and np.array_equal(ud.objects, aligned.objects)
    assert ud.params["a2_error"] == 0.0 and ud.params["orientation"] == "tensor"


def test_planar_support_stays_in_the_plane():
    a2 = o.a2_from_eigen((0.7, 0.3, 0.0), ROT)
    mic = m.generate("short-fibres", 32, 0.1, seed=1, radius=1.5, aspect=5.0, a2=a2)
    d = o.fibre_directions(mic.objects)
    assert np.allclose(d @ ROT[:, 2], 0.0, atol=1e-12)
    assert mic.params["a2_error"] <= A2_TOL


@pytest.mark.parametrize("a2,msg", [
    (np.diag([0.5, 0.4, 0.2]), "trace 1"),
    (np.diag([0.6, 0.5, -0.1]), "positive semidefinite"),
    (np.array([[0.4, 0.1, 0.0], [0.0, 0.3, 0.0], [0.0, 0.0, 0.3]]), "symmetric"),
    ([0.5, 0.5, 0.0], "3x3 tensor or 6 components"),
    ([0.5, 0.5, np.nan, 0, 0, 0], "finite"),
    ("abc", "numbers"),
])
def test_invalid_a2_is_a_one_line_error(a2, msg):
    with pytest.raises(m.MicroError, match=msg) as exc:
        m.short_fibres(24, 0.1, a2=a2)
    assert "\n" not in str(exc.value)


def test_invalid_eigenvalues_axes_and_mode():
    with pytest.raises(m.MicroError, match="sum 1"):
        o.a2_from_eigen((0.6, 0.6, 0.1))
    with pytest.raises(m.MicroError, match=">= 0"):
        o.a2_from_eigen((1.1, -0.1))
    with pytest.raises(m.MicroError, match="orthonormal"):
        o.a2_from_eigen((0.5, 0.3, 0.2), np.diag([1.0, 2.0, 1.0]))
    with pytest.raises(m.MicroError, match="orthogonal"):
        o.axes_from_vectors((1, 0, 0), (1, 1, 0))
    with pytest.raises(m.MicroError, match="needs an orientation tensor"):
        m.short_fibres(24, 0.1, orientation="tensor")
    with pytest.raises(m.MicroError, match="takes no orientation tensor"):
        m.short_fibres(24, 0.1, orientation="random", a2=np.eye(3) / 3)
    with pytest.raises(m.MicroError, match="aspect > 1"):
        m.short_fibres(24, 0.1, aspect=1.0, a2=np.eye(3) / 3)


def test_cli_writes_requested_and_realised_a2(tmp_path, capsys):
    out = tmp_path / "f.npy"
    rc = main(["micro", "short-fibres", "--size", "24", "--vf", "0.1", "--seed", "2", "--radius", "1.5",
               "--aspect", "4", "--eig", "0.6,0.3", "--axes", "1,1,0,-1,1,0", "--out", str(out), "--json"])
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    side = json.loads((tmp_path / "f.json").read_text())
    assert side["params"] == info["params"] and side["params"]["orientation"] == "tensor"
    want = o.a2_from_eigen((0.6, 0.3, 0.1), o.axes_from_vectors((1, 1, 0), (-1, 1, 0)))
    assert np.allclose(side["params"]["a2"], o.voigt(want))
    assert np.max(np.abs(np.subtract(side["params"]["a2_realized"], o.voigt(want)))) <= A2_TOL
    assert side["volume_fraction"] == pytest.approx(np.load(out).mean())
    assert side["target_volume_fraction"] == 0.1
    # --a2 with the same tensor (Voigt order) gives the same RVE
    rc = main(["micro", "short-fibres", "--size", "24", "--vf", "0.1", "--seed", "2", "--radius", "1.5",
               "--aspect", "4", "--a2", ",".join(repr(v) for v in o.voigt(want)), "--out",
               str(tmp_path / "g.npy")])
    assert rc == 0 and "realised" in capsys.readouterr().out
    assert np.array_equal(np.load(out), np.load(tmp_path / "g.npy"))


@pytest.mark.parametrize("extra,msg", [
    (["--a2", "0.5,0.5,0.1,0,0,0"], "trace 1"),
    (["--a2", "0.5,0.5"], "6 finite"),
    (["--eig", "0.6,x"], "comma-separated numbers"),
    (["--axes", "1,0,0,0,1,0"], "--axes goes with --eig"),
    (["--eig", "0.6,0.3", "--axes", "1,0,0,1,1,0"], "orthogonal"),
    (["--a2", "0.4,0.3,0.3,0,0,0", "--orientation", "planar"], "takes no orientation tensor"),
])
def test_cli_bad_orientation_input(tmp_path, capsys, extra, msg):
    argv = ["micro", "short-fibres", "--size", "24", "--vf", "0.1", "--out", str(tmp_path / "x.npy")]
    rc = main(argv + extra)
    err = capsys.readouterr().err.strip()
    assert rc != 0 and msg in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("lam,radius,sigma,size,tol", [((0.7, 0.25, 0.05), 3.0, 1.0, 48, 0.02),
                                                       ((0.5, 0.5, 0.0), 3.0, 1.0, 48, 0.02),
                                                       ((0.6, 0.2, 0.2), 1.5, 0.7, 32, 0.05)])
def test_image_estimate_of_a2(lam, radius, sigma, size, tol):
    """The structure-tensor estimate from the voxels alone follows the exact fibre A2."""
    mic = m.short_fibres(size, 0.12, seed=1, radius=radius, aspect=4.0, a2=o.a2_from_eigen(lam, ROT))
    est = o.image_a2(mic.voxels, aspect=4.0, sigma=sigma)
    assert np.allclose(est, est.T) and np.trace(est) == pytest.approx(1.0)
    assert np.max(np.abs(est - o.fibre_a2(mic.objects))) <= tol
    with pytest.raises(m.MicroError, match="no interface"):
        o.image_a2(np.zeros((4, 4, 4), np.int32))
