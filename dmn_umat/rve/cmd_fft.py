"""``dmn homogenize`` and ``dmn dns`` — FFT homogenization of voxel RVEs (docs/fft.md).

    dmn homogenize MICRO.npy --phase S --phase S [--tol T] [--threads N] [--json] [--out C.json]
    dmn dns MICRO.npy --phase S --phase S --path P.csv [--stress-free 22,33,23,13,12]
            [--tol T] [--threads N] [--json] [--out result.json]

Output in Mandel notation (order 11,22,33,23,13,12; shear components x sqrt2).
"""

from __future__ import annotations

import sys

from ..cliutil import CLIError, check_outputs, emit_json, load_micro, load_phases, progress
from ..fileio import atomic_write_json


def _common(p) -> None:
    p.add_argument("micro", help="voxel microstructure (.npy, integer phase ids, 0-based)")
    p.add_argument("--phase", action="append", metavar="SPEC", help="phase law, once per phase id (0, 1..)")
    p.add_argument("--threads", type=int, default=None, help="numba / FFT threads (default: all)")
    p.add_argument("--json", action="store_true", help="print only a JSON result on stdout")
    p.add_argument("--out", default=None, metavar="FILE.json", help="also write the JSON result to FILE")


def register(subparsers) -> None:
    h = subparsers.add_parser(
        "homogenize",
        help="effective linear-elastic stiffness of a voxel RVE (FFT, staggered grid)",
        description="Effective stiffness C̄ (6x6 Mandel) of a periodic voxel RVE by FFT-preconditioned "
        "conjugate gradients on the rotated staggered grid. Nonlinear phases use their elastic stiffness.",
    )
    _common(h)
    h.add_argument("--tol", type=float, default=1e-8, help="relative equilibrium residual (default 1e-8)")
    h.add_argument("--max-iter", type=int, default=5000, help="PCG iterations per load case (default 5000)")
    h.set_defaults(func=run_homogenize)

    d = subparsers.add_parser(
        "dns",
        help="nonlinear FFT simulation of a voxel RVE along a strain / mixed-control path",
        description="Nonlinear FFT reference (Newton-Krylov on the staggered grid) of a voxel RVE along "
        "a macroscopic path. JSON keys: strain, stress (n x 6 Mandel), iterations, substeps, peeq.",
    )
    _common(d)
    d.add_argument(
        "--path", required=True, help="CSV of total strain targets e11,e22,e33,e23,e13,e12 per step"
    )
    d.add_argument(
        "--stress-free", default=None, metavar="LIST", help="components held at zero stress, e.g. 22,33,23"
    )
    d.add_argument("--tol", type=float, default=1e-8, help="relative equilibrium residual (default 1e-8)")
    d.set_defaults(func=run_dns)


def _threads(n: int | None) -> int | None:
    if n is None:
        return None
    if n < 1:
        raise CLIError(f"--threads must be >= 1, got {n}")
    import numba

    n = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    return n


def _check_tol(tol: float) -> None:
    if not (tol > 0.0 and tol < 1.0):
        raise CLIError(f"--tol must lie in (0, 1), got {tol}")


def _fmt_matrix(C) -> str:
    return "\n".join("  " + " ".join(f"{v:13.6g}" for v in row) for row in C)


def run_homogenize(args) -> int:
    from . import fft

    _check_tol(args.tol)
    if args.max_iter < 1:
        raise CLIError(f"--max-iter must be >= 1, got {args.max_iter}")
    check_outputs({"microstructure": args.micro}, {"--out": args.out})
    phases = load_phases(args.phase)
    micro = load_micro(args.micro, len(phases))
    workers = _threads(args.threads)
    try:
        res = fft.homogenize(
            micro, [p.stiffness() for p in phases], tol=args.tol, max_iter=args.max_iter, workers=workers
        )
    except (ValueError, fft.FFTConvergenceError) as exc:
        raise CLIError(str(exc)) from None
    obj = {
        "C": res.C,
        "iterations": res.iterations,
        "seconds": res.seconds,
        "asymmetry": res.asymmetry,
        "shape": list(micro.shape),
        "volume_fractions": [float((micro == p).mean()) for p in range(len(phases))],
        "phases": [p.spec for p in phases],
        "tol": args.tol,
    }
    if args.out:
        atomic_write_json(args.out, obj, indent=None)
    if args.json:
        emit_json(obj)
    else:
        print(f"effective stiffness C (Mandel 6x6, order 11,22,33,23,13,12), grid {micro.shape}:")
        print(_fmt_matrix(res.C))
        print(
            f"PCG iterations per load case: {res.iterations}; asymmetry {res.asymmetry:.2e}; "
            f"{res.seconds:.2f} s"
        )
    return 0


def run_dns(args) -> int:
    from .. import tensors
    from ..loadpath import PathError, parse_stress_free, read_path
    from . import fft

    _check_tol(args.tol)
    check_outputs({"microstructure": args.micro, "--path": args.path}, {"--out": args.out})
    phases = load_phases(args.phase)
    micro = load_micro(args.micro, len(phases))
    try:
        path = read_path(args.path)
        free = parse_stress_free(args.stress_free)
    except PathError as exc:
        raise CLIError(str(exc)) from None
    workers = _threads(args.threads)
    bar = progress(total=path.shape[0], desc="dns steps")
    try:
        res = fft.dns(
            micro,
            phases,
            path,
            stress_free=free,
            tol=args.tol,
            workers=workers,
            progress=lambda i, n: bar.update(1),
        )
    except (ValueError, fft.FFTConvergenceError) as exc:
        raise CLIError(str(exc)) from None
    finally:
        bar.close()
    obj = {
        "strain": res.strain,
        "stress": res.stress,
        "iterations": res.iterations,
        "substeps": res.substeps,
        "peeq": res.fields["peeq"],
        "seconds": res.seconds,
        "stress_free": [tensors.COMPONENTS[c] for c in free],
        "shape": list(micro.shape),
        "phases": [p.spec for p in phases],
        "tol": args.tol,
    }
    if args.out:
        atomic_write_json(args.out, obj, indent=None)
    if args.json:
        emit_json(obj)
    else:
        names = (
            " ".join(f"{'e' + c:>11}" for c in tensors.COMPONENTS)
            + " "
            + " ".join(f"{'s' + c:>11}" for c in tensors.COMPONENTS)
        )
        print(f"step {names}  newton  pcg   (Mandel)")
        for k in range(path.shape[0]):
            vals = " ".join(f"{v:11.4e}" for v in (*res.strain[k], *res.stress[k]))
            print(f"{k + 1:4d} {vals}  {res.iterations[k, 0]:6d} {res.iterations[k, 1]:5d}")
        print(f"{res.seconds:.2f} s", file=sys.stderr)
    return 0
