"""``dmn micro spheres|short-fibres|long-fibres|laminate`` — write a periodic voxel microstructure;
``dmn micro import`` — a user's image (TIFF stack, .vti, HDF5, .npy) as one (docs/data.md §1).

dmn micro spheres --size 32 --vf 0.2 --seed 1 [--radius R | --count N] --out m.npy [--png m.png] [--json]
dmn micro short-fibres --size 48 --vf 0.15 --aspect 8 --radius 1.5 --out f.npy
                 [--a2 a11,a22,a33,a23,a13,a12 | --eig l1,l2[,l3] [--axes e1x,e1y,e1z,e2x,e2y,e2z]]
dmn micro import scan.tif [--threshold T ... | --labels] [--crop x0:x1,y0:y1,z0:z1] [--downsample F]
                 --out m.npy [--png m.png] [--json]
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

from ..cliutil import CLIError, check_outputs, emit_json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "micro",
        help="generate a periodic voxel microstructure (.npy)",
        description="Generate a periodic two-phase voxel microstructure: 0 = matrix, 1 = inclusion. "
        "Lengths (--radius, --gap) are in voxels. Writes FILE.npy and a FILE.json metadata sidecar.",
    )
    kinds = p.add_subparsers(dest="micro_kind", metavar="KIND")
    specs = {
        "spheres": "random non-overlapping spheres",
        "short-fibres": "random non-overlapping short fibres (cylinders)",
        "long-fibres": "unidirectional continuous fibres (periodic circles extruded along --axis)",
        "laminate": "two-layer laminate with layer normal --axis",
    }
    for kind, helptext in specs.items():
        q = kinds.add_parser(kind, help=helptext, description=helptext)
        q.add_argument("--size", type=int, default=32, help="voxels per side (default 32)")
        q.add_argument("--size-x", type=int, default=None, help="override nx")
        q.add_argument("--size-y", type=int, default=None, help="override ny")
        q.add_argument("--size-z", type=int, default=None, help="override nz")
        q.add_argument("--vf", type=float, required=True, help="target inclusion volume fraction in (0, 1)")
        q.add_argument("--out", required=True, help="output voxel file (.npy)")
        q.add_argument("--png", default=None, help="also write a PNG of three mid-plane slices")
        q.add_argument("--json", action="store_true", help="print only a JSON summary on stdout")
        if kind != "laminate":
            q.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
            q.add_argument("--radius", type=float, default=None, help="inclusion radius in voxels")
            q.add_argument("--gap", type=float, default=0.0, help="minimum surface distance (voxels)")
        if kind == "spheres":
            q.add_argument("--count", type=int, default=None, help="number of spheres (sets the radius)")
        if kind == "short-fibres":
            q.add_argument("--aspect", type=float, default=5.0, help="length / diameter (default 5)")
            q.add_argument(
                "--orientation",
                choices=("aligned", "random", "planar", "tensor"),
                default=None,
                help="aligned along --axis, isotropic random, random in the plane normal to --axis, or "
                "tensor: the orientation tensor of --a2 or --eig/--axes (default: tensor when one is "
                "given, else aligned)",
            )
            a2 = q.add_mutually_exclusive_group()
            a2.add_argument("--a2", default=None, metavar="a11,a22,a33,a23,a13,a12",
                            help="second-order fibre orientation tensor A2 (symmetric, trace 1, "
                            "positive semidefinite)")
            a2.add_argument("--eig", default=None, metavar="l1,l2[,l3]",
                            help="A2 eigenvalues, a point of the orientation triangle (>= 0, sum 1; "
                            "l3 = 1 - l1 - l2 if omitted)")
            q.add_argument("--axes", default=None, metavar="e1x,e1y,e1z,e2x,e2y,e2z",
                           help="principal directions of l1 and l2 for --eig (e3 = e1 x e2; default x, y)")
            q.add_argument("--ends", choices=("round", "flat"), default="round", help="fibre end caps")
        if kind in ("short-fibres", "long-fibres", "laminate"):
            default_axis = {"short-fibres": "x", "long-fibres": "z", "laminate": "x"}[kind]
            q.add_argument(
                "--axis",
                choices=("x", "y", "z"),
                default=default_axis,
                help=f"fibre direction / layer normal (default {default_axis})",
            )
        if kind == "laminate":
            q.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)  # accepted, unused
        q.set_defaults(func=_run)
    _register_import(kinds)


def _register_import(kinds) -> None:
    helptext = "import a voxel image (TIFF stack, .vti, HDF5, .npy) as phase ids"
    q = kinds.add_parser(
        "import",
        help=helptext,
        description=helptext + ": read, crop, segment grey values (--threshold) or map label values "
        "(--labels) to phase ids 0..n-1, downsample by majority vote, check the periodicity of opposite "
        "faces, and write FILE.npy ((nx, ny, nz) int32, as the generators) with its .json sidecar.",
    )
    q.add_argument("image", metavar="FILE", help="multi-page .tif/.tiff, folder or glob of TIFF slices "
                   "(z order = natural order of the names), .vti, .h5/.hdf5[:/dataset] or .npy")
    q.add_argument("--array", default=None, metavar="NAME",
                   help="VTK array (NAME, PointData/NAME or CellData/NAME) or HDF5 dataset path")
    q.add_argument("--axes", default=None, metavar="ORDER",
                   help="stored axis order of a .npy/HDF5 array, e.g. zyx (default xyz)")
    seg = q.add_mutually_exclusive_group()
    seg.add_argument("--threshold", type=float, nargs="+", default=[], metavar="T",
                     help="grey-value thresholds T1 < T2 ...: value < T1 -> phase 0, "
                     "T1 <= value < T2 -> 1, ...")
    seg.add_argument("--labels", action="store_true",
                     help="the image holds labels: its distinct values, ascending, become phase ids 0..n-1")
    q.add_argument("--crop", default=None, metavar="x0:x1,y0:y1,z0:z1",
                   help="keep voxels x0 <= x < x1, ... (an empty end is the edge), before segmentation")
    q.add_argument("--downsample", type=int, default=1, metavar="F",
                   help="integer factor: each FxFxF block becomes its most frequent phase")
    q.add_argument("--out", required=True, help="output voxel file (.npy)")
    q.add_argument("--png", default=None, help="also write a PNG of three mid-plane slices")
    q.add_argument("--json", action="store_true", help="print only a JSON summary on stdout")
    q.set_defaults(func=_run_import)


def _run_import(args) -> int:
    """``dmn micro import``: a thin layer over :func:`dmn_umat.rve.image_import.import_image`."""
    from . import image_import as ii
    from . import micro as m

    for t in args.threshold:
        if not math.isfinite(t):
            raise CLIError(f"--threshold must be a finite number, got {t}")
    out = Path(args.out)
    if out.suffix != ".npy":
        raise CLIError(f"--out must name a .npy file, got {args.out!r}")
    check_outputs({"FILE": args.image}, {"--out": out, "its .json sidecar": m.sidecar_path(out),
                                         "--png": args.png})
    try:
        crop = None if args.crop is None else ii.parse_crop(args.crop)
        cfg = ii.ImportConfig(args.image, array=args.array, axes=args.axes, thresholds=tuple(args.threshold),
                              labels=args.labels, crop=crop, downsample=args.downsample)
        res = ii.import_image(cfg)
        meta = ii.save_import(res, out, png=args.png)
    except m.MicroError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot write {args.out!r}: {exc}") from None
    for w in res.warnings:
        print(f"warning: {w}", file=sys.stderr)
    if args.json:
        emit_json(dict(meta, out=str(out), sidecar=str(m.sidecar_path(out)), png=args.png))
        return 0
    info = res.info
    src = f"{info['format']}" + (f" {info['array']}" if info["array"] else "")
    raw = "x".join(map(str, info["raw_shape"]))
    print(f"imported {args.image} ({src}, {info['raw_dtype']} {raw}) -> {out}: "
          f"{'x'.join(map(str, res.shape))} voxels, {len(res.volume_fractions)} phases")
    if res.label_map:
        print("  label map: " + _first(f"{v} -> {i}" for v, i in res.label_map))
    fr = _first(f"{v:.4f}" for v in res.volume_fractions)
    before = _first(f"{v:.4f}" for v in res.volume_fractions_before)
    print(f"  volume fractions: {fr}" + (f" (before downsampling: {before})" if args.downsample > 1 else ""))
    print("  periodicity (faces differ / adjacent interior slices differ at most): " + ", ".join(
        f"{c.axis} {c.face_mismatch:.3f}/{c.interior_max:.3f}" for c in res.periodicity))
    return 0


def _run(args) -> int:
    from . import micro as m

    if not args.micro_kind:
        raise CLIError("choose a microstructure kind: " + ", ".join(m.KINDS))
    for name in ("vf", "radius", "gap", "aspect"):
        v = getattr(args, name, None)
        if v is not None and not math.isfinite(v):
            raise CLIError(f"--{name} must be a finite number, got {v}")
    out = Path(args.out)
    if out.suffix != ".npy":
        raise CLIError(f"--out must name a .npy file, got {args.out!r}")
    check_outputs({}, {"--out": out, "its .json sidecar": m.sidecar_path(out), "--png": args.png})
    opts = {k: getattr(args, k) for k in ("seed", "radius", "count", "gap", "aspect", "orientation",
                                          "axis", "ends") if hasattr(args, k)}
    try:
        if args.micro_kind == "short-fibres":
            opts["a2"] = _orientation_tensor(args)
        micro = m.generate(args.micro_kind, args.size, args.vf, size_x=args.size_x, size_y=args.size_y,
                           size_z=args.size_z, **opts)
        meta = m.save_micro(micro, out, png=args.png)
    except m.MicroError as exc:
        raise CLIError(str(exc)) from None
    except OSError as exc:
        raise CLIError(f"cannot write {args.out!r}: {exc}") from None
    meta = dict(meta, out=str(out), sidecar=str(m.sidecar_path(out)), png=args.png)
    if args.json:
        emit_json(meta)
    else:
        nx, ny, nz = micro.shape
        count = "" if micro.count is None else f", {micro.count} inclusions"
        print(
            f"{micro.kind}: {nx}x{ny}x{nz} voxels{count}, volume fraction {micro.volume_fraction:.4f} "
            f"(target {micro.target_volume_fraction:.4f}) -> {out}"
        )
        if micro.params.get("a2_realized") is not None:
            fmt = ", ".join
            print(f"  orientation tensor A2 (a11,a22,a33,a23,a13,a12): target "
                  f"{fmt(f'{v:.4f}' for v in micro.params['a2'])}, realised "
                  f"{fmt(f'{v:.4f}' for v in micro.params['a2_realized'])} "
                  f"(max difference {micro.params['a2_error']:.4f})")
    return 0


def _numbers(text: str, option: str, counts: tuple[int, ...]) -> list[float]:
    """Comma-separated finite numbers; their count must be one of ``counts``."""
    try:
        vals = [float(t) for t in text.split(",")]
    except ValueError:
        raise CLIError(f"{option} takes comma-separated numbers, got {text!r}") from None
    if len(vals) not in counts or not all(math.isfinite(v) for v in vals):
        want = " or ".join(map(str, counts))
        raise CLIError(f"{option} takes {want} finite comma-separated numbers, got {text!r}")
    return vals


def _orientation_tensor(args):
    """A2 (3, 3) from --a2 or --eig/--axes, or None when neither is given."""
    from . import orientation as orient

    if args.axes is not None and args.eig is None:
        raise CLIError("--axes goes with --eig (the principal directions of its eigenvalues)")
    if args.a2 is not None:
        return orient.parse_a2(_numbers(args.a2, "--a2", (6,)))
    if args.eig is None:
        return None
    axes = None
    if args.axes is not None:
        e = _numbers(args.axes, "--axes", (6,))
        axes = orient.axes_from_vectors(e[:3], e[3:])
    return orient.a2_from_eigen(_numbers(args.eig, "--eig", (2, 3)), axes)


def _first(items, n: int = 12) -> str:
    """At most ``n`` items, comma-separated, then how many there are in all."""
    items = list(items)
    more = f", ... ({len(items)} in all; --json lists them)" if len(items) > n else ""
    return ", ".join(items[:n]) + more
