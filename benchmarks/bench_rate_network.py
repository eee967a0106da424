"""Cost of the rate-dependent phase laws inside the network: µs per integration point per
increment at depth 7 for each matrix law next to J2 (issue 12).

The setting of ``bench_online.py``: random complete trees (leaf rotations), matrix = phase 0,
stiff elastic inclusion = phase 1, every point on its own random proportional path to 2 %
strain in ``--incr`` increments then unloading half way, here with a time increment ``--dt``
per increment (the viscous laws flow).  Prints a table; ``--json`` prints the rows.

    python benchmarks/bench_rate_network.py [--depth 7] [--points 64] [--incr 10] [--dt 1.0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from bench_online import INCLUSION, make_net  # noqa: E402

from dmn_umat.online.solver import NetworkMaterial  # noqa: E402
from dmn_umat.status import INFO_ITERATIONS  # noqa: E402

HARD = "E=70e3,nu=0.3,sy=100,H=500,Q=50,b=20,Hk=300"
MATRICES = {
    "j2": f"j2:{HARD}",
    "vp Peric": f"vp:{HARD},eta=10,m=0.3",
    "vp Perzyna": f"vp:{HARD},eta=10,m=0.3,form=1",
    "creep (Norton)": "creep:E=70e3,nu=0.3,A=1e-12,n=4",
    "creep + plasticity": f"creep:{HARD},A=1e-8,n=3",
    "chaboche": "chaboche:E=70e3,nu=0.3,sy=100,Q=50,b=20,C1=30e3,gamma1=300,C2=3e3,gamma2=10",
    "chaboche viscous": "chaboche:E=70e3,nu=0.3,sy=100,Q=50,b=20,C1=30e3,gamma1=300,C2=3e3,gamma2=10,"
                        "eta=10,m=0.3",
}


def run(matrix: str, depth: int, npts: int, incr: int, dt: float, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    mat = NetworkMaterial(make_net(depth, 0.0, rng), [matrix, INCLUSION], threads=1)
    d = rng.normal(size=(npts, 6))
    d *= 0.02 / np.abs(d).max(axis=1, keepdims=True)
    levels = np.concatenate([np.linspace(0, 1, incr + 1)[1:], np.linspace(1, 0.5, incr // 2 + 1)[1:]])
    state = mat.initial_state(npts)
    mat.update(d * levels[0], state, dt)  # compile
    t = 0.0
    its = 0.0
    for lv in levels:
        t0 = time.perf_counter()
        _, _, new, status = mat.update(d * lv, state, dt)
        t += time.perf_counter() - t0
        if np.any(status != 0):
            raise RuntimeError(f"{matrix}: {int(np.sum(status != 0))} points did not converge")
        its += mat.last_info[:, INFO_ITERATIONS].mean()
        state = new
    return {"us_per_point_incr": 1e6 * t / (npts * levels.size), "newton_per_incr": its / levels.size}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depth", type=int, default=7)
    ap.add_argument("--points", type=int, default=64)
    ap.add_argument("--incr", type=int, default=10)
    ap.add_argument("--dt", type=float, default=1.0, help="time increment per increment (s)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    for name, spec in MATRICES.items():
        r = run(spec, a.depth, a.points, a.incr, a.dt)
        rows.append({"law": name, **r})
    base = rows[0]["us_per_point_incr"]
    if a.json:
        print(json.dumps(rows))
        return
    print(f"# depth {a.depth}, {a.points} points, {a.incr}+{a.incr // 2} increments, dt {a.dt} s, 1 thread")
    print("| matrix law | µs/pt/incr | × j2 | Newton it/incr |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['law']} | {r['us_per_point_incr']:.1f} | {r['us_per_point_incr'] / base:.2f} | "
              f"{r['newton_per_incr']:.2f} |")


if __name__ == "__main__":
    main()
