"""Orientation-aware network vs the FFT DNS at held-out orientation states, nonlinear
(issue 13 acceptance "Nonlinear"; docs/fibres.md §3 "Nonlinear check").

For each held-out state (λ1, λ2) (not a point i/6 of the training grid; principal axes = global
axes, λ1 along x): a fresh short-fibre RVE ``micro.short_fibres(N, 0.12, seed=SEED, radius=1.5,
aspect=5, a2=diag(λ))`` (the training geometry of ``fibres32_pimn_d7``, a seed not used there),
J2 PA-like matrix (phase 0) + elastic glass fibres (phase 1).  Paths (Mandel, the other five
components stress free): uniaxial stress load to 2 % and unload to 0 along x (``x``), across
(``y``), and shear ε12 (Mandel component 2 % ``s12``).  Network: ``ParametricNetworkMaterial(
model, phases).at(a2)`` driven by ``online.driver.drive``.  Error: |σ − σ_DNS| / max |σ_DNS|
of the driven component per step (mean, max; ``study_report.errors``).
``--fine PATH ...``: also the DNS of those paths at 2× resolution (every voxel split in 8) for
the first state — the DNS discretization error.  ``--cache DIR`` keeps each DNS curve (resume);
``--dns-only`` runs (and caches) the DNS without a network.

    python scripts/fibre_nonlinear_study.py [--model fibres32_pimn_d7] [--fine x]
        [--cache DIR] [--dns-only] [--out docs/fibre_nonlinear.png] [--json F]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

import numpy as np

from dmn_umat import model_file
from dmn_umat.laws import parse_phase
from dmn_umat.offline.pretrained import resolve
from dmn_umat.online.driver import drive
from dmn_umat.online.parametric import ParametricNetworkMaterial
from dmn_umat.rve import fft
from dmn_umat.rve import micro as rve_micro

sys.path.insert(0, str(Path(__file__).resolve().parent))
import study_report as report  # noqa: E402

MATRIX = "j2:E=3000,nu=0.35,sy=60,H=300"
FIBRE = "elastic:E=72000,nu=0.22"
STATES = ((0.583333, 0.333333), (0.75, 0.166667))  # held-out (λ1, λ2); grid was i/6
SIZE, VF, RADIUS, ASPECT, SEED = 32, 0.12, 1.5, 5.0, 7
E_MAX, N_LOAD = 0.02, 8
PATHS = {"x": 0, "y": 1, "s12": 5}  # path key -> driven Mandel component
LABEL = {"x": "σ11 (ε11 along fibres)", "y": "σ22 (ε22 across)", "s12": "σ12 (Mandel, shear)"}


def a2_of(state: tuple[float, float]) -> np.ndarray:
    """Voigt A₂ (a11, a22, a33, a23, a13, a12) = diag(λ1, λ2, 1 − λ1 − λ2)."""
    l1, l2 = state
    return np.array([l1, l2, 1.0 - l1 - l2, 0.0, 0.0, 0.0])


def load_path(key: str) -> tuple[np.ndarray, tuple[int, ...]]:
    """(path (2·N_LOAD, 6), stress-free components): driven component to E_MAX and back to 0."""
    k = PATHS[key]
    e = np.r_[np.linspace(E_MAX / N_LOAD, E_MAX, N_LOAD), np.linspace(E_MAX, 0.0, N_LOAD + 1)[1:]]
    path = np.zeros((e.size, 6))
    path[:, k] = e
    return path, tuple(i for i in range(6) if i != k)


def run_dns(m: np.ndarray, key: str, cache: Path | None) -> dict:
    """DNS curves {strain (n,6), stress (n,6), seconds} of path ``key`` on voxels ``m``; read
    from / written to ``cache`` when given (key: path, grid, voxels, laws)."""
    path, free = load_path(key)
    h = hashlib.sha1(json.dumps([key, MATRIX, FIBRE, m.shape, hashlib.sha1(m.tobytes()).hexdigest(),
                                 path.tolist()]).encode()).hexdigest()[:12]
    f = cache / f"dns_{m.shape[0]}_{key}_{h}.npz" if cache else None
    return report.cached_dns(f, f"{key} {m.shape[0]}³", lambda progress: fft.dns(
        m, [parse_phase(MATRIX), parse_phase(FIBRE)], path, free, workers=2, progress=progress))


def rve(state: tuple[float, float]) -> tuple[np.ndarray, dict]:
    """(voxels (N,N,N) int64, params) of the held-out RVE of ``state``."""
    r = rve_micro.short_fibres(SIZE, VF, seed=SEED, radius=RADIUS, aspect=ASPECT, a2=a2_of(state))
    return r.voxels.astype(np.int64), {"vf": float(r.volume_fraction),
                                       "a2_error": float(r.params["a2_error"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fibres32_pimn_d7", help="shipped model name or .dmn path")
    ap.add_argument("--fine", nargs="+", default=[], choices=(*PATHS, "all"),
                    help="paths whose DNS (first state) is repeated at 2x resolution")
    ap.add_argument("--cache", type=Path, default=None, help="folder for DNS curves (resume)")
    ap.add_argument("--dns-only", action="store_true", help="only run (and cache) the DNS")
    ap.add_argument("--out", default="docs/fibre_nonlinear.png")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    fine_keys = tuple(PATHS) if "all" in args.fine else tuple(args.fine)

    geoms = [rve(s) for s in STATES]
    for state, (_m, p) in zip(STATES, geoms):
        print(f"state {state}: vf {p['vf']:.4f}, max ΔA₂ {p['a2_error']:.4f}", flush=True)
    dns = {(i, k): run_dns(m, k, args.cache) for i, (m, _) in enumerate(geoms) for k in PATHS}
    m0 = geoms[0][0]
    m2 = m0.repeat(2, 0).repeat(2, 1).repeat(2, 2)
    fine = {k: run_dns(m2, k, args.cache) for k in fine_keys}
    if args.dns_only:
        return

    mat = ParametricNetworkMaterial(model_file.read_parametric(resolve(args.model)),
                                    [MATRIX, FIBRE], threads=1)
    rows, fine_rows, curves = [], [], {}
    for i, state in enumerate(STATES):
        bound = mat.at(a2_of(state))
        for key, k in PATHS.items():
            path, free = load_path(key)
            t0 = time.perf_counter()
            r = drive(bound, path, free)
            net_s = time.perf_counter() - t0
            d = dns[i, key]
            yd, yn = d["stress"][:, k], r["stress"][:, k]
            mean, mx = report.errors(yn, yd)
            rows.append({"state": list(state), "path": key, "quantity": LABEL[key], "mean": mean,
                         "max": mx, "peak_dns": float(np.abs(yd).max()),
                         "peak_net": float(np.abs(yn).max()), "dns_s": d["seconds"], "net_s": net_s,
                         "vf": geoms[i][1]["vf"], "a2_error": geoms[i][1]["a2_error"]})
            print(rows[-1], flush=True)
            yf = None
            if i == 0 and key in fine:
                yf = fine[key]["stress"][:, k]
                fine_rows.append({"state": list(state), "path": key, **report.fine_errors(yd, yn, yf),
                                  "fine_s": fine[key]["seconds"]})
                print(fine_rows[-1], flush=True)
            curves[i, key] = (path[:, k], yd, yn, yf)

    fig, ax = report.pyplot().subplots(1, len(STATES), figsize=(5.5 * len(STATES), 4.2))
    for i, state in enumerate(STATES):
        for (key, color) in zip(PATHS, ("C0", "C1", "C2")):
            x, yd, yn, yf = curves[i, key]
            report.plot_curves(ax[i], 100 * x, yd, yn, yf, color,
                               (f"DNS {SIZE}³ {LABEL[key]}", f"DNS {2 * SIZE}³ {key}", f"network {key}"))
        ax[i].set(xlabel="driven strain component [%]", ylabel="stress [MPa]",
                  title=f"A₂ = diag({state[0]:.3f}, {state[1]:.3f}, {1 - sum(state):.3f})")
        ax[i].legend(fontsize=7)
    fig.suptitle(f"{Path(args.model).stem} vs FFT DNS ({SIZE}³), J2 PA + elastic glass, held-out A₂")
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)
    pct, pair = report.pct, report.pct_pair
    report.print_table(
        ["state (λ1, λ2)", "path", "mean rel. error", "max rel. error", "peak |σ| DNS", "peak |σ| network"],
        ([f"({r_['state'][0]:.3f}, {r_['state'][1]:.3f})", r_["quantity"], pct(r_["mean"]),
          pct(r_["max"]), f"{r_['peak_dns']:.4g}", f"{r_['peak_net']:.4g}"] for r_ in rows))
    if fine_rows:
        print()
        report.print_table(
            ["state", "path", *report.fine_columns(SIZE, 2 * SIZE)],
            ([f"({f_['state'][0]:.3f}, {f_['state'][1]:.3f})", f_["path"], pair(f_["dns_vs_fine"]),
              pair(f_["net_vs_fine"])] for f_ in fine_rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model": args.model, "size": SIZE, "seed": SEED, "vf": VF, "laws": [MATRIX, FIBRE],
                       "rows": rows, "fine": fine_rows}, f, indent=1)


if __name__ == "__main__":
    main()
