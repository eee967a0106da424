"""Online network solver speed: µs per integration point per increment vs depth.

Random complete trees of depth 4–8 (and the same trees with ~30% of the leaves pruned to zero
weight), J2 matrix (phase 0, Voce + kinematic hardening) and a stiff elastic inclusion (phase 1),
random leaf rotations.  Every point follows its own random proportional path to 2% strain in
``--incr`` increments (load), then unloads half way; timings exclude the first (compiling) call.
Prints a table; ``--json`` prints the rows as JSON.  A second table runs one path (uniaxial
stress, load to 2 % and unload) through the shipped model ``spheres16_imn_d6`` and through the
FFT DNS of the 16³ RVE it was trained on, and prints both times and the speed-up.

    python benchmarks/bench_online.py [--depths 4 5 6 7 8] [--points 64] [--incr 10] [--threads N]
        [--rtol R] [--dns-steps 20 | --no-dns]
"""

from __future__ import annotations

import argparse
import json
import time

import numba
import numpy as np

from dmn_umat import network, tensors
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.status import INFO_ITERATIONS, INFO_SUBSTEPS

MATRIX = "j2:E=70e3,nu=0.3,sy=100,H=500,Q=50,b=20,Hk=300"
INCLUSION = "elastic:E=400e3,nu=0.2"


def make_net(depth: int, prune: float, rng: np.random.Generator) -> network.Network:
    n = 2**depth
    w = rng.uniform(0.05, 1.0, n)
    if prune > 0:
        w[rng.choice(n, int(round(prune * n)), replace=False)] = 0.0
        if w.sum() == 0:
            w[0] = 1.0
    R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])
    return network.complete_tree(depth, w, rng.normal(size=(n - 1, 3)), rotations=R)


def run_case(
    net, threads: int, npts: int, nincr: int, rng, rtol: float = 1e-10
) -> tuple[float, float, float]:
    """Returns (µs per point-increment, mean Newton iterations per increment, sub-step share)."""
    mat = NetworkMaterial(net, [MATRIX, INCLUSION], threads=threads, rtol=rtol)
    dirs = rng.normal(size=(npts, 6))
    dirs *= 0.02 / np.linalg.norm(dirs, axis=1)[:, None]
    ts = np.r_[np.linspace(0, 1, nincr + 1)[1:], np.linspace(1, 0.5, nincr // 2 + 1)[1:]]
    state = mat.initial_state(npts)
    mat.update(dirs * 1e-6, state)  # compile / warm up
    its, subs, elapsed = [], [], 0.0
    for t in ts:
        t0 = time.perf_counter()
        r = mat.update(dirs * t, state)
        state, status = r.state, r.status
        elapsed += time.perf_counter() - t0
        if np.any(status != 0):
            raise RuntimeError(f"benchmark: {np.count_nonzero(status)} points did not converge")
        its.append(mat.last_info[:, INFO_ITERATIONS].mean())
        subs.append(np.mean(mat.last_info[:, INFO_SUBSTEPS] > 1))
    return 1e6 * elapsed / (npts * len(ts)), float(np.mean(its)), float(np.mean(subs))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    ap.add_argument("--points", type=int, default=64)
    ap.add_argument("--incr", type=int, default=10)
    ap.add_argument(
        "--threads", type=int, default=numba.config.NUMBA_NUM_THREADS, help="'all threads' column"
    )
    ap.add_argument("--rtol", type=float, default=1e-10, help="Newton tolerance of the network solve")
    ap.add_argument("--dns-steps", type=int, default=20, help="steps of the network-vs-DNS path")
    ap.add_argument("--no-dns", action="store_true", help="skip the network-vs-DNS comparison")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = []
    for depth in args.depths:
        for prune in (0.0, 0.3):
            rng = np.random.default_rng(depth)
            net = make_net(depth, prune, rng)
            active = int(np.count_nonzero(net.weights[net.leaves] > 0))
            t1, its, sub = run_case(net, 1, args.points, args.incr, np.random.default_rng(1), args.rtol)
            tn, _, _ = run_case(
                net, args.threads, args.points, args.incr, np.random.default_rng(1), args.rtol
            )
            rows.append(
                {
                    "depth": depth,
                    "leaves": active,
                    "pruned": prune,
                    "us_1thread": t1,
                    f"us_{args.threads}threads": tn,
                    "newton_per_incr": its,
                    "substepped_share": sub,
                }
            )
    dns_row = None if args.no_dns else network_vs_dns(args.dns_steps)
    if args.json:
        print(json.dumps({"depths": rows, "network_vs_dns": dns_row}))
        return
    print(
        f"# online network update, J2 matrix + elastic inclusion, {args.points} points, "
        f"{args.incr}+{args.incr // 2} increments, rtol {args.rtol:g}, numba {numba.__version__}"
    )
    print(
        f"| depth | active leaves | µs/pt/incr 1 thread | µs/pt/incr {args.threads} threads "
        "| Newton it/incr | sub-stepped |"
    )
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['depth']} | {r['leaves']} | {r['us_1thread']:.1f} | {r[f'us_{args.threads}threads']:.1f} "
            f"| {r['newton_per_incr']:.2f} | {100 * r['substepped_share']:.0f}% |"
        )
    if dns_row:
        r = dns_row
        print(f"\n# one path (uniaxial stress, mixed control), {r['steps']} increments, 1 thread:")
        print("# shipped IMN (depth 6) vs the FFT DNS of the 16³ RVE it was trained on")
        print("| solver | seconds | ms per increment | iterations/incr | mean σ11 error vs DNS |")
        print("|---|---|---|---|---|")
        net_ms = 1e3 * r["net_s"] / r["steps"]
        print(
            f"| network | {r['net_s']:.3f} | {net_ms:.2f} | {r['net_newton']:.1f} Newton (all mixed-control"
            f" evaluations) | {100 * r['mean_err']:.2f} % |"
        )
        dns_ms = 1e3 * r["dns_s"] / r["steps"]
        print(
            f"| FFT DNS | {r['dns_s']:.2f} | {dns_ms:.1f} "
            f"| {r['dns_newton']:.1f} Newton, {r['dns_pcg']:.0f} PCG | — |"
        )
        print(f"| speed-up | {r['dns_s'] / r['net_s']:.0f}× | | | |")


def network_vs_dns(steps: int) -> dict:
    """Time one uniaxial load/unload path through the shipped IMN and through the FFT DNS."""
    from dmn_umat import loadpath, model_file
    from dmn_umat.laws import parse_phase
    from dmn_umat.offline.pretrained import path as model_path
    from dmn_umat.online.driver import drive
    from dmn_umat.rve import fft, micro

    numba.set_num_threads(1)
    phases = [parse_phase(MATRIX), parse_phase(INCLUSION)]
    net = model_file.read(model_path("spheres16_imn_d6"))
    rve = micro.spheres(16, 0.2, seed=1)  # the RVE the model was trained on (docs/training.md)
    path = loadpath.cyclic([0.02, 0.0], steps // 2)
    free = loadpath.ALL_BUT_11
    mat = NetworkMaterial(net, phases, threads=1)
    drive(mat, path[:2], free)  # compile
    t0 = time.perf_counter()
    res = drive(mat, path, free)
    net_s = time.perf_counter() - t0
    fft.dns(rve.voxels, phases, path[:1], free, workers=1)  # compile
    t0 = time.perf_counter()
    ref = fft.dns(rve.voxels, phases, path, free, workers=1)
    dns_s = time.perf_counter() - t0
    peak = np.abs(ref.stress[:, 0]).max()
    return {
        "steps": len(path),
        "net_s": net_s,
        "dns_s": dns_s,
        "net_newton": float(np.mean(res["iterations"])),
        "dns_newton": float(np.mean(ref.iterations[:, 0])),
        "dns_pcg": float(np.mean(ref.iterations[:, 1])),
        "mean_err": float(np.mean(np.abs(res["stress"][:, 0] - ref.stress[:, 0])) / peak),
    }


if __name__ == "__main__":
    main()
