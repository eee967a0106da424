"""Before/after check of the network kernels: evaluates a fixed set of cases and saves (or
compares with) the outputs bit for bit.

Small strain: the shipped spheres16_imn_d6 / spheres16_dmn_d6 with a j2 / elastic pair along a
load/unload path, and vp / creep / chaboche matrices with time increments; finite strain: the
same networks with finite J2 / neo-Hookean along a stretch + rotation path.

    python scripts/kernel_bitcheck.py save REF.npz     # with the old tree first on sys.path
    python scripts/kernel_bitcheck.py compare REF.npz
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from dmn_umat import model_file
from dmn_umat.laws.finite_update import fj2_props, neohooke_props
from dmn_umat.online.finite_solver import FiniteNetworkMaterial
from dmn_umat.online.solver import NetworkMaterial

MODELS = Path(__file__).resolve().parents[1] / "dmn_umat" / "models"
SMALL = {
    "j2": ["j2:E=70e3,nu=0.33,sy=100,H=500", "elastic:E=400e3,nu=0.2"],
    "vp": ["vp:E=70e3,nu=0.33,sy=100,H=500,eta=1000,m=0.2", "elastic:E=400e3,nu=0.2"],
    "creep": ["creep:E=70e3,nu=0.33,A=3e-9,n=3,sy=100,H=500", "elastic:E=400e3,nu=0.2"],
    "chaboche": ["chaboche:E=70e3,nu=0.33,sy=100,C1=2e4,gamma1=100,C2=5e3,gamma2=20",
                 "elastic:E=400e3,nu=0.2"],
}


def _path(n: int) -> np.ndarray:
    return np.r_[np.linspace(0, 1, n + 1)[1:], np.linspace(1, -0.3, n + 1)[1:]]


def run() -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    rng = np.random.default_rng(7)
    d = rng.normal(size=(6, 6))
    d *= 0.015 / np.linalg.norm(d, axis=1)[:, None]
    G = rng.normal(size=(4, 3, 3))
    G *= 0.1 / np.linalg.norm(G, axis=(1, 2))[:, None, None]
    for model in ("spheres16_imn_d6", "spheres16_dmn_d6"):
        net = model_file.read(MODELS / f"{model}.dmn")
        for law, phases in SMALL.items():
            mat = NetworkMaterial(net, phases, threads=1)
            state = mat.initial_state(len(d))
            dt = 0.0 if law == "j2" else 0.5
            for i, t in enumerate(_path(6 if law == "j2" else 3)):
                r = mat.update(d * t, state, dt=dt)
                state = np.where(r.status[:, None] == 0, r.state, state)
                key = f"{model}/{law}/{i}"
                out[key + "/stress"], out[key + "/tangent"] = r.stress, r.tangent
                out[key + "/state"], out[key + "/status"] = r.state, r.status
                out[key + "/iters"] = mat.last_info[:, 1].copy()
        fm = FiniteNetworkMaterial(net, [fj2_props(70e3, 0.33, 100.0, 2000.0), neohooke_props(400e3, 0.2)],
                                   threads=1)
        state = fm.initial_state(len(G))
        for i, t in enumerate(_path(4)):
            P, A, s, st = fm.update(np.eye(3) + t * G, state)
            state = np.where(st[:, None] == 0, s, state)
            key = f"{model}/fs/{i}"
            out[key + "/P"], out[key + "/A"], out[key + "/state"], out[key + "/status"] = P, A, s, st
    return out


def main() -> None:
    mode, ref = sys.argv[1], sys.argv[2]
    out = run()
    if mode == "save":
        np.savez(ref, **out)
        print(f"saved {len(out)} arrays to {ref}")
        return
    old = np.load(ref)
    worst_small, worst_fs, diff = 0.0, 0.0, []
    for k, v in out.items():
        o = old[k]
        if np.array_equal(o, v):
            continue
        rel = float(np.max(np.abs(o - v)) / max(np.max(np.abs(o)), 1e-300))
        diff.append(k)
        if "/fs/" in k:
            worst_fs = max(worst_fs, rel)
        else:
            worst_small = max(worst_small, rel)
    print(f"{len(out)} arrays, {len(diff)} not bit-identical; worst relative difference: "
          f"small strain {worst_small:.3e}, finite strain {worst_fs:.3e}")
    for k in diff[:20]:
        print("  differs:", k)


if __name__ == "__main__":
    main()
