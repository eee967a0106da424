"""Composite with a rate-dependent matrix: a trained sphere network vs the FFT DNS
(issue 12 acceptance; docs/laws.md "Composite").

RVE: ``dmn micro spheres --size N --vf 0.2 --seed 1`` (``--size``, default 16: the RVE of
``spheres16_imn_d6``; 32: the one of ``spheres32_imn_d6``; the network was trained on elastic
data of it).  Matrix phase 0, elastic spheres phase 1 (E = 400 GPa, ν = 0.2).

(a) uniaxial tension (laterals stress free) to 2 % at 1e-3 /s and 1e-5 /s, Peric
    viscoplastic matrix; error: |σ11 − σ11_DNS| / max |σ11_DNS| per step (mean, max);
(b) creep at constant macroscopic σ11 (s11 column: loaded in one step of dt = 0, held),
    creep + plasticity matrix (Norton of the overstress); error: |ε11 − ε11_DNS| / max |ε11_DNS|;
(c) the same creep test with a pure Norton matrix (no yield: ``sy`` = 0) at σ11 = 20 MPa
    (about the creep strain of (b) in 2000 s), the classical creep test.
``--fine CASE ...``: also the DNS of those cases (``creep``, ``norton``, ``t1e-3``, ``t1e-5``; ``all``) on
the same geometry at 2× resolution (every voxel split in 8) — the DNS discretization error.
``--cache DIR``: keep each DNS curve in DIR (keyed by case, resolution, laws) and reuse it, so
a long run resumes; ``--dns-only`` runs (and caches) the DNS without a network.
``--linear-check``: only the linear diagnostic: C̄ of the network vs FFT on the same RVE with
the spheres and an isotropic matrix of E = 70e3 / 7e3 / 700 MPa and ν = 0.3 … 0.499, and with
the algorithmic tangent of the flowing creep + plasticity / Norton matrix (after an isochoric
uniaxial ramp): error of C̄ (Frobenius), of its deviatoric block and of the uniaxial modulus
1/S̄11 (a network trained on ν ≤ 0.45 is too stiff for nearly isochoric matrix flow).

    python scripts/rate_composite_study.py [--model NAME|PATH] [--size N] [--fine CASE ...]
        [--cache DIR] [--dns-only] [--linear-check] [--out docs/rate_composite.png] [--json F]
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from dmn_umat import model_file, tensors
from dmn_umat.laws import parse_phase
from dmn_umat.laws.material import PhaseMaterial
from dmn_umat.loadpath import ALL_BUT_11
from dmn_umat.offline.pretrained import resolve
from dmn_umat.online.driver import drive
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.rve import fft
from dmn_umat.rve import micro as rve_micro

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_report as report  # noqa: E402

VP = "vp:E=70e3,nu=0.33,sy=100,H=500,eta=1000,m=0.2"
CREEP = "creep:E=70e3,nu=0.33,A=3e-9,n=3,sy=100,H=500"
NORTON = "creep:E=70e3,nu=0.33,A=3e-9,n=3"  # sy = 0: every stress creeps
SPHERE = "elastic:E=400e3,nu=0.2"
RATES = (1e-3, 1e-5)  # 1/s
E_MAX, N_TENSION = 0.02, 20
SIG_CREEP, SIG_NORTON, T_HOLD, N_HOLD = 150.0, 20.0, 2000.0, 20  # MPa, MPa, s
CASES = ("t1e-3", "t1e-5", "creep", "norton")


def tension(rate: float):
    """(path (n,6), time (n,)): ε11 ramp to E_MAX at ``rate``."""
    e = np.linspace(E_MAX / N_TENSION, E_MAX, N_TENSION)
    path = np.zeros((N_TENSION, 6))
    path[:, 0] = e
    return path, e / rate


def creep(sig: float = SIG_CREEP):
    """(path (n,6), time (n,), stress (n,6)): σ11 = ``sig`` [MPa] in one step of dt = 0, then held."""
    t = np.r_[0.0, T_HOLD * np.linspace(0, 1, N_HOLD + 1)[1:] ** 2]
    stress = np.zeros((t.size, 6))
    stress[:, 0] = sig
    return np.zeros((t.size, 6)), t, stress


def load_case(key: str) -> dict:
    """Case ``key`` (one of CASES): name, matrix law, path (n,6), free components, time (n,),
    stress targets (n,6) or None, the compared column (``stress`` or ``strain``) and quantity."""
    if key in ("creep", "norton"):
        sig, law, label = (SIG_CREEP, CREEP, "creep") if key == "creep" else \
            (SIG_NORTON, NORTON, "Norton creep")
        path, t, s = creep(sig)
        return {"name": f"{label} {sig:g} MPa", "matrix": law, "path": path,
                "free": (0, 1, 2, 3, 4, 5), "time": t, "stress": s, "column": "strain",
                "quantity": "ε11"}
    rate = RATES[0] if key == "t1e-3" else RATES[1]
    path, t = tension(rate)
    return {"name": f"tension {rate:g} /s", "matrix": VP, "path": path, "free": ALL_BUT_11,
            "time": t, "stress": None, "column": "stress", "quantity": "σ11"}


def run_dns(m: np.ndarray, case: dict, cache: Path | None) -> dict:
    """DNS curves {strain (n,6), stress (n,6), seconds} of ``case`` on voxels ``m``; read from /
    written to ``cache`` when given (key: case, grid, laws, path)."""
    key = hashlib.sha1(json.dumps([case["name"], case["matrix"], SPHERE, m.shape,
                                   hashlib.sha1(m.tobytes()).hexdigest(), case["time"].tolist(),
                                   case["path"].tolist()]).encode()).hexdigest()[:12]
    f = cache / f"dns_{m.shape[0]}_{key}.npz" if cache else None
    return report.cached_dns(f, f"{case['name']} {m.shape[0]}³", lambda progress: fft.dns(
        m, [parse_phase(case["matrix"]), parse_phase(SPHERE)], case["path"], case["free"],
        times=case["time"], stresses=case["stress"], workers=2, progress=progress))


def flowing_tangent(law: str, rate: float = 1e-5, e_max: float = 1e-2, n: int = 20) -> np.ndarray:
    """Symmetrized algorithmic tangent (6,6) Mandel [MPa] of ``law`` at the end of an isochoric
    uniaxial strain ramp ε = e (1, −½, −½) to ``e_max`` at ``rate`` [1/s] in ``n`` steps."""
    mat = PhaseMaterial(law)
    state = mat.initial_state(1)
    for e in np.linspace(e_max / n, e_max, n):
        u = mat.update(np.array([[e, -e / 2, -e / 2, 0.0, 0.0, 0.0]]), state, dt=e_max / n / rate)
        state = u.state
    return 0.5 * (u.tangent[0] + u.tangent[0].T)


def linear_check(net, m: np.ndarray, cache: Path | None = None) -> list[dict]:
    """Network C̄ vs FFT C̄ on voxels ``m`` (matrix phase 0, spheres phase 1) for the matrices of
    ``--linear-check``; one row per matrix: Frobenius, deviatoric-block and 1/S̄11 errors.
    ``cache``: folder for the FFT C̄ (keyed by voxels and phase stiffnesses)."""
    lin = copy.copy(net)
    # the leaf tangent of an isotropic law in the global frame does not depend on the leaf's
    # rotation (the law is objective), so the flowing tangent is compared without rotations
    lin.rotations = None
    sph = tensors.isotropic_stiffness(400e3, 0.2)
    P = np.eye(6)
    P[:3, :3] -= 1.0 / 3.0  # deviatoric projector (Mandel)
    mats = [(f"E {E:g}, ν {nu:g}", tensors.isotropic_stiffness(E, nu))
            for E in (70e3, 7e3, 700.0) for nu in (0.3, 0.45, 0.49, 0.499)]
    mats += [(f"tangent {name}", flowing_tangent(law, rate)) for name, law, rate in
             (("creep + plasticity", CREEP, 1e-5), ("Norton", NORTON, 1e-6))]
    rows = []
    for name, Cm in mats:
        key = hashlib.sha1(m.tobytes() + Cm.tobytes() + sph.tobytes()).hexdigest()[:12]
        f = cache / f"lin_{m.shape[0]}_{key}.npy" if cache else None
        if f is not None and f.is_file():
            ref = np.load(f)
        else:
            ref = fft.homogenize(m, [Cm, sph], tol=1e-8, max_iter=20000).C
            if f is not None:
                cache.mkdir(parents=True, exist_ok=True)
                np.save(f, ref)
        C = lin.homogenize([Cm, sph])
        rows.append({"matrix": name, "frobenius": float(tensors.relative_error(C, ref)),
                     "deviatoric": float(tensors.relative_error(P @ C @ P, P @ ref @ P)),
                     "uniaxial": float(np.linalg.inv(ref)[0, 0] / np.linalg.inv(C)[0, 0] - 1.0)})
        r = rows[-1]
        print(f"| {name} | {100 * r['frobenius']:.2f} % | {100 * r['deviatoric']:.2f} % "
              f"| {100 * r['uniaxial']:+.2f} % |", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="spheres16_imn_d6", help="shipped model name or .dmn path")
    ap.add_argument("--size", type=int, default=16, help="RVE grid N (spheres N³, vf 0.2, seed 1)")
    ap.add_argument("--fine", nargs="+", default=[], choices=(*CASES, "all"),
                    help="cases whose DNS is repeated at 2x resolution")
    ap.add_argument("--cache", type=Path, default=None, help="folder for DNS curves (resume)")
    ap.add_argument("--dns-only", action="store_true", help="only run (and cache) the DNS")
    ap.add_argument("--linear-check", action="store_true",
                    help="only the linear C-bar diagnostic over matrix nu and the flowing tangent")
    ap.add_argument("--out", default="docs/rate_composite.png")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    fine_keys = CASES if "all" in args.fine else tuple(k for k in CASES if k in args.fine)

    m = rve_micro.generate("spheres", args.size, 0.2, seed=1).voxels.astype(np.int64)
    m2 = m.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    net = None if args.dns_only else model_file.read(resolve(args.model))
    label = Path(args.model).stem
    if args.linear_check:
        print(f"{label} vs FFT {args.size}³, linear phases (network − FFT)\n"
              "| matrix | C̄ Frobenius | deviatoric block | uniaxial modulus |\n|---|---|---|---|")
        rows = linear_check(net, m, args.cache)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"model": args.model, "size": args.size, "linear_check": rows}, f, indent=1)
        return
    n, n2 = args.size, 2 * args.size
    rows, fine, curves = [], [], {}
    for key in CASES:
        c = load_case(key)
        d = run_dns(m, c, args.cache)
        d2 = run_dns(m2, c, args.cache) if key in fine_keys else None
        if net is None:
            continue
        t0 = time.perf_counter()
        r = drive(NetworkMaterial(net, [c["matrix"], SPHERE], threads=1), c["path"], c["free"],
                  time=c["time"], stress=c["stress"])
        net_s = time.perf_counter() - t0
        col = c["column"]
        yd, yn = d[col][:, 0], r[col][:, 0]
        parts = [(c["quantity"], yd, yn, None if d2 is None else d2[col][:, 0])]
        if c["stress"] is not None:
            parts.append(("ε11(t) − ε11(0) (creep part)", yd - yd[0], yn - yn[0],
                          None if d2 is None else d2[col][:, 0] - d2[col][0, 0]))
        for qty, a_d, a_n, a_f in parts:
            mean, mx = report.errors(a_n, a_d)
            rows.append({"case": c["name"], "quantity": qty, "mean": mean, "max": mx,
                         "final_dns": float(a_d[-1]), "final_net": float(a_n[-1]),
                         "dns_s": d["seconds"], "net_s": net_s})
            print(rows[-1], flush=True)
            if a_f is not None:
                fine.append({"case": c["name"], "quantity": qty, **report.fine_errors(a_d, a_n, a_f),
                             f"final_{n}": float(a_d[-1]), f"final_{n2}": float(a_f[-1]),
                             "fine_s": d2["seconds"]})
                print(fine[-1], flush=True)
        curves[key] = (c["time"] if c["stress"] is not None else c["path"][:, 0], yd, yn,
                       None if d2 is None else d2[col][:, 0])
    if net is None:
        return

    fig, ax = report.pyplot().subplots(1, 2, figsize=(10, 4))
    for key, color in zip(CASES[:2], ("C0", "C1")):
        x, yd, yn, yf = curves[key]
        name = load_case(key)["name"]
        report.plot_curves(ax[0], 100 * x, yd, yn, yf, color,
                           (f"DNS {n}³ {name}", f"DNS {n2}³ {name}", f"network {name}"))
    ax[0].set(xlabel="ε11 [%]", ylabel="σ11 [MPa]", title="uniaxial tension, two strain rates")
    ax[0].legend(fontsize=7)
    for key, color in zip(CASES[2:], ("C0", "C1")):
        x, yd, yn, yf = curves[key]
        name = load_case(key)["name"]
        report.plot_curves(ax[1], x, 100 * yd, 100 * yn, None if yf is None else 100 * yf, color,
                           (f"DNS {n}³ {name}", f"DNS {n2}³ {name}", f"network {name}"))
    ax[1].set(xlabel="time [s]", ylabel="ε11 [%]",
              title="creep: creep + plasticity and pure Norton matrix")
    ax[1].legend(fontsize=8)
    fig.suptitle(f"{label} vs FFT DNS ({n}³), rate-dependent matrix")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    pct, pair = report.pct, report.pct_pair
    report.print_table(
        ["case", "quantity", "mean rel. error", "max rel. error", "final DNS", "final network"],
        ([r_["case"], r_["quantity"], pct(r_["mean"]), pct(r_["max"]), f"{r_['final_dns']:.4g}",
          f"{r_['final_net']:.4g}"] for r_ in rows))
    if fine:
        print()
        report.print_table(
            ["case", "quantity", *report.fine_columns(n, n2), f"DNS {n}³ end", f"DNS {n2}³ end"],
            ([f_["case"], f_["quantity"], pair(f_["dns_vs_fine"]), pair(f_["net_vs_fine"]),
              f"{f_[f'final_{n}']:.4g}", f"{f_[f'final_{n2}']:.4g}"] for f_ in fine))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "size": n, "fine_size": n2, "rows": rows, "fine": fine,
                       "laws": [VP, CREEP, NORTON, SPHERE]}, f, indent=1)


if __name__ == "__main__":
    main()
