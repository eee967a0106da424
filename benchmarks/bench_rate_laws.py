"""Cost of one material-point update of the rate-dependent / cyclic phase laws next to the
rate-independent j2 law.  Prints a table (``--json`` for machine-readable output).

    python benchmarks/bench_rate_laws.py [--calls 200000] [--repeat 5] [--json]

Each row drives one point along a cyclic uniaxial-strain path (ε11 = 1 % sin(2π i / 200),
dt = 0.01 s, most increments plastic) in an @njit loop and reports the time per call (minimum
over ``--repeat`` runs) and the mean number of calls that flowed.  The machine is shared: read
ratios, not digits.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from numba import njit

from dmn_umat.laws.chaboche import NSTATE as CH_NSTATE
from dmn_umat.laws.chaboche import NWS as CH_NWS
from dmn_umat.laws.chaboche import chaboche_update
from dmn_umat.laws.creep import creep_update
from dmn_umat.laws.j2 import j2_update
from dmn_umat.laws.viscoplastic import vp_update

HEAD = [200e3, 0.3, 200.0, 0.0, 100.0, 20.0, 1000.0, 20.0, 0.0, 0.0, 0.0, 0.0, 0.0]


@njit(cache=True)
def _path(i):
    e = np.zeros(6)
    e[0] = 0.01 * math.sin(2.0 * math.pi * i / 200.0)
    return e


@njit
def _loop_rate(update, props, ns, nw, calls):
    st = np.zeros(ns)
    sn = np.zeros(ns)
    s = np.zeros(6)
    C = np.zeros((6, 6))
    ws = np.zeros(nw)
    eps = np.zeros((200, 6))
    for i in range(200):
        eps[i] = _path(i)
    flowed = 0
    for i in range(calls):
        if update(props, eps[i % 200], st, 0.01, 20.0, 0.0, s, C, sn, ws) != 0:
            return -1
        if sn[6] > st[6]:
            flowed += 1
        st[:] = sn
    return flowed


@njit(cache=True)
def _loop_j2(props, calls):
    st = np.zeros(7)
    sn = np.zeros(7)
    s = np.zeros(6)
    C = np.zeros((6, 6))
    ws = np.zeros(6)
    eps = np.zeros((200, 6))
    for i in range(200):
        eps[i] = _path(i)
    flowed = 0
    for i in range(calls):
        if j2_update(props, eps[i % 200], st, s, C, sn, ws) != 0:
            return -1
        if sn[6] > st[6]:
            flowed += 1
        st[:] = sn
    return flowed


def cases():
    """(name, runner(calls) -> flowed calls)."""
    back = [60e3, 600.0, 0.0, 5e3, 20.0, 0.0]
    vp = lambda form: np.array([3.0, *HEAD, 1.0, 0.3, form])  # noqa: E731
    cr = np.array([4.0, *HEAD[:2], *[0.0] * 11, 1e-10, 3.0, 0.0])
    crp = np.array([4.0, *HEAD, 1e-8, 4.0, 0.0])
    ch = lambda eta: np.array([5.0, *HEAD, eta, 0.3, 0.0, *back])  # noqa: E731
    pj = np.array([2.0, *HEAD[:7]])
    return [
        ("j2 (rate independent)", lambda n: _loop_j2(pj, n)),
        ("vp Peric", lambda n: _loop_rate(vp_update, vp(0.0), 7, 30, n)),
        ("vp Perzyna", lambda n: _loop_rate(vp_update, vp(1.0), 7, 30, n)),
        ("creep (Norton)", lambda n: _loop_rate(creep_update, cr, 8, 30, n)),
        ("creep + plasticity", lambda n: _loop_rate(creep_update, crp, 8, 30, n)),
        ("chaboche 2 back-stresses", lambda n: _loop_rate(chaboche_update, ch(0.0), CH_NSTATE, CH_NWS, n)),
        ("chaboche 2, viscous Peric", lambda n: _loop_rate(chaboche_update, ch(1.0), CH_NSTATE, CH_NWS, n)),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    rows = []
    for name, run in cases():
        run(1000)  # compile
        best = math.inf
        flowed = 0
        for _ in range(a.repeat):
            t0 = time.perf_counter()
            flowed = run(a.calls)
            best = min(best, time.perf_counter() - t0)
        if flowed < 0:
            raise SystemExit(f"{name}: an update failed")
        rows.append({"law": name, "ns_per_call": 1e9 * best / a.calls, "flowed": flowed / a.calls})
    ref = rows[0]["ns_per_call"]
    if a.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'law':28s} {'ns/call':>9s} {'x j2':>6s} {'flowed':>7s}")
    for r in rows:
        print(f"{r['law']:28s} {r['ns_per_call']:9.0f} {r['ns_per_call'] / ref:6.2f} {r['flowed']:7.2f}")


if __name__ == "__main__":
    main()
