"""Orientation-aware networks online: µs per integration point per increment (issue 13 item 6).

For each depth: a parametric IMN (depth 7: the shipped ``fibres32_pimn_d7``; other depths: a
random IMN with random degree-2 coefficients — the cost does not depend on training), J2 matrix
(PA-like) and elastic glass fibres, ``--points`` points each with its own A₂ (random state of the
orientation triangle, random principal axes) and its own proportional strain path to 2 % in
``--incr`` increments, then unloading half way.  Timings exclude a first (compiling) call.

- fixed: one ordinary network (the model at one state, rotated to one frame) for all points
  (:class:`dmn_umat.online.solver.NetworkMaterial`) — the cost of a fixed microstructure;
- parametric: :class:`dmn_umat.online.parametric.ParametricNetworkMaterial`, the point's tree built
  from A₂ in every call (eigen-frame, p(λ), weights, normals) and, with ``cache=True``, once;
  The cached path runs the fixed kernel on the point's own network, so cached / fixed differs
  from 1 only by the networks' Newton iterations (printed) and timing noise; the build cost per
  point and call is also timed alone (eigen-frame + p(λ) + tree for every point, one call);
- triangle: Köbler-style interpolation, three fixed networks (the grid states of the enclosing
  triangle) per point, strain rotated into the principal frame, stresses and tangents blended
  with the barycentric weights and rotated back (three network states per point).

    python benchmarks/bench_parametric.py [--depths 5 6 7] [--points 64] [--incr 10] [--threads 1]
                                          [--repeat 3] [--same-state] [--prune 1e-5 1e-3 1e-2]

``--prune TOL ...`` adds a table of the model pruned at each tolerance
(:func:`dmn_umat.model_file.prune_parametric`: leaves whose weight fraction stays ≤ TOL over the
orientation triangle go, the points' trees are built collapsed): leaves kept, the parametric and
cached cost against the unpruned model's, the largest relative change of the elastic C̄
(glass/PA) at the points' states, and the change along the benchmark's paths (the same points,
A₂ and load/unload paths, J2 matrix + glass, Newton rtol 1e-10): stress, max over the path of
|Δσ| / the point's peak |σ| (max and mean over the points), and the final peeq, |Δpeeq| / peeq
(max over the points).

``--same-state`` puts every point at the fixed network's orientation state (each with its own
axes), so that the parametric points do the fixed network's Newton work and the ratio isolates
the parametric overhead.
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np
import torch

from dmn_umat import model_file, tensors
from dmn_umat.network import Network
from dmn_umat.offline import orientation as O
from dmn_umat.offline import pretrained
from dmn_umat.offline.models import build
from dmn_umat.online.parametric import ParametricNetworkMaterial, _build_all
from dmn_umat.online.solver import NetworkMaterial
from dmn_umat.status import INFO_ITERATIONS

SHIPPED, SHIPPED_DEPTH = "fibres32_pimn_d7", 7  # the shipped orientation-aware model
MATRIX = "j2:E=3000,nu=0.35,sy=60,H=300"
FIBRE = "elastic:E=72000,nu=0.22"
GRID = ((0.5, 0.3333333333333333), (0.6666666666666666, 0.16666666666666666), (0.6666666666666666,
        0.3333333333333333))  # one triangle of the study's grid (the cost is that of any triangle)


def model_of_depth(depth: int, seed: int = 0) -> model_file.ParametricModel:
    if depth == SHIPPED_DEPTH:
        return model_file.read_parametric(pretrained.resolve(SHIPPED))
    m = O.ParametricNetwork(build("imn", depth, seed=seed), 2)
    with torch.no_grad():
        m.coef.copy_(0.3 * torch.randn(m.coef.shape, generator=torch.Generator().manual_seed(seed),
                                       dtype=torch.float64))
    return O.to_parametric_model(m)


def rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q *= np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def rotated(net: Network, R: np.ndarray) -> Network:
    return Network(net.children, net.normals @ R.T, net.weights, net.phase, None, dict(net.metadata))


class Triangle:
    """Three principal-frame networks blended with fixed barycentric weights per point."""

    def __init__(self, pm, axes: np.ndarray, weights: np.ndarray, threads: int):
        self.mats = [NetworkMaterial(pm.network_at(s), [MATRIX, FIBRE], threads=threads) for s in GRID]
        self.Q = np.array([tensors.rotation_mandel(R) for R in axes])  # (n, 6, 6)
        self.w = weights  # (n, 3)
        self.ns = [m.nstate for m in self.mats]

    def initial_state(self, n: int) -> np.ndarray:
        return np.zeros((n, sum(self.ns)))

    def update(self, strain: np.ndarray, state: np.ndarray):
        eps = np.einsum("nji,nj->ni", self.Q, strain)  # Qᵀ ε: the principal frame
        sig = np.zeros_like(strain)
        tan = np.zeros((strain.shape[0], 6, 6))
        new, status, o = [], np.zeros(strain.shape[0], dtype=np.int64), 0
        for i, (m, ns) in enumerate(zip(self.mats, self.ns)):
            u = m.update(eps, state[:, o : o + ns])
            sig += self.w[:, i, None] * u.stress
            tan += self.w[:, i, None, None] * u.tangent
            new.append(u.state)
            status = np.maximum(status, u.status)
            o += ns
        self.last_info = sum(m.last_info for m in self.mats)  # iterations of the three networks
        sig = np.einsum("nij,nj->ni", self.Q, sig)
        tan = self.Q @ tan @ self.Q.transpose(0, 2, 1)
        return sig, tan, np.concatenate(new, axis=1), status


def timed(mat, a2, paths) -> tuple[float, float]:
    """(µs per point per increment, mean Newton iterations per point-increment) of ``mat`` along
    ``paths`` (nincr, n, 6)."""
    n = paths.shape[1]
    state = mat.initial_state(n)
    args = () if a2 is None else (a2,)
    mat.update(paths[0] * 1e-6, state, *args)  # compile / warm up (and fill a cache)
    t, its = 0.0, 0.0
    for eps in paths:
        t0 = time.perf_counter()
        r = mat.update(eps, state, *args)
        t += time.perf_counter() - t0
        state, status = r[2], r[3]
        its += mat.last_info[:, INFO_ITERATIONS].mean()
        if np.any(status != 0):
            raise RuntimeError(f"benchmark: {np.count_nonzero(status)} points did not converge")
    return 1e6 * t / (n * paths.shape[0]), its / paths.shape[0]


def build_time(mat: ParametricNetworkMaterial, a2: np.ndarray, repeat: int, threads: int) -> float:
    """µs per point of building the points' trees alone (parametric._build_all, best of ``repeat``)."""
    prev = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return _build_time(mat, a2, repeat)
    finally:
        numba.set_num_threads(prev)


def _build_time(mat: ParametricNetworkMaterial, a2: np.ndarray, repeat: int) -> float:
    n = a2.shape[0]
    MI, MF = np.empty((n, mat.nmi), dtype=np.int64), np.empty((n, mat.nmf))
    ok = np.empty(n, dtype=np.int64)
    _build_all(mat.pb, mat.table, a2, MI, MF, ok)
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        _build_all(mat.pb, mat.table, a2, MI, MF, ok)
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--depths", type=int, nargs="+", default=[5, 6, 7])
    ap.add_argument("--points", type=int, default=64)
    ap.add_argument("--incr", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeat", type=int, default=3, help="best of this many timings per cell")
    ap.add_argument("--prune", type=float, nargs="*", default=[], metavar="TOL",
                    help="also time the model pruned at these tolerances")
    ap.add_argument("--same-state", action="store_true",
                    help="all points at the fixed network's orientation state (random axes each)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    n = args.points
    lam = np.array([np.sort(rng.dirichlet([1.0, 1.0, 1.0]))[::-1] for _ in range(n)])
    if args.same_state:  # every point at the fixed network's state, own axes: the same Newton work
        lam[:] = (GRID[0][0], GRID[0][1], 1.0 - GRID[0][0] - GRID[0][1])
    axes = np.array([rotation(rng) for _ in range(n)])
    A = axes @ (lam[:, :, None] * axes.transpose(0, 2, 1))
    a2 = np.stack([A[:, 0, 0], A[:, 1, 1], A[:, 2, 2], A[:, 1, 2], A[:, 0, 2], A[:, 0, 1]], axis=1)
    bary = rng.dirichlet([1.0, 1.0, 1.0], size=n)
    dirs = rng.normal(size=(n, 6))
    dirs *= 0.02 / np.linalg.norm(dirs, axis=1)[:, None]
    ts = np.r_[np.linspace(0, 1, args.incr + 1)[1:], np.linspace(1, 0.5, args.incr // 2 + 1)[1:]]
    paths = ts[:, None, None] * dirs[None]
    states = "one state (the fixed network's), own axes" if args.same_state else "own state and axes"
    print(f"{n} points ({states}), {len(ts)} increments (load to 2 %, unload half), {args.threads} "
          f"thread(s), best of {args.repeat}; µs per point per increment")
    print("| depth | fixed | parametric (built each call) | parametric (cached) | triangle (3 networks) "
          "| parametric / fixed | cached / fixed | triangle / fixed | build alone, µs per point | Newton "
          "iterations fixed / parametric / triangle (sum of 3) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    pruned_rows: list[str] = []
    for depth in args.depths:
        pm = model_of_depth(depth)
        mats = {
            "fixed": (NetworkMaterial(rotated(pm.network_at(GRID[0]), axes[0]), [MATRIX, FIBRE],
                                      threads=args.threads), None),
            "param": (ParametricNetworkMaterial(pm, [MATRIX, FIBRE], threads=args.threads), a2),
            "cached": (ParametricNetworkMaterial(pm, [MATRIX, FIBRE], threads=args.threads, cache=True), a2),
            "tri": (Triangle(pm, axes, bary, args.threads), None),
        }
        res = {k: [] for k in mats}
        for _ in range(args.repeat):  # interleaved, so that a change of machine load hits all alike
            for k, (m, a) in mats.items():
                res[k].append(timed(m, a, paths))
        us = {k: min(r[0] for r in v) for k, v in res.items()}
        its = {k: v[0][1] for k, v in res.items()}
        f = us["fixed"]
        print(f"| {depth} | {f:.1f} | {us['param']:.1f} | {us['cached']:.1f} | {us['tri']:.1f} | "
              f"{us['param'] / f:.2f} | {us['cached'] / f:.2f} | {us['tri'] / f:.2f} | "
              f"{build_time(mats['param'][0], a2, 10 * args.repeat, args.threads):.1f} | "
              f"{its['fixed']:.2f} / {its['param']:.2f} / {its['tri']:.2f} |")
        pruned_rows.extend(prune_rows(pm, depth, args, a2, lam, paths))
    if pruned_rows:
        print("\n| depth | tol | leaves kept | removed weight (max over the triangle) | parametric | "
              "pruned | pruned / parametric | cached | pruned, cached | pruned / cached | "
              "max C̄ change (glass/PA) | stress change, max / mean | peeq change, max |")
        print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
        print("\n".join(pruned_rows))


def response(pm, a2: np.ndarray, paths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Stress (nincr, n, 6) along ``paths`` (nincr, n, 6) and final peeq (n,) of the points with
    orientations ``a2`` (n, 6), J2 matrix + glass, Newton rtol 1e-10 (so that changes are the model's)."""
    mat = ParametricNetworkMaterial(pm, [MATRIX, FIBRE], rtol=1e-10)
    state, out = mat.initial_state(paths.shape[1]), []
    for eps in paths:
        u = mat.update(eps, state, a2)
        if np.any(u.status != 0):
            raise RuntimeError(f"benchmark: {np.count_nonzero(u.status)} points did not converge")
        state = u.state
        out.append(u.stress)
    return np.array(out), mat.fields(state, a2)["peeq"]


def response_change(ref: tuple[np.ndarray, np.ndarray], new: tuple[np.ndarray, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Per point: max over the path of |Δσ| / the point's peak |σ|, and |Δpeeq| / peeq (0 where
    both are 0) — the pruned model ``new`` against the unpruned ``ref`` (outputs of :func:`response`)."""
    (s0, p0), (s1, p1) = ref, new
    ds = np.abs(s1 - s0).max(axis=(0, 2)) / np.abs(s0).max(axis=(0, 2))
    dp = np.abs(p1 - p0)
    return ds, np.divide(dp, p0, out=np.where(dp > 0, np.inf, 0.0), where=p0 > 0)


def prune_rows(pm, depth: int, args, a2: np.ndarray, lam: np.ndarray, paths: np.ndarray) -> list[str]:
    """Rows of the ``--prune`` table for one depth (timings interleaved, best of ``--repeat``)."""
    Cm, Cf = tensors.isotropic_stiffness(3000.0, 0.35), tensors.isotropic_stiffness(72000.0, 0.22)
    ref = response(pm, a2, paths)
    rows = []
    for tol in args.prune:
        q = model_file.prune_parametric(pm, tol)
        mats = {(name, cache): (ParametricNetworkMaterial(m, [MATRIX, FIBRE], threads=args.threads,
                                                          cache=cache), a2)
                for name, m in (("full", pm), ("pruned", q)) for cache in (False, True)}
        res = {k: [] for k in mats}
        for _ in range(args.repeat):
            for k, (m, a) in mats.items():
                res[k].append(timed(m, a, paths)[0])
        us = {k: min(v) for k, v in res.items()}
        C = [(pm.network_at(s).homogenize([Cm, Cf]), q.network_at(s).homogenize([Cm, Cf])) for s in lam]
        dc = max(np.linalg.norm(b - a) / np.linalg.norm(a) for a, b in C)
        ds, dp = response_change(ref, response(q, a2, paths))
        info = q.metadata.get("pruned", {}) if q is not pm else {}
        rows.append(f"| {depth} | {tol:g} | {int(q.kept_leaves().sum())} / {pm.n_leaves} | "
                    f"{info.get('removed_fraction_max', 0.0):.2e} | {us['full', False]:.1f} | "
                    f"{us['pruned', False]:.1f} | {us['pruned', False] / us['full', False]:.2f} | "
                    f"{us['full', True]:.1f} | {us['pruned', True]:.1f} | "
                    f"{us['pruned', True] / us['full', True]:.2f} | {dc:.2e} | "
                    f"{ds.max():.1e} / {ds.mean():.1e} | {dp.max():.1e} |")
    return rows


if __name__ == "__main__":
    main()
