"""``dmn fe2 EXAMPLE``: run one of the bundled FE² examples (plate-hole, notched-bar, cyclic)."""

from __future__ import annotations


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "fe2",
        help="run a bundled FE² example (plate-hole, notched-bar, cyclic)",
        description="Run a bundled FE example with the DMN/IMN surrogate (--model) or a single phase law "
        "at every integration point; writes an XDMF time series, a load-displacement PNG and a "
        "summary JSON with physical checks to --out.",
    )
    p.add_argument("example", choices=("plate-hole", "notched-bar", "cyclic"))
    p.add_argument("--model", help="model file (*.dmn) or the name of a shipped pretrained model")
    p.add_argument("--phase", action="append", metavar="SPEC",
                   help="phase law spec: one per network phase with --model, or one alone for a homogeneous "
                   "phase (default: shipped IMN spheres16_imn_d6 with a J2 matrix and elastic particles)")
    p.add_argument("--size", default="coarse", choices=("tiny", "coarse", "fine"), help="mesh size")
    p.add_argument("--steps", type=int, default=None, help="number of load increments (default per size)")
    p.add_argument("--strain", type=float, default=None, help="nominal strain amplitude of the load")
    p.add_argument("--out", default=None, help="output folder (default: fe2-EXAMPLE)")
    p.add_argument("--solver", default="direct", choices=("direct", "cg"), help="linear solver")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pathlib import Path

    from ..cliutil import CLIError, check_outputs, emit_json, load_model, load_phases
    from .elements import MeshError
    from .examples import EXAMPLES, ExampleError, make_material
    from .solver import FESolverError

    if args.steps is not None and args.steps < 2:
        raise CLIError("--steps must be >= 2")
    if args.strain is not None and not (0.0 < args.strain < 0.5):
        raise CLIError("--strain must lie in (0, 0.5) (small strain)")
    out = Path(args.out or f"fe2-{args.example}")
    if args.model is not None:  # exactly one --phase per network phase; never write over the model
        model_path, net = load_model(args.model)
        load_phases(args.phase, net.n_phases, f"model {args.model!r}")
        check_outputs({"--model": model_path}, {"--out": out})
    try:
        material = make_material(args.model, args.phase, args.example)
        kw = {"size": args.size, "out": out, "progress": not args.json, "n_steps": args.steps,
              "linear_solver": args.solver}
        if args.strain is not None:
            kw["strain"] = args.strain
        summary = EXAMPLES[args.example](material, **kw)
    except (ExampleError, MeshError, FESolverError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        emit_json(summary)
    else:
        print(f"{args.example}: {summary['n_cells']} {summary['cell_type']} cells, "
              f"{summary['n_increments']} increments, {summary['newton_iterations']} Newton iterations, "
              f"{summary['cutbacks']} cut-backs, {summary['wall_s']:.1f} s")
        for name, c in summary["checks"].items():
            ref = f" (reference {c['reference']:.5g}, ratio {c['ratio']:.4f})" if "ratio" in c else ""
            print(f"  {name:22s} {c['value']:.6g}{ref}  {'ok' if c['ok'] else 'OFF'}  — {c['note']}")
        print(f"  files in {out}/")
    return 0 if all(c["ok"] for c in summary["checks"].values()) else 1
