"""``dmn fe2 EXAMPLE`` (plate-hole, notched-bar, cyclic, plate-hole-finite) and ``dmn fe2 run MESH``:
thin layers over :func:`dmn_umat.fe.api.run_fe2` and :func:`dmn_umat.fe.api.run_mesh` (docs/fe2.md)."""

from __future__ import annotations

import argparse

EXAMPLE_NAMES = ("plate-hole", "notched-bar", "cyclic", "plate-hole-finite", "fibre-plate")


def _material_options(p, default_note: str) -> None:
    p.add_argument("--model", help="model file (*.dmn) or the name of a shipped pretrained model")
    p.add_argument("--phase", action="append", metavar="SPEC",
                   help="phase law spec: one per network phase with --model, or one alone for a homogeneous "
                   f"phase ({default_note})")


def _common_options(p) -> None:
    p.add_argument("--out", default=None, help="output folder (default: fe2-NAME)")
    p.add_argument("--solver", default=None, choices=("direct", "cg"), help="linear solver (default direct)")
    p.add_argument("--png-at", default=None, metavar="LIST",
                   help="increments to picture (von Mises, PEEQ on the deformed mesh): e.g. 5,10,last; "
                   "'all'; 'none' (default: last)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fe2",
        help="run a bundled FE² example (plate-hole, notched-bar, cyclic, plate-hole-finite, fibre-plate) or "
        "a mesh of your own (run)",
        description="Run a bundled FE example, or your own mesh with 'dmn fe2 run MESH', with the DMN/IMN "
        "surrogate (--model) or phase laws at the integration points; writes an XDMF time series, a "
        "load-displacement PNG, field PNGs and a summary JSON to --out.",
    )
    names = "{" + ",".join((*EXAMPLE_NAMES, "run")) + "}"
    sub = p.add_subparsers(dest="example", metavar=names, required=True)
    for name in EXAMPLE_NAMES:
        q = sub.add_parser(name, help=f"the bundled {name} example",
                           description=f"The bundled {name} example with its physical checks (docs/fe2.md).")
        _material_options(q, "default: shipped IMN spheres16_imn_d6 with a J2 matrix and elastic particles")
        q.add_argument("--size", default="coarse", choices=("tiny", "coarse", "fine"), help="mesh size")
        q.add_argument("--steps", type=int, default=None, help="number of load increments (default per size)")
        q.add_argument("--strain", type=float, default=None, help="nominal strain amplitude of the load")
        _common_options(q)
        q.set_defaults(func=_run_example)
    r = sub.add_parser(
        "run", help="your own mesh (gmsh .msh, Abaqus .inp, any meshio format)",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Run a mesh file (2-D plane strain: triangles/quads; 3-D: tetrahedra/hexahedra). "
        "GROUP is a physical group, cell set (*Elset) or node set (*Nset) of the file, or "
        "xmin/xmax/ymin/ymax/zmin/zmax (bounding-box planes). Components: x y z or 1 2 3. Loads "
        "scale with the load factor (1 at the end of --steps). Details: docs/fe2.md.\n\n"
        "example: dmn fe2 run part.msh --fix left:x --fix bottom:y --displace right:x=0.02 \\\n"
        "           --phase j2:E=70000,nu=0.3,sy=250,H=500 --steps 10",
    )
    r.add_argument("mesh", help="mesh file, or a TOML job file (*.toml) with these options as keys")
    r.add_argument("--fix", action="append", default=[], metavar="GROUP[:COMPS]",
                   help="zero displacement, e.g. left:x,y (all components if omitted)")
    r.add_argument("--displace", action="append", default=[], metavar="GROUP:C=V[,C=V]",
                   help="prescribed displacement at load factor 1, e.g. right:x=0.01")
    r.add_argument("--traction", action="append", default=[], metavar="GROUP:C=V[,C=V]",
                   help="surface traction (force/area) at load factor 1, e.g. top:y=5")
    _material_options(r, "or per region with --material")
    r.add_argument("--material", action="append", default=[], metavar="GROUP=SPEC",
                   help="material of a region (solid-cell group): a phase spec or 'model' (the --model "
                   "surrogate); cells in no group get --model/--phase")
    r.add_argument("--steps", type=int, default=None,
                   help="equal load increments to load factor 1 (default 10)")
    r.add_argument("--factors", default=None, metavar="LIST",
                   help="target load factors instead of --steps, e.g. 0.5,1,0,-1 (a cycle)")
    r.add_argument("--no-bbar", action="store_true", help="plain quads/hexahedra (default: B-bar)")
    r.add_argument("--orientation", default=None, metavar="NAME",
                   help="cell data of the mesh file holding A2 per cell (n_cells, 6: a11,a22,a33,a23,a13,"
                   "a12) "
                   "for an orientation-aware model (default: a2)")
    _common_options(r)
    r.set_defaults(func=_run_mesh)


def _png_at(text: str | None) -> str | None:
    text = "last" if text is None else text
    return None if text.strip().lower() == "none" else text


def _report(args, result, out) -> int:
    from ..cliutil import emit_json

    if args.json:
        emit_json(result.to_dict())
    else:
        print(f"{result.name}: {result.n_cells} {result.cell_type} cells, {result.n_increments} increments, "
              f"{result.newton_iterations} Newton iterations, {result.cutbacks} cut-backs, "
              f"{result.wall_s:.1f} s")
        for name, c in result.checks.items():
            ref = f" (reference {c.reference:.5g}, ratio {c.ratio:.4f})" if c.ratio is not None else ""
            print(f"  {name:22s} {c.value:.6g}{ref}  {'ok' if c.ok else 'OFF'}  — {c.note}")
        print(f"  files in {out}/")
    return 0 if result.ok else 1


def _model_path(args):
    if args.model is None:
        return None
    from ..offline.pretrained import resolve

    return resolve(args.model)  # no read here: the library reads the model once


def _run_example(args) -> int:
    from pathlib import Path

    from ..cliutil import CLIError, check_outputs
    from .api import FE2Job, run_fe2
    from .elements import MeshError
    from .examples import ExampleError
    from .solver import FESolverError

    out = Path(args.out or f"fe2-{args.example}")
    check_outputs({"--model": _model_path(args)}, {"--out": out})
    job = FE2Job(args.example, args.model, args.phase or (), args.size, args.steps, args.strain, out,
                 args.solver or "direct", _png_at(args.png_at), progress=not args.json)
    try:
        result = run_fe2(job)
    except (ExampleError, MeshError, FESolverError) as exc:
        raise CLIError(str(exc)) from None
    return _report(args, result, out)


def _run_mesh(args) -> int:
    """``dmn fe2 run MESH|JOB.toml``: options given on the command line extend the job file's
    lists (fix, displace, traction, material) and replace its single values."""
    from pathlib import Path

    from ..cliutil import CLIError, check_outputs, input_file
    from . import api
    from .elements import MeshError
    from .examples import ExampleError
    from .solver import FESolverError

    given = input_file(args.mesh, "mesh file")
    try:
        job = api.load_job(given) if given.suffix.lower() == ".toml" else api.MeshJob(given)
        job.fix = [*job.fix, *(api.parse_fix(s) for s in args.fix)]
        job.displace = [*job.displace, *(api.parse_displace(s) for s in args.displace)]
        job.traction = [*job.traction, *(api.parse_traction(s) for s in args.traction)]
        job.regions = {**job.regions, **dict(api.parse_region(s) for s in args.material)}
        if args.factors is not None:
            try:
                job.factors = [float(x) for x in args.factors.split(",")]
            except ValueError:
                raise api.JobError(f"--factors {args.factors!r}: expected numbers, e.g. 0.5,1,0,-1") from None
        for attr, value in (("model", args.model), ("phases", args.phase), ("steps", args.steps),
                            ("linear_solver", args.solver)):
            if value is not None:
                setattr(job, attr, value)
        if args.png_at is not None or given.suffix.lower() != ".toml":
            job.png_at = _png_at(args.png_at)
        if args.no_bbar:
            job.bbar = False
        if args.orientation is not None:
            job.orientation = args.orientation
        job.out = Path(args.out) if args.out else job.out or Path(f"fe2-{Path(job.mesh).stem}")
        job.progress = not args.json
        model = _model_path(args) if args.model is not None else job.model
        check_outputs({"--model": model, "mesh": job.mesh, "job file": given}, {"--out": job.out})
        result = api.run_mesh(job)
    except (ExampleError, MeshError, FESolverError) as exc:
        raise CLIError(str(exc)) from None
    return _report(args, result, job.out)
