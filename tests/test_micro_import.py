"""Microstructure import (dmn_umat.rve.image_import, ``dmn micro import``): round trips through
every format keep voxels and axis order bit for bit; segmentation, crop, downsampling,
periodicity check; corrupt files give one-line errors."""

import base64
import json
import struct
import sys
import zlib

import numpy as np
import pytest

from dmn_umat.cli import main
from dmn_umat.rve import image_import as ii
from dmn_umat.rve import micro as m

SHAPE = (13, 10, 7)  # non-cubic, every axis different: a swapped axis cannot pass


@pytest.fixture(scope="module")
def labels():
    """Periodic spheres with a third phase in one corner: asymmetric, ids 0, 1, 2."""
    v = m.generate("spheres", size_x=SHAPE[0], size_y=SHAPE[1], size_z=SHAPE[2], vf=0.2, radius=2.0,
                   seed=3).voxels.copy()
    v[:3, :2, :1] = 2
    assert len(np.unique(v)) == 3
    return v


# --------------------------------------------------------------------------- writers
def _vti(path, arr, fmt="ascii", compress=False, header="UInt32", order="<", section="CellData",
         name="phase", vtk_type="Int32", extra_arrays=()):
    """A VTK XML ImageData file written by hand from the file-format spec: (nx, ny, nz) voxels,
    x fastest; the voxels are cells (CellData) or points (PointData)."""
    nx, ny, nz = arr.shape
    ext = (f"0 {nx} 0 {ny} 0 {nz}" if section == "CellData" else f"0 {nx - 1} 0 {ny - 1} 0 {nz - 1}")
    dt = np.dtype(order + {"Int32": "i4", "UInt8": "u1", "Float32": "f4", "Float64": "f8"}[vtk_type])
    raw = np.asarray(arr).transpose(2, 1, 0).astype(dt).tobytes()
    hfmt = order + {"UInt32": "I", "UInt64": "Q"}[header]

    def block(payload):
        if not compress:
            return struct.pack(hfmt, len(payload)), payload
        bs = 64  # several blocks with a short last one
        chunks = [payload[i:i + bs] for i in range(0, len(payload), bs)]
        comp = [zlib.compress(c) for c in chunks]
        head = struct.pack(order + hfmt[1] * (3 + len(comp)), len(comp), bs, len(chunks[-1]),
                           *[len(c) for c in comp])
        return head, b"".join(comp)

    arrays = [(name, vtk_type, raw)] + [(n, vtk_type, np.zeros(arr.size, dt).tobytes()) for n in extra_arrays]
    body, appended, offset = [], b"", 0
    for n, t, payload in arrays:
        attrs = f'type="{t}" Name="{n}" NumberOfComponents="1"'
        if fmt == "ascii":
            vals = " ".join(str(x) for x in np.frombuffer(payload, dt))
            body.append(f'<DataArray {attrs} format="ascii">\n{vals}\n</DataArray>')
        elif fmt == "binary":  # header and data base64-encoded separately, as VTK writes them
            h, d = block(payload)
            text = (base64.b64encode(h) + base64.b64encode(d)).decode()
            body.append(f'<DataArray {attrs} format="binary">\n{text}\n</DataArray>')
        else:
            h, d = block(payload)
            body.append(f'<DataArray {attrs} format="appended" offset="{offset}"/>')
            appended += h + d
            offset += len(h) + len(d)
    comp_attr = ' compressor="vtkZLibDataCompressor"' if compress else ""
    bo = "LittleEndian" if order == "<" else "BigEndian"
    head = (f'<?xml version="1.0"?>\n<VTKFile type="ImageData" version="1.0" byte_order="{bo}" '
            f'header_type="{header}"{comp_attr}>\n'
            f'<ImageData WholeExtent="{ext}" Origin="0 0 0" Spacing="1 1 1">\n<Piece Extent="{ext}">\n'
            f'<{section} Scalars="{name}">\n' + "\n".join(body) + f"\n</{section}>\n</Piece>\n</ImageData>\n")
    data = head.encode()
    if fmt == "appended":
        data += b'<AppendedData encoding="raw">\n_' + appended + b"\n</AppendedData>\n"
    data += b"</VTKFile>\n"
    path.write_bytes(data)
    return path


def _pages(arr):
    """Slices z of (nx, ny, nz) as TIFF pages (rows y, columns x)."""
    return [np.ascontiguousarray(arr[:, :, k].T) for k in range(arr.shape[2])]


def _tiff_stack(path, arr, writer):
    if writer == "tifffile":
        tifffile = pytest.importorskip("tifffile")
        tifffile.imwrite(path, np.stack(_pages(arr)))
    else:
        from PIL import Image

        imgs = [Image.fromarray(p) for p in _pages(arr)]
        imgs[0].save(path, save_all=True, append_images=imgs[1:])
    return path


@pytest.fixture(params=["tifffile", "pillow"])
def tiff_reader(request, monkeypatch):
    """Read TIFFs with tifffile, or with Pillow as when tifffile is not installed."""
    if request.param == "tifffile":
        pytest.importorskip("tifffile")
    else:
        monkeypatch.setitem(sys.modules, "tifffile", None)
    return request.param


# --------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.int32])
def test_multipage_tiff_round_trip_bit_for_bit(labels, tmp_path, tiff_reader, dtype):
    writer = "pillow" if dtype == np.int32 and tiff_reader == "pillow" else tiff_reader
    path = _tiff_stack(tmp_path / "s.tif", labels.astype(dtype), writer)
    arr, info = ii.read_image(path)
    assert arr.dtype == dtype and arr.shape == SHAPE and info["format"] == "tiff"
    assert np.array_equal(arr, labels)
    assert np.array_equal(m.load_voxels(path), labels)  # the dataset/assessment reader takes it too


def test_tiff_folder_and_glob_round_trip_in_natural_order(labels, tmp_path, tiff_reader):
    from PIL import Image

    folder = tmp_path / "slices"
    folder.mkdir()
    for k, page in enumerate(_pages(labels.astype(np.uint8))):  # slice_2 must come before slice_10
        Image.fromarray(page).save(folder / f"slice_{k}.tif")
    (folder / "notes.txt").write_text("not a slice")
    for src in (folder, str(folder / "slice_*.tif")):
        arr, _ = ii.read_image(src)
        assert np.array_equal(arr, labels)


@pytest.mark.parametrize(
    "kw",
    [
        dict(fmt="ascii"),
        dict(fmt="binary"),
        dict(fmt="binary", compress=True),
        dict(fmt="appended"),
        dict(fmt="appended", compress=True),
        dict(fmt="appended", header="UInt64", order=">"),
        dict(fmt="binary", compress=True, header="UInt64", section="PointData", vtk_type="UInt8"),
        dict(fmt="appended", compress=True, extra_arrays=("other",)),
    ],
    ids=["ascii", "base64", "base64-zlib", "raw", "raw-zlib", "raw-u64-bigendian", "base64-zlib-point-u8",
         "raw-zlib-two-arrays"],
)
def test_vti_round_trip_bit_for_bit(labels, tmp_path, kw):
    path = _vti(tmp_path / "m.vti", labels, **kw)
    arr, info = ii.read_image(path, array="phase" if kw.get("extra_arrays") else None)
    assert arr.shape == SHAPE and np.array_equal(arr, labels)
    assert info["array"] == f"{kw.get('section', 'CellData')}/phase"
    if not kw.get("extra_arrays"):
        assert np.array_equal(m.load_voxels(path), labels)


def test_vti_with_several_arrays_needs_a_name(labels, tmp_path):
    path = _vti(tmp_path / "m.vti", labels, fmt="appended", extra_arrays=("other",))
    with pytest.raises(m.MicroError, match="choose one with --array"):
        ii.read_image(path)
    arr, _ = ii.read_image(path, array="CellData/other")
    assert arr.shape == SHAPE and not arr.any()


def test_hdf5_round_trip_dataset_path_and_axes(labels, tmp_path):
    h5py = pytest.importorskip("h5py")
    path = tmp_path / "scan.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("grp/vox", data=labels, compression="gzip")
        f.create_dataset("grp/zyx", data=labels.transpose(2, 1, 0))
        f.create_dataset("meta", data=np.arange(3))
    arr, info = ii.read_image(f"{path}:/grp/vox")
    assert np.array_equal(arr, labels) and info["array"] == "/grp/vox"
    assert np.array_equal(ii.read_image(path, array="grp/zyx", axes="zyx")[0], labels)
    assert np.array_equal(m.load_voxels(f"{path}:/grp/vox"), labels)
    with pytest.raises(m.MicroError, match="holds 2 3-D datasets"):
        ii.read_image(path)
    with pytest.raises(m.MicroError, match="no dataset"):
        ii.read_image(f"{path}:/nope")


def test_npy_as_today_and_axes(labels, tmp_path):
    np.save(tmp_path / "a.npy", labels.transpose(2, 0, 1))  # stored z, x, y
    assert np.array_equal(ii.read_image(tmp_path / "a.npy", axes="zxy")[0], labels)


# --------------------------------------------------------------------------- processing
def test_threshold_recovers_labels_from_noisy_grey_image(labels, tmp_path):
    rng = np.random.default_rng(0)
    grey = (40.0 + 100.0 * labels + rng.normal(0.0, 12.0, labels.shape)).astype(np.float32)  # 4.2 sigma
    np.save(tmp_path / "g.npy", grey)
    res = ii.import_image(ii.ImportConfig(tmp_path / "g.npy", thresholds=(90.0, 190.0)))
    assert np.array_equal(res.voxels, labels)  # P(|noise| > 50) ~ 3e-5 per voxel, none at seed 0
    assert res.volume_fractions == pytest.approx(np.bincount(labels.ravel()) / labels.size, abs=0)


def test_noisy_grey_image_segments_to_expected_volume_fraction():
    vox = m.generate("spheres", size=32, vf=0.25, seed=1).voxels
    rng = np.random.default_rng(5)
    grey = 0.3 + 0.4 * vox + rng.normal(0.0, 0.1, vox.shape)  # contrast / noise = 4: 2.3 % misclassified
    ids, _ = ii.segment(grey, thresholds=(0.5,))
    vf = np.mean(ids == 1)
    # misclassification rate Φ(-2) per voxel, both ways: the fraction moves by (1-2vf)·Φ(-2) ≈ 1.1 %
    assert abs(vf - np.mean(vox == 1)) < 0.02


def test_labels_map_distinct_values_in_order(labels, tmp_path):
    img = np.choose(labels, [7, 200, 55]).astype(np.uint8)
    np.save(tmp_path / "l.npy", img)
    res = ii.import_image(ii.ImportConfig(tmp_path / "l.npy", labels=True))
    assert res.label_map == [(7, 0), (55, 1), (200, 2)]
    assert np.array_equal(res.voxels, np.choose(labels, [0, 2, 1]))
    with pytest.raises(m.MicroError, match="grey values"):
        ii.segment(np.linspace(0, 1, 1000).reshape(10, 10, 10))
    with pytest.raises(m.MicroError, match="not labels"):
        ii.segment(np.arange(1000).reshape(10, 10, 10), labels=True)


def test_downsample_of_upsampled_array_is_the_original(labels):
    up = labels.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    assert np.array_equal(ii.downsample(up, 2), labels)
    up3 = labels.repeat(3, 0).repeat(3, 1).repeat(3, 2)
    up3[::3, ::3, ::3] = 1 - np.minimum(labels, 1)  # one dissenting voxel per block: still the majority
    assert np.array_equal(ii.downsample(up3, 3), labels)
    # a tie goes to the lowest id
    tie = np.zeros((2, 2, 2), np.int32)
    tie[0] = 1
    assert ii.downsample(tie, 2).item() == 0
    with pytest.raises(m.MicroError, match="does not divide"):
        ii.downsample(labels, 2)


def test_import_crop_downsample_and_fractions(labels, tmp_path):
    up = labels.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    np.save(tmp_path / "u.npy", up)
    crop = ii.parse_crop("2:22,:,:12")
    res = ii.import_image(ii.ImportConfig(tmp_path / "u.npy", crop=crop, downsample=2))
    assert np.array_equal(res.voxels, labels[1:11, :, :6])
    assert res.volume_fractions == pytest.approx(res.volume_fractions_before, abs=0)
    expected = np.bincount(labels[1:11, :, :6].ravel(), minlength=3) / res.voxels.size
    assert res.volume_fractions == pytest.approx(expected)
    for bad in ("1:2,3:4", "a:b,:,:", "0:100,:,:", "5:5,:,:"):
        with pytest.raises(m.MicroError, match="crop"):
            ii.import_image(ii.ImportConfig(tmp_path / "u.npy", crop=ii.parse_crop(bad)))


def test_periodicity_check_warns_on_a_cut_structure(tmp_path):
    vox = m.generate("spheres", size=32, vf=0.3, seed=2).voxels
    assert all(c.periodic for c in ii.periodicity(vox))  # generated RVEs are periodic
    np.save(tmp_path / "p.npy", vox)
    assert not ii.import_image(ii.ImportConfig(tmp_path / "p.npy")).warnings
    res = ii.import_image(ii.ImportConfig(tmp_path / "p.npy", crop=((0, 21), (None, None), (None, None))))
    x = res.periodicity[0]
    assert not x.periodic and x.face_mismatch > ii.PERIODIC_FACTOR * x.interior_max
    assert any("not periodic along x" in w for w in res.warnings)


# --------------------------------------------------------------------------- bad files
def _corrupt_cases(labels, tmp_path):
    cases = {}  # case -> (file bytes, what the error must say)
    raw = _vti(tmp_path / "raw.vti", labels, fmt="appended").read_bytes()
    cases["vti truncated"] = raw[: len(raw) // 2], "truncated"
    z = _vti(tmp_path / "z.vti", labels, fmt="appended", compress=True).read_bytes()
    i = z.index(b'encoding="raw">\n_') + 60  # inside the compressed blocks
    cases["vti bad zlib"] = z[:i] + bytes(b ^ 0x5A for b in z[i:i + 30]) + z[i + 30:], "corrupt"
    cases["vti bad xml"] = b"<VTKFile type='ImageData'><ImageData", "not valid XML"
    cases["vti empty"] = b"", "is empty"
    rotated = raw.replace(b'Spacing="1 1 1"', b'Spacing="1 1 1" Direction="0 1 0 1 0 0 0 0 1"')
    cases["vti rotated"] = rotated, "rotated image"
    cases["vti not imagedata"] = b'<VTKFile type="UnstructuredGrid"></VTKFile>', "not a VTK XML ImageData"
    b64 = _vti(tmp_path / "b.vti", labels, fmt="binary").read_text()
    cases["vti bad base64"] = b64.replace('format="binary">\n', 'format="binary">\n!!').encode(), "base64"
    short = _vti(tmp_path / "a.vti", labels[:, :, :6].copy(), fmt="ascii").read_bytes()
    longer = short.replace(b'Extent="0 13 0 10 0 6"', b'Extent="0 13 0 10 0 7"')
    cases["vti short ascii"] = longer, "needs 910"
    return cases


def test_corrupt_and_truncated_files_give_one_line_errors(labels, tmp_path, capsys):
    cases = {k: (v, msg, ".vti") for k, (v, msg) in _corrupt_cases(labels, tmp_path).items()}
    tif = _tiff_stack(tmp_path / "t.tif", labels.astype(np.uint8), "pillow").read_bytes()
    cases["tiff truncated"] = (tif[: len(tif) // 3], "cannot read TIFF", ".tif")
    cases["tiff garbage"] = (b"II*\x00" + b"\xff" * 50, "TIFF", ".tif")
    cases["h5 garbage"] = (b"not an hdf5 file at all", "cannot read HDF5", ".h5")
    cases["npy garbage"] = (b"\x93NUMPY garbage", "cannot read microstructure", ".npy")
    for what, (data, msg, suffix) in cases.items():
        p = tmp_path / f"bad{suffix}"
        p.write_bytes(data)
        with pytest.raises(m.MicroError, match=msg) as err:
            ii.read_image(p)
        assert "\n" not in str(err.value), what
        assert main(["micro", "import", str(p), "--out", str(tmp_path / "o.npy")]) != 0, what
        out = capsys.readouterr()
        assert "Traceback" not in out.err and len(out.err.strip().splitlines()) == 1, (what, out.err)


def test_missing_inputs_are_one_line(tmp_path):
    for src, msg in [(tmp_path / "none.vti", "not found"), (tmp_path / "none.tif", "not found"),
                     (str(tmp_path / "none_*.tif"), "no TIFF slices match"),
                     (tmp_path, "is a directory with no TIFF slices")]:
        with pytest.raises(m.MicroError, match=msg):
            ii.read_image(src)


def test_missing_optional_package_names_it(tmp_path, monkeypatch):
    (tmp_path / "a.h5").write_bytes(b"x")
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(m.MicroError, match=r"pip install h5py"):
        ii.read_image(tmp_path / "a.h5")
    monkeypatch.setitem(sys.modules, "tifffile", None)
    monkeypatch.setitem(sys.modules, "PIL.Image", None)
    (tmp_path / "a.tif").write_bytes(b"x")
    with pytest.raises(m.MicroError, match=r"pip install tifffile"):
        ii.read_image(tmp_path / "a.tif")


# --------------------------------------------------------------------------- command line
def test_cli_import_writes_the_dmn_micro_convention(labels, tmp_path, capsys):
    grey = (np.choose(labels, [10, 120, 240])).astype(np.uint8)
    path = _vti(tmp_path / "scan.vti", grey.repeat(2, 0).repeat(2, 1).repeat(2, 2), fmt="appended",
                compress=True, vtk_type="UInt8")
    out = tmp_path / "m.npy"
    argv = ["micro", "import", str(path), "--threshold", "60", "180", "--downsample", "2", "--out", str(out),
            "--png", str(tmp_path / "m.png"), "--json"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    vox = np.load(out)
    assert vox.dtype == np.int32 and np.array_equal(vox, labels)
    assert info["params"]["volume_fractions"] == pytest.approx(np.bincount(labels.ravel()) / labels.size)
    assert json.loads(m.sidecar_path(out).read_text())["kind"] == "imported"
    assert (tmp_path / "m.png").stat().st_size > 0
    assert np.array_equal(m.load_voxels(out), labels)
    # labels mode reports the map in the text summary
    assert main(["micro", "import", str(path), "--labels", "--out", str(tmp_path / "l.npy")]) == 0
    text = capsys.readouterr().out
    assert "10 -> 0" in text and "240 -> 2" in text


def test_homogenize_accepts_a_vti_directly(tmp_path, capsys):
    vox = m.generate("spheres", size=8, vf=0.2, radius=2.0, seed=1).voxels
    path = _vti(tmp_path / "s.vti", vox, fmt="appended", compress=True)
    np.save(tmp_path / "s.npy", vox)
    res = []
    for f in (path, tmp_path / "s.npy"):
        assert main(["homogenize", str(f), "--phase", "elastic:E=1,nu=0.3", "--phase", "elastic:E=10,nu=0.2",
                     "--json"]) == 0
        res.append(json.loads(capsys.readouterr().out)["C"])
    assert np.array_equal(res[0], res[1])


def test_unsegmented_grey_image_is_flagged(tmp_path):
    grey = np.random.default_rng(1).integers(0, 200, (8, 9, 10), dtype=np.uint8)
    np.save(tmp_path / "g.npy", grey)
    res = ii.import_image(ii.ImportConfig(tmp_path / "g.npy"))  # integer grey values read as ids
    assert any("segment them with thresholds" in w for w in res.warnings)
    segmented = ii.import_image(ii.ImportConfig(tmp_path / "g.npy", thresholds=(100,)))
    assert not any("segment them" in w for w in segmented.warnings)


def test_non_cubic_vti_spacing_is_flagged(labels, tmp_path):
    path = _vti(tmp_path / "m.vti", labels, fmt="appended")
    path.write_bytes(path.read_bytes().replace(b'Spacing="1 1 1"', b'Spacing="1 1 2.5"'))
    res = ii.import_image(ii.ImportConfig(path))
    assert np.array_equal(res.voxels, labels) and any("not cubic" in w for w in res.warnings)
