"""Short-fibre RVEs with a prescribed orientation tensor A2: accuracy and cost (docs/fibres.md).

    python benchmarks/bench_fibres.py [--configs 32:0.10:5:1.5 32:0.15:5:1.5 48:0.15:8:1.5 48:0.10:10:1.5]
                                      [--seeds 0 1] [--points isotropic interior ...] [--no-baselines]
    python benchmarks/bench_fibres.py --resolution [--res-scales 1 2 3]

One row per (grid, vf, aspect, radius, triangle point): the largest max |A2_realised − A2| over the
seeds (half of them with rotated principal axes) for the full method (ACG proposal + herded RSA +
direction swaps), and, unless --no-baselines, for herding without swaps and for independent draws
(no herding, no swaps); the largest |vf − target| in units of one fibre's voxel fraction; the
continuum fibre fraction n·V_fibre/V − target (discretisation); fibre count; seconds per RVE.

--resolution: one continuum RVE (24³ cell, r = 1.5, aspect 5, vf 0.12, A2 "moulded-shell") voxelised
with 1, 2, 3 × the voxels per length (fibre diameter 3, 6, 9 voxels); FFT C̄ of glass fibres
(E 72 GPa, ν 0.22) in PA (E 3 GPa, ν 0.35), C̄11, C̄22, C̄33, C̄44 (Mandel 2G) and their change
from the finest grid, voxel vf and seconds.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dmn_umat.rve import micro, orientation  # noqa: E402

ROT = orientation.axes_from_vectors((1.0, 2.0, 2.0), (2.0, 1.0, -2.0))


def run(size, vf, aspect, radius, lam, seed, pool=None, sweeps=None):
    saved = micro._HERD_POOL, micro._POLISH_SWEEPS
    if pool is not None:
        micro._HERD_POOL = pool
    if sweeps is not None:
        micro._POLISH_SWEEPS = sweeps
    try:
        a2 = orientation.a2_from_eigen(lam, ROT if seed % 2 else None)
        t = time.perf_counter()
        mic = micro.short_fibres(size, vf, seed=seed, radius=radius, aspect=aspect, a2=a2)
        return mic, time.perf_counter() - t
    finally:
        micro._HERD_POOL, micro._POLISH_SWEEPS = saved


def voxelise(segs: np.ndarray, radius: float, shape: tuple[int, int, int]) -> np.ndarray:
    """Round-ended periodic fibres (axis end points, voxel units of ``shape``) → int32 voxels."""
    L = np.asarray(shape, dtype=np.float64)
    x = [np.arange(n) + 0.5 for n in shape]
    pts = np.stack(np.meshgrid(*x, indexing="ij"), -1).reshape(-1, 3)
    inside = np.zeros(len(pts), bool)
    for p, q in segs:
        d = q - p
        rel = pts - 0.5 * (p + q)
        rel = rel - L * np.round(rel / L) + 0.5 * d
        t = np.clip(rel @ d / (d @ d), 0.0, 1.0)
        inside |= np.sum((rel - t[:, None] * d) ** 2, axis=1) <= radius * radius
    return inside.reshape(shape).astype(np.int32)


def resolution(scales: list[int]) -> None:
    from dmn_umat import tensors
    from dmn_umat.rve import fft

    a2 = orientation.a2_from_eigen(orientation.triangle_points()["moulded-shell"])
    base = micro.short_fibres(24, 0.12, seed=0, radius=1.5, aspect=5.0, a2=a2)
    stiff = [tensors.isotropic_stiffness(3.0, 0.35), tensors.isotropic_stiffness(72.0, 0.22)]
    rows = []
    for s in scales:
        vox = voxelise(base.objects * s, 1.5 * s, (24 * s,) * 3)
        res = fft.homogenize(vox, stiff, tol=1e-6)
        rows.append((s, vox.mean(), np.diag(res.C)[:4], res.seconds))
    ref = rows[-1][2]
    print(f"continuum vf {base.count * (np.pi * 2.25 * 12 + 4 / 3 * np.pi * 1.5**3) / 24**3:.4f}, "
          f"{base.count} fibres, A2 error {base.params['a2_error']:.4f}")
    print("| fibre diameter (voxels) | grid | voxel vf | C̄11 | C̄22 | C̄33 | C̄44 | max change vs finest | s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for s, vf, c, secs in rows:
        print(f"| {3 * s} | {24 * s}³ | {vf:.4f} | {c[0]:.3f} | {c[1]:.3f} | {c[2]:.3f} | {c[3]:.3f} | "
              f"{np.max(np.abs(c / ref - 1)):.2%} | {secs:.1f} |", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", nargs="+", default=["32:0.10:5:1.5", "32:0.15:5:1.5", "48:0.15:8:1.5",
                                                      "48:0.10:10:1.5"], help="size:vf:aspect:radius")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--points", nargs="+", default=list(orientation.triangle_points()))
    ap.add_argument("--no-baselines", action="store_true")
    ap.add_argument("--resolution", action="store_true", help="C̄ versus voxels per fibre diameter")
    ap.add_argument("--res-scales", nargs="+", type=int, default=[1, 2, 3])
    args = ap.parse_args()
    if args.resolution:
        resolution(args.res_scales)
        return
    pts = orientation.triangle_points()
    print("| grid | vf | aspect | r | point (λ1, λ2, λ3) | max ΔA2 | herding only | independent | "
          "max Δvf / fibre | continuum vf − target | fibres | s / RVE |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for cfg in args.configs:
        size, vf, aspect, radius = cfg.split(":")
        size, vf, aspect, radius = int(size), float(vf), float(aspect), float(radius)
        length = 2 * radius * aspect
        v_fibre = np.pi * radius**2 * (length - 2 * radius) + 4 / 3 * np.pi * radius**3
        for name in args.points:
            lam = pts[name]
            err, dvf, cont, count, secs, herd, iid = [], [], [], [], [], [], []
            for seed in args.seeds:
                mic, dt = run(size, vf, aspect, radius, lam, seed)
                err.append(mic.params["a2_error"])
                one = np.count_nonzero(mic.voxels) / mic.count / mic.voxels.size
                dvf.append(abs(mic.volume_fraction - vf) / one)
                cont.append(mic.count * v_fibre / mic.voxels.size - vf)
                count.append(mic.count)
                secs.append(dt)
                if not args.no_baselines:
                    herd.append(run(size, vf, aspect, radius, lam, seed, sweeps=0)[0].params["a2_error"])
                    iid.append(run(size, vf, aspect, radius, lam, seed, 1, 0)[0].params["a2_error"])
            base = ("–", "–") if args.no_baselines else (f"{max(herd):.4f}", f"{max(iid):.4f}")
            print(f"| {size}³ | {vf:.2f} | {aspect:g} | {radius:g} | {name} ({lam[0]:.3f}, {lam[1]:.3f}, "
                  f"{lam[2]:.3f}) | {max(err):.4f} | {base[0]} | {base[1]} | {max(dvf):.2f} | "
                  f"{max(cont, key=abs):+.4f} | {min(count)}–{max(count)} | {np.mean(secs):.2f} |",
                  flush=True)


if __name__ == "__main__":
    main()
