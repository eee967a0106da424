"""Benchmark of the FFT homogenization engine (dmn_umat.rve.fft).

    python benchmarks/bench_fft.py [--sizes 32 64] [--workers 1 2] [--dns-size 32] [--dns-steps 4]

Prints one table row per (grid, workers): seconds per elastic homogenization (6 load cases),
PCG iterations (sum over the 6 cases), peak traced memory (tracemalloc: numpy/scipy buffers),
the median time of one PCG iteration and the median time of the FFTs inside that same
iteration (one rfftn + one irfftn of the 3 displacement components), their ratio (wall, and
process CPU time: robust on a loaded machine), and the FFT pair timed alone (min of repeats);
then seconds per DNS increment.
Microstructure: random periodic spheres (vf ~ 0.2), isotropic phases with contrast 100.
``workers`` sets both the numba threads and the scipy.fft workers.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from dmn_umat import loadpath, tensors  # noqa: E402
from dmn_umat.laws import parse_phase  # noqa: E402
from dmn_umat.rve import fft, fft_kernels  # noqa: E402


def sphere_centres(vf: float, radius: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    probe = (np.arange(48) + 0.5) / 48
    X = np.stack(np.meshgrid(probe, probe, probe, indexing="ij"), -1)
    occ = np.zeros(X.shape[:3], bool)
    out = []
    while occ.mean() < vf:
        c = rng.random(3)
        out.append(c)
        d = X - c
        d -= np.round(d)
        occ |= (d**2).sum(-1) < radius**2
    return np.array(out)


def voxelize(centres: np.ndarray, radius: float, n: int) -> np.ndarray:
    x = (np.arange(n) + 0.5) / n
    X = np.stack(np.meshgrid(x, x, x, indexing="ij"), -1)
    m = np.zeros((n, n, n), dtype=np.int32)
    for c in centres:
        d = X - c
        d -= np.round(d)
        m[(d**2).sum(-1) < radius**2] = 1
    return m


def best_of(f, repeats: int) -> float:
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def fft_pair_seconds(shape, workers: int, repeats: int = 15) -> float:
    import scipy.fft as sfft

    x = np.random.default_rng(0).random((3, *shape))

    def pair():
        uh = sfft.rfftn(x, axes=(1, 2, 3), workers=workers)
        sfft.irfftn(uh, s=shape, axes=(1, 2, 3), workers=workers, overwrite_x=True)

    pair()
    return best_of(pair, repeats)


def pcg_iteration_seconds(micro, stiffnesses, workers: int, iters: int = 40) -> np.ndarray:
    """Medians over iterations of (wall s per PCG iteration, wall s of its FFTs, CPU s per
    iteration, CPU s of its FFTs)."""
    table = np.ascontiguousarray(np.array(stiffnesses))
    K0, G0, _ = fft.reference_medium(stiffnesses)
    s = fft.StaggeredGridSolver(micro.shape, K0, G0, (), workers)
    idx = micro.reshape(-1).astype(np.int64)
    E = np.array([1.0, 0, 0, 0, 0, 0])
    b = np.empty(s.n)
    iso = fft_kernels.isotropic_table(table)
    s.apply(np.zeros(s.n), table, idx, b, E, iso)
    b *= -1.0
    timings: list = []
    s.pcg(b, np.zeros(s.n), table, idx, 0.0, iters, timings, iso)
    return np.median(np.array(timings), axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--dns-size", type=int, default=32)
    ap.add_argument("--dns-steps", type=int, default=4)
    args = ap.parse_args()

    import numba

    C_mat = tensors.isotropic_stiffness(1.0, 0.3)
    C_inc = tensors.isotropic_stiffness(100.0, 0.2)
    centres = sphere_centres(0.2, 0.14, seed=4)
    print(f"# dmn_umat FFT benchmark  cpus={os.cpu_count()}  load={os.getloadavg()[0]:.1f}  "
          f"numba max threads={numba.config.NUMBA_NUM_THREADS}")
    # warm up / compile
    fft.homogenize(voxelize(centres, 0.14, 8), [C_mat, C_inc])

    hdr = (f"{'grid':>6} {'workers':>7} {'homog s':>9} {'PCG its':>8} {'peak MiB':>9} "
           f"{'ms/iter':>8} {'ms FFTs':>8} {'ratio':>6} {'cpu r.':>6} {'FFT alone':>9}")
    print(hdr)
    print("-" * len(hdr))
    for n in args.sizes:
        micro = voxelize(centres, 0.14, n)
        for w in args.workers:
            numba.set_num_threads(min(w, numba.config.NUMBA_NUM_THREADS))
            tracemalloc.start()
            res = fft.homogenize(micro, [C_mat, C_inc], workers=w)
            peak = tracemalloc.get_traced_memory()[1] / 2**20
            tracemalloc.stop()
            t_it, t_fft, c_it, c_fft = pcg_iteration_seconds(micro, [C_mat, C_inc], w)
            t_pair = fft_pair_seconds(micro.shape, w)
            print(f"{n:>4}^3 {w:>7} {res.seconds:>9.3f} {sum(res.iterations):>8d} {peak:>9.1f} "
                  f"{1e3 * t_it:>8.2f} {1e3 * t_fft:>8.2f} {t_it / t_fft:>6.2f} {c_it / c_fft:>6.2f} "
                  f"{1e3 * t_pair:>9.2f}")

    j2 = parse_phase("j2:E=1,nu=0.3,sy=0.003,H=0.05")
    inc = parse_phase("elastic:E=100,nu=0.2")
    micro = voxelize(centres, 0.14, args.dns_size)
    path = loadpath.uniaxial(0.02, args.dns_steps)
    print()
    hdr = (f"{'DNS grid':>8} {'workers':>7} {'steps':>5} {'s/step':>8} {'newton':>7} {'PCG its':>8} "
           f"{'s/PCG it':>9}")
    print(hdr)
    print("-" * len(hdr))
    fft.dns(voxelize(centres, 0.14, 8), [j2, inc], path[:1], stress_free=loadpath.ALL_BUT_11)  # compile
    for w in args.workers:
        numba.set_num_threads(min(w, numba.config.NUMBA_NUM_THREADS))
        r = fft.dns(micro, [j2, inc], path, stress_free=loadpath.ALL_BUT_11, workers=w)
        its = r.iterations.sum(axis=0)
        print(f"{args.dns_size:>6}^3 {w:>7} {len(path):>5} {r.seconds / len(path):>8.3f} {its[0]:>7d} "
              f"{its[1]:>8d} {r.seconds / max(its[1], 1):>9.4f}")
    print(f"# DNS: J2 matrix (E=1, sy=0.003, H=0.05) + elastic spheres (E=100), uniaxial stress to 2%; "
          f"final sigma11 = {r.stress[-1, 0]:.5g}")


if __name__ == "__main__":
    main()
