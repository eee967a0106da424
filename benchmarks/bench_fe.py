"""FE² loop throughput: integration-point updates per second with 1 and 2 numba threads, and
the share of wall time spent in the material update, assembly (strain, f_int, K) and the
linear solve.

    NUMBA_NUM_THREADS=2 python benchmarks/bench_fe.py [--size tiny|coarse|fine] [--steps N]
        [--model FILE.dmn] [--depth K]

Problem: the plate-with-hole example (plane strain quads, 4 points per element), monotonic
tension into the plastic range; ``--size strip``: a structured 60×20 quad strip, clamped and
pulled obliquely (no gmsh needed).  Materials: plain J2 (``PhaseMaterial``) and the network
surrogate (``NetworkMaterial``; a shipped/given model, else a random depth-K tree) with a J2
matrix and an elastic inclusion phase.  Each run is preceded by a short warm-up (numba JIT).
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from dmn_umat.fe import examples as X

MATRIX = "j2:E=3000,nu=0.35,sy=40,H=300"
FIBRE = "elastic:E=72000,nu=0.22"


def _materials(args):
    from dmn_umat.laws import PhaseMaterial
    from dmn_umat.network import complete_tree
    from dmn_umat.online.solver import NetworkMaterial

    mats = [("J2 phase", lambda: PhaseMaterial(MATRIX))]
    if args.model:
        from dmn_umat import model_file

        net = model_file.read(args.model)
        label = f"network {args.model}"
    else:
        rng = np.random.default_rng(0)
        k = args.depth
        net = complete_tree(k, rng.uniform(0.2, 1.0, 2**k), rng.normal(size=(2**k - 1, 3)))
        label = f"network depth {k} ({2**k} leaves)"
    mats.append((label, lambda: NetworkMaterial(net, [MATRIX, FIBRE])))
    return mats


def run(make, threads: int, size: str, steps: int, strain: float) -> dict:
    numba.set_num_threads(threads)
    if size == "strip":  # structured, no gmsh needed
        from dmn_umat.fe.concurrent import strip_problem
        from dmn_umat.fe.solver import Solver

        Solver(strip_problem(make(), 4, 2, delta=3 * strain)[0]).advance(0.5)  # warm-up / JIT
        prob, _ = strip_problem(make(), 60, 20, delta=3 * strain)
        sol = Solver(prob)
        t0 = time.perf_counter()
        its = sum(sol.advance(lam).iterations for lam in np.linspace(1 / steps, 1, steps))
        wall = time.perf_counter() - t0
        t = sol.timing
        return {"points": sol.A.npts, "updates": sol.n_updates, "iters": its, "wall": wall,
                "mat": t["material"], "asm": t["assembly"], "sol": t["solve"]}
    X.plate_hole(make(), "tiny", n_steps=2, strain=strain)  # warm-up / JIT
    t0 = time.perf_counter()
    s = X.plate_hole(make(), size, n_steps=steps, strain=strain)
    wall = time.perf_counter() - t0
    t = s["timing_s"]
    return {"points": s["n_points"], "updates": s["point_updates"], "iters": s["newton_iterations"],
            "wall": wall, "mat": t["material"], "asm": t["assembly"], "sol": t["solve"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="coarse", choices=(*X.SIZES, "strip"),
                    help="plate-hole mesh size, or 'strip': structured 60x20 quad strip (no gmsh)")
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--strain", type=float, default=0.02)
    ap.add_argument("--model", default=None)
    ap.add_argument("--depth", type=int, default=5)
    args = ap.parse_args()
    max_threads = numba.config.NUMBA_NUM_THREADS
    head = (f"{'material':34s} {'thr':>3s} {'points':>6s} {'updates':>8s} {'Newton':>6s} {'wall s':>7s} "
            f"{'upd/s (mat)':>11s} {'upd/s (all)':>11s} {'%mat':>5s} {'%asm':>5s} {'%solve':>6s}")
    print(f"problem {args.size}, {args.steps} increments; NUMBA_NUM_THREADS={max_threads}")
    print(head)
    print("-" * len(head))
    for label, make in _materials(args):
        for thr in sorted({1, min(2, max_threads)}):
            r = run(make, thr, args.size, args.steps, args.strain)
            print(f"{label:34s} {thr:3d} {r['points']:6d} {r['updates']:8d} {r['iters']:6d} {r['wall']:7.2f} "
                  f"{r['updates'] / r['mat']:11.3g} {r['updates'] / r['wall']:11.3g} "
                  f"{100 * r['mat'] / r['wall']:5.1f} {100 * r['asm'] / r['wall']:5.1f} "
                  f"{100 * r['sol'] / r['wall']:6.1f}")
    if max_threads < 2:
        print("(set NUMBA_NUM_THREADS=2 or more to measure 2 threads)")


if __name__ == "__main__":
    main()
