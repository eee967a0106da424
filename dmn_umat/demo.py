"""``dmn demo``: the main job end to end on built-in defaults (the README's first command).

microstructure → FFT homogenization → training data → train an IMN → inspect →
nonlinear point prediction vs the FFT DNS → FE² plate with a hole.  Every step calls the stage's
library entry point and prints the equivalent ``dmn`` command line (to reproduce it by hand),
writing into ``--out``.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

from .fileio import json_default

MATRIX = "j2:E=70e3,nu=0.33,sy=100,H=500"
MATRIX_ELASTIC = "elastic:E=70e3,nu=0.33"
INCLUSION = "elastic:E=400e3,nu=0.2"


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the main job end to end on built-in defaults", description=__doc__)
    p.add_argument("--out", default="dmn_demo", help="output folder (default ./dmn_demo)")
    p.add_argument("--size", type=int, default=16, help="RVE voxels per side (default 16)")
    p.add_argument("--samples", type=int, default=300, help="training samples (default 300)")
    p.add_argument("--depth", type=int, default=6, help="IMN depth (default 6)")
    p.add_argument("--epochs", type=int, default=100, help="training epochs (default 100)")
    p.add_argument(
        "--fe-size",
        choices=("tiny", "coarse", "fine"),
        default="coarse",
        help="FE² mesh size (default coarse)",
    )
    p.add_argument("--json", action="store_true", help="print only a JSON summary on stdout")
    p.set_defaults(func=run)


class _Step:
    """One demo step: prints its title and the equivalent ``dmn`` command line (so the user can
    reproduce it), times it, and turns a library error into ``SystemExit`` with one line."""

    def __init__(self, log, title: str, argv: list[str]):
        self.log, self.title = log, title
        print(f"\n== {title}\n$ dmn {shlex.join(argv)}", file=log, flush=True)

    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is None:
            print(f"   done in {time.perf_counter() - self.t0:.1f} s", file=self.log, flush=True)
        elif isinstance(exc, (ValueError, RuntimeError, OSError)):  # the stages' library errors
            raise SystemExit(f"dmn demo: step '{self.title}' failed: {exc}") from None
        return False


def run(args) -> int:
    from . import loadpath
    from .fe.api import FE2Job, run_fe2
    from .offline.api import TrainConfig, TrainJob, summary_of, train_model
    from .online.driver import DriveJob, drive_model
    from .rve import micro as rve_micro
    from .rve.api import DataJob, DNSJob, HomogenizeJob, generate_data, homogenize_rve, run_dns

    log = sys.stderr if args.json else sys.stdout
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    micro, data, model = out / "spheres.npy", out / "data.h5", out / "imn.dmn"
    summary: dict = {"out": str(out)}

    # seed 1 at 16³ is the RVE the shipped model spheres16_imn_d6 was trained on (docs/training.md)
    argv = ["micro", "spheres", "--size", str(args.size), "--vf", "0.2", "--seed", "1", "--out", str(micro),
            "--png", str(out / "spheres.png")]
    with _Step(log, "1. microstructure: random spheres, 20 % inclusions", argv):
        m = rve_micro.save_micro(rve_micro.generate("spheres", args.size, 0.2, seed=1), micro,
                                 png=out / "spheres.png")
    summary["volume_fraction"] = m["volume_fraction"]

    argv = ["homogenize", str(micro), "--phase", MATRIX_ELASTIC, "--phase", INCLUSION]
    with _Step(log, "2. FFT homogenization of the RVE (6 load cases)", argv):
        C = homogenize_rve(HomogenizeJob(micro=micro, phases=[MATRIX_ELASTIC, INCLUSION])).C
    summary["C11_C44"] = [float(C[0, 0]), float(C[3, 3] / 2)]

    argv = ["data", "generate", str(micro), "--samples", str(args.samples), "--out", str(data),
            "--executor", "local"]
    with _Step(log, f"3. training data: {args.samples} sampled phase-stiffness pairs, FFT C-bar", argv):
        d = generate_data(DataJob(micro=micro, out=data, samples=args.samples, executor="local"))
    summary["dataset"] = d.to_dict()

    argv = ["train", str(data), "--formulation", "imn", "--depth", str(args.depth), "--epochs",
            str(args.epochs), "--out", str(model)]
    with _Step(log, f"4. train an IMN of depth {args.depth}", argv):
        cfg = TrainConfig(formulation="imn", depth=args.depth, epochs=args.epochs)
        t = train_model(TrainJob(data=data, out=model, config=cfg),
                        log=lambda line: print(line, file=sys.stderr))
    summary["training"] = t.to_dict()

    with _Step(log, "5. inspect the model file", ["inspect", str(model)]):
        from . import model_file

        summary_of(model, model_file.read(model))

    path_csv = out / "uniaxial_load_unload.csv"
    loadpath.write_path(path_csv, loadpath.cyclic([0.01, 0.0], 8))
    phases = [MATRIX, INCLUSION]
    phase_args = ["--phase", MATRIX, "--phase", INCLUSION]
    free = "22,33,23,13,12"
    load_args = [*phase_args, "--path", str(path_csv), "--stress-free", free]
    dns_json = out / "dns.json"
    argv = ["dns", str(micro), *load_args, "--out", str(dns_json)]
    with _Step(log, "6. nonlinear FFT DNS reference: J2 matrix, elastic spheres, uniaxial load/unload", argv):
        dns = run_dns(DNSJob(micro=micro, phases=phases, path=path_csv, stress_free=free, out=dns_json))
    s_dns = dns.stress[:, 0]
    summary["online_vs_dns"] = {}
    models = [
        (
            "7. online prediction with the IMN just trained (it never saw plasticity)",
            str(model),
            "drive_vs_dns.png",
        )
    ]
    if args.size == 16:
        models.append(
            (
                "7b. the same with the shipped, longer-trained IMN of this RVE",
                "spheres16_imn_d6",
                "drive_shipped_vs_dns.png",
            )
        )
    for title, name, png in models:
        argv = ["drive", name, *load_args, "--dns", str(dns_json), "--png", str(out / png)]
        with _Step(log, title, argv):
            r = drive_model(DriveJob(model=name, phases=phases, path=path_csv, stress_free=free, dns=dns_json,
                                     png=out / png))
        err = np.abs(r.stress[:, 0] - s_dns) / np.abs(s_dns).max()
        summary["online_vs_dns"][name] = {
            "mean_rel_error": float(err.mean()),
            "max_rel_error": float(err.max()),
        }

    fe_out = out / "fe2-plate-hole"
    argv = ["fe2", "plate-hole", "--model", str(model), *phase_args, "--size", args.fe_size,
            "--out", str(fe_out)]
    with _Step(log, "8. FE²: plate with a hole in tension, network at every integration point", argv):
        f = run_fe2(FE2Job("plate-hole", model=str(model), phases=phases, size=args.fe_size, out=fe_out))
        if not f.ok:
            off = ", ".join(k for k, c in f.checks.items() if not c.ok)
            raise RuntimeError(f"physical checks off: {off}")
    summary["fe2"] = f.to_dict()
    summary["seconds"] = time.perf_counter() - t_start

    if args.json:
        json.dump(summary, sys.stdout, default=json_default)
        sys.stdout.write("\n")
    else:
        print("\n== summary", file=log)
        print(f"   inclusion volume fraction   {summary['volume_fraction']:.4f}", file=log)
        print(f"   FFT C11, C44 (elastic)      {C[0, 0]:.1f}, {C[3, 3] / 2:.1f}", file=log)
        for name, e in summary["online_vs_dns"].items():
            print(
                f"   online vs DNS, {Path(name).name:<18s} mean {e['mean_rel_error']:.2%}, "
                f"max {e['max_rel_error']:.2%} of the peak sigma11",
                file=log,
            )
        print(f"   outputs in                  {out}/", file=log)
        print(f"   total                       {summary['seconds']:.0f} s", file=log)
    return 0
