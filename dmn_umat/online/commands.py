"""``dmn drive MODEL.dmn --phase S --phase S --path P.csv [--stress-free L] [--json]
[--out FILE.json|.csv] [--png FILE.png] [--dns DNS.json] [--threads N]``."""

from __future__ import annotations

import sys

from ..cliutil import CLIError, check_outputs, emit_json, load_model, load_phases, progress


def register(sub) -> None:
    p = sub.add_parser(
        "drive",
        help="run a trained network with phase laws along a strain / mixed-control path",
        description="Point driver: macroscopic response of a material network model (*.dmn) with "
        "nonlinear phase laws along a loading path. Output in Mandel notation "
        "(order 11,22,33,23,13,12; shear x sqrt2).",
    )
    p.add_argument("model", help="network model file (*.dmn) or the name of a shipped model (dmn models)")
    p.add_argument(
        "--phase", action="append", metavar="SPEC", help="phase law, once per phase (0-based order)"
    )
    p.add_argument(
        "--path", required=True, help="CSV of total strain targets e11,e22,e33,e23,e13,e12 per step, or of "
        "deformation gradients F11..F33 (header; finite strain, phases neohooke/svk/fj2)"
    )
    p.add_argument(
        "--stress-free",
        default=None,
        metavar="LIST",
        help="components held at zero stress, e.g. 22,33,23,13,12",
    )
    p.add_argument(
        "--json", action="store_true", help="print the result as JSON (keys strain, stress, iterations)"
    )
    p.add_argument("--out", default=None, metavar="FILE", help="write the result to FILE.json or FILE.csv")
    p.add_argument("--png", default=None, metavar="FILE", help="stress-strain plot")
    p.add_argument(
        "--dns", default=None, metavar="JSON", help="overlay a 'dmn dns --json' result on the plot"
    )
    p.add_argument("--threads", type=int, default=1, help="numba threads (default 1)")
    p.set_defaults(func=run)


def run(args) -> int:
    """``dmn drive``: a thin layer over :func:`dmn_umat.online.driver.drive_model`."""
    import dataclasses

    from .. import tensors
    from ..loadpath import FPath, PathError, read_path_file
    from .driver import DriveError, DriveJob, drive_model

    job = DriveJob(model=args.model, phases=args.phase or [], path=args.path, stress_free=args.stress_free,
                   dns=args.dns, out=args.out, png=args.png, threads=args.threads)
    try:
        job.check()
        model_path, net = load_model(args.model)
        check_outputs({"model": model_path, "--path": args.path, "--dns": args.dns},
                      {"--out": args.out, "--png": args.png})
        fpath = isinstance(read_path_file(args.path), FPath)
        # finite-strain specs of an F path are parsed (and counted) by drive_model
        owner = f"model {args.model!r}"
        phases = (args.phase or []) if fpath else load_phases(args.phase, net.n_phases, owner)
        job = dataclasses.replace(job, model=net, phases=phases, label=str(args.model))
        res = drive_model(job, progress=lambda it: progress(it, desc="dmn drive"))
    except (DriveError, PathError) as exc:
        raise CLIError(str(exc)) from None
    if args.json:
        emit_json(res.to_dict())
    elif fpath:
        print(f"dmn drive: {len(res.stress)} steps, {int(res.iterations.sum())} Newton iterations, "
              "final Cauchy stress (sigma11..sigma33) = "
              + ", ".join(f"{x:.6g}" for x in res.cauchy[-1].ravel()))
    else:
        last = res.stress[-1] / tensors.mandel_scale()
        print(
            f"dmn drive: {len(res.stress)} steps, {int(res.iterations.sum())} Newton iterations, "
            f"final stress (s11..s12) = " + ", ".join(f"{x:.6g}" for x in last),
            file=sys.stdout,
        )
    return 0
