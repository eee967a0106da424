"""Composite with a rate-dependent matrix: the shipped network spheres16_imn_d6 vs the FFT DNS
(issue 12 acceptance; docs/laws.md "Composite").

RVE: ``dmn micro spheres --size 16 --vf 0.2 --seed 1`` (the one the network was trained on,
elastic data only).  Matrix phase 0, elastic spheres phase 1 (E = 400 GPa, ν = 0.2).

(a) uniaxial tension (laterals stress free) to 2 % at 1e-3 /s and 1e-5 /s, Peric
    viscoplastic matrix; error: |σ11 − σ11_DNS| / max |σ11_DNS| per step (mean, max);
(b) creep at constant macroscopic σ11 (s11 column: loaded in one step of dt = 0, held),
    creep + plasticity matrix (Norton of the overstress); error: |ε11 − ε11_DNS| / max |ε11_DNS|.
``--fine``: also the DNS of (b) on the same geometry at 2× resolution (every voxel split in
8) — the DNS discretization error.

    python scripts/rate_composite_study.py [--out docs/rate_composite.png] [--json F] [--fine]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from dmn_umat import model_file
from dmn_umat.laws import parse_phase
from dmn_umat.loadpath import ALL_BUT_11
from dmn_umat.offline.pretrained import resolve
from dmn_umat.online.driver import drive
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.rve import fft
from dmn_umat.rve import micro as rve_micro

VP = "vp:E=70e3,nu=0.33,sy=100,H=500,eta=1000,m=0.2"
CREEP = "creep:E=70e3,nu=0.33,A=3e-9,n=3,sy=100,H=500"
SPHERE = "elastic:E=400e3,nu=0.2"
RATES = (1e-3, 1e-5)  # 1/s
E_MAX, N_TENSION = 0.02, 20
SIG_CREEP, T_HOLD, N_HOLD = 150.0, 2000.0, 20  # MPa, s


def tension(rate: float):
    """(path (n,6), time (n,)): ε11 ramp to E_MAX at ``rate``."""
    e = np.linspace(E_MAX / N_TENSION, E_MAX, N_TENSION)
    path = np.zeros((N_TENSION, 6))
    path[:, 0] = e
    return path, e / rate


def creep():
    """(path (n,6), time (n,), stress (n,6)): σ11 = SIG_CREEP in one step of dt = 0, then held."""
    t = np.r_[0.0, T_HOLD * np.linspace(0, 1, N_HOLD + 1)[1:] ** 2]
    stress = np.zeros((t.size, 6))
    stress[:, 0] = SIG_CREEP
    return np.zeros((t.size, 6)), t, stress


def errors(a: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    d = np.abs(a - ref) / np.abs(ref).max()
    return float(d.mean()), float(d.max())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="docs/rate_composite.png")
    ap.add_argument("--json", default=None)
    ap.add_argument("--fine", action="store_true", help="also the 2x-resolution DNS of the creep case")
    args = ap.parse_args()

    m = rve_micro.generate("spheres", 16, 0.2, seed=1).voxels.astype(np.int64)
    net = model_file.read(resolve("spheres16_imn_d6"))
    rows, curves = [], {}
    free = ALL_BUT_11
    for rate in RATES:
        path, t = tension(rate)
        t0 = time.perf_counter()
        d = fft.dns(m, [parse_phase(VP), parse_phase(SPHERE)], path, free, times=t, workers=2)
        t1 = time.perf_counter()
        r = drive(NetworkMaterial(net, [VP, SPHERE], threads=1), path, free, time=t)
        t2 = time.perf_counter()
        mean, mx = errors(r["stress"][:, 0], d.stress[:, 0])
        rows.append({"case": f"tension {rate:g} /s", "quantity": "σ11", "mean": mean, "max": mx,
                     "final_dns": float(d.stress[-1, 0]), "final_net": float(r["stress"][-1, 0]),
                     "dns_s": t1 - t0, "net_s": t2 - t1})
        curves[f"tension {rate:g} /s"] = (path[:, 0], d.stress[:, 0], r["stress"][:, 0])
        print(rows[-1], flush=True)
    path, t, s = creep()
    free = (0, 1, 2, 3, 4, 5)  # σ11 prescribed, the rest held at zero
    t0 = time.perf_counter()
    d = fft.dns(m, [parse_phase(CREEP), parse_phase(SPHERE)], path, free, times=t, stresses=s, workers=2)
    t1 = time.perf_counter()
    r = drive(NetworkMaterial(net, [CREEP, SPHERE], threads=1), path, free, time=t, stress=s)
    t2 = time.perf_counter()
    mean, mx = errors(r["strain"][:, 0], d.strain[:, 0])
    rows.append({"case": f"creep {SIG_CREEP:g} MPa", "quantity": "ε11", "mean": mean, "max": mx,
                 "final_dns": float(d.strain[-1, 0]), "final_net": float(r["strain"][-1, 0]),
                 "dns_s": t1 - t0, "net_s": t2 - t1})
    ecr_d, ecr_n = d.strain[:, 0] - d.strain[0, 0], r["strain"][:, 0] - r["strain"][0, 0]
    mean, mx = errors(ecr_n, ecr_d)
    rows.append({"case": f"creep {SIG_CREEP:g} MPa", "quantity": "ε11(t) − ε11(0) (creep part)",
                 "mean": mean, "max": mx, "final_dns": float(ecr_d[-1]), "final_net": float(ecr_n[-1]),
                 "dns_s": 0.0, "net_s": 0.0})
    curves["creep"] = (t, d.strain[:, 0], r["strain"][:, 0])
    print(rows[-1], flush=True)
    fine = None
    if args.fine:
        m2 = m.repeat(2, 0).repeat(2, 1).repeat(2, 2)
        t0 = time.perf_counter()
        d2 = fft.dns(m2, [parse_phase(CREEP), parse_phase(SPHERE)], path, free, times=t, stresses=s,
                     workers=2)
        mean2, mx2 = errors(d.strain[:, 0], d2.strain[:, 0])
        fine = {"case": "creep DNS 16³ vs 32³ (same geometry)", "mean": mean2, "max": mx2,
                "final_32": float(d2.strain[-1, 0]), "seconds": time.perf_counter() - t0}
        print(fine, flush=True)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for (name, (x, yd, yn)), c in zip([(k, v) for k, v in curves.items() if k != "creep"], ("C0", "C1")):
        ax[0].plot(100 * x, yd, "-", color=c, label=f"DNS {name}")
        ax[0].plot(100 * x, yn, "o", color=c, ms=4, label=f"IMN {name}")
    ax[0].set(xlabel="ε11 [%]", ylabel="σ11 [MPa]", title="uniaxial tension, two strain rates")
    ax[0].legend(fontsize=8)
    x, yd, yn = curves["creep"]
    ax[1].plot(x, 100 * yd, "-", label="DNS")
    ax[1].plot(x, 100 * yn, "o", ms=4, label="IMN")
    ax[1].set(xlabel="time [s]", ylabel="ε11 [%]", title=f"creep at σ11 = {SIG_CREEP:g} MPa")
    ax[1].legend(fontsize=8)
    fig.suptitle("spheres16_imn_d6 vs FFT DNS (16³), rate-dependent matrix")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    print("| case | quantity | mean rel. error | max rel. error | final DNS | final IMN |")
    print("|---|---|---|---|---|---|")
    for r_ in rows:
        print(f"| {r_['case']} | {r_['quantity']} | {100 * r_['mean']:.2f} % | {100 * r_['max']:.2f} % "
              f"| {r_['final_dns']:.4g} | {r_['final_net']:.4g} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"rows": rows, "fine": fine, "laws": [VP, CREEP, SPHERE]}, f, indent=1)


if __name__ == "__main__":
    main()
