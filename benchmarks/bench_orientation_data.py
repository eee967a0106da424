"""Orientation data sets: cost per state and a linear sanity check (docs/fibres.md §2).

    python benchmarks/bench_orientation_data.py [--size 32 --radius 1.5 --aspect 5 --vf 0.12]
                                                [--points 5] [--samples-per-state 4] [--seed 0]

Generates an orientation data set (library path, serial executor: one core, so the times are
per core) on ``--points`` states along the triangle edge from planar isotropic (½, ½, 0) to UD
(1, 0, 0) with shared phase pairs, then prints

1. cost per state: fibres, max |ΔA₂|, vf, RVE generation seconds, FFT seconds per sample (the
   gaps between stored samples) and mean PCG iterations;
2. C̄11/C̄22 versus λ1 for glass fibres (E 72 GPa, ν 0.22) in PA (E 3 GPa, ν 0.35) on the same
   RVEs and for each sampled pair (its log10 contrast), with a monotonicity verdict per column;
3. the distance to transverse isotropy about x, y, z of the UD state's C̄ (glass/PA):
   ‖C − ⟨Q_θ⋆C⟩_θ‖_F / ‖C‖_F.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dmn_umat.rve import fft  # noqa: E402
from dmn_umat.rve import orientation_data as od  # noqa: E402
from dmn_umat.tensors import isotropic_stiffness, rotate_stiffness  # noqa: E402


def _rot(axis, t):
    c, s = np.cos(t), np.sin(t)
    i, j = [k for k in range(3) if k != axis]
    R = np.eye(3)
    R[i, i], R[i, j], R[j, i], R[j, j] = c, -s, s, c
    return R


def ti_deviation(C, axis):
    avg = np.mean([rotate_stiffness(C, _rot(axis, t)) for t in np.arange(12) * np.pi / 12], axis=0)
    return np.linalg.norm(C - avg) / np.linalg.norm(C)


def monotone(x):
    d = np.diff(x)
    return "rising" if np.all(d > 0) else "falling" if np.all(d < 0) else "NOT monotone"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--radius", type=float, default=1.5)
    ap.add_argument("--aspect", type=float, default=5.0)
    ap.add_argument("--vf", type=float, default=0.12)
    ap.add_argument("--points", type=int, default=5)
    ap.add_argument("--samples-per-state", type=int, default=4)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    import numba

    numba.set_num_threads(1)
    lam1 = np.linspace(0.5, 1.0, a.points)
    states = [(x, 1.0 - x, 0.0) for x in lam1]
    stamps = []
    with tempfile.TemporaryDirectory() as tmp:
        job = od.OrientationDataJob(
            out=os.path.join(tmp, "edge.h5"), samples_per_state=a.samples_per_state, states=states, vf=[a.vf],
            size=a.size, radius=a.radius, aspect=a.aspect, shared_pairs=True, seed=a.seed, executor="local",
        )  # fmt: skip
        t0 = time.perf_counter()
        data = od.generate_orientation_data(
            job, show_progress=False, on_sample=lambda g, n: stamps.append((g, time.perf_counter()))
        ).data
        wall = time.perf_counter() - t0
    M, S = a.samples_per_state, len(states)
    st = data.states
    rve_total = float(st["seconds"].sum())
    # the first gap also holds the last RVE's leftovers and the numba start-up: drop sample 0
    gaps = {g: t - stamps[i - 1][1] for i, (g, t) in enumerate(stamps) if i > 0}
    print(f"\n{a.size}^3, r {a.radius:g} (D = {2 * a.radius:g} voxels), aspect {a.aspect:g}, vf {a.vf:g}, "
          f"{M} shared pairs per state, FFT tol 1e-8, one core; wall {wall:.1f} s")  # fmt: skip
    print("\n| λ1 | λ2 | fibres | max ΔA₂ | vf | RVE s | FFT s / sample | PCG its |")
    print("|---|---|---|---|---|---|---|---|")
    for k in range(S):
        per = [gaps[g] for g in range(k * M, (k + 1) * M) if g in gaps]
        its = data.iterations[k * M:(k + 1) * M].mean()
        lam = st["eig"][k]
        print(f"| {lam[0]:.3f} | {lam[1]:.3f} | {int(st['count'][k])} | {st['a2_error'][k]:.4f} | "
              f"{st['volume_fraction'][k]:.4f} | {st['seconds'][k]:.2f} | {np.mean(per):.2f} | "
              f"{its:.0f} |")  # fmt: skip
    print(f"\nRVE generation total {rve_total:.1f} s; FFT mean {np.mean(list(gaps.values())):.2f} s / sample")

    # linear sanity check on the same RVEs
    glass, pa = isotropic_stiffness(72.0, 0.22), isotropic_stiffness(3.0, 0.35)
    Cg = []
    for k in range(S):
        Cg.append(fft.homogenize(data.voxels[k], [pa, glass], tol=1e-8, workers=1).C)
    Cg = np.array(Cg)
    contrast = np.log10(data.params[:M, 1, 0] / data.params[:M, 0, 0])
    head = " | ".join(f"pair {j} (log10 c {contrast[j]:+.2f})" for j in range(M))
    print(f"\n| λ1 | glass/PA C̄11/C̄22 | {head} |")
    print("|---" * (2 + M) + "|")
    ratios = data.Cbar[:, 0, 0] / data.Cbar[:, 1, 1]
    for k in range(S):
        row = " | ".join(f"{ratios[k * M + j]:.4f}" for j in range(M))
        print(f"| {lam1[k]:.3f} | {Cg[k, 0, 0] / Cg[k, 1, 1]:.4f} | {row} |")
    verdict = " | ".join(monotone(ratios[j::M]) for j in range(M))
    print(f"| trend | {monotone(Cg[:, 0, 0] / Cg[:, 1, 1])} | {verdict} |")
    ud = Cg[-1]
    print("\nUD state, glass/PA: distance to transverse isotropy about x, y, z: "
          + ", ".join(f"{ti_deviation(ud, ax):.4f}" for ax in range(3)))  # fmt: skip


if __name__ == "__main__":
    main()
