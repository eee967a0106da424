"""Cost of one material-point update of the finite-strain laws (neo-Hookean, Saint-Venant–
Kirchhoff, finite J2) next to the small-strain j2 law, and of the UMAT tangent conversion.

    python benchmarks/bench_finite_laws.py [--calls 100000] [--repeat 5]

Each row drives one point along a cyclic path F = 1 + 2 % sin(2π i / 200) H (H a fixed
unit tensor with shear and stretch; most finite-J2 increments are plastic) in an @njit loop
and prints the time per call (minimum over ``--repeat`` runs).  The machine is shared: read
ratios, not digits.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from numba import njit

from dmn_umat.laws.finite import umat_tangent
from dmn_umat.laws.finite_j2 import LAW_FJ2, NSTATE, NWS, fj2_update
from dmn_umat.laws.hyperelastic import LAW_SVK, neohooke_props, neohooke_update, svk_update
from dmn_umat.laws.j2 import j2_update

E, NU = 200e3, 0.3
HDIR = np.array([[0.6, 0.5, 0.0], [0.1, -0.3, 0.2], [0.0, 0.3, -0.2]])


@njit
def _loop_fs(update, props, umat, calls):
    F_old = np.eye(3)
    F = np.eye(3)
    P = np.zeros((3, 3))
    A = np.zeros((9, 9))
    D = np.zeros((6, 6))
    st = np.zeros(NSTATE)
    new = np.zeros(NSTATE)
    ws = np.zeros(NWS)
    bad = 0
    for i in range(calls):
        a = 0.02 * math.sin(2.0 * math.pi * (i + 1) / 200.0)
        for r in range(3):
            for c in range(3):
                F[r, c] = (1.0 if r == c else 0.0) + a * HDIR[r, c]
        if update(props, F_old, F, st, 0.0, 0.0, 0.0, P, A, new, ws) != 0:
            bad += 1
        if umat:
            umat_tangent(F, P, A, D)
        st[:] = new
    return bad


@njit
def _loop_j2(props, calls):
    eps = np.zeros(6)
    s = np.zeros(6)
    C = np.zeros((6, 6))
    st = np.zeros(7)
    new = np.zeros(7)
    xi = np.zeros(6)
    bad = 0
    for i in range(calls):
        a = 0.02 * math.sin(2.0 * math.pi * (i + 1) / 200.0)
        eps[0], eps[1], eps[2] = a * 0.6, -a * 0.3, -a * 0.2
        eps[3], eps[4], eps[5] = a * 0.25 * math.sqrt(2.0), 0.0, a * 0.3 * math.sqrt(2.0)
        if j2_update(props, eps, st, s, C, new, xi) != 0:
            bad += 1
        st[:] = new
    return bad


def _time(fn, *args, repeat):
    fn(*args[:-1], 10)  # compile
    best = math.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(*args)
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=100_000)
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    j2p = np.array([2.0, E, NU, 200.0, 2000.0, 100.0, 20.0, 0.0])
    fj2p = np.array([float(LAW_FJ2), E, NU, 200.0, 2000.0, 100.0, 20.0])
    rows = [
        ("j2 (small strain, Mandel 6x6 tangent)", _time(_loop_j2, j2p, a.calls, repeat=a.repeat)),
        ("neo-Hookean, P and dP/dF", _time(_loop_fs, neohooke_update, neohooke_props(E=E, nu=NU), False,
                                           a.calls, repeat=a.repeat)),
        ("Saint-Venant-Kirchhoff, P and dP/dF", _time(_loop_fs, svk_update, np.array([float(LAW_SVK), E, NU]),
                                                      False, a.calls, repeat=a.repeat)),
        ("finite J2, P and dP/dF", _time(_loop_fs, fj2_update, fj2p, False, a.calls, repeat=a.repeat)),
        ("finite J2 + umat_tangent", _time(_loop_fs, fj2_update, fj2p, True, a.calls, repeat=a.repeat)),
    ]
    print(f"{'law':<40} {'ns / call':>10}")
    for name, t in rows:
        print(f"{name:<40} {1e9 * t / a.calls:>10.0f}")


if __name__ == "__main__":
    main()
