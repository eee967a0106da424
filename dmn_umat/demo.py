"""``dmn demo``: the main job end to end on built-in defaults (the README's first command).

microstructure → FFT homogenization → training data → train an IMN → inspect →
nonlinear point prediction vs the FFT DNS → FE² plate with a hole.  Every step runs the
public ``dmn`` subcommand it names (printed as it goes), writing into ``--out``.
"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

import numpy as np

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


def _step(log, title: str, argv: list[str]) -> dict | None:
    """Run one ``dmn`` subcommand with ``--json``; return its parsed JSON (or None)."""
    from . import cli

    print(f"\n== {title}\n$ dmn {shlex.join(argv)}", file=log, flush=True)
    t0 = time.perf_counter()
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = cli.main(argv)
    dt = time.perf_counter() - t0
    if rc != 0:
        raise SystemExit(f"dmn demo: step '{title}' failed (exit {rc})")
    text = buf.getvalue().strip()
    print(f"   done in {dt:.1f} s", file=log, flush=True)
    return json.loads(text.splitlines()[-1]) if text else None


def run(args) -> int:
    from . import loadpath

    log = sys.stderr if args.json else sys.stdout
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    micro, data, model = out / "spheres.npy", out / "data.h5", out / "imn.dmn"
    summary: dict = {"out": str(out)}

    # seed 1 at 16³ is the RVE the shipped model spheres16_imn_d6 was trained on (docs/training.md)
    m = _step(
        log,
        "1. microstructure: random spheres, 20 % inclusions",
        [
            "micro",
            "spheres",
            "--size",
            str(args.size),
            "--vf",
            "0.2",
            "--seed",
            "1",
            "--out",
            str(micro),
            "--png",
            str(out / "spheres.png"),
            "--json",
        ],
    )
    summary["volume_fraction"] = m["volume_fraction"]

    h = _step(
        log,
        "2. FFT homogenization of the RVE (6 load cases)",
        ["homogenize", str(micro), "--phase", MATRIX_ELASTIC, "--phase", INCLUSION, "--json"],
    )
    C = np.array(h["C"])
    summary["C11_C44"] = [float(C[0, 0]), float(C[3, 3] / 2)]

    d = _step(
        log,
        f"3. training data: {args.samples} sampled phase-stiffness pairs, FFT C-bar",
        [
            "data",
            "generate",
            str(micro),
            "--samples",
            str(args.samples),
            "--out",
            str(data),
            "--executor",
            "local",
            "--json",
        ],
    )
    summary["dataset"] = d

    t = _step(
        log,
        f"4. train an IMN of depth {args.depth}",
        [
            "train",
            str(data),
            "--formulation",
            "imn",
            "--depth",
            str(args.depth),
            "--epochs",
            str(args.epochs),
            "--out",
            str(model),
            "--json",
        ],
    )
    summary["training"] = t

    _step(log, "5. inspect the model file", ["inspect", str(model), "--json"])

    path_csv = out / "uniaxial_load_unload.csv"
    loadpath.write_path(path_csv, loadpath.cyclic([0.01, 0.0], 8))
    phase_args = ["--phase", MATRIX, "--phase", INCLUSION]
    load_args = [*phase_args, "--path", str(path_csv), "--stress-free", "22,33,23,13,12"]
    dns_json = out / "dns.json"
    _step(
        log,
        "6. nonlinear FFT DNS reference: J2 matrix, elastic spheres, uniaxial load/unload",
        ["dns", str(micro), *load_args, "--out", str(dns_json), "--json"],
    )
    s_dns = np.array(json.loads(dns_json.read_text())["stress"])[:, 0]
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
        r = _step(
            log,
            title,
            ["drive", name, *load_args, "--dns", str(dns_json), "--png", str(out / png), "--json"],
        )
        err = np.abs(np.array(r["stress"])[:, 0] - s_dns) / np.abs(s_dns).max()
        summary["online_vs_dns"][name] = {
            "mean_rel_error": float(err.mean()),
            "max_rel_error": float(err.max()),
        }

    fe_args = ["fe2", "plate-hole", "--model", str(model), *phase_args, "--size", args.fe_size]
    f = _step(
        log,
        "8. FE²: plate with a hole in tension, network at every integration point",
        [*fe_args, "--out", str(out / "fe2-plate-hole"), "--json"],
    )
    summary["fe2"] = f
    summary["seconds"] = time.perf_counter() - t_start

    if args.json:
        from .cliutil import emit_json

        emit_json(summary)
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
