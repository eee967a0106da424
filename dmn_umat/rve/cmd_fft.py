"""``dmn homogenize`` and ``dmn dns`` — FFT homogenization of voxel RVEs (docs/fft.md).

    dmn homogenize MICRO.npy --phase S --phase S [--tol T] [--threads N] [--json] [--out C.json]
    dmn dns MICRO.npy --phase S --phase S --path P.csv [--stress-free 22,33,23,13,12]
            [--tol T] [--threads N] [--json] [--out result.json]

Output in Mandel notation (order 11,22,33,23,13,12; shear components x sqrt2).
"""

from __future__ import annotations

import dataclasses
import sys
from contextlib import contextmanager

from ..cliutil import CLIError, check_outputs, emit_json, load_micro, load_phases, progress


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
        "--path", required=True, help="CSV of total strain targets e11,e22,e33,e23,e13,e12 per step, or of "
        "deformation gradients F11..F33 (header; finite strain, phases neohooke/svk/fj2)"
    )
    d.add_argument(
        "--stress-free", default=None, metavar="LIST", help="components held at zero stress, e.g. 22,33,23"
    )
    d.add_argument("--tol", type=float, default=1e-8, help="relative equilibrium residual (default 1e-8)")
    d.set_defaults(func=run_dns)


def _fmt_matrix(C) -> str:
    return "\n".join("  " + " ".join(f"{v:13.6g}" for v in row) for row in C)


@contextmanager
def _one_line():
    """The RVE stage's library errors → :class:`CLIError` (one line)."""
    from ..loadpath import PathError
    from .api import RVEJobError
    from .fft import FFTConvergenceError

    try:
        yield
    except (RVEJobError, FFTConvergenceError, PathError) as exc:
        raise CLIError(str(exc)) from None


def run_homogenize(args) -> int:
    """``dmn homogenize``: a thin layer over :func:`dmn_umat.rve.api.homogenize_rve`."""
    from .api import HomogenizeJob, homogenize_rve

    job = HomogenizeJob(micro=args.micro, phases=args.phase or [], tol=args.tol, max_iter=args.max_iter,
                        threads=args.threads, out=args.out)
    with _one_line():
        job.check()
        check_outputs({"microstructure": args.micro}, {"--out": args.out})
        phases = load_phases(args.phase)
        job = dataclasses.replace(job, micro=load_micro(args.micro, len(phases)), phases=phases)
        res = homogenize_rve(job)
    if args.json:
        emit_json(res.to_dict())
    else:
        print(f"effective stiffness C (Mandel 6x6, order 11,22,33,23,13,12), grid {tuple(res.shape)}:")
        print(_fmt_matrix(res.C))
        print(
            f"PCG iterations per load case: {res.iterations}; asymmetry {res.asymmetry:.2e}; "
            f"{res.seconds:.2f} s"
        )
    return 0


def run_dns(args) -> int:
    """``dmn dns``: a thin layer over :func:`dmn_umat.rve.api.run_dns`."""
    from .. import tensors
    from ..laws.finite_spec import parse_finite_phase
    from ..loadpath import F_COMPONENTS, FPath, read_path_file
    from .api import DNSJob
    from .api import run_dns as dns

    job = DNSJob(micro=args.micro, phases=args.phase or [], path=args.path, stress_free=args.stress_free,
                 tol=args.tol, threads=args.threads, out=args.out)
    with _one_line():
        job.check()
        check_outputs({"microstructure": args.micro, "--path": args.path}, {"--out": args.out})
        lp = read_path_file(args.path)  # checks the file; run_dns reads its columns
        fpath = isinstance(lp, FPath)
        if fpath:
            if not args.phase:
                raise CLIError("at least one --phase is required")
            phases = [parse_finite_phase(s) for s in args.phase]
        else:
            phases = load_phases(args.phase)
        nsteps = (lp.F if fpath else lp.strain).shape[0]
        job = dataclasses.replace(job, micro=load_micro(args.micro, len(phases)), phases=phases)
        bar = progress(total=nsteps, desc="dns steps")
        try:
            res = dns(job, progress=lambda i, n: bar.update(1))
        finally:
            bar.close()
    if args.json:
        emit_json(res.to_dict())
    elif fpath:
        names = " ".join(f"{t + c:>11}" for t in "FP" for c in F_COMPONENTS)
        print(f"step {names}  newton  pcg")
        for k in range(res.F.shape[0]):
            vals = " ".join(f"{v:11.4e}" for v in (*res.F[k].ravel(), *res.P[k].ravel()))
            print(f"{k + 1:4d} {vals}  {res.iterations[k, 0]:6d} {res.iterations[k, 1]:5d}")
        print(f"{res.seconds:.2f} s", file=sys.stderr)
    else:
        names = (
            " ".join(f"{'e' + c:>11}" for c in tensors.COMPONENTS)
            + " "
            + " ".join(f"{'s' + c:>11}" for c in tensors.COMPONENTS)
        )
        print(f"step {names}  newton  pcg   (Mandel)")
        for k in range(res.strain.shape[0]):
            vals = " ".join(f"{v:11.4e}" for v in (*res.strain[k], *res.stress[k]))
            print(f"{k + 1:4d} {vals}  {res.iterations[k, 0]:6d} {res.iterations[k, 1]:5d}")
        print(f"{res.seconds:.2f} s", file=sys.stderr)
    return 0
