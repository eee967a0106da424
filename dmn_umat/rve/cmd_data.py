"""``dmn data generate`` / ``orientations`` / ``show`` — offline training data sets.

dmn data generate MICRO.npy --samples N --out DATA.h5 [--val-fraction 0.2] [--seed 0]
    [--kind iso|ortho|mixed] [--log10-contrast LO HI] [--nu LO HI] [--nu-law uniform|log-kg]
    [--executor dask|local]
    [--scheduler ADDRESS] [--workers K] [--tol 1e-8] [--max-iter 5000] [--json]
dmn data orientations (--grid N | --state L1,L2[,L3] ...) --samples-per-state M --out DATA.h5
    [--vf 0.12 ...] [--size 32] [--radius 1.5] [--aspect 5] [--ends round|flat] [--a2-tol 0.01]
    [--shared-pairs] [generate's --val-fraction --seed --kind --log10-contrast --executor
    --scheduler --workers --tol --max-iter --json]
dmn data show DATA.h5 [--json]
"""

from __future__ import annotations

from ..cliutil import CLIError, check_outputs, emit_json, input_file


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "data",
        help="generate / inspect training data sets (C1, C2 -> FFT C-bar)",
        description="Offline training data: random phase stiffness pairs homogenized by FFT "
        "on one microstructure (generate) or on one short-fibre RVE per orientation state (orientations).",
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
    g.add_argument(
        "--nu", type=float, nargs=2, metavar=("LO", "HI"), default=(0.1, 0.45),
        help="Poisson ratio range of isotropic phases, HI < 0.5 (default 0.1 0.45)",
    )  # fmt: skip
    g.add_argument(
        "--nu-law", choices=("uniform", "log-kg"), default="uniform",
        help="isotropic nu ~ U[--nu] (uniform, default) or log10(K/G) uniform over --nu's range "
        "(log-kg: as many draws per decade of K/G, i.e. nearly incompressible phases; docs/data.md)",
    )  # fmt: skip
    _common_options(g)
    g.set_defaults(func=_generate)

    o = sub.add_parser(
        "orientations",
        help="short-fibre RVEs over orientation states, N phase pairs homogenized on each (Dask, resumable)",
        description="One short-fibre RVE per orientation state (A2 = diag(l1, l2, l3), l1 along x) and "
        "volume fraction, then M phase stiffness pairs homogenized by FFT on each; one HDF5 file "
        "(docs/data.md section 4). Finished samples are kept in OUT.partial/ so a killed run resumes.",
    )
    o.add_argument("--grid", type=int, default=None, help="orientation triangle points i/N (N >= 1)")
    o.add_argument(
        "--state", action="append", default=None, metavar="L1,L2[,L3]",
        help="an orientation state (A2 eigenvalues, l1 >= l2 >= l3, sum 1); repeatable, adds to --grid",
    )  # fmt: skip
    o.add_argument("--vf", type=float, nargs="+", default=[0.12], help="fibre volume fractions (0.12)")
    o.add_argument("--samples-per-state", type=int, required=True, help="phase pairs M per state")
    o.add_argument("--out", required=True, help="output file (.h5 or .hdf5)")
    o.add_argument("--size", type=int, default=32, help="RVE voxels per side (default 32)")
    o.add_argument("--radius", type=float, default=1.5, help="fibre radius in voxels (default 1.5)")
    o.add_argument("--aspect", type=float, default=5.0, help="fibre length / diameter (default 5)")
    o.add_argument("--ends", choices=("round", "flat"), default="round", help="fibre ends (default round)")
    o.add_argument("--a2-tol", type=float, default=0.01, help="accepted max |A2 realized - A2| (0.01)")
    o.add_argument("--shared-pairs", action="store_true", help="the same M phase pairs on every state")
    _common_options(o)
    o.set_defaults(func=_orientations)

    s = sub.add_parser("show", help="summarize a data set", description="Print a summary of a data set file.")
    s.add_argument("data", metavar="DATA", help="data set file (.h5/.hdf5/.npz)")
    s.add_argument("--json", action="store_true", help="print only JSON on stdout")
    s.set_defaults(func=_show)
    p.set_defaults(func=_no_action)


def _common_options(g) -> None:
    """The sampler, split, executor and solver options of ``generate`` and ``orientations``."""
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


def _no_action(args) -> int:
    raise CLIError("choose an action: generate, orientations or show")


def _generate(args) -> int:
    """``dmn data generate``: a thin layer over :func:`dmn_umat.rve.api.generate_data`."""
    from .api import DataJob, generate_data
    from .dataset import DatasetError
    from .sampling import SamplerError

    job = DataJob(micro=args.micro, out=args.out, samples=args.samples, val_fraction=args.val_fraction,
                  seed=args.seed, kind=args.kind, log10_contrast=tuple(args.log10_contrast),
                  nu=tuple(args.nu), nu_law=args.nu_law, executor=args.executor, scheduler=args.scheduler,
                  workers=args.workers, tol=args.tol, max_iter=args.max_iter)
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


def _orientations(args) -> int:
    """``dmn data orientations``: a thin layer over
    :func:`dmn_umat.rve.orientation_data.generate_orientation_data`."""
    from .cmd_micro import _numbers
    from .dataset import DatasetError
    from .orientation_data import OrientationDataJob, generate_orientation_data
    from .sampling import SamplerError

    states = [_numbers(t, "--state", (2, 3)) for t in args.state or ()]
    job = OrientationDataJob(
        out=args.out, samples_per_state=args.samples_per_state, grid=args.grid, states=states, vf=args.vf,
        size=args.size, radius=args.radius, aspect=args.aspect, ends=args.ends, a2_tol=args.a2_tol,
        shared_pairs=args.shared_pairs, val_fraction=args.val_fraction, seed=args.seed, kind=args.kind,
        log10_contrast=tuple(args.log10_contrast), executor=args.executor, scheduler=args.scheduler,
        workers=args.workers, tol=args.tol, max_iter=args.max_iter,
    )  # fmt: skip
    try:
        summary = generate_orientation_data(job).to_dict()
    except (DatasetError, SamplerError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        emit_json(summary)
    else:
        print(
            f"wrote {args.out}: {summary['states']} states x {summary['samples_per_state']} = "
            f"{summary['samples']} samples ({summary['train']} train, {summary['val']} val), "
            f"max |dA2| {summary['a2_error_max']:.4f}, {summary['resumed_samples']} resumed, "
            f"{summary['wall_seconds']:.1f} s"
        )
    return 0


def _show(args) -> int:
    from .dataset import DatasetError, load_dataset
    from .orientation_data import FORMAT, load_orientation_dataset

    input_file(args.data, "data set")
    try:
        if _format_of(args.data) == FORMAT:
            return _show_orientations(load_orientation_dataset(args.data), args)
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


def _format_of(path) -> str | None:
    """The ``format`` attribute of an HDF5 file (None for anything else)."""
    try:
        import h5py

        if not h5py.is_hdf5(path):
            return None
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
    except Exception:  # noqa: BLE001 - the loaders report unreadable files
        return None
    return fmt.decode() if isinstance(fmt, bytes) else fmt


def _show_orientations(data, args) -> int:
    s = data.summary()
    if args.json:
        emit_json(s)
        return 0
    r, m = s["rve"], data.metadata
    print(f"orientations  {args.data}  (format v{m.get('format_version')}, dmn_umat {s['package_version']})")
    print(f"samples       {s['samples']} = {s['states']} states x {s['samples_per_state']}  "
          f"(train {s['train']}, val {s['val']}), seed {s['seed']}, phases {s['sampler_kind']}")
    print(f"RVEs          {r['size']}^3, fibre radius {r['radius']:g}, aspect {r['aspect']:g}, "
          f"{r['ends']} ends, "
          f"max |dA2| {s['a2_error_max']:.4f}, max |dvf| {s['vf_error_max']:.4f}")  # fmt: skip
    print("state         l1      l2      l3      vf      |dA2|   fibres")
    st = data.states
    for k in range(s["states"]):
        lam = st["eig"][k]
        print(f"  {k:<10d}  {lam[0]:.4f}  {lam[1]:.4f}  {lam[2]:.4f}  {st['vf'][k]:.4f}  "
              f"{st['a2_error'][k]:.4f}  {int(st['count'][k])}")
    print(f"C-bar eigs    [{s['Cbar_eigenvalue_range'][0]:.4g}, {s['Cbar_eigenvalue_range'][1]:.4g}]")
    return 0
