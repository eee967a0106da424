"""``dmn data generate`` / ``dmn data show`` — offline training data sets.

dmn data generate MICRO.npy --samples N --out DATA.h5 [--val-fraction 0.2] [--seed 0]
    [--kind iso|ortho|mixed] [--log10-contrast LO HI] [--executor dask|local]
    [--scheduler ADDRESS] [--workers K] [--tol 1e-8] [--max-iter 5000] [--json]
dmn data show DATA.h5 [--json]
"""

from __future__ import annotations

from ..cliutil import CLIError, check_outputs, emit_json, input_file


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "data",
        help="generate / inspect training data sets (C1, C2 -> FFT C-bar)",
        description="Offline training data: random phase stiffness pairs homogenized by FFT "
        "on one microstructure.",
    )
    sub = p.add_subparsers(dest="data_command", metavar="ACTION")
    g = sub.add_parser(
        "generate",
        help="homogenize N random phase pairs on a microstructure (Dask-parallel, resumable)",
        description="Sample N phase stiffness pairs (sample i from default_rng([seed, i])), homogenize each "
        "by FFT and write one HDF5 (.h5) or .npz file atomically. Finished samples are kept in "
        "OUT.partial/ so a killed run resumes where it stopped.",
    )
    g.add_argument("micro", metavar="MICRO.npy", help="two-phase voxel file (ids 0 and 1)")
    g.add_argument("--samples", type=int, required=True, help="number of samples N")
    g.add_argument("--out", required=True, help="output file (.h5, .hdf5 or .npz)")
    g.add_argument("--val-fraction", type=float, default=0.2, help="validation fraction (default 0.2)")
    g.add_argument("--seed", type=int, default=0, help="sampler / split seed (default 0)")
    g.add_argument(
        "--kind", choices=("iso", "ortho", "mixed"), default="iso", help="phase symmetry (default iso)"
    )
    g.add_argument(
        "--log10-contrast",
        type=float,
        nargs=2,
        metavar=("LO", "HI"),
        default=(-3.0, 3.0),
        help="range of log10 of the phase-2/phase-1 stiffness scale (default -3 3)",
    )
    g.add_argument(
        "--executor",
        choices=("dask", "local"),
        default="dask",
        help="dask (default: LocalCluster or --scheduler) or local (serial, in process)",
    )
    g.add_argument("--scheduler", default=None, help="address of an existing Dask scheduler")
    g.add_argument(
        "--workers", type=int, default=None, help="LocalCluster worker processes (default min(2, cpus))"
    )
    g.add_argument("--tol", type=float, default=1e-8, help="FFT solver relative residual (default 1e-8)")
    g.add_argument("--max-iter", type=int, default=5000, help="FFT solver iteration cap per load case")
    g.add_argument("--json", action="store_true", help="print only a JSON summary on stdout")
    g.set_defaults(func=_generate)

    s = sub.add_parser("show", help="summarize a data set", description="Print a summary of a data set file.")
    s.add_argument("data", metavar="DATA", help="data set file (.h5/.hdf5/.npz)")
    s.add_argument("--json", action="store_true", help="print only JSON on stdout")
    s.set_defaults(func=_show)
    p.set_defaults(func=_no_action)


def _no_action(args) -> int:
    raise CLIError("choose an action: generate or show")


def _generate(args) -> int:
    """``dmn data generate``: a thin layer over :func:`dmn_umat.rve.api.generate_data`."""
    from .api import DataJob, generate_data
    from .dataset import DatasetError
    from .sampling import SamplerError

    job = DataJob(micro=args.micro, out=args.out, samples=args.samples, val_fraction=args.val_fraction,
                  seed=args.seed, kind=args.kind, log10_contrast=tuple(args.log10_contrast),
                  executor=args.executor, scheduler=args.scheduler, workers=args.workers, tol=args.tol,
                  max_iter=args.max_iter)
    try:
        job.check()
        check_outputs({"microstructure": input_file(args.micro, "microstructure file")}, {"--out": args.out})
        summary = generate_data(job).to_dict()
    except (DatasetError, SamplerError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        emit_json(summary)
    else:
        print(
            f"wrote {args.out}: {summary['samples']} samples ({summary['train']} train, "
            f"{summary['val']} val), {summary['resumed_samples']} resumed, {summary['wall_seconds']:.1f} s"
        )
    return 0


def _show(args) -> int:
    from .dataset import DatasetError, load_dataset

    input_file(args.data, "data set")
    try:
        ds = load_dataset(args.data)
    except DatasetError as exc:
        raise CLIError(str(exc)) from None
    s = ds.summary()
    if args.json:
        emit_json(s)
        return 0
    lo, hi = s["log10_contrast_range"]
    elo, ehi = s["Cbar_eigenvalue_range"]
    m = ds.metadata
    print(f"data set      {args.data}  (format v{m.get('format_version')}, dmn_umat {s['package_version']})")
    print(f"samples       {s['samples']}  (train {s['train']}, val {s['val']}), seed {s['seed']}")
    print(f"phases        {s['sampler_kind']}  ({s['orthotropic_phases']} orthotropic phase draws)")
    print(f"contrast      log10 |C2|/|C1| in [{lo:.3g}, {hi:.3g}]")
    print(f"C-bar eigs    [{elo:.4g}, {ehi:.4g}]")
    shape = "x".join(str(n) for n in s["micro_shape"] or [])
    kind = s["micro_kind"] or "voxels"
    print(f"micro         {kind} {shape}, inclusion volume fraction {s['micro_volume_fraction']:.4f}")
    print(
        f"solver        tol {s['solver_tol']:g}, PCG iterations mean {s['iterations_mean']:.1f} "
        f"max {s['iterations_max']}"
    )
    return 0
