"""How continuous is an orientation-aware network's response where A₂ has repeated eigenvalues?
(docs/fibres.md §4, "Repeated eigenvalues").

At λ1 = λ2 (or λ2 = λ3) the principal axes in that plane are arbitrary: A₂ = R diag(λ) Rᵀ holds
for R turned by any angle α about the third axis.  Approaching such an A₂ with the in-plane axes
at angle α, A₂(ε, α) = R_α diag(λ1 + ε, λ2 − ε, λ3) R_αᵀ with ε → 0, the online response tends to
Q(R_α) C̄ₚ Q(R_α)ᵀ (C̄ₚ the principal-frame network at the degenerate state), so the response as a
function of A₂ jumps there by

    jump = max_α ‖C̄(A₂(ε, α)) − C̄(A₂(ε, 0))‖_F / ‖C̄(A₂(ε, 0))‖_F    (ε = 1e-9, α on a 5° grid)

— the network's departure from transverse isotropy about the third axis at that state (the FFT
RVE's own departure from it is the reference).  At A₂ = I/3 every axis is arbitrary: the max over
random rotations.  Elastic glass (E 72 GPa, ν 0.22) in PA (E 3 GPa, ν 0.35), through the online
code (`ParametricNetworkMaterial`, zero strain → tangent).

    python scripts/orientation_degenerate.py [--model fibres32_pimn_d7] [--data train.h5] [--json F]

``--data``: also the same measure for the FFT C̄ of a ``dmn data orientations`` file at its
degenerate grid states (mean and max over the samples: the RVE's own departure).
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from dmn_umat import model_file, tensors
from dmn_umat.offline.pretrained import resolve
from dmn_umat.online.parametric import ParametricNetworkMaterial

PHASES = ["elastic:E=3000,nu=0.35", "elastic:E=72000,nu=0.22"]
EPS = 1e-9
# (λ1, λ2, λ3), the repeated pair (0-based), the axis the free rotation turns about
STATES = (
    ((0.5, 0.5, 0.0), (0, 1), 2),
    ((0.45, 0.45, 0.1), (0, 1), 2),
    ((0.4, 0.4, 0.2), (0, 1), 2),
    ((0.6, 0.2, 0.2), (1, 2), 0),
    ((0.8, 0.1, 0.1), (1, 2), 0),
    ((1.0, 0.0, 0.0), (1, 2), 0),
)


def _voigt(A: np.ndarray) -> np.ndarray:
    return np.array([A[0, 0], A[1, 1], A[2, 2], A[1, 2], A[0, 2], A[0, 1]])


def _about(axis: int, angle: float) -> np.ndarray:
    k = np.zeros(3)
    k[axis] = 1.0
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def tangents(mat: ParametricNetworkMaterial, a2: np.ndarray) -> np.ndarray:
    """(n, 6, 6) online tangents at zero strain for A₂ (n, 6)."""
    n = a2.shape[0]
    return mat.update(np.zeros((n, 6)), mat.initial_state(n), a2).tangent


def jumps(mat: ParametricNetworkMaterial) -> list[dict]:
    rows = []
    for lam, (i, j), axis in STATES:
        split = np.array(lam, dtype=np.float64)
        split[i] += EPS
        split[j] -= EPS
        alphas = np.radians(np.arange(0.0, 180.0, 5.0))
        a2 = np.array([_voigt(_about(axis, a) @ np.diag(split) @ _about(axis, a).T) for a in alphas])
        C = tangents(mat, a2)
        d = np.linalg.norm(C - C[0], axis=(1, 2)) / np.linalg.norm(C[0])
        # the same A₂ approached from the other ordering (λ_j + ε, λ_i − ε): axes swapped
        other = np.array(lam, dtype=np.float64)
        other[i] -= EPS
        other[j] += EPS
        c_other = tangents(mat, _voigt(np.diag(other))[None])[0]
        rows.append({"state": list(lam), "jump_max": float(d.max()), "alpha_max_deg": float(np.degrees(
            alphas[int(d.argmax())])), "swap": float(np.linalg.norm(c_other - C[0]) / np.linalg.norm(C[0]))})
    Rs = _random_rotations(24)
    third = np.full(3, 1.0 / 3.0)
    split = third + np.array([EPS, 0.0, -EPS])
    a2 = np.array([_voigt(np.eye(3) @ np.diag(split))] + [_voigt(R @ np.diag(split) @ R.T) for R in Rs])
    C = tangents(mat, a2)
    d = np.linalg.norm(C - C[0], axis=(1, 2)) / np.linalg.norm(C[0])
    rows.append({"state": third.tolist(), "jump_max": float(d.max()), "alpha_max_deg": None, "swap": None})
    return rows


def _random_rotations(n: int, seed: int = 0) -> list[np.ndarray]:
    rng, out = np.random.default_rng(seed), []
    for _ in range(n):
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q *= np.sign(np.diag(r))
        out.append(q if np.linalg.det(q) > 0 else -q)
    return out


def data_jumps(path: str) -> list[dict]:
    """The measure for the FFT samples of the degenerate grid states of an orientation data file."""
    from dmn_umat.offline.orientation import from_orientation_dataset

    tr, va = from_orientation_dataset(path)
    rows = []
    for st in tr.unique_states():
        l3 = 1.0 - st.sum()
        if np.isclose(st[0], st[1]) and np.isclose(st[1], l3):
            Rs = _random_rotations(24)
        elif np.isclose(st[0], st[1]):
            Rs = [_about(2, a) for a in np.radians(np.arange(5.0, 180.0, 5.0))]
        elif np.isclose(st[1], l3):
            Rs = [_about(0, a) for a in np.radians(np.arange(5.0, 180.0, 5.0))]
        else:
            continue
        C = np.concatenate([tr.Cbar[tr.of_state(st)], va.Cbar[va.of_state(st)]])
        rot = tensors.rotate_stiffness
        j = [max(np.linalg.norm(rot(c, R) - c) for R in Rs) / np.linalg.norm(c) for c in C]
        rows.append({"state": [float(st[0]), float(st[1]), float(l3)], "mean": float(np.mean(j)),
                     "max": float(np.max(j)), "samples": len(C)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fibres32_pimn_d7", help="shipped model name or .dmn path")
    ap.add_argument("--data", default=None, help="orientation data file: the FFT samples' measure")
    ap.add_argument("--json", default=None)
    a = ap.parse_args()
    pm = model_file.read_parametric(resolve(a.model))
    mat = ParametricNetworkMaterial(pm, PHASES)
    rows = jumps(mat)
    print(f"model {a.model}: response jump where eigenvalues repeat (glass/PA, ε = {EPS:g})\n")
    print("| state (λ1, λ2, λ3) | jump: max over the free rotation | at α | swapped ordering |")
    print("|---|---|---|---|")
    for r in rows:
        s = ", ".join(f"{v:.3g}" for v in r["state"])
        at = "random R" if r["alpha_max_deg"] is None else f"{r['alpha_max_deg']:.0f}°"
        sw = "—" if r["swap"] is None else f"{100 * r['swap']:.2g} %"
        print(f"| ({s}) | {100 * r['jump_max']:.2g} % | {at} | {sw} |")
    drows = data_jumps(a.data) if a.data else []
    if drows:
        print(f"\nFFT samples of {a.data} (each its own phase pair), same measure:\n")
        print("| state (λ1, λ2, λ3) | samples | mean | max |")
        print("|---|---|---|---|")
        for r in drows:
            s = ", ".join(f"{v:.3g}" for v in r["state"])
            print(f"| ({s}) | {r['samples']} | {100 * r['mean']:.2g} % | {100 * r['max']:.2g} % |")
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"model": a.model, "eps": EPS, "phases": PHASES, "rows": rows, "data": drows}, f,
                      indent=1)


if __name__ == "__main__":
    main()
