"""FE² (trained network at every integration point) vs concurrent FE×FFT (nonlinear FFT RVE at
every integration point) on a tiny plane-strain strip: load–displacement difference, speed-up.

    python fe2_examples/fe2_vs_fft.py --micro MICRO.npy --model MODEL.dmn [--steps 6]
        [--delta 0.09] [--phase SPEC --phase SPEC] [--out DIR]

Without ``--micro/--model`` it uses a two-layer laminate RVE and the exact depth-1 network
(agreement to round-off: a check of the machinery rather than of the training).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from dmn_umat import model_file
from dmn_umat.fe.concurrent import compare
from dmn_umat.fe.output import atomic_write_text, plot_curve
from dmn_umat.laws import parse_phase
from dmn_umat.network import complete_tree
from dmn_umat.rve.micro import laminate

DEFAULT_PHASES = ["j2:E=3000,nu=0.35,sy=40,H=300", "elastic:E=72000,nu=0.22"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--micro")
    ap.add_argument("--model")
    ap.add_argument("--phase", action="append")
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--delta", type=float, default=0.09, help="end displacement ux [mm] of the 3 mm strip")
    ap.add_argument("--nx", type=int, default=3)
    ap.add_argument("--ny", type=int, default=1)
    ap.add_argument("--out", default="fe2-vs-fft")
    args = ap.parse_args(argv)
    phases = [parse_phase(s) for s in (args.phase or DEFAULT_PHASES)]
    if (args.micro is None) != (args.model is None):
        ap.error("give both --micro and --model, or neither")
    if args.micro:
        micro = np.load(args.micro)
        net = model_file.read(args.model)
        label = f"{Path(args.model).name} on {Path(args.micro).name}"
    else:
        micro = laminate((8, 8, 8), 0.25, "x").voxels
        f1 = float((micro == 0).mean())
        net = complete_tree(1, np.array([f1, 1 - f1]), np.array([[1.0, 0.0, 0.0]]))
        label = "laminate 8³, exact depth-1 network"
    lams = np.linspace(1.0 / args.steps, 1.0, args.steps)
    r = compare(micro, phases, net, lams, nx=args.nx, ny=args.ny, delta=args.delta)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    d = lams * args.delta
    summary = {"case": label, "phases": [p.spec for p in phases], "points": r["fe2"]["points"],
               "max_rel_diff": r["max_rel_diff"], "speedup": r["speedup"],
               "wall_fe2_s": r["fe2"]["wall_s"], "wall_fft_s": r["fft"]["wall_s"],
               "displacement": d.tolist(), "force_fe2": r["fe2"]["force"].tolist(),
               "force_fft": r["fft"]["force"].tolist()}
    atomic_write_text(out / "fe2_vs_fft.json", json.dumps(summary, indent=1))
    plot_curve(out / "fe2_vs_fft.png", d, r["fe2"]["force"], xlabel="end displacement u_x [mm]",
               ylabel="reaction force x [N/mm]", title=label,
               reference={f"FE×FFT final ({r['fft']['force'][-1]:.4g})": r["fft"]["force"][-1]})
    print(f"{label}: {summary['points']} integration points, max |ΔF|/max|F| = {r['max_rel_diff']:.3e}, "
          f"FE×FFT {r['fft']['wall_s']:.2f} s vs FE² {r['fe2']['wall_s']:.3f} s "
          f"→ speed-up {r['speedup']:.0f}×")
    for di, a, b in zip(d, r["fe2"]["force"], r["fft"]["force"]):
        print(f"  u = {di:.4f} mm   F(FE²) = {a:10.4f}   F(FE×FFT) = {b:10.4f}   "
              f"rel. diff {(a - b) / b:+.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
