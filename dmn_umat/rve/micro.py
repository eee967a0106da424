"""Periodic 3-D voxel microstructure generators (two phases: 0 = matrix, 1 = inclusion).

Geometry is measured in **voxel units**: the periodic cell is [0, nx) × [0, ny) × [0, nz) and
voxel (i, j, k) is inclusion when its centre (i + ½, j + ½, k + ½) lies inside an inclusion
(or one of its periodic images).  Every generator is seeded through ``np.random.default_rng(seed)``
and returns a :class:`Microstructure` holding the voxels, the achieved inclusion volume fraction
and the generator parameters (JSON-serialisable, stored as a ``.json`` sidecar by :func:`save_micro`).

Inclusions are placed by random sequential adsorption (RSA) with periodic minimum-image
distances; objects never overlap (spheres and circles exactly, short fibres through the
segment–segment distance of their axes).  Objects are added while doing so brings the voxel
volume fraction closer to the target, so the achieved fraction is within half an inclusion's
volume of it; when RSA jams first, :class:`MicroError` says so.  Painting is vectorised per
object over its bounding box (no Python loop over voxels).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..fileio import atomic_write

__all__ = [
    "MicroError",
    "Microstructure",
    "spheres",
    "short_fibres",
    "long_fibres",
    "laminate",
    "segment_distance",
    "save_micro",
    "read_sidecar",
    "load_voxels",
    "sidecar_path",
    "KINDS",
    "GENERATORS",
    "generate",
]

KINDS = ("spheres", "short-fibres", "long-fibres", "laminate")
_AXES = {"x": 0, "y": 1, "z": 2}
_BATCH = 64  # RSA candidates drawn per batch
_HERD_POOL = 8  # admissible fibre candidates compared by the orientation-tensor herding
_POLISH_GOAL = 0.004  # direction swaps after RSA stop once max |A2_realized - A2| <= this
_POLISH_SWEEPS = 24  # passes over all fibres at most (fewer once a pass changes nothing)
_POLISH_TRIES = 64  # directions drawn per fibre and pass
_POLISH_TEST = 64  # improving directions tested for overlap, best first


class MicroError(ValueError):
    """A generator request that cannot be fulfilled (message is user-facing, one line)."""


@dataclass
class Microstructure:
    """A generated microstructure.

    voxels: (nx, ny, nz) int32 phase ids (0 matrix, 1 inclusion).
    kind: generator name (one of :data:`KINDS`).
    target_volume_fraction: requested inclusion volume fraction.
    params: generator parameters (JSON-serialisable).
    objects: sphere centres (n,3), fibre axis end points (n,2,3) or circle centres (n,2),
        in voxel units; ``None`` for laminates.
    """

    voxels: np.ndarray
    kind: str
    target_volume_fraction: float
    params: dict = field(default_factory=dict)
    objects: np.ndarray | None = None

    @property
    def volume_fraction(self) -> float:
        """Achieved inclusion (phase 1) voxel volume fraction."""
        return float(np.count_nonzero(self.voxels == 1)) / self.voxels.size

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(int(s) for s in self.voxels.shape)

    @property
    def count(self) -> int | None:
        return None if self.objects is None else int(len(self.objects))

    def metadata(self) -> dict:
        """JSON-ready description: kind, shape, achieved/target vf, count, params."""
        return {
            "kind": self.kind,
            "shape": list(self.shape),
            "volume_fraction": self.volume_fraction,
            "target_volume_fraction": float(self.target_volume_fraction),
            "count": self.count,
            "params": self.params,
        }


# --------------------------------------------------------------------------- argument checks
def _check_shape(shape: int | Sequence[int]) -> tuple[int, int, int]:
    if isinstance(shape, (int, np.integer)):
        shape = (int(shape),) * 3
    shape = tuple(shape)
    if len(shape) != 3:
        raise MicroError(f"shape must have 3 entries (nx, ny, nz), got {shape}")
    out = []
    for s in shape:
        if isinstance(s, float) and not float(s).is_integer():
            raise MicroError(f"grid size must be an integer, got {s}")
        s = int(s)
        if s < 1:
            raise MicroError(f"grid size must be >= 1, got {s}")
        out.append(s)
    return tuple(out)


def _check_vf(vf: float) -> float:
    try:
        vf = float(vf)
    except (TypeError, ValueError):
        raise MicroError(f"volume fraction must be a number, got {vf!r}") from None
    if not math.isfinite(vf) or not 0.0 < vf < 1.0:
        raise MicroError(f"volume fraction must lie in (0, 1), got {vf}")
    return vf


def _check_positive(name: str, value: float, allow_zero: bool = False) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise MicroError(f"{name} must be a number, got {value!r}") from None
    if not math.isfinite(value) or value < 0.0 or (value == 0.0 and not allow_zero):
        raise MicroError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value}")
    return value


def _axis_vector(axis) -> np.ndarray:
    if isinstance(axis, str):
        if axis.lower() not in _AXES:
            raise MicroError(f"axis must be x, y or z, got {axis!r}")
        v = np.zeros(3)
        v[_AXES[axis.lower()]] = 1.0
        return v
    v = np.asarray(axis, dtype=np.float64).reshape(-1)
    if v.shape != (3,) or not np.all(np.isfinite(v)) or np.linalg.norm(v) == 0.0:
        raise MicroError(f"axis must be x, y, z or a non-zero finite 3-vector, got {axis!r}")
    return v / np.linalg.norm(v)


def _rng(seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    try:
        return np.random.default_rng(seed)
    except (TypeError, ValueError) as exc:
        raise MicroError(f"invalid seed {seed!r}: {exc}") from None


# --------------------------------------------------------------------------- geometry kernels
def segment_distance(p1: np.ndarray, q1: np.ndarray, p2: np.ndarray, q2: np.ndarray) -> np.ndarray:
    """Minimum distance between segments [p1, q1] and [p2, q2] (arrays (..., 3), broadcast).

    Closed-form clamped closest points (Ericson, Real-Time Collision Detection §5.1.9);
    degenerate (zero-length) segments are points.
    """
    d1 = q1 - p1
    d2 = q2 - p2
    r = p1 - p2
    a = np.sum(d1 * d1, axis=-1)
    e = np.sum(d2 * d2, axis=-1)
    f = np.sum(d2 * r, axis=-1)
    c = np.sum(d1 * r, axis=-1)
    b = np.sum(d1 * d2, axis=-1)
    tiny = 1e-14
    a_ok = a > tiny
    e_ok = e > tiny
    a_s = np.where(a_ok, a, 1.0)
    e_s = np.where(e_ok, e, 1.0)
    denom = a * e - b * b
    par = denom <= 1e-12 * a_s * e_s  # parallel (or degenerate): any s, take 0
    s = np.where(par, 0.0, np.clip((b * f - c * e) / np.where(par, 1.0, denom), 0.0, 1.0))
    t = np.where(e_ok, (b * s + f) / e_s, 0.0)
    tc = np.clip(t, 0.0, 1.0)
    s = np.where(tc != t, np.clip((tc * b - c) / a_s, 0.0, 1.0), s)
    t = tc
    # first segment is a point
    s = np.where(a_ok, s, 0.0)
    t = np.where(a_ok, t, np.where(e_ok, np.clip(f / e_s, 0.0, 1.0), 0.0))
    # second segment is a point (first is not)
    s = np.where(~e_ok & a_ok, np.clip(-c / a_s, 0.0, 1.0), s)
    diff = (p1 + s[..., None] * d1) - (p2 + t[..., None] * d2)
    return np.sqrt(np.sum(diff * diff, axis=-1))


def _box_indices(lo: np.ndarray, hi: np.ndarray, shape) -> list[np.ndarray]:
    """Unwrapped integer voxel indices whose centres can lie in [lo, hi] per axis."""
    out = []
    for k in range(len(shape)):
        i0 = int(math.floor(lo[k] - 0.5))
        i1 = int(math.ceil(hi[k] - 0.5))
        idx = np.arange(i0, i1 + 1)
        if idx.size > shape[k]:
            raise MicroError(
                "an inclusion is larger than the periodic cell; lower its size or enlarge the grid"
            )
        out.append(idx)
    return out


def _paint(grid: np.ndarray, idx: list[np.ndarray], mask: np.ndarray) -> int:
    """Set ``grid[wrapped idx][mask] = 1``; return how many voxels were newly set."""
    wrapped = np.ix_(*[i % n for i, n in zip(idx, grid.shape)])
    sub = grid[wrapped]
    new = int(np.count_nonzero(mask & (sub == 0)))
    sub[mask] = 1
    grid[wrapped] = sub
    return new


def _unpaint(grid: np.ndarray, idx: list[np.ndarray], mask: np.ndarray) -> int:
    """Set ``grid[wrapped idx][mask] = 0``; return how many voxels were cleared."""
    wrapped = np.ix_(*[i % n for i, n in zip(idx, grid.shape)])
    sub = grid[wrapped]
    gone = int(np.count_nonzero(mask & (sub == 1)))
    sub[mask] = 0
    grid[wrapped] = sub
    return gone


def _new_count(grid: np.ndarray, idx: list[np.ndarray], mask: np.ndarray) -> int:
    wrapped = np.ix_(*[i % n for i, n in zip(idx, grid.shape)])
    return int(np.count_nonzero(mask & (grid[wrapped] == 0)))


def _min_image(d: np.ndarray, L: np.ndarray) -> np.ndarray:
    return d - L * np.round(d / L)


# --------------------------------------------------------------------------- RSA driver
class _NearIndex:
    """Periodic fixed-radius neighbour search over object centres (cell of lengths ``L``).

    A ``scipy.spatial.cKDTree`` with periodic ``boxsize`` over the older centres (rebuilt every
    ``rebuild`` insertions) plus a vectorised brute-force check of the recent ones, so a batch
    query costs O(m log n) instead of O(m n).
    """

    def __init__(self, L: np.ndarray, cutoff: float, rebuild: int = 128):
        from scipy.spatial import cKDTree

        self._kd = cKDTree
        self.L = np.asarray(L, dtype=np.float64)
        self.cutoff = float(cutoff)
        self.rebuild = int(rebuild)
        self.pts = np.empty((64, self.L.size))
        self.n = 0
        self.tree = None
        self.n_tree = 0

    def add(self, c: np.ndarray) -> None:
        if self.n == len(self.pts):
            self.pts = np.concatenate([self.pts, np.empty_like(self.pts)])
        self.pts[self.n] = np.mod(c, self.L)
        self.n += 1
        if self.n - self.n_tree >= self.rebuild:
            self.tree = self._kd(np.minimum(self.pts[: self.n], np.nextafter(self.L, 0)), boxsize=self.L)
            self.n_tree = self.n

    def pairs(self, cands: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(candidate, placed) index pairs whose periodic centre distance is below the cutoff."""
        cands = np.minimum(np.mod(cands, self.L), np.nextafter(self.L, 0))
        ic, ip = [np.zeros(0, dtype=np.int64)], [np.zeros(0, dtype=np.int64)]
        if self.tree is not None:
            lists = self.tree.query_ball_point(cands, r=self.cutoff)
            lens = np.fromiter((len(x) for x in lists), dtype=np.int64, count=len(lists))
            if lens.sum():
                ic.append(np.repeat(np.arange(len(cands)), lens))
                ip.append(np.concatenate([np.asarray(x, dtype=np.int64) for x in lists if x]))
        if self.n > self.n_tree:
            d = _min_image(cands[:, None, :] - self.pts[None, self.n_tree : self.n], self.L)
            a, b = np.nonzero(np.sum(d * d, axis=-1) < self.cutoff**2)
            ic.append(a)
            ip.append(b + self.n_tree)
        return np.concatenate(ic), np.concatenate(ip)


def _rsa(
    rng: np.random.Generator,
    grid: np.ndarray,
    target_voxels: float,
    propose,
    conflicts,
    rasterize,
    centre,
    cutoff: float,
    count: int | None,
    max_attempts: int,
    what: str,
    vf: float,
    choose=None,
):
    """Generic RSA: add objects until the voxel count is closest to the target (or ``count`` placed).

    propose(rng, m) -> m candidate objects; centre(objs) -> their centres (m, dim);
    conflicts(cands, placed, ic, ip) -> bool (m,) overlap flags, given the candidate/placed pairs
    (ic, ip) whose centres are closer than ``cutoff``; rasterize(obj) -> (idx, mask) of its voxels.
    choose(admissible, placed) -> index of the admissible candidate to place (default: the first).
    """
    near = _NearIndex(np.asarray(grid.shape, dtype=np.float64), cutoff)
    placed = None  # growing array of accepted objects
    n = 0
    filled = 0
    last = None
    while True:
        if count is not None and n >= count:
            break
        obj = None
        attempts = 0
        while attempts < max_attempts:
            cands = propose(rng, _BATCH)
            if n:
                ic, ip = near.pairs(centre(cands))
                bad = conflicts(cands, placed[:n], ic, ip) if ic.size else np.zeros(len(cands), bool)
            else:
                bad = np.zeros(len(cands), bool)
            ok = np.flatnonzero(~bad)
            attempts += len(cands)
            if ok.size:
                pick = 0 if choose is None else choose(cands[ok], placed[:n] if n else cands[:0])
                obj = cands[ok[pick]]
                break
        if obj is None:
            achieved = filled / grid.size
            if count is None and abs(filled - target_voxels) <= 0.5 * max(_last_size(last, rasterize), 1):
                break  # jammed, but already as close as one more object could bring us
            raise MicroError(
                f"cannot reach {what} volume fraction {vf:.4g}: random packing jammed at "
                f"{achieved:.4g} after {n} inclusions ({max_attempts} failed placements); "
                "lower the volume fraction, the inclusion size or the gap"
            )
        idx, mask = rasterize(obj)
        if count is None:
            dn = _new_count(grid, idx, mask)
            if abs(filled + dn - target_voxels) >= abs(filled - target_voxels):
                break
        filled += _paint(grid, idx, mask)
        if placed is None:
            placed = np.empty((64,) + obj.shape)
        elif n == len(placed):
            placed = np.concatenate([placed, np.empty_like(placed)])
        placed[n] = obj
        n += 1
        last = obj
        near.add(centre(obj[None])[0])
    if placed is None:
        return np.zeros((0,) + propose(np.random.default_rng(0), 1).shape[1:])
    return placed[:n].copy()


def _polish_orientation(rng, grid, segs, sampler, conflicts, rasterize, cutoff: float,
                        target_voxels: float) -> None:
    """Greedy direction swaps after the fibre RSA, in place on ``segs`` (n, 2, 3) and ``grid``.

    Each fibre in turn (random order; at most ``_POLISH_SWEEPS`` passes, until max |A₂ realised −
    A₂| ≤ ``_POLISH_GOAL`` or a pass changes nothing) may turn about its centre to one of
    ``_POLISH_TRIES`` directions drawn from ``sampler`` (:class:`.orientation.DirectionSampler`):
    of those that lower the Frobenius error of Σ p⊗p − n·A₂, the best that overlaps no other
    fibre is taken, provided the voxel count stays within max(current error, half a fibre) of
    ``target_voxels``.  The grid is then repainted from the segments.
    """
    n = len(segs)
    if n == 0 or sampler.rank == 1:
        return
    L = np.asarray(grid.shape, dtype=np.float64)
    half = 0.5 * np.linalg.norm(segs[0, 1] - segs[0, 0])
    cen = 0.5 * (segs[:, 0] + segs[:, 1])
    dirs = (segs[:, 1] - segs[:, 0]) / (2.0 * half)
    goal = n * sampler.a2
    total = dirs.T @ dirs
    filled = int(np.count_nonzero(grid))
    slack = 0.5 * filled / n
    changed = False
    for _ in range(_POLISH_SWEEPS):
        if np.max(np.abs(total - goal)) <= _POLISH_GOAL * n:
            break
        moved = False
        for i in rng.permutation(n):
            base = total - np.outer(dirs[i], dirs[i])
            d = sampler.sample(rng, _POLISH_TRIES)
            err = np.sum((base[None] + d[:, :, None] * d[:, None, :] - goal) ** 2, axis=(1, 2))
            better = np.argsort(err)
            better = better[err[better] < np.sum((total - goal) ** 2) - 1e-12][:_POLISH_TEST]
            if better.size == 0:
                continue
            rel = _min_image(cen - cen[i], L)
            near = np.flatnonzero(np.sum(rel * rel, axis=1) < cutoff * cutoff)
            near = near[near != i]
            for j in better:
                cand = np.stack([cen[i] - half * d[j], cen[i] + half * d[j]])[None]
                if near.size and conflicts(cand, segs, np.zeros(near.size, dtype=np.int64), near)[0]:
                    continue
                idx, mask = rasterize(segs[i])
                gone = _unpaint(grid, idx, mask)
                idx2, mask2 = rasterize(cand[0])
                now = filled - gone + _new_count(grid, idx2, mask2)
                if abs(now - target_voxels) > max(abs(filled - target_voxels), slack):
                    _paint(grid, idx, mask)
                    continue
                _paint(grid, idx2, mask2)
                filled, segs[i], dirs[i], changed, moved = now, cand[0], d[j], True, True
                total = base + np.outer(d[j], d[j])
                break
            if np.max(np.abs(total - goal)) <= _POLISH_GOAL * n:
                break
        if not moved:
            break
    if changed:  # clear voxels a swapped fibre shared with a neighbour only at a tie
        grid[...] = 0
        for s in segs:
            _paint(grid, *rasterize(s))


def _last_size(last, rasterize) -> int:
    if last is None:
        return 0
    _, mask = rasterize(last)
    return int(np.count_nonzero(mask))


def _identity(x):
    return x


def _centre_conflicts(L: np.ndarray, dmin: float):
    """Overlap test of spheres/circles: periodic centre distance < dmin (exact)."""

    def conflicts(cands, placed, ic, ip):
        d = _min_image(cands[ic] - placed[ip], L)
        bad = np.zeros(len(cands), dtype=bool)
        bad[ic[np.sum(d * d, axis=-1) < dmin * dmin]] = True
        return bad

    return conflicts


# --------------------------------------------------------------------------- generators
def spheres(
    shape: int | Sequence[int],
    vf: float,
    seed=0,
    radius: float | None = None,
    count: int | None = None,
    gap: float = 0.0,
    max_attempts: int = 20000,
) -> Microstructure:
    """Random non-overlapping spheres (periodic), target inclusion volume fraction ``vf``.

    Give ``radius`` (voxels; default max(2, min(shape)/8)) to add spheres until the voxel
    fraction is closest to ``vf``, or ``count`` to place exactly that many spheres whose radius
    makes their analytic volume fraction ``vf``. ``gap``: minimum surface distance (voxels).
    """
    shape = _check_shape(shape)
    vf = _check_vf(vf)
    gap = _check_positive("gap", gap, allow_zero=True)
    L = np.asarray(shape, dtype=np.float64)
    V = float(np.prod(L))
    if radius is not None and count is not None:
        raise MicroError("give either radius or count for spheres, not both")
    if count is not None:
        if int(count) != count or count < 1:
            raise MicroError(f"sphere count must be a positive integer, got {count}")
        count = int(count)
        radius = (3.0 * vf * V / (4.0 * math.pi * count)) ** (1.0 / 3.0)
    elif radius is None:
        radius = max(2.0, min(shape) / 8.0)
    radius = _check_positive("radius", radius)
    if 2.0 * radius + gap >= min(shape):
        raise MicroError(
            f"sphere diameter {2 * radius:.3g} (+gap {gap:.3g}) does not fit the {shape} cell; "
            "lower the radius or enlarge the grid"
        )
    rng = _rng(seed)
    grid = np.zeros(shape, dtype=np.int32)
    dmin = 2.0 * radius + gap

    def propose(rng, m):
        return rng.random((m, 3)) * L

    def rasterize(c):
        idx = _box_indices(c - radius, c + radius, shape)
        x = (idx[0] + 0.5 - c[0])[:, None, None]
        y = (idx[1] + 0.5 - c[1])[None, :, None]
        z = (idx[2] + 0.5 - c[2])[None, None, :]
        return idx, x * x + y * y + z * z <= radius * radius

    conflicts = _centre_conflicts(L, dmin)
    centres = _rsa(
        rng, grid, vf * V, propose, conflicts, rasterize, _identity, dmin, count, max_attempts, "sphere", vf
    )
    params = {"radius": float(radius), "count": int(len(centres)), "gap": gap, "seed": _seed_json(seed)}
    return Microstructure(grid, "spheres", vf, params, centres)


def short_fibres(
    shape: int | Sequence[int],
    vf: float,
    seed=0,
    radius: float | None = None,
    aspect: float = 5.0,
    orientation: str | None = None,
    axis="x",
    ends: str = "round",
    gap: float = 0.0,
    max_attempts: int = 20000,
    a2=None,
) -> Microstructure:
    """Random non-overlapping short fibres (cylinders) of aspect ratio length/diameter.

    orientation: ``aligned`` (all along ``axis``), ``random`` (isotropic on the unit sphere),
    ``planar`` (uniform in the plane normal to ``axis``) or ``tensor`` (second moment ``a2``, a
    (3, 3) orientation tensor or its 6 Voigt components a11, a22, a33, a23, a13, a12; see
    :mod:`.orientation`; ``axis`` is unused). Default: ``tensor`` when ``a2`` is given, else
    ``aligned``. Tensor directions are drawn from the angular central Gaussian fitted to A₂ and,
    among the first admissible candidates of each RSA batch, the one that keeps the running A₂
    of the placed fibres closest to the target is placed (herding), so the realised A₂ tracks
    the request despite orientation-dependent rejections. ends: ``round`` (hemispherical caps,
    tip-to-tip length = aspect·2r, exact non-overlap) or ``flat`` (flat cylinder of length
    aspect·2r; non-overlap checked conservatively on its axis segment). radius in voxels
    (default max(1.5, min(shape)/16)). ``params`` report the target ``a2`` and the realised
    ``a2_realized`` (Voigt, equal weight per fibre) and their largest difference ``a2_error``.
    """
    from . import orientation as orient

    shape = _check_shape(shape)
    vf = _check_vf(vf)
    gap = _check_positive("gap", gap, allow_zero=True)
    aspect = _check_positive("aspect", aspect)
    if radius is None:
        radius = max(1.5, min(shape) / 16.0)
    radius = _check_positive("radius", radius)
    if orientation is None:
        orientation = "aligned" if a2 is None else "tensor"
    if orientation not in ("aligned", "random", "planar", "tensor"):
        raise MicroError(f"orientation must be aligned, random, planar or tensor, got {orientation!r}")
    if orientation == "tensor" and a2 is None:
        raise MicroError("orientation tensor needs an orientation tensor a2")
    if orientation != "tensor" and a2 is not None:
        raise MicroError(f"orientation {orientation} takes no orientation tensor a2 (use orientation tensor)")
    if ends not in ("round", "flat"):
        raise MicroError(f"ends must be round or flat, got {ends!r}")
    if ends == "round" and aspect < 1.0:
        raise MicroError(f"round-ended fibres need aspect >= 1, got {aspect}")
    a = _axis_vector(axis)
    L = np.asarray(shape, dtype=np.float64)
    V = float(np.prod(L))
    length = 2.0 * radius * aspect  # tip to tip
    seg = length - 2.0 * radius if ends == "round" else length
    sampler = orient.DirectionSampler(a2) if orientation == "tensor" else None
    if sampler is not None and seg <= 0.0:
        raise MicroError("round-ended fibres of aspect 1 are spheres: an orientation tensor needs aspect > 1")
    # extent of a fibre's bounding box along each axis must stay below the cell size
    if sampler is not None:
        reach = sampler.support_extent() * seg + 2.0 * radius + 1.0
    elif orientation == "aligned":
        reach = np.abs(a) * seg + 2.0 * radius + 1.0
    elif orientation == "random":
        reach = np.full(3, seg + 2.0 * radius + 1.0)
    else:
        reach = np.sqrt(np.clip(1.0 - a * a, 0.0, 1.0)) * seg + 2.0 * radius + 1.0
    if np.any(reach + gap >= L):
        raise MicroError(
            f"fibres of length {length:.3g} and radius {radius:.3g} voxels do not fit the {shape} cell; "
            "lower --aspect/--radius or enlarge the grid"
        )
    # orthonormal basis of the plane normal to a (for planar orientations)
    t1 = np.cross(a, [1.0, 0.0, 0.0] if abs(a[0]) < 0.9 else [0.0, 1.0, 0.0])
    t1 /= np.linalg.norm(t1)
    t2 = np.cross(a, t1)
    shifts = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], float) * L
    dmin = 2.0 * radius + gap
    rng = _rng(seed)
    grid = np.zeros(shape, dtype=np.int32)

    def directions(rng, m):
        if sampler is not None:
            return sampler.sample(rng, m)
        if orientation == "aligned":
            return np.tile(a, (m, 1))
        if orientation == "random":
            d = rng.normal(size=(m, 3))
            return d / np.linalg.norm(d, axis=1, keepdims=True)
        phi = rng.random(m) * 2.0 * math.pi
        return np.cos(phi)[:, None] * t1 + np.sin(phi)[:, None] * t2

    def propose(rng, m):
        c = rng.random((m, 3)) * L
        h = 0.5 * seg * directions(rng, m)
        return np.stack([c - h, c + h], axis=1)  # (m, 2, 3)

    def centre(segs):
        return 0.5 * (segs[:, 0] + segs[:, 1])

    def conflicts(cands, placed, ic, ip):
        # bring each nearby placed fibre to the image nearest the candidate, then test the 27
        # neighbouring images exactly (segment-segment distance of the axes)
        rel = centre(placed[ip]) - centre(cands[ic])
        off = _min_image(rel, L) - rel  # (k, 3)
        sh = off[:, None, :] + shifts[None, :, :]  # (k, 27, 3)
        p2 = placed[ip, 0][:, None, :] + sh
        q2 = placed[ip, 1][:, None, :] + sh
        d = segment_distance(cands[ic, 0][:, None, :], cands[ic, 1][:, None, :], p2, q2)
        bad = np.zeros(len(cands), dtype=bool)
        bad[ic[np.any(d < dmin, axis=1)]] = True
        return bad

    def rasterize(s):
        p, q = s[0], s[1]
        idx = _box_indices(np.minimum(p, q) - radius, np.maximum(p, q) + radius, shape)
        x = (idx[0] + 0.5)[:, None, None]
        y = (idx[1] + 0.5)[None, :, None]
        z = (idx[2] + 0.5)[None, None, :]
        d = q - p
        dd = float(d @ d)
        rx, ry, rz = x - p[0], y - p[1], z - p[2]
        t = (rx * d[0] + ry * d[1] + rz * d[2]) / (dd if dd > 0 else 1.0)
        if ends == "round":
            tc = np.clip(t, 0.0, 1.0)
            inside = (rx - tc * d[0]) ** 2 + (ry - tc * d[1]) ** 2 + (rz - tc * d[2]) ** 2 <= radius**2
        else:
            perp2 = (rx - t * d[0]) ** 2 + (ry - t * d[1]) ** 2 + (rz - t * d[2]) ** 2
            inside = (perp2 <= radius**2) & (t >= 0.0) & (t <= 1.0)
        return idx, inside

    def herd(adm, placed):
        k = adm[:_HERD_POOL]
        return orient.herd_choice((k[:, 1] - k[:, 0]) / seg, (placed[:, 1] - placed[:, 0]) / seg, sampler.a2)

    choose = herd if sampler is not None and sampler.rank > 1 else None
    segs = _rsa(
        rng, grid, vf * V, propose, conflicts, rasterize, centre, seg + dmin, None, max_attempts, "fibre", vf,
        choose,
    )
    if sampler is not None:
        _polish_orientation(rng, grid, segs, sampler, conflicts, rasterize, seg + dmin, vf * V)
        target = sampler.a2
    elif orientation == "aligned":
        target = np.outer(a, a)
    elif orientation == "random":
        target = np.eye(3) / 3.0
    else:
        target = 0.5 * (np.eye(3) - np.outer(a, a))
    realized = orient.fibre_a2(segs) if len(segs) and seg > 0.0 else None
    params = {
        "radius": float(radius),
        "aspect": float(aspect),
        "length": float(length),
        "orientation": orientation,
        "axis": None if sampler is not None else axis if isinstance(axis, str) else [float(x) for x in a],
        "ends": ends,
        "count": int(len(segs)),
        "gap": gap,
        "seed": _seed_json(seed),
        "a2": orient.voigt(target),
        "a2_realized": None if realized is None else orient.voigt(realized),
        "a2_error": None if realized is None else float(np.max(np.abs(realized - target))),
    }
    return Microstructure(grid, "short-fibres", vf, params, segs)


def long_fibres(
    shape: int | Sequence[int],
    vf: float,
    seed=0,
    radius: float | None = None,
    axis: str = "z",
    gap: float = 0.0,
    max_attempts: int = 20000,
) -> Microstructure:
    """Unidirectional continuous fibres: random non-overlapping periodic circles in the plane
    normal to ``axis`` (x|y|z), extruded along it. radius in voxels (default max(2, plane/10))."""
    shape = _check_shape(shape)
    vf = _check_vf(vf)
    gap = _check_positive("gap", gap, allow_zero=True)
    if not isinstance(axis, str) or axis.lower() not in _AXES:
        raise MicroError(f"long-fibre axis must be x, y or z, got {axis!r}")
    ax = _AXES[axis.lower()]
    plane_axes = [k for k in range(3) if k != ax]
    pshape = tuple(shape[k] for k in plane_axes)
    if radius is None:
        radius = max(2.0, min(pshape) / 10.0)
    radius = _check_positive("radius", radius)
    if 2.0 * radius + gap >= min(pshape):
        raise MicroError(
            f"fibre diameter {2 * radius:.3g} does not fit the {pshape[0]}x{pshape[1]} cross-section; "
            "lower the radius or enlarge the grid"
        )
    L = np.asarray(pshape, dtype=np.float64)
    dmin = 2.0 * radius + gap
    rng = _rng(seed)
    plane = np.zeros(pshape, dtype=np.int32)

    def propose(rng, m):
        return rng.random((m, 2)) * L

    conflicts = _centre_conflicts(L, dmin)

    def rasterize(c):
        idx = _box_indices(c - radius, c + radius, pshape)
        x = (idx[0] + 0.5 - c[0])[:, None]
        y = (idx[1] + 0.5 - c[1])[None, :]
        return idx, x * x + y * y <= radius * radius

    centres = _rsa(
        rng,
        plane,
        vf * plane.size,
        propose,
        conflicts,
        rasterize,
        _identity,
        dmin,
        None,
        max_attempts,
        "fibre",
        vf,
    )
    grid = np.ascontiguousarray(np.broadcast_to(np.expand_dims(plane, ax), shape)).astype(np.int32)
    params = {
        "radius": float(radius),
        "axis": axis.lower(),
        "count": int(len(centres)),
        "gap": gap,
        "seed": _seed_json(seed),
    }
    return Microstructure(grid, "long-fibres", vf, params, centres)


def laminate(shape: int | Sequence[int], vf: float, axis: str = "x", offset: int = 0) -> Microstructure:
    """Two-layer periodic laminate stacked along ``axis`` (x|y|z, the layer normal).

    The inclusion layer holds round(vf·n) voxel planes starting at plane ``offset``.
    """
    shape = _check_shape(shape)
    vf = _check_vf(vf)
    if not isinstance(axis, str) or axis.lower() not in _AXES:
        raise MicroError(f"laminate axis must be x, y or z, got {axis!r}")
    ax = _AXES[axis.lower()]
    n = shape[ax]
    k = int(round(vf * n))
    if k == 0 or k == n:
        raise MicroError(
            f"volume fraction {vf:.4g} is not resolvable with {n} voxel layers along {axis}; "
            "enlarge the grid or change the fraction"
        )
    layers = ((np.arange(n) - int(offset)) % n < k).astype(np.int32)
    view = [1, 1, 1]
    view[ax] = n
    grid = np.ascontiguousarray(np.broadcast_to(layers.reshape(view), shape)).astype(np.int32)
    params = {"axis": axis.lower(), "layers": k, "offset": int(offset) % n}
    return Microstructure(grid, "laminate", vf, params, None)


GENERATORS = {"spheres": spheres, "short-fibres": short_fibres, "long-fibres": long_fibres,
              "laminate": laminate}


def generate(kind: str, size: int = 32, vf: float = 0.2, *, size_x: int | None = None,
             size_y: int | None = None, size_z: int | None = None, **options) -> Microstructure:
    """The microstructure stage's one entry point: generator ``kind`` (one of :data:`KINDS`,
    ``short_fibres`` spelling accepted) on an ``size``³ grid (``size_x/y/z`` override one side).

    ``options``: the generator's own keyword arguments (``seed``, ``radius``, ``count``, ``gap``,
    ``aspect``, ``orientation``, ``axis``, ``ends``, ``a2``, ...); ``dmn micro KIND --key value`` uses
    the same names.  ``seed`` is ignored by the (deterministic) laminate.
    """
    name = str(kind).replace("_", "-")
    if name not in GENERATORS:
        raise MicroError(f"unknown microstructure kind {kind!r} (choose from {', '.join(KINDS)})")
    if name == "laminate":
        options.pop("seed", None)
    shape = (size_x or size, size_y or size, size_z or size)
    try:
        return GENERATORS[name](shape, vf, **options)
    except TypeError as exc:  # an option the generator does not take
        raise MicroError(f"{name}: {exc}") from None


def _seed_json(seed):
    if isinstance(seed, (int, np.integer)):
        return int(seed)
    if isinstance(seed, (list, tuple)):
        return [int(s) for s in seed]
    return None


# --------------------------------------------------------------------------- files
def sidecar_path(npy: str | Path) -> Path:
    """The ``.json`` metadata sidecar next to a voxel ``.npy`` (``micro.npy`` → ``micro.json``)."""
    return Path(npy).with_suffix(".json")


def save_micro(micro: Microstructure, path: str | Path, png: str | Path | None = None) -> dict:
    """Write voxels to ``path`` (.npy, atomically) and the metadata sidecar ``.json``; optionally a
    PNG of three mid-plane slices. Returns the metadata dict written."""
    path = Path(path)
    if path.suffix != ".npy":
        raise MicroError(f"microstructure output must end in .npy, got {str(path)!r}")
    if not path.parent.exists():
        raise MicroError(f"output directory {str(path.parent)!r} does not exist")
    atomic_write(path, lambda fh: np.save(fh, micro.voxels, allow_pickle=False))
    meta = micro.metadata()
    meta["file"] = path.name
    text = json.dumps(meta, indent=1).encode()
    atomic_write(sidecar_path(path), lambda fh: fh.write(text))
    if png is not None:
        save_png(micro, png)
    return meta


def save_png(micro: Microstructure, path: str | Path) -> None:
    """Three orthogonal mid-plane slices of the voxel array as a PNG (atomic write)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    v = micro.voxels
    nx, ny, nz = v.shape
    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2))
    for axh, (img, title) in zip(
        axes,
        (
            (v[:, :, nz // 2].T, f"z = {nz // 2}"),
            (v[:, ny // 2, :].T, f"y = {ny // 2}"),
            (v[nx // 2, :, :].T, f"x = {nx // 2}"),
        ),
    ):
        axh.imshow(
            img, origin="lower", cmap="gray_r", vmin=0, vmax=max(1, int(v.max())), interpolation="nearest"
        )
        axh.set_title(title)
        axh.set_xticks([])
        axh.set_yticks([])
    fig.suptitle(f"{micro.kind}: vf = {micro.volume_fraction:.4f}")
    fig.tight_layout()
    atomic_write(Path(path), lambda fh: fig.savefig(fh, format="png", dpi=100))
    plt.close(fig)


def load_voxels(path: str | Path) -> np.ndarray:
    """Read a voxel microstructure → (nx, ny, nz) int32 phase ids.

    ``path``: a ``.npy`` as written by ``dmn micro``, or an image that already holds phase ids in
    a format of :mod:`.image_import` (multi-page TIFF, folder or glob of TIFF slices, ``.vti``,
    HDF5 ``file.h5[:/dataset]``) read in the same axis convention; grey-value images are
    segmented by ``dmn micro import`` first.  Checks: a regular file (no directory, device or
    FIFO) where a file is named, integer dtype, 3-D, not empty, ids ≥ 0; a failure raises
    :class:`MicroError` with one line.
    """
    from .image_import import read_image

    name = repr(str(path))
    arr, _ = read_image(path)
    if not np.issubdtype(arr.dtype, np.integer):
        raise MicroError(f"microstructure {name} must hold integers, got dtype {arr.dtype} "
                         "(segment grey values with `dmn micro import --threshold/--labels`)")
    if arr.size == 0 or arr.min() < 0:
        raise MicroError(f"microstructure {name} has negative phase ids or is empty")
    return arr.astype(np.int32)


def read_sidecar(npy: str | Path) -> dict | None:
    """Generator metadata stored next to a voxel file, or ``None`` if absent/unreadable."""
    p = sidecar_path(npy)
    try:
        return json.loads(p.read_text())
    except (OSError, ValueError):
        return None
