"""Import a user's voxel image (micro-CT scan, other generators) as a phase-id microstructure.

Sources (chosen by the path):

* ``*.tif`` / ``*.tiff`` — a multi-page TIFF: page k is the slice z = k, its rows are y and its
  columns x (the ImageJ / micro-CT stack convention); a folder of single-page TIFFs or a glob
  (``"scan/slice_*.tif"``) is one stack, slices in natural order of the names (``s2`` < ``s10``).
  Needs ``tifffile`` (or Pillow).
* ``*.vti`` — VTK XML ImageData, one piece; a scalar PointData or CellData array (points or
  cells are the voxels); ``ascii``, inline ``binary`` (base64) and ``appended`` (raw or base64)
  data, uncompressed or ``vtkZLibDataCompressor`` / ``vtkLZMADataCompressor``; UInt32/UInt64
  headers, either byte order.  Read with the standard library and numpy (no vtk).
* ``*.h5`` / ``*.hdf5`` (``file.h5:/group/dataset``) — an HDF5 dataset (needs ``h5py``).
* ``*.npy`` — a numpy array.

Every reader returns the array in the convention of ``dmn micro`` (:mod:`.micro`): shape
(nx, ny, nz), voxel (i, j, k) at x = i, y = j, z = k.  ``.npy`` and HDF5 arrays are taken as
stored in that order unless ``axes`` names their order (e.g. ``"zyx"``).

:func:`import_image` then crops, segments grey values into phase ids 0..n-1 (thresholds, or
``labels``: distinct values → ids), downsamples by majority vote and checks the result like a
generated microstructure (phase ids, volume fractions, periodicity of opposite faces).
Failures raise :class:`~.micro.MicroError` with one line.
"""

from __future__ import annotations

import base64
import binascii
import glob
import importlib
import lzma
import os
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import open_regular
from .micro import MicroError, Microstructure, save_micro

__all__ = [
    "ImportConfig",
    "ImportResult",
    "PeriodicityCheck",
    "read_image",
    "import_image",
    "save_import",
    "parse_crop",
    "segment",
    "downsample",
    "volume_fractions",
    "periodicity",
    "MAX_LABELS",
]

TIFF_SUFFIXES = (".tif", ".tiff")
H5_SUFFIXES = (".h5", ".hdf5", ".hdf", ".he5")
MAX_LABELS = 256  # more distinct values than this under --labels: grey values, not labels
MANY_PHASES = 16  # more phases than this: warn (likely an unsegmented grey image)
PERIODIC_FACTOR = 1.5  # faces differ by more than this × the worst adjacent interior pair: warn
_H5_SPEC = re.compile(r"^(.*?\.(?:h5|hdf5|hdf|he5))(?::(.*))?$", re.IGNORECASE)
_VTK_TYPES = {
    "Int8": "i1", "UInt8": "u1", "Int16": "i2", "UInt16": "u2", "Int32": "i4", "UInt32": "u4",
    "Int64": "i8", "UInt64": "u8", "Float32": "f4", "Float64": "f8",
}
_FORMATS = ".npy, .tif/.tiff stack, folder or glob of TIFF slices, .vti, .h5/.hdf5[:/dataset]"
_VTK_COMPRESSORS = {"vtkZLibDataCompressor": zlib.decompress, "vtkLZMADataCompressor": lzma.decompress}


# --------------------------------------------------------------------------- config and result
@dataclass(frozen=True)
class ImportConfig:
    """What to import and how.

    source: file, folder of TIFF slices, glob, or ``file.h5:/dataset``.
    array: VTK array (``name``, ``PointData/name`` or ``CellData/name``) or HDF5 dataset path;
        ``None`` = the only scalar array / 3-D dataset in the file.
    axes: order of the stored axes of a ``.npy`` / HDF5 array (permutation of ``"xyz"``;
        default ``"xyz"``).
    thresholds: grey value T1 < T2 < ...: value < T1 → phase 0, T1 ≤ value < T2 → 1, ...
    labels: the image holds labels: its distinct values, ascending, become ids 0..n-1.
        Neither: the image must already hold integer phase ids ≥ 0 (kept as they are).
    crop: three (start, stop) voxel ranges along x, y, z (half-open, ``None`` = the edge),
        applied before segmentation.
    downsample: integer factor; each f×f×f block becomes its most frequent phase (ties: the
        lowest id).
    """

    source: str | Path
    array: str | None = None
    axes: str | None = None
    thresholds: Sequence[float] = ()
    labels: bool = False
    crop: Sequence[tuple[int | None, int | None]] | None = None
    downsample: int = 1


@dataclass(frozen=True)
class PeriodicityCheck:
    """Mismatch of the two opposite faces normal to ``axis`` (fractions of the face's voxels).

    face_mismatch: voxels whose phase differs between the first and the last slice.
    interior_mean / interior_max: the same between adjacent interior slices (the scale of a
    periodic neighbour pair).  ``periodic`` when face_mismatch ≤ PERIODIC_FACTOR·interior_max.
    """

    axis: str
    face_mismatch: float
    interior_mean: float
    interior_max: float

    @property
    def periodic(self) -> bool:
        return self.face_mismatch <= PERIODIC_FACTOR * self.interior_max + 1e-12


@dataclass
class ImportResult:
    """An imported microstructure.

    voxels: (nx, ny, nz) int32 phase ids 0..n-1 (the ``dmn micro`` convention).
    label_map: (image value, phase id) pairs under ``labels``; ``[]`` otherwise.
    volume_fractions_before: per phase, after crop and segmentation, before downsampling.
    volume_fractions: per phase, of ``voxels``.
    periodicity: one :class:`PeriodicityCheck` per axis x, y, z.
    warnings: one-line notes (non-periodic faces, absent phases, non-cubic voxels, ...).
    info: source description (path, format, array, raw dtype and shape, spacing, options).
    """

    voxels: np.ndarray
    label_map: list[tuple[float | int, int]]
    volume_fractions_before: list[float]
    volume_fractions: list[float]
    periodicity: list[PeriodicityCheck]
    warnings: list[str] = field(default_factory=list)
    info: dict = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.voxels.shape)

    def metadata(self) -> dict:
        """JSON-ready description (stored as ``params`` of the ``.json`` sidecar)."""
        return dict(
            self.info,
            shape=list(self.shape),
            phases=len(self.volume_fractions),
            label_map=[[v, i] for v, i in self.label_map],
            volume_fractions_before=self.volume_fractions_before,
            volume_fractions=self.volume_fractions,
            periodicity={
                p.axis: {"face_mismatch": p.face_mismatch, "interior_mean": p.interior_mean,
                         "interior_max": p.interior_max, "periodic": p.periodic}
                for p in self.periodicity
            },
            warnings=list(self.warnings),
        )

    def microstructure(self) -> Microstructure:
        """As a :class:`~.micro.Microstructure` of kind ``imported`` (target = achieved phase-1 fraction)."""
        vf1 = self.volume_fractions[1] if len(self.volume_fractions) > 1 else 0.0
        return Microstructure(self.voxels, "imported", vf1, self.metadata(), None)


# --------------------------------------------------------------------------- helpers
def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _need(module: str, pip: str, what: str):
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MicroError(f"reading {what} needs the Python package {pip!r} (pip install {pip})") from None


def _natural_key(p: Path) -> list:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", p.name)]


def _kind(source: str) -> tuple[str, str, str | None]:
    """(format, path, h5 dataset from the path) of a source string."""
    p = Path(source)
    if p.is_dir():
        return "tiff-folder", source, None
    if any(c in source for c in "*?[") and not p.exists():
        return "tiff-glob", source, None
    m = _H5_SPEC.match(source)
    if m and (m.group(2) is not None or not p.exists() or p.suffix.lower() in H5_SUFFIXES):
        return "hdf5", m.group(1), m.group(2) or None
    suffix = p.suffix.lower()
    if suffix in TIFF_SUFFIXES:
        return "tiff", source, None
    if suffix == ".vti":
        return "vti", source, None
    return "npy", source, None  # .npy, or a numpy file by another name (np.load says if it is not)


def _read_regular(path: str, what: str) -> bytes:
    fd = open_regular(path, what, MicroError)
    try:
        with os.fdopen(fd, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise MicroError(f"cannot read {what} {path!r}: {_one_line(exc)}") from None


# --------------------------------------------------------------------------- readers
def _read_npy(path: str) -> np.ndarray:
    fd = open_regular(path, "microstructure file", MicroError)
    try:
        with os.fdopen(fd, "rb") as fh:
            return np.load(fh, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        hint = "" if path.lower().endswith(".npy") else f" (supported: {_FORMATS})"
        raise MicroError(f"cannot read microstructure {path!r}: {_one_line(exc)}{hint}") from None


def _tiff_pages(path: str) -> list[np.ndarray]:
    """The 2-D pages (rows = y, columns = x) of one TIFF file, tifffile or else Pillow."""
    os.close(open_regular(path, "TIFF file", MicroError))
    try:
        import tifffile
    except ImportError:
        tifffile = None
    try:
        if tifffile is not None:
            with tifffile.TiffFile(path) as tif:
                pages = [np.asarray(pg.asarray()) for pg in tif.pages]
        else:
            image = _need("PIL.Image", "tifffile", "TIFF files")
            from PIL import ImageSequence

            with image.open(path) as im:
                pages = [np.array(pg) for pg in ImageSequence.Iterator(im)]
    except MicroError:
        raise
    except Exception as exc:  # noqa: BLE001 - corrupt or truncated file
        raise MicroError(f"cannot read TIFF {path!r}: {_one_line(exc)}") from None
    if not pages:
        raise MicroError(f"TIFF {path!r} holds no image")
    for k, pg in enumerate(pages):
        if pg.ndim != 2:
            raise MicroError(
                f"TIFF {path!r} page {k} has shape {pg.shape}: only single-channel (grey) pages are supported"
            )
        if pg.shape != pages[0].shape or pg.dtype != pages[0].dtype:
            raise MicroError(
                f"TIFF {path!r} page {k} is {pg.dtype} {pg.shape}, "
                f"page 0 is {pages[0].dtype} {pages[0].shape}"
            )
    return pages


def _stack(pages: list[np.ndarray]) -> np.ndarray:
    """Pages (ny, nx) as slices z → (nx, ny, nz)."""
    return np.ascontiguousarray(np.stack(pages, axis=0).transpose(2, 1, 0))


def _read_tiff_files(files: list[Path], source: str) -> np.ndarray:
    if not files:
        if Path(source).is_dir():
            raise MicroError(
                f"microstructure file {source!r} is a directory with no TIFF slices (*.tif, *.tiff)"
            )
        raise MicroError(f"no TIFF slices match {source!r}")
    pages = []
    for f in files:
        pg = _tiff_pages(str(f))
        if len(pg) != 1:
            raise MicroError(f"slice {str(f)!r} of {source!r} has {len(pg)} pages, expected one")
        if pages and (pg[0].shape != pages[0].shape or pg[0].dtype != pages[0].dtype):
            raise MicroError(
                f"slice {str(f)!r} is {pg[0].dtype} {pg[0].shape}, the first slice {str(files[0])!r} "
                f"is {pages[0].dtype} {pages[0].shape}"
            )
        pages.append(pg[0])
    return _stack(pages)


def _read_h5(path: str, dataset: str | None) -> tuple[np.ndarray, str]:
    h5py = _need("h5py", "h5py", "HDF5 files")
    os.close(open_regular(path, "HDF5 file", MicroError))
    try:
        with h5py.File(path, "r") as f:
            if dataset is None:
                found: list[str] = []
                f.visititems(lambda n, o: found.append("/" + n) if isinstance(o, h5py.Dataset)
                             and o.ndim == 3 else None)
                if len(found) != 1:
                    listing = ", ".join(found[:10]) or "none"
                    raise MicroError(
                        f"HDF5 {path!r} holds {len(found)} 3-D datasets ({listing}): name one as "
                        f"{path}:/DATASET or with --array"
                    )
                dataset = found[0]
            obj = f.get(dataset)
            if obj is None:
                raise MicroError(f"HDF5 {path!r} has no dataset {dataset!r}")
            if not isinstance(obj, h5py.Dataset):
                raise MicroError(f"HDF5 {path!r}: {dataset!r} is a group, not a dataset")
            return np.asarray(obj[()]), dataset
    except MicroError:
        raise
    except Exception as exc:  # noqa: BLE001 - not HDF5, truncated, unreadable
        raise MicroError(f"cannot read HDF5 {path!r}: {_one_line(exc)}") from None


def _b64(text: str, where: str) -> bytes:
    """Decode base64 that may be several padded streams written one after the other (VTK encodes
    the block header and the data separately)."""
    try:
        return b"".join(base64.b64decode(p, validate=True) for p in re.split(r"(?<==)(?=[^=])", text) if p)
    except (binascii.Error, ValueError) as exc:
        raise MicroError(f"{where}: bad base64 data ({_one_line(exc)})") from None


def _vtk_blocks(buf: bytes, htype: np.dtype, decompress, where: str) -> bytes:
    """The payload of one VTK binary data block (header + data, optionally compressed blocks)."""
    hs = htype.itemsize

    def need(n: int) -> None:
        if n > len(buf):
            raise MicroError(f"{where}: data truncated (needs {n} bytes, {len(buf)} present)")

    if decompress is None:
        need(hs)
        n = int(np.frombuffer(buf[:hs], htype)[0])
        need(hs + n)
        return buf[hs:hs + n]
    need(3 * hs)
    nb, bs, last = (int(x) for x in np.frombuffer(buf[: 3 * hs], htype))
    need((3 + nb) * hs)
    sizes = np.frombuffer(buf[3 * hs:(3 + nb) * hs], htype).astype(np.int64)
    pos = (3 + nb) * hs
    need(pos + int(sizes.sum()))
    out = []
    for k, s in enumerate(sizes):
        try:
            block = decompress(buf[pos:pos + int(s)])
        except (zlib.error, lzma.LZMAError) as exc:
            raise MicroError(f"{where}: compressed block {k} is corrupt ({_one_line(exc)})") from None
        expect = last if (k == nb - 1 and last) else bs
        if len(block) != expect:
            raise MicroError(f"{where}: block {k} holds {len(block)} bytes, its header says {expect}")
        out.append(block)
        pos += int(s)
    return b"".join(out)


def _read_vti(path: str, array: str | None) -> tuple[np.ndarray, str, list[float]]:
    """(voxels (nx, ny, nz), the array's "PointData/name", spacing) of a VTK XML ImageData file."""
    data = _read_regular(path, "VTK file")
    name = repr(path)
    if not data.strip():
        raise MicroError(f"VTK file {name} is empty")
    appended, app_enc = None, None
    i = data.find(b"<AppendedData")
    if i >= 0:
        j = data.find(b">", i)
        u = data.find(b"_", j)
        if j < 0 or u < 0 or data[j + 1:u].strip():
            raise MicroError(f"VTK file {name}: malformed <AppendedData> (no '_' marker)")
        m = re.search(rb'encoding\s*=\s*"(\w+)"', data[i:j])
        app_enc = m.group(1).decode() if m else "raw"
        appended = data[u + 1:]
        data = data[:i] + b"</VTKFile>"
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise MicroError(f"VTK file {name} is not valid XML ({_one_line(exc)})") from None
    if root.tag != "VTKFile" or root.get("type") != "ImageData":
        raise MicroError(f"{name} is not a VTK XML ImageData file (VTKFile type={root.get('type')!r})")
    order = {"LittleEndian": "<", "BigEndian": ">"}.get(root.get("byte_order", "LittleEndian"))
    htype = {"UInt32": "u4", "UInt64": "u8"}.get(root.get("header_type", "UInt32"))
    comp = root.get("compressor", "")
    if order is None or htype is None:
        raise MicroError(f"VTK file {name}: unsupported byte_order/header_type "
                         f"{root.get('byte_order')!r}/{root.get('header_type')!r}")
    if comp and comp not in _VTK_COMPRESSORS:
        raise MicroError(f"VTK file {name}: compressor {comp!r} is not supported "
                         f"(use {' or '.join(_VTK_COMPRESSORS)}, or none)")
    decompress = _VTK_COMPRESSORS.get(comp)
    htype = np.dtype(order + htype)
    img = root.find("ImageData")
    pieces = [] if img is None else img.findall("Piece")
    if len(pieces) != 1:
        raise MicroError(f"VTK file {name} has {len(pieces)} pieces; exactly one is supported")
    try:
        ext = [int(v) for v in (pieces[0].get("Extent") or img.get("WholeExtent")).split()]
        spacing = [float(v) for v in (img.get("Spacing") or "1 1 1").split()]
        direction = [float(v) for v in (img.get("Direction") or "1 0 0 0 1 0 0 0 1").split()]
    except (AttributeError, ValueError):
        raise MicroError(f"VTK file {name}: missing or bad Extent/Spacing") from None
    if direction != [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0]:
        d = " ".join(f"{v:g}" for v in direction)
        raise MicroError(f"VTK file {name}: a rotated image (Direction {d}) is not supported; "
                         "resample it onto the x, y, z axes")
    if len(ext) != 6 or any(ext[2 * k + 1] < ext[2 * k] for k in range(3)):
        raise MicroError(f"VTK file {name}: bad extent {ext}")
    points = [ext[2 * k + 1] - ext[2 * k] + 1 for k in range(3)]
    arrays = {f"{sec}/{da.get('Name')}": (sec, da) for sec in ("PointData", "CellData")
              for s in pieces[0].findall(sec) for da in s.findall("DataArray")}
    if array is None:
        scalar = [k for k, (_, da) in arrays.items() if int(da.get("NumberOfComponents", "1")) == 1]
        if len(scalar) != 1:
            raise MicroError(f"VTK file {name} holds {len(scalar)} scalar arrays "
                             f"({', '.join(scalar) or 'none'}): choose one with --array")
        key = scalar[0]
    else:
        keys = [k for k in arrays if array in (k, k.split("/", 1)[1])]
        if len(keys) != 1:
            what = "no" if not keys else "several"
            raise MicroError(
                f"VTK file {name} has {what} array {array!r} (arrays: {', '.join(arrays) or 'none'})"
            )
        key = keys[0]
    sec, da = arrays[key]
    dims = points if sec == "PointData" else [max(n - 1, 1) for n in points]
    ncomp = int(da.get("NumberOfComponents", "1"))
    if ncomp != 1:
        raise MicroError(f"VTK array {key!r} of {name} has {ncomp} components; a scalar array is needed")
    vtype = _VTK_TYPES.get(da.get("type", ""))
    if vtype is None:
        raise MicroError(f"VTK array {key!r} of {name}: unsupported type {da.get('type')!r}")
    where = f"VTK array {key!r} of {name}"
    fmt = da.get("format", "ascii")
    if fmt == "ascii":
        try:
            arr = np.array((da.text or "").split(), dtype=vtype)
        except (ValueError, OverflowError) as exc:
            raise MicroError(f"{where}: bad ascii value ({_one_line(exc)})") from None
    else:
        if fmt == "binary":
            buf = _b64("".join((da.text or "").split()), where)
        elif fmt == "appended":
            if appended is None:
                raise MicroError(f"{where} is appended but the file has no <AppendedData>")
            try:
                off = int(da.get("offset"))
            except (TypeError, ValueError):
                raise MicroError(f"{where}: missing or bad offset") from None
            if app_enc == "raw":
                if not 0 <= off <= len(appended):
                    raise MicroError(f"{where}: offset {off} beyond the appended data (truncated file?)")
                buf = appended[off:]
            elif app_enc == "base64":
                text = appended.split(b"</AppendedData>")[0].decode("ascii", "replace")
                text = "".join(text.split())
                later = [int(d.get("offset")) for _, d in arrays.values()
                         if d.get("format") == "appended" and int(d.get("offset", -1)) > off]
                buf = _b64(text[off:min(later, default=len(text))], where)
            else:
                raise MicroError(f"VTK file {name}: AppendedData encoding {app_enc!r} is not supported")
        else:
            raise MicroError(f"{where}: unknown format {fmt!r}")
        payload = _vtk_blocks(buf, htype, decompress, where)
        itemsize = np.dtype(vtype).itemsize
        if len(payload) % itemsize:
            raise MicroError(
                f"{where}: {len(payload)} bytes is not a whole number of {da.get('type')} values"
            )
        arr = np.frombuffer(payload, dtype=np.dtype(order + vtype)).astype(vtype)
    n = int(np.prod(dims))
    if arr.size != n:
        raise MicroError(f"{where} holds {arr.size} values, its {sec} extent {dims} needs {n}")
    vox = np.ascontiguousarray(arr.reshape(dims[::-1]).transpose(2, 1, 0))  # VTK: x fastest
    return vox, key, spacing


def read_image(
    source: str | Path, array: str | None = None, axes: str | None = None
) -> tuple[np.ndarray, dict]:
    """Read an image file/stack → (array (nx, ny, nz) of its stored dtype, info dict).

    info: ``source``, ``format`` (tiff, tiff-folder, tiff-glob, vti, hdf5, npy), ``array`` (VTK
    array or HDF5 dataset used), ``raw_dtype``, ``spacing`` (VTK only, else ``None``).
    See the module docstring for the sources; ``array`` and ``axes`` as in :class:`ImportConfig`.
    """
    source = str(source)
    fmt, path, h5_ds = _kind(source)
    if axes is not None and fmt not in ("npy", "hdf5"):
        raise MicroError(f"axes applies to .npy and HDF5 arrays only; {fmt} fixes its own axis order")
    if array is not None and fmt not in ("vti", "hdf5"):
        raise MicroError(f"an array name applies to .vti and HDF5 files only, not {fmt}")
    info: dict = {"source": source, "format": fmt, "array": None, "spacing": None}
    if fmt == "tiff":
        arr = _stack(_tiff_pages(path))
    elif fmt == "tiff-folder":
        files = sorted((f for f in Path(path).iterdir() if f.suffix.lower() in TIFF_SUFFIXES and f.is_file()),
                       key=_natural_key)
        arr = _read_tiff_files(files, source)
    elif fmt == "tiff-glob":
        files = sorted((Path(f) for f in glob.glob(path) if Path(f).is_file()), key=_natural_key)
        arr = _read_tiff_files(files, source)
    elif fmt == "vti":
        arr, info["array"], info["spacing"] = _read_vti(path, array)
    elif fmt == "hdf5":
        if h5_ds is not None and array is not None and h5_ds != array:
            raise MicroError(f"two HDF5 datasets named: {h5_ds!r} in the path and {array!r}")
        arr, info["array"] = _read_h5(path, h5_ds or array)
    else:
        arr = _read_npy(path)
    if arr.ndim != 3:
        raise MicroError(f"image {source!r} must be 3-D (nx, ny, nz), got shape {arr.shape}")
    if axes is not None:
        if sorted(str(axes).lower()) != ["x", "y", "z"]:
            raise MicroError(f"axes must be a permutation of 'xyz', got {axes!r}")
        arr = np.ascontiguousarray(arr.transpose([str(axes).lower().index(c) for c in "xyz"]))
    info["raw_dtype"] = str(arr.dtype)
    return arr, info


# --------------------------------------------------------------------------- processing steps
def parse_crop(text: str) -> tuple[tuple[int | None, int | None], ...]:
    """``"x0:x1,y0:y1,z0:z1"`` (empty ends allowed, e.g. ``":,10:50,:"``) → three (start, stop)."""
    parts = str(text).split(",")
    if len(parts) != 3:
        raise MicroError(f"crop must be x0:x1,y0:y1,z0:z1 (three ranges), got {text!r}")
    out = []
    for p in parts:
        ends = p.split(":")
        if len(ends) != 2:
            raise MicroError(f"crop range {p!r} must be start:stop, in {text!r}")
        try:
            out.append(tuple(int(e) if e.strip() else None for e in ends))
        except ValueError:
            raise MicroError(f"crop range {p!r} must hold integers, in {text!r}") from None
    return tuple(out)


def _crop(arr: np.ndarray, crop) -> np.ndarray:
    if crop is None:
        return arr
    if len(crop) != 3:
        raise MicroError(f"crop needs three (start, stop) ranges, got {crop!r}")
    sl = []
    for (a, b), n, ax in zip(crop, arr.shape, "xyz"):
        a = 0 if a is None else int(a)
        b = n if b is None else int(b)
        if not 0 <= a < b <= n:
            raise MicroError(f"crop {ax} range {a}:{b} is empty or outside 0:{n}")
        sl.append(slice(a, b))
    return np.ascontiguousarray(arr[tuple(sl)])


def segment(arr: np.ndarray, thresholds: Sequence[float] = (), labels: bool = False
            ) -> tuple[np.ndarray, list[tuple[float | int, int]]]:
    """Grey values or labels → (int32 phase ids of arr's shape, label map).

    thresholds T1 < ... < Tm: id = number of thresholds ≤ value (ids 0..m).  labels: distinct
    values ascending → 0..n-1, map = [(value, id)].  Neither: integer ids ≥ 0 kept.
    """
    t = [float(x) for x in thresholds]
    if t and labels:
        raise MicroError("give thresholds or labels, not both")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise MicroError("the image holds NaN or infinite values")
    if t:
        if not all(np.isfinite(t)) or any(b <= a for a, b in zip(t, t[1:])):
            raise MicroError(f"thresholds must be finite and strictly increasing, got {t}")
        return np.searchsorted(np.asarray(t), arr, side="right").astype(np.int32), []
    if labels:
        values, inverse = np.unique(arr, return_inverse=True)
        if values.size > MAX_LABELS:
            raise MicroError(f"the image holds {values.size} distinct values (> {MAX_LABELS}): these are "
                             "grey values, not labels; segment them with thresholds")
        return inverse.reshape(arr.shape).astype(np.int32), [(v.item(), i) for i, v in enumerate(values)]
    if arr.dtype.kind == "b":
        return arr.astype(np.int32), []
    if arr.dtype.kind not in "iu":
        raise MicroError(f"the image holds grey values ({arr.dtype}), not phase ids: give thresholds "
                         "(--threshold T ...) or labels (--labels)")
    if arr.size and arr.min() < 0:
        raise MicroError("the image holds negative values, not phase ids: map them with labels (--labels)")
    if arr.size and arr.max() > np.iinfo(np.int32).max:
        raise MicroError("the image holds ids beyond int32: map them with labels (--labels)")
    return arr.astype(np.int32), []


def downsample(ids: np.ndarray, factor: int) -> np.ndarray:
    """(nx, ny, nz) phase ids → (nx/f, ny/f, nz/f): each f³ block's most frequent id (ties: lowest)."""
    f = int(factor)
    if f != factor or f < 1:
        raise MicroError(f"downsample factor must be a positive integer, got {factor}")
    if f == 1:
        return ids
    if any(n % f for n in ids.shape):
        raise MicroError(f"downsample factor {f} does not divide the shape {tuple(ids.shape)}; "
                         "crop to a multiple of it first")
    out_shape = tuple(n // f for n in ids.shape)
    blocks = ids.reshape(out_shape[0], f, out_shape[1], f, out_shape[2], f)
    best = np.zeros(out_shape, dtype=np.int32)
    best_count = np.full(out_shape, -1, dtype=np.int64)
    for p in range(int(ids.max()) + 1):
        count = np.count_nonzero(blocks == p, axis=(1, 3, 5))
        better = count > best_count
        best[better] = p
        best_count[better] = count[better]
    return best


def volume_fractions(ids: np.ndarray, n: int | None = None) -> list[float]:
    """Fraction of voxels per phase id 0..n-1 (n default max id + 1)."""
    n = int(ids.max()) + 1 if n is None else n
    return [float(c) / ids.size for c in np.bincount(ids.reshape(-1), minlength=n)[:n]]


def periodicity(ids: np.ndarray) -> list[PeriodicityCheck]:
    """Face mismatch along x, y, z of a voxel array (see :class:`PeriodicityCheck`)."""
    out = []
    for ax, name in enumerate("xyz"):
        n = ids.shape[ax]
        if n < 3:  # the only neighbour pair is the face pair itself
            out.append(PeriodicityCheck(name, 0.0, 0.0, 0.0))
            continue
        other = tuple(k for k in range(3) if k != ax)
        face = float(np.mean(ids.take(0, axis=ax) != ids.take(n - 1, axis=ax)))
        adj = np.mean(np.diff(ids, axis=ax) != 0, axis=other)
        out.append(PeriodicityCheck(name, face, float(adj.mean()), float(adj.max())))
    return out


# --------------------------------------------------------------------------- the entry point
def import_image(cfg: ImportConfig) -> ImportResult:
    """Read, crop, segment, downsample and check an image (see :class:`ImportConfig`)."""
    raw, info = read_image(cfg.source, cfg.array, cfg.axes)
    info["raw_shape"] = list(raw.shape)
    cropped = _crop(raw, cfg.crop)
    ids, label_map = segment(cropped, cfg.thresholds, cfg.labels)
    n = len(cfg.thresholds) + 1 if cfg.thresholds else int(ids.max()) + 1
    before = volume_fractions(ids, n)
    vox = downsample(ids, cfg.downsample)
    after = volume_fractions(vox, n)
    checks = periodicity(vox)
    info.update(
        crop=None if cfg.crop is None else [list(r) for r in cfg.crop],
        thresholds=[float(t) for t in cfg.thresholds],
        labels=bool(cfg.labels),
        downsample=int(cfg.downsample),
        axes=cfg.axes,
    )
    warnings = []
    absent = [p for p, v in enumerate(after) if v == 0.0]
    if absent:
        warnings.append(f"phase id(s) {', '.join(map(str, absent))} absent: the ids are not 0..{n - 1} "
                        "all present" + ("" if cfg.thresholds or cfg.labels else " (--labels maps them)"))
    if n < 2:
        warnings.append("only one phase: nothing to homogenize")
    if n > MANY_PHASES:
        warnings.append(f"{n} phases: if the image holds grey values, segment them with thresholds "
                        "(--threshold)")
    sp = info["spacing"]
    if sp is not None and (len(sp) != 3 or max(sp) > min(sp) * (1 + 1e-6)):
        warnings.append(f"voxels are not cubic (spacing {sp}); the FFT solver treats them as cubes")
    for c in checks:
        if not c.periodic:
            m = vox.shape["xyz".index(c.axis)] - 1
            warnings.append(
                f"not periodic along {c.axis}: {c.face_mismatch:.1%} of the voxels differ between the faces "
                f"{c.axis}=0 and {c.axis}={m} (adjacent interior slices: at most {c.interior_max:.1%}); "
                "the FFT solver treats the image as a periodic RVE"
            )
    return ImportResult(vox, label_map, before, after, checks, warnings, info)


def save_import(result: ImportResult, path: str | Path, png: str | Path | None = None) -> dict:
    """Write the voxels (.npy, int32 (nx, ny, nz)) and the ``.json`` sidecar like ``dmn micro``
    (kind ``imported``, the import description as ``params``); optionally the mid-plane PNG."""
    return save_micro(result.microstructure(), path, png=png)
