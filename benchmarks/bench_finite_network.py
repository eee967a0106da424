"""Finite-strain network speed vs the small-strain network: µs per point per increment.

Random complete trees of depth 5–7 with random leaf rotations; phase 0 a J2 matrix (finite J2 /
small-strain ``j2``, the same constants), phase 1 a stiff inclusion (neo-Hookean from E, ν /
``elastic``).  Every point follows its own random proportional path: small strain ε = t E_p
(|E_p| = 2 %), finite strain F = 1 + t G_p (|G_p| = ``--amp``, default 10 %, G_p not symmetric:
stretch + rotation), load in ``--incr`` increments then unload half way; the first (compiling)
call is not timed.  Points whose update asks for a cut back keep their old state and are counted
(column "cut backs": point-increments; their failed 600 iterations are in the time).

    python benchmarks/bench_finite_network.py [--depths 5 6 7] [--points 64] [--incr 10] [--amp 0.1]
        [--threads N]
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from dmn_umat import network, tensors
from dmn_umat.laws.finite_update import fj2_props, neohooke_props
from dmn_umat.online.finite_solver import FiniteNetworkMaterial
from dmn_umat.online.solver import NetworkMaterial

E_M, NU_M, SY, H = 70e3, 0.3, 100.0, 2000.0  # H = 500: see docs/online.md "Finite strain", limits
E_I, NU_I = 400e3, 0.2


def make_net(depth: int, rng: np.random.Generator) -> network.Network:
    n = 2**depth
    R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])
    return network.complete_tree(depth, rng.uniform(0.05, 1.0, n), rng.normal(size=(n - 1, 3)), rotations=R)


def _loads(nincr: int) -> np.ndarray:
    return np.r_[np.linspace(0, 1, nincr + 1)[1:], np.linspace(1, 0.5, nincr // 2 + 1)[1:]]


def time_small(net, threads, npts, nincr, rng) -> tuple[float, float]:
    mat = NetworkMaterial(net, [f"j2:E={E_M},nu={NU_M},sy={SY},H={H}", f"elastic:E={E_I},nu={NU_I}"],
                          threads=threads)
    d = rng.normal(size=(npts, 6))
    d *= 0.02 / np.linalg.norm(d, axis=1)[:, None]
    state = mat.initial_state(npts)
    mat.update(d * 1e-6, state)
    elapsed, its = 0.0, []
    for t in _loads(nincr):
        t0 = time.perf_counter()
        r = mat.update(d * t, state)
        elapsed += time.perf_counter() - t0
        if np.any(r.status != 0):
            raise RuntimeError("small-strain benchmark: points did not converge")
        state = r.state
        its.append(mat.last_info[:, 1].mean())
    return 1e6 * elapsed / (npts * len(_loads(nincr))), float(np.mean(its))


def time_finite(net, threads, npts, nincr, rng, amp) -> tuple[float, float, int]:
    mat = FiniteNetworkMaterial(net, [fj2_props(E_M, NU_M, SY, H), neohooke_props(E=E_I, nu=NU_I)],
                                threads=threads)
    G = rng.normal(size=(npts, 3, 3))
    G *= amp / np.linalg.norm(G, axis=(1, 2))[:, None, None]
    state = mat.initial_state(npts)
    mat.update(np.eye(3) + 1e-6 * G, state)
    elapsed, its, ncut = 0.0, [], 0
    for t in _loads(nincr):
        t0 = time.perf_counter()
        _, _, state_new, st = mat.update(np.eye(3) + t * G, state)
        elapsed += time.perf_counter() - t0
        ok = st == 0
        ncut += int(np.count_nonzero(~ok))
        state[ok] = state_new[ok]
        its.append(mat.last_info[ok, 1].mean())
    return 1e6 * elapsed / (npts * len(_loads(nincr))), float(np.mean(its)), ncut


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[5, 6, 7])
    ap.add_argument("--points", type=int, default=64)
    ap.add_argument("--incr", type=int, default=10)
    ap.add_argument("--amp", type=float, default=0.1)
    ap.add_argument("--threads", type=int, default=numba.get_num_threads())
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(f"{a.points} points, {a.incr} + {a.incr // 2} increments, |G| = {a.amp}, {a.threads} threads")
    print("depth | small µs/pt/incr | its | finite µs/pt/incr | its | cut backs | ratio")
    print("---|---|---|---|---|---|---")
    for K in a.depths:
        net = make_net(K, np.random.default_rng(a.seed + K))
        ts, its_s = time_small(net, a.threads, a.points, a.incr, np.random.default_rng(a.seed))
        tf, its_f, ncut = time_finite(net, a.threads, a.points, a.incr, np.random.default_rng(a.seed), a.amp)
        print(f"{K} | {ts:.1f} | {its_s:.1f} | {tf:.1f} | {its_f:.1f} | {ncut} | {tf / ts:.2f}")


if __name__ == "__main__":
    main()
