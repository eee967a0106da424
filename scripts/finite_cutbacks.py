"""Cut backs of the finite-strain network under random deformation gradients: finite J2 matrix
(E = 70e3, ν = 0.3, σy = 100, hardening ``H``) with neo-Hookean inclusions (E = 400e3, ν = 0.2),
the shipped spheres16_imn_d6 / spheres16_dmn_d6 and random complete trees of depth 6 and 7
(random leaf rotations); per seed 32 points, F = 1 + t G (|G| = ``amp``, stretch + rotation),
10 load increments then 5 unloading half way.  Prints the cut-back count (point-increments),
the points involved and the mean Newton iterations of the converged ones (docs/online.md,
"Folds of the jump equations").

    python scripts/finite_cutbacks.py [--H 500] [--amp 0.2] [--seeds 3]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from dmn_umat import model_file, network, tensors
from dmn_umat.laws.finite_update import fj2_props, neohooke_props
from dmn_umat.online.finite_solver import FiniteNetworkMaterial

MODELS = Path(__file__).resolve().parents[1] / "dmn_umat" / "models"


def _loads(n: int) -> np.ndarray:
    return np.r_[np.linspace(0, 1, n + 1)[1:], np.linspace(1, 0.5, n // 2 + 1)[1:]]


def _networks() -> dict[str, network.Network]:
    nets = {m: model_file.read(MODELS / f"{m}.dmn") for m in ("spheres16_imn_d6", "spheres16_dmn_d6")}
    for depth in (6, 7):
        rng = np.random.default_rng(depth)
        n = 2**depth
        R = np.array([tensors.rotation_from_euler(*rng.uniform(0, 2 * np.pi, 3)) for _ in range(n)])
        nets[f"random_d{depth}"] = network.complete_tree(depth, rng.uniform(0.05, 1.0, n),
                                                         rng.normal(size=(n - 1, 3)), rotations=R)
    return nets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--H", type=float, default=500.0, help="linear hardening of the finite J2 matrix")
    ap.add_argument("--amp", type=float, default=0.2, help="|G| of F = 1 + t G")
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    print("network | seed | cut backs | points | mean iterations")
    print("---|---|---|---|---")
    for name, net in _networks().items():
        mat = FiniteNetworkMaterial(net, [fj2_props(70e3, 0.3, 100.0, a.H), neohooke_props(E=400e3, nu=0.2)],
                                    threads=1)
        for seed in range(a.seeds):
            G = np.random.default_rng(100 + seed).normal(size=(32, 3, 3))
            G *= a.amp / np.linalg.norm(G, axis=(1, 2))[:, None, None]
            state = mat.initial_state(32)
            ncut, bad, its = 0, set(), []
            for t in _loads(10):
                _, _, new, status = mat.update(np.eye(3) + t * G, state)
                ok = status == 0
                ncut += int(np.count_nonzero(~ok))
                bad |= set(np.flatnonzero(~ok).tolist())
                state[ok] = new[ok]
                its.append(mat.last_info[ok, 1].mean())
            print(f"{name} | {seed} | {ncut} | {sorted(bad)} | {np.mean(its):.1f}", flush=True)


if __name__ == "__main__":
    main()
