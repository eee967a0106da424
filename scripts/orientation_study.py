"""Orientation-aware networks vs triangle interpolation (issue 13 item 3; docs/fibres.md §3).

    dmn data orientations --grid 6 --samples-per-state 48 --tol 1e-6 --out train.h5
    dmn data orientations --state ... (12 held-out states, docs/fibres.md §3) --samples-per-state 6 \
        --seed 1 --tol 1e-6 --out heldout.h5
    python scripts/orientation_study.py --train train.h5 --heldout heldout.h5

Trains (i) one fixed network per grid state (the triangle-interpolation baseline, Köbler et al.
2018: barycentric blend of the three networks of the enclosing triangle), (ii) one fixed network on
all states (orientation-unaware reference, also the start p0 of (iii)), (iii) one parametric
network p(λ) = p0 + A φ(λ); reports the relative Frobenius error of C̄ at the held-out states
(all their samples), the isotropy distance at A₂ = I/3, and writes docs/orientation_study.md/.png.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from dmn_umat import tensors
from dmn_umat.offline import orientation as on
from dmn_umat.offline.config import TrainConfig
from dmn_umat.offline.models import DTYPE
from dmn_umat.offline.train import relative_errors

ORTHO_STATES = ((1 / 3, 1 / 3), (0.5, 0.3), (0.7, 0.2), (0.9, 0.05), (0.5, 0.45))


def _errs(pred: np.ndarray, ref: np.ndarray) -> np.ndarray:
    return relative_errors(torch.as_tensor(pred), torch.as_tensor(ref)).numpy()


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", required=True)
    ap.add_argument("--heldout", required=True)
    ap.add_argument("--formulation", default="imn", choices=["imn", "dmn"])
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--epochs", type=int, default=300, help="fixed networks (per state and all states)")
    ap.add_argument("--epochs-param", type=int, default=300)
    ap.add_argument("--lr-param", type=float, default=0.01)
    ap.add_argument("--degree", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--symmetry", default="none", choices=["none", "orthotropic"],
                    help="orthotropic: the fixed start and the parametric network are orthotropic in "
                    "A2's principal frame by construction (offline.orientation.OrthotropicIMN)")
    ap.add_argument("--out", default="docs/orientation_study")
    a = ap.parse_args(argv)
    torch.set_default_dtype(torch.float64)
    log = print
    sym = None if a.symmetry == "none" else a.symmetry

    tr, va = on.from_orientation_dataset(a.train)
    ho_tr, ho_va = on.from_orientation_dataset(a.heldout)
    ho = on.OrientationData(
        np.concatenate([ho_tr.C1, ho_va.C1]),
        np.concatenate([ho_tr.C2, ho_va.C2]),
        np.concatenate([ho_tr.Cbar, ho_va.Cbar]),
        np.concatenate([ho_tr.states, ho_va.states]),
    )
    grid = tr.unique_states()
    overlap = [s for s in ho.unique_states() if np.any(np.all(np.abs(grid - s) < 1e-9, axis=1))]
    if overlap:
        raise SystemExit(f"held-out states overlap the training grid: {overlap}")
    cfg = TrainConfig(formulation=a.formulation, depth=a.depth, epochs=a.epochs, seed=a.seed)
    times = {}

    t = time.perf_counter()
    grid, models, per_state_val = on.train_per_state(tr, va, cfg, log=log)
    times["per-state (all grid states)"] = time.perf_counter() - t
    tri = on.TriangleInterpolator(grid, [on.torch_predictor(m) for m in models])

    t = time.perf_counter()
    fixed = on.fixed_all_states(tr, va, cfg, sym)
    times["fixed, all states"] = time.perf_counter() - t

    t = time.perf_counter()
    res = on.train_parametric(
        on.ParametricNetwork(fixed, a.degree), tr, va, a.epochs_param, lr=a.lr_param, seed=a.seed, log=log
    )
    times["parametric (from the fixed start)"] = time.perf_counter() - t
    par = res.model

    e_tri = _errs(tri.predict(ho.C1, ho.C2, ho.states), ho.Cbar)
    e_par = on.errors(par, ho)
    e_fix = _errs(on.torch_predictor(fixed)(ho.C1, ho.C2), ho.Cbar)
    # validation samples at the grid states (seen states, unseen phase pairs)
    v_tri = _errs(tri.predict(va.C1, va.C2, va.states), va.Cbar)
    v_par = on.errors(par, va)

    # frame check at A2 = I/3: isotropy distance of FFT C-bar and of the networks
    iso_state = np.array([[1 / 3, 1 / 3]])
    iso_idx = np.r_[tr.of_state(iso_state), []].astype(int)
    d_iso = tr.take(iso_idx)
    glass, pa = tensors.isotropic_stiffness(72.0, 0.22), tensors.isotropic_stiffness(3.0, 0.35)
    with torch.no_grad():
        net_iso = par.fixed_at(iso_state)
        c_gp = net_iso(*(torch.as_tensor(x[None], dtype=DTYPE) for x in (pa, glass))).numpy()[0]
        ud = par.fixed_at([1.0, 0.0])(*(torch.as_tensor(x[None], dtype=DTYPE) for x in (pa, glass))).numpy()[
            0
        ]
        p_iso = on.errors(par, d_iso)
        c_iso = net_iso(torch.as_tensor(d_iso.C1), torch.as_tensor(d_iso.C2)).numpy()
    iso = {
        "fft_samples_mean": float(on.isotropy_distance(d_iso.Cbar).mean()),
        "fft_samples_max": float(on.isotropy_distance(d_iso.Cbar).max()),
        "parametric_samples_mean": float(on.isotropy_distance(c_iso).mean()),
        "parametric_samples_max": float(on.isotropy_distance(c_iso).max()),
        "parametric_error_at_iso_mean": float(p_iso.mean()),
        "parametric_glass_pa_iso": float(on.isotropy_distance(c_gp)),
        "parametric_glass_pa_ud": float(on.isotropy_distance(ud)),
        "glass_pa_iso_C11_C22_C33": [float(c_gp[i, i]) for i in range(3)],
    }

    # departure from orthotropy in the principal frame (glass/PA): an axis sign flip D changes C̄ by
    # ‖Q(D) C̄ Q(D)ᵀ − C̄‖_F / ‖C̄‖_F (max over the three flips); 0 for an orthotropic network
    ortho = {}
    for s in ORTHO_STATES:
        with torch.no_grad():
            c = par.fixed_at(s)(*(torch.as_tensor(x[None], dtype=DTYPE) for x in (pa, glass))).numpy()[0]
        ortho[f"{s[0]:g},{s[1]:g}"] = max(
            float(np.linalg.norm(tensors.rotate_stiffness(c, D) - c) / np.linalg.norm(c))
            for D in (np.diag([-1.0, 1, 1]), np.diag([1.0, -1, 1]), np.diag([1.0, 1, -1]))
        )

    states = ho.unique_states()
    rows = []
    for s in states:
        i = ho.of_state(s)
        rows.append((s, e_par[i].mean(), e_par[i].max(), e_tri[i].mean(), e_tri[i].max(), e_fix[i].mean()))
    meta_tr = json.loads(json.dumps(on.from_orientation_dataset(a.train)[0].meta))
    result = {
        "train": a.train,
        "heldout": a.heldout,
        "dataset": meta_tr,
        "formulation": a.formulation,
        "depth": a.depth,
        "degree": a.degree,
        "symmetry": sym,
        "grid_states": grid.tolist(),
        "n_train": int(len(tr.C1)),
        "n_val": int(len(va.C1)),
        "n_heldout": int(len(ho.C1)),
        "heldout_states": int(len(states)),
        "parametric": {"mean": float(e_par.mean()), "max": float(e_par.max())},
        "triangle": {"mean": float(e_tri.mean()), "max": float(e_tri.max())},
        "fixed_all_states": {"mean": float(e_fix.mean()), "max": float(e_fix.max())},
        "grid_val": {
            "parametric_mean": float(v_par.mean()),
            "triangle_mean": float(v_tri.mean()),
            "per_state_val": per_state_val,
        },
        "parametric_best_epoch": res.best_epoch,
        "coefficients": int(par.coef.numel()),
        "network_parameters": int(par.coef.shape[0]),
        "isotropy": iso,
        "sign_flip_change": ortho,
        "train_seconds": times,
        "per_state": [
            {
                "l1": float(r[0][0]),
                "l2": float(r[0][1]),
                "par_mean": float(r[1]),
                "par_max": float(r[2]),
                "tri_mean": float(r[3]),
                "tri_max": float(r[4]),
                "fixed_mean": float(r[5]),
            }
            for r in rows
        ],
    }
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    Path(str(out) + ".json").write_text(json.dumps(result, indent=1) + "\n")
    on.save_json(
        str(out) + "_model.json", par, {"study": {k: result[k] for k in ("train", "depth", "degree")}}
    )

    lines = [
        f"Held-out states: {len(states)} ({len(ho.C1)} samples); {a.formulation.upper()} depth {a.depth}, "
        f"degree {a.degree}; grid {len(grid)} states, {len(tr.C1)} train / {len(va.C1)} val samples.",
        "",
        "| λ1 | λ2 | λ3 | parametric mean | parametric max | triangle mean | triangle max "
        "| fixed (all states) mean |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s, pm, px, tm, tx, fm in rows:
        lines.append(
            f"| {s[0]:.3f} | {s[1]:.3f} | {1 - s[0] - s[1]:.3f} | {100 * pm:.2f} % | {100 * px:.2f} % "
            f"| {100 * tm:.2f} % | {100 * tx:.2f} % | {100 * fm:.2f} % |"
        )
    lines.append(
        f"| **all** | | | **{100 * e_par.mean():.2f} %** | **{100 * e_par.max():.2f} %** | "
        f"**{100 * e_tri.mean():.2f} %** | **{100 * e_tri.max():.2f} %** | **{100 * e_fix.mean():.2f} %** |"
    )
    lines += [
        "",
        f"Grid states, validation samples: parametric {100 * v_par.mean():.2f} %, "
        f"per-state networks {100 * v_tri.mean():.2f} % (mean).",
        f"Isotropy distance at A₂ = I/3: FFT samples {iso['fft_samples_mean']:.4f} "
        f"(max {iso['fft_samples_max']:.4f}), "
        f"parametric network on the same pairs {iso['parametric_samples_mean']:.4f} "
        f"(max {iso['parametric_samples_max']:.4f}); glass/PA: {iso['parametric_glass_pa_iso']:.4f} at I/3 "
        f"vs {iso['parametric_glass_pa_ud']:.4f} at UD.",
        "C̄ change under an axis sign flip (glass/PA, max of 3 flips): "
        + ", ".join(f"({k}) {100 * v:.2g} %" for k, v in ortho.items()) + ".",
        "Training seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in times.items()) + ".",
    ]
    Path(str(out) + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    _plot(grid, rows, str(out) + ".png")


def _plot(grid: np.ndarray, rows: list, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = np.array([r[0] for r in rows])
    par = 100 * np.array([r[1] for r in rows])
    tri = 100 * np.array([r[3] for r in rows])
    vmax = max(par.max(), tri.max())
    fig, axes = plt.subplots(1, 3, figsize=(13, 3.8))
    corners = np.array([[1, 0], [0.5, 0.5], [1 / 3, 1 / 3], [1, 0]])
    for ax, e, title in ((axes[0], par, "parametric network"), (axes[1], tri, "triangle interpolation")):
        ax.plot(corners[:, 0], corners[:, 1], "k-", lw=0.8)
        ax.plot(grid[:, 0], grid[:, 1], "ks", ms=5, label="training grid")
        sc = ax.scatter(s[:, 0], s[:, 1], c=e, cmap="viridis", vmin=0, vmax=vmax, s=70, edgecolors="k")
        ax.set_xlabel("λ1")
        ax.set_ylabel("λ2")
        ax.set_title(f"{title}: mean {e.mean():.2f} %")
        ax.set_aspect("equal")
        fig.colorbar(sc, ax=ax, label="mean rel. error of C̄ (%)")
    axes[0].legend(loc="upper right", fontsize=8)
    k = np.arange(len(rows))
    axes[2].bar(k - 0.2, par, 0.4, label="parametric")
    axes[2].bar(k + 0.2, tri, 0.4, label="triangle")
    axes[2].set_xlabel("held-out state")
    axes[2].set_ylabel("mean rel. error of C̄ (%)")
    axes[2].legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
