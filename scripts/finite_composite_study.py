"""Composite at finite strain: the shipped ``spheres16_imn_d6`` network (trained on small-strain
elastic data) vs the finite-strain FFT DNS on its own RVE (issue 14 acceptance;
docs/finite_strain.md).

RVE: ``dmn micro spheres --size 16 --vf 0.2 --seed 1`` (the RVE the network was trained on).
Phases: matrix phase 0 (neo-Hookean E = 1000, ν = 0.3, or finite J2 with the same elasticity,
sy = 5, H = 100), stiff neo-Hookean spheres phase 1 (E = 8000, ν = 0.2; contrast 8).

Load cases: (a) uniaxial stretch F11 = 1 → 1.3 in 15 steps, P22 = P33 = 0 (lateral faces free,
off-diagonal F held at 0); (b) simple shear F12 = 0 → 0.5 in 10 steps (all of F prescribed).
Error measure (Cauchy stress, Frobenius norm): mean and max over the steps of
‖σ_net − σ_ref‖ / max_k ‖σ_ref,k‖.  ``--fine``: the DNS also on the same geometry at 32³ (every
voxel split in 8): the DNS discretisation error (16³ vs 32³) and the 32³ DNS as the reference.
``--cache DIR`` keeps each DNS curve (keyed by case, resolution and laws) so a run resumes.
``--small-strain``: also the small-strain network vs the small-strain DNS (16³) with the matching
small-strain laws (``j2``/``elastic``, same E, ν, sy, H) in uniaxial stress to ε11 = ln 1.3: how
much of the finite-strain gap the network already has at small strain.
``--diagnose``: where the finite-J2 gap comes from (docs/finite_strain.md, "Diagnosis"): σ11 of
the finite-strain network and DNS (16³) over the small-strain ones at the same log strain,
uniaxial stress to F11 = 1.05, with Hencky spheres (``fj2`` with a yield stress never reached,
the small-strain ``elastic`` law in log strain) and a Hencky-elastic or J2 matrix; the J2 case
also with the steps halved; and a soft neo-Hookean matrix (no plasticity) with ν = 0.3, 0.45,
0.49 to F11 = 1.15.

    python scripts/finite_composite_study.py [--model NAME|PATH] [--fine] [--small-strain] [--diagnose]
        [--cache DIR]
        [--matrix neohooke fj2] [--out docs/finite_composite.png] [--json docs/finite_composite.json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from pathlib import Path

import numpy as np

from dmn_umat import model_file
from dmn_umat.laws.finite_spec import cauchy_stack, parse_finite_phase
from dmn_umat.offline.pretrained import resolve
from dmn_umat.online.driver import FlatFiniteMaterial, drive
from dmn_umat.online.finite_solver import FiniteNetworkMaterial
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.rve import fft
from dmn_umat.rve import micro as rve_micro
from dmn_umat.rve.fft_finite import dns_finite

MATRIX = {"neohooke": "neohooke:E=1000,nu=0.3", "fj2": "fj2:E=1000,nu=0.3,sy=5,H=100"}
SPHERE = "neohooke:E=8000,nu=0.2"
CASES = {
    "uniaxial": (np.array([np.diag([lam, 1.0, 1.0]) for lam in np.linspace(1.02, 1.3, 15)]), (4, 8)),
    "shear": (np.array([np.eye(3) + g * np.outer([1, 0, 0], [0, 1, 0])
                        for g in np.linspace(0.05, 0.5, 10)]), ()),
}


def rve(size: int) -> np.ndarray:
    """The 16³ sphere RVE at ``size`` voxels per side (32: every voxel split in 8)."""
    v = rve_micro.spheres(16, 0.2, seed=1).voxels.astype(np.int64)
    k = size // 16
    return np.repeat(np.repeat(np.repeat(v, k, 0), k, 1), k, 2)


def dns_curve(case: str, size: int, matrix: str, cache: Path | None) -> dict:
    """F, P, Cauchy (n, 3, 3), iterations and seconds of the DNS of ``case`` (cached)."""
    path, free = CASES[case]
    return finite_dns(case, size, MATRIX[matrix], SPHERE, path, free, cache, f"{case}_{size}_{matrix}")


def finite_dns(label: str, size: int, matrix: str, sphere: str, path: np.ndarray, free, cache: Path | None,
               name: str) -> dict:
    """The finite-strain DNS (``size``³) of the phase specs ``matrix``/``sphere`` along ``path``
    (n, 3, 3) with P̄ = 0 in ``free``: F, P, Cauchy (n, 3, 3), iterations, seconds (cached under
    ``name`` and a hash of the inputs)."""
    key = json.dumps([label, size, matrix, sphere, path.tolist()])
    key = hashlib.sha256(key.encode()).hexdigest()[:12]
    f = cache / f"{name}_{key}.json" if cache else None
    if f and f.exists():
        return {k: np.asarray(v) for k, v in json.loads(f.read_text()).items()}
    props = [parse_finite_phase(matrix).props, parse_finite_phase(sphere).props]
    t0 = time.perf_counter()
    res = dns_finite(rve(size), props, path, stress_free=free, tol=1e-8,
                     progress=lambda i, n: print(f"  dns {label} {size}^3 {matrix}: step {i}/{n} "
                                                 f"{time.perf_counter() - t0:.0f} s", flush=True))
    out = {"F": res.F, "P": res.P, "cauchy": res.cauchy, "iterations": res.iterations, "seconds": res.seconds}
    if f:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({k: np.asarray(v).tolist() for k, v in out.items()}))
    return out


def network_curve(case: str, net, matrix: str) -> dict:
    path, free = CASES[case]
    return finite_network(net, MATRIX[matrix], SPHERE, path, free)


def finite_network(net, matrix: str, sphere: str, path: np.ndarray, free) -> dict:
    """The finite-strain network along ``path`` (n, 3, 3), P̄ = 0 in ``free``: F, P, Cauchy."""
    props = [parse_finite_phase(matrix).props, parse_finite_phase(sphere).props]
    n = path.shape[0]
    t0 = time.perf_counter()
    res = drive(FlatFiniteMaterial(FiniteNetworkMaterial(net, props, threads=1)), path.reshape(n, 9), free)
    F, P = res["strain"].reshape(n, 3, 3), res["stress"].reshape(n, 3, 3)
    return {"F": F, "P": P, "cauchy": cauchy_stack(F, P), "iterations": res["iterations"],
            "seconds": time.perf_counter() - t0}


SMALL = {"neohooke": "elastic:E=1000,nu=0.3", "fj2": "j2:E=1000,nu=0.3,sy=5,H=100"}
SMALL_SPHERE = "elastic:E=8000,nu=0.2"
#: --diagnose: name, finite matrix, finite sphere, its small-strain matrix and sphere, F11 end, steps
HENCKY_SPHERE = "fj2:E=8000,nu=0.2,sy=1e6"  # Hencky: the yield stress is never reached
DIAGNOSE = [
    ("Hencky matrix", "fj2:E=1000,nu=0.3,sy=1e6", HENCKY_SPHERE, SMALL["neohooke"], SMALL_SPHERE, 1.05, 10),
    ("J2 matrix", MATRIX["fj2"], HENCKY_SPHERE, SMALL["fj2"], SMALL_SPHERE, 1.05, 10),
    ("J2 matrix, steps halved", MATRIX["fj2"], HENCKY_SPHERE, SMALL["fj2"], SMALL_SPHERE, 1.05, 20),
    ("neo-Hookean matrix nu=0.3", "neohooke:E=300,nu=0.3", SPHERE, "elastic:E=300,nu=0.3", SMALL_SPHERE,
     1.15, 6),
    ("neo-Hookean matrix nu=0.45", "neohooke:E=300,nu=0.45", SPHERE, "elastic:E=300,nu=0.45", SMALL_SPHERE,
     1.15, 6),
    ("neo-Hookean matrix nu=0.49", "neohooke:E=300,nu=0.49", SPHERE, "elastic:E=300,nu=0.49", SMALL_SPHERE,
     1.15, 6),
]


def diagnose(net, cache: Path | None) -> list[dict]:
    """The ``DIAGNOSE`` rows: σ11 at the last step of the finite network / DNS and the small-strain
    network / DNS (uniaxial stress, ε11 = ln F11), their ratios and the mean / max errors."""
    rows = []
    for name, fm, fs, sm, ss, lam_end, n in DIAGNOSE:
        lam = np.linspace(1.0, lam_end, n + 1)[1:]
        path = np.array([np.diag([x, 1.0, 1.0]) for x in lam])
        tag = f"diag_{hashlib.sha256(name.encode()).hexdigest()[:6]}"
        fd = finite_dns("diagnose", 16, fm, fs, path, (4, 8), cache, tag)
        fn = finite_network(net, fm, fs, path, (4, 8))
        sn, sd = small_uniaxial(net, sm, ss, lam, cache, f"{tag}_small_{n}.json")
        r = {"name": name, "F11": float(lam_end), "steps": n,
             "sigma11": {"finite_net": float(fn["cauchy"][-1, 0, 0]),
                         "finite_dns": float(fd["cauchy"][-1, 0, 0]),
                         "small_net": float(sn[-1, 0]), "small_dns": float(sd[-1, 0])},
             "finite_net_vs_dns": error(fn["cauchy"], fd["cauchy"]),
             "small_net_vs_dns": error(sn, sd),
             "dns_newton_pcg": np.asarray(fd["iterations"]).sum(axis=0).tolist()}
        sig = r["sigma11"]
        r["finite_over_small"] = {"net": sig["finite_net"] / sig["small_net"],
                                  "dns": sig["finite_dns"] / sig["small_dns"]}
        rows.append(r)
        print(f"  {name:28s} F11={lam_end} ({n} steps): sigma11 finite net/dns {sig['finite_net']:.4f}/"
              f"{sig['finite_dns']:.4f}, small net/dns {sig['small_net']:.4f}/{sig['small_dns']:.4f}; "
              f"finite/small net {r['finite_over_small']['net']:.4f} "
              f"dns {r['finite_over_small']['dns']:.4f}; "
              f"net vs dns mean/max finite {100 * r['finite_net_vs_dns'][0]:.2f}/"
              f"{100 * r['finite_net_vs_dns'][1]:.2f}% small {100 * r['small_net_vs_dns'][0]:.2f}/"
              f"{100 * r['small_net_vs_dns'][1]:.2f}%", flush=True)
    return rows


def small_strain_gap(net, matrix: str, cache: Path | None) -> tuple[float, float]:
    """(mean, max) error of the small-strain network vs the small-strain 16³ DNS, uniaxial stress
    ε11 = ln λ of the uniaxial case (the matching small-strain laws ``SMALL``)."""
    nw, ref = small_uniaxial(net, SMALL[matrix], SMALL_SPHERE, CASES["uniaxial"][0][:, 0, 0], cache,
                             f"small_{matrix}.json")
    return error(nw, ref)


def small_uniaxial(net, matrix: str, sphere: str, lam: np.ndarray, cache: Path | None,
                   name: str) -> tuple[np.ndarray, np.ndarray]:
    """Small-strain network and 16³ DNS stresses (n, 6) of the phase specs ``matrix``/``sphere``
    in uniaxial stress at ε11 = ln ``lam`` (n,) (the DNS cached in ``cache``/``name``)."""
    from dmn_umat.laws import parse_phase
    from dmn_umat.loadpath import ALL_BUT_11

    phases = [parse_phase(matrix), parse_phase(sphere)]
    path = np.zeros((lam.shape[0], 6))
    path[:, 0] = np.log(lam)
    f = cache / name if cache else None
    if f and f.exists():
        ref = np.asarray(json.loads(f.read_text()))
    else:
        ref = fft.dns(rve(16), phases, path, stress_free=ALL_BUT_11, tol=1e-8).stress
        if f:
            f.write_text(json.dumps(ref.tolist()))
    nw = drive(NetworkMaterial(net, phases, threads=1), path, ALL_BUT_11)["stress"]
    return nw, ref


def error(a: np.ndarray, ref: np.ndarray) -> tuple[float, float]:
    """(mean, max) over the steps of ‖a − ref‖ / max ‖ref‖ (Frobenius, per step)."""
    d = np.linalg.norm((a - ref).reshape(len(a), -1), axis=1)
    scale = np.linalg.norm(ref.reshape(len(ref), -1), axis=1).max()
    return float(d.mean() / scale), float(d.max() / scale)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="spheres16_imn_d6")
    ap.add_argument("--fine", action="store_true", help="also the 32^3 DNS (discretisation error, reference)")
    ap.add_argument("--cache", type=Path, default=None)
    ap.add_argument("--small-strain", action="store_true", help="also the small-strain network vs DNS gap")
    ap.add_argument("--diagnose", action="store_true", help="also the finite-J2 gap diagnosis (DIAGNOSE)")
    ap.add_argument("--matrix", nargs="+", default=["neohooke", "fj2"], choices=list(MATRIX))
    ap.add_argument("--out", default="docs/finite_composite.png")
    ap.add_argument("--json", default="docs/finite_composite.json")
    args = ap.parse_args()
    net = model_file.read(resolve(args.model))
    rows = []
    curves = {}
    for matrix in args.matrix:
        for case in CASES:
            d16 = dns_curve(case, 16, matrix, args.cache)
            d32 = dns_curve(case, 32, matrix, args.cache) if args.fine else None
            nw = network_curve(case, net, matrix)
            ref = d32 if d32 is not None else d16
            row = {"matrix": MATRIX[matrix], "case": case,
                   "reference": "dns32" if d32 is not None else "dns16",
                   "net_vs_ref": error(nw["cauchy"], ref["cauchy"]),
                   "net_vs_dns16": error(nw["cauchy"], d16["cauchy"]),
                   "dns16_vs_dns32": error(d16["cauchy"], d32["cauchy"]) if d32 is not None else None,
                   "dns16_seconds": float(d16["seconds"]),
                   "dns32_seconds": float(d32["seconds"]) if d32 is not None else None,
                   "network_seconds": nw["seconds"],
                   "dns16_newton_pcg": np.asarray(d16["iterations"]).sum(axis=0).tolist(),
                   "network_newton_per_step": float(np.mean(nw["iterations"]))}
            if args.small_strain and case == "uniaxial":
                row["small_strain_net_vs_dns16"] = small_strain_gap(net, matrix, args.cache)
                print(f"  small strain ({SMALL[matrix]}): net vs dns16 mean "
                      f"{100 * row['small_strain_net_vs_dns16'][0]:.2f}% "
                      f"max {100 * row['small_strain_net_vs_dns16'][1]:.2f}%", flush=True)
            rows.append(row)
            curves[(matrix, case)] = (nw, d16, d32)
            print(f"{matrix:9s} {case:9s} net vs {row['reference']}: mean {100 * row['net_vs_ref'][0]:.2f}% "
                  f"max {100 * row['net_vs_ref'][1]:.2f}%"
                  + (f"; dns16 vs dns32: mean {100 * row['dns16_vs_dns32'][0]:.2f}% "
                     f"max {100 * row['dns16_vs_dns32'][1]:.2f}%" if d32 is not None else ""), flush=True)
    diag = diagnose(net, args.cache) if args.diagnose else None
    Path(args.json).write_text(json.dumps({
        "model": args.model, "rve": "dmn micro spheres --size 16 --vf 0.2 --seed 1", "sphere": SPHERE,
        "measure": "Cauchy stress: mean / max over steps of |sigma - sigma_ref| / max |sigma_ref| "
                   "(Frobenius)",
        "cases": {c: {"F": p.tolist(), "stress_free_P": [int(i) for i in f]} for c, (p, f) in CASES.items()},
        "rows": rows, "diagnose": diag}, indent=1))
    plot(curves, args.out)


def plot(curves: dict, out: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colours = {"neohooke": "C0", "fj2": "C3"}
    for (matrix, case), (nw, d16, d32) in curves.items():
        ax = axes[0 if case == "uniaxial" else 1]
        if case == "uniaxial":
            x, comp, xl, yl = (lambda d: d["F"][:, 0, 0]), (0, 0), "F11", "Cauchy σ11"
        else:
            x, comp, xl, yl = (lambda d: d["F"][:, 0, 1]), (0, 1), "γ = F12", "Cauchy σ12"
        c = colours[matrix]
        ax.plot(x(nw), nw["cauchy"][:, comp[0], comp[1]], "-", color=c, label=f"network, {matrix} matrix")
        ax.plot(x(d16), d16["cauchy"][:, comp[0], comp[1]], "o", mfc="none", color=c,
                label=f"DNS 16³, {matrix}")
        if d32 is not None:
            ax.plot(x(d32), d32["cauchy"][:, comp[0], comp[1]], "x", color=c, label=f"DNS 32³, {matrix}")
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
    axes[0].set_title("uniaxial stretch (P22 = P33 = 0)")
    axes[1].set_title("simple shear")
    axes[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)


if __name__ == "__main__":
    main()
