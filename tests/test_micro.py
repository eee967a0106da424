"""Microstructure generators: target volume fractions, periodicity, non-overlap, determinism, CLI."""

import json

import numpy as np
import pytest

from dmn_umat.cli import main
from dmn_umat.rve import micro as m


def _periodic_centres(shape):
    return [np.arange(n) + 0.5 for n in shape]


def _min_image(d, L):
    return d - L * np.round(d / L)


@pytest.mark.parametrize("vf", [0.1, 0.25])
def test_spheres_volume_fraction_and_periodic_non_overlap(vf):
    mic = m.spheres((24, 20, 28), vf, seed=4, radius=3.0)
    L = np.array(mic.shape, float)
    sphere_vf = 4 / 3 * np.pi * 27 / np.prod(L)
    assert abs(mic.volume_fraction - vf) <= 0.5 * 1.3 * sphere_vf  # within half a sphere
    c = mic.objects
    d = np.linalg.norm(_min_image(c[:, None] - c[None], L), axis=-1)
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 6.0  # periodic minimum-image distance >= 2R: no overlap, also across faces
    # the voxels are exactly the union of periodic spheres (brute force over all voxels)
    x, y, z = np.meshgrid(*_periodic_centres(mic.shape), indexing="ij")
    pts = np.stack([x, y, z], -1).reshape(-1, 1, 3)
    inside = np.any(np.sum(_min_image(pts - c[None], L) ** 2, -1) <= 9.0, axis=1).reshape(mic.shape)
    assert np.array_equal(inside.astype(np.int32), mic.voxels)
    # some sphere crosses the cell boundary, so wrapping was exercised
    assert np.any((c < 3.0) | (c > L - 3.0))


def test_spheres_count_mode_and_determinism():
    a = m.spheres(24, 0.2, seed=7, count=12)
    b = m.spheres(24, 0.2, seed=7, count=12)
    c = m.spheres(24, 0.2, seed=8, count=12)
    assert a.count == 12 and np.array_equal(a.voxels, b.voxels)
    assert not np.array_equal(a.voxels, c.voxels)
    assert abs(a.volume_fraction - 0.2) < 0.02  # analytic radius for the count, voxelized
    assert set(np.unique(a.voxels)) == {0, 1} and a.voxels.dtype == np.int32


def test_spheres_unreachable_target_is_a_clear_error():
    with pytest.raises(m.MicroError, match="jammed"):
        m.spheres(20, 0.6, seed=0, radius=3.0, max_attempts=2000)
    with pytest.raises(m.MicroError, match="does not fit"):
        m.spheres(10, 0.2, radius=6.0)
    for bad in (0.0, 1.0, float("nan"), -0.1):
        with pytest.raises(m.MicroError, match="volume fraction"):
            m.spheres(16, bad)


def test_segment_distance_against_brute_force():
    rng = np.random.default_rng(0)
    p1, q1, p2, q2 = (rng.normal(size=(100, 3)) for _ in range(4))
    q2[:20] = p2[:20]  # point vs segment
    q1[20:30] = p1[20:30] + (q2[20:30] - p2[20:30])  # parallel segments
    d = m.segment_distance(p1, q1, p2, q2)
    s = np.linspace(0, 1, 201)
    a = p1[:, None] + s[None, :, None] * (q1 - p1)[:, None]
    b = p2[:, None] + s[None, :, None] * (q2 - p2)[:, None]
    brute = np.min(np.linalg.norm(a[:, :, None] - b[:, None, :], axis=-1), axis=(1, 2))
    assert np.all(d <= brute + 1e-12)
    assert np.allclose(d, brute, atol=1e-2)


@pytest.mark.parametrize(
    "orientation,axis,ends", [("aligned", "y", "round"), ("random", "x", "round"), ("planar", "z", "flat")]
)
def test_short_fibres(orientation, axis, ends):
    mic = m.short_fibres(
        32, 0.12, seed=2, radius=2.0, aspect=4.0, orientation=orientation, axis=axis, ends=ends
    )
    L = np.array(mic.shape, float)
    one = np.pi * 4 * 16 / np.prod(L)  # one fibre's volume fraction (flat cylinder bound)
    assert abs(mic.volume_fraction - 0.12) <= 0.6 * one
    seg = mic.objects
    d = seg[:, 1] - seg[:, 0]
    d /= np.linalg.norm(d, axis=1, keepdims=True)
    if orientation == "aligned":
        assert np.allclose(np.abs(d[:, 1]), 1.0)
    elif orientation == "planar":
        assert np.allclose(d[:, 2], 0.0)
    else:
        assert np.abs(d).min(axis=0).max() < 0.9  # not all along one axis
    # pairwise periodic axis distance >= 2r (check the 27 images explicitly)
    n = len(seg)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) * L
    cen = seg.mean(axis=1)
    for i in range(n):
        for j in range(i + 1, n):
            off = _min_image(cen[j] - cen[i], L) - (cen[j] - cen[i])
            dd = m.segment_distance(seg[i, 0], seg[i, 1], seg[j, 0] + off + shifts, seg[j, 1] + off + shifts)
            assert dd.min() >= 4.0 - 1e-9


def test_short_fibres_too_long_is_an_error():
    with pytest.raises(m.MicroError, match="do not fit"):
        m.short_fibres(16, 0.1, radius=2.0, aspect=5.0, orientation="random")


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_long_fibres_are_extruded_along_axis(axis):
    mic = m.long_fibres((20, 24, 28), 0.3, seed=1, radius=2.5, axis=axis)
    ax = "xyz".index(axis)
    v = mic.voxels
    assert np.all(v == np.take(v, [0], axis=ax))  # constant along the fibre axis
    pl = [mic.shape[k] for k in range(3) if k != ax]
    assert abs(mic.volume_fraction - 0.3) <= 0.5 * 1.3 * np.pi * 2.5**2 / np.prod(pl)


@pytest.mark.parametrize("axis", ["x", "y", "z"])
def test_laminate_axis_and_fraction(axis):
    mic = m.laminate((10, 12, 14), 0.25, axis=axis)
    ax = "xyz".index(axis)
    n = mic.shape[ax]
    k = round(0.25 * n)
    assert mic.volume_fraction == pytest.approx(k / n)
    # constant on planes normal to the axis, varying along it
    prof = np.moveaxis(mic.voxels, ax, 0).reshape(n, -1)
    assert np.all(prof == prof[:, :1])
    assert prof[:, 0].tolist() == [1] * k + [0] * (n - k)


def test_cli_micro_writes_npy_sidecar_and_json(tmp_path, capsys):
    out = tmp_path / "s.npy"
    rc = main(["micro", "spheres", "--size", "16", "--size-z", "20", "--vf", "0.2", "--seed", "5",
               "--out", str(out), "--png", str(tmp_path / "s.png"), "--json"])  # fmt: skip
    assert rc == 0
    info = json.loads(capsys.readouterr().out)
    arr = np.load(out)
    assert arr.shape == (16, 16, 20) and tuple(info["shape"]) == arr.shape
    assert info["volume_fraction"] == pytest.approx(arr.mean())
    assert info["kind"] == "spheres" and info["params"]["seed"] == 5
    assert json.loads((tmp_path / "s.json").read_text())["volume_fraction"] == info["volume_fraction"]
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert np.array_equal(arr, m.spheres((16, 16, 20), 0.2, seed=5).voxels)
    assert not list(tmp_path.glob(".*tmp"))  # no temp files left behind


@pytest.mark.parametrize(
    "argv,msg",
    [
        (["micro", "spheres", "--vf", "nan"], "finite"),
        (["micro", "spheres", "--vf", "0.7", "--size", "12", "--radius", "2"], "jammed"),
        (["micro", "laminate", "--vf", "0.01", "--size", "8"], "not resolvable"),
        (["micro", "long-fibres", "--vf", "0.2", "--radius", "inf"], "finite"),
    ],
)
def test_cli_micro_bad_input(tmp_path, capsys, argv, msg):
    rc = main(argv + ["--out", str(tmp_path / "x.npy")])
    err = capsys.readouterr().err.strip()
    assert rc != 0 and msg in err and len(err.splitlines()) == 1
    assert not (tmp_path / "x.npy").exists()


def test_many_inclusions_never_overlap_kdtree_path():
    """Hundreds of objects (the periodic KD-tree neighbour search is active beyond 128)."""
    sph = m.spheres(40, 0.3, seed=3, radius=2.0)
    assert sph.count > 500 and abs(sph.volume_fraction - 0.3) < 0.003
    L = np.array(sph.shape, float)
    c = sph.objects
    d = np.linalg.norm(_min_image(c[:, None] - c[None], L), axis=-1)
    np.fill_diagonal(d, np.inf)
    assert d.min() >= 4.0
    assert np.count_nonzero(sph.voxels) == int(round(sph.volume_fraction * sph.voxels.size))

    fib = m.short_fibres(36, 0.2, seed=1, radius=1.5, aspect=3.0, orientation="random")
    assert fib.count > 128
    seg, L = fib.objects, np.array(fib.shape, float)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)]) * L
    i, j = np.triu_indices(len(seg), 1)
    cen = seg.mean(axis=1)
    rel = cen[j] - cen[i]
    off = (_min_image(rel, L) - rel)[:, None, :] + shifts[None]
    dd = m.segment_distance(
        seg[i, 0][:, None], seg[i, 1][:, None], seg[j, 0][:, None] + off, seg[j, 1][:, None] + off
    )
    assert dd.min() >= 3.0 - 1e-9
