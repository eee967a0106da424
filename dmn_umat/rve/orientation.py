"""Second-order fibre orientation tensors A₂ = ⟨p ⊗ p⟩ and a direction sampler that matches them.

A₂ is symmetric, positive semidefinite with trace 1; its eigenvalues λ1 ≥ λ2 ≥ λ3 ≥ 0 (sum 1) are a
point of the *orientation triangle* with corners UD (1, 0, 0), planar isotropic (½, ½, 0) and
isotropic (⅓, ⅓, ⅓); its eigenvectors (the columns of a rotation R, A₂ = R diag(λ) Rᵀ) are the
principal axes.  Components are given either as a (3, 3) array or in Voigt order
(a11, a22, a33, a23, a13, a12).

Sampler: the **angular central Gaussian** (ACG) p = g/|g|, g ~ N(0, R diag(b) Rᵀ).  Its second
moment is diagonal in the same frame with the closed form (Carlson's symmetric integral R_D)

    E[p_i²] = R_D(c_j, c_k, c_i) / (3 √(b1 b2 b3)),  c = 1/b   (three non-zero b),
    E[p_i²] = √b_i / (√b1 + √b2)                                (two, planar support),

so fitting the two free shape parameters b1/b3, b2/b3 to (λ1, λ2) is a 2-unknown root solve
(:func:`fit_acg`).  Chosen over a Bingham fit (whose normalising constant and sampler need
series/rejection) because sampling is exact and vectorised, the moment map has a closed form, and
zero eigenvalues (planar, UD) are the exact limits b_i = 0 with no special sampler.

Realised A₂ of fibres (:func:`fibre_a2`): the mean of p⊗p over the fibres' axis directions.  All
fibres of one RVE share length and radius, so this equal weighting *is* the volume (and length)
weighting; pass ``weights`` (e.g. voxel counts) for another.  :func:`image_a2` estimates A₂ from a
voxel image alone (structure tensor; for imported images).  The RSA of
:func:`dmn_umat.rve.micro.short_fibres` keeps the realised A₂ on target with :func:`herd_choice`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .micro import MicroError

__all__ = [
    "TRACE_TOL",
    "ZERO_EIG",
    "parse_a2",
    "voigt",
    "a2_from_eigen",
    "axes_from_vectors",
    "eigen",
    "triangle_points",
    "triangle_grid",
    "acg_second_moment",
    "fit_acg",
    "DirectionSampler",
    "fibre_directions",
    "fibre_a2",
    "herd_choice",
    "image_a2",
]

TRACE_TOL = 1e-6  # |tr A₂ − 1| and |λ sum − 1| accepted
SYM_TOL = 1e-8  # |A − Aᵀ| accepted (then symmetrised)
PSD_TOL = 1e-8  # eigenvalues ≥ −PSD_TOL accepted (then clipped to 0)
ZERO_EIG = 1e-6  # eigenvalues below this are exact zeros of the sampler (planar / UD support)
_VOIGT = ((0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1))


def _finite_array(x, what: str) -> np.ndarray:
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise MicroError(f"{what} must be numbers, got {x!r}") from None
    if not np.all(np.isfinite(a)):
        raise MicroError(f"{what} must be finite, got {a.tolist()}")
    return a


def parse_a2(a2) -> np.ndarray:
    """Validate an orientation tensor → symmetric (3, 3) float64 A₂.

    a2: (3, 3) array-like, or 6 Voigt components (a11, a22, a33, a23, a13, a12).
    Raises :class:`MicroError` (one line) unless A₂ is symmetric (±1e-8), has trace 1 (±1e-6) and
    is positive semidefinite (eigenvalues ≥ −1e-8; tiny negatives are clipped).
    """
    a = _finite_array(a2, "A2 components")
    if a.shape == (6,):
        m = np.empty((3, 3))
        for v, (i, j) in zip(a, _VOIGT):
            m[i, j] = m[j, i] = v
        a = m
    elif a.shape != (3, 3):
        raise MicroError(
            f"A2 must be a 3x3 tensor or 6 components a11,a22,a33,a23,a13,a12, got shape {a.shape}"
        )
    if np.max(np.abs(a - a.T)) > SYM_TOL:
        raise MicroError(f"A2 must be symmetric, got max |A - A^T| = {np.max(np.abs(a - a.T)):.3g}")
    a = 0.5 * (a + a.T)
    tr = float(np.trace(a))
    if abs(tr - 1.0) > TRACE_TOL:
        raise MicroError(f"A2 must have trace 1 (a11 + a22 + a33), got {tr:.8g}")
    lam = np.linalg.eigvalsh(a)
    if lam[0] < -PSD_TOL:
        raise MicroError(f"A2 must be positive semidefinite, got eigenvalue {lam[0]:.4g}")
    if lam[0] < 0.0:
        lam_, vec = np.linalg.eigh(a)
        a = (vec * np.maximum(lam_, 0.0)) @ vec.T
    return a / np.trace(a)


def voigt(a2: np.ndarray) -> list[float]:
    """(3, 3) → [a11, a22, a33, a23, a13, a12] (JSON-ready floats)."""
    return [float(a2[i, j]) for i, j in _VOIGT]


def _check_rotation(axes) -> np.ndarray:
    r = _finite_array(axes, "principal axes")
    if r.shape != (3, 3):
        raise MicroError(f"principal axes must be a 3x3 matrix (columns = directions), got shape {r.shape}")
    if np.max(np.abs(r.T @ r - np.eye(3))) > 1e-6:
        raise MicroError("principal axes must be orthonormal (columns of a rotation matrix)")
    return r


def axes_from_vectors(e1: Sequence[float], e2: Sequence[float]) -> np.ndarray:
    """Rotation (3, 3) with columns e1, e2, e1×e2 from two orthogonal directions (normalised here)."""
    u = _finite_array(e1, "axis e1").reshape(-1)
    v = _finite_array(e2, "axis e2").reshape(-1)
    if u.shape != (3,) or v.shape != (3,) or np.linalg.norm(u) == 0.0 or np.linalg.norm(v) == 0.0:
        raise MicroError("principal axes need two non-zero 3-vectors e1, e2")
    u, v = u / np.linalg.norm(u), v / np.linalg.norm(v)
    if abs(u @ v) > 1e-6:
        raise MicroError(f"principal axes e1, e2 must be orthogonal, got e1.e2 = {u @ v:.3g}")
    return np.stack([u, v, np.cross(u, v)], axis=1)


def a2_from_eigen(eigenvalues: Sequence[float], axes=None) -> np.ndarray:
    """A₂ = R diag(λ) Rᵀ from eigenvalues (3, or 2 with λ3 = 1 − λ1 − λ2) and principal axes.

    axes: (3, 3) rotation whose column i is the direction of λ_i (default identity).
    The eigenvalues must be ≥ 0 with sum 1 (any order); :class:`MicroError` otherwise.
    """
    lam = _finite_array(eigenvalues, "A2 eigenvalues").reshape(-1)
    if lam.shape == (2,):
        lam = np.append(lam, 1.0 - lam.sum())
    if lam.shape != (3,):
        raise MicroError(f"give 2 or 3 A2 eigenvalues, got {lam.size}")
    if abs(lam.sum() - 1.0) > TRACE_TOL or np.any(lam < -PSD_TOL):
        raise MicroError(f"A2 eigenvalues must be >= 0 with sum 1, got {lam.tolist()}")
    r = np.eye(3) if axes is None else _check_rotation(axes)
    return parse_a2((r * np.maximum(lam, 0.0)) @ r.T)


def eigen(a2) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (3,) descending and a right-handed rotation R (3, 3) of principal axes (columns).

    Each column is signed so its largest-magnitude component is positive (then the third is
    flipped if needed for det R = +1), so UD along +x gives exactly e_x.
    """
    a = parse_a2(a2)
    lam, vec = np.linalg.eigh(a)
    lam, vec = lam[::-1].copy(), vec[:, ::-1].copy()
    for k in range(3):
        if vec[np.argmax(np.abs(vec[:, k])), k] < 0.0:
            vec[:, k] *= -1.0
    if np.linalg.det(vec) < 0.0:
        vec[:, 2] *= -1.0
    return np.maximum(lam, 0.0), vec


def triangle_points() -> dict[str, tuple[float, float, float]]:
    """Named points (λ1, λ2, λ3) of the orientation triangle: its corners and interior points."""
    return {
        "ud": (1.0, 0.0, 0.0),
        "planar-isotropic": (0.5, 0.5, 0.0),
        "isotropic": (1 / 3, 1 / 3, 1 / 3),
        "transversely-isotropic": (0.6, 0.2, 0.2),
        "moulded-shell": (0.7, 0.25, 0.05),
        "interior": (0.5, 0.3, 0.2),
        "planar-biased": (0.75, 0.25, 0.0),
    }


def triangle_grid(n: int) -> np.ndarray:
    """All triangle points with coordinates i/n: (k, 3) rows λ1 ≥ λ2 ≥ λ3 ≥ 0, sum 1."""
    if int(n) != n or n < 1:
        raise MicroError(f"triangle grid needs a positive integer n, got {n}")
    n = int(n)
    pts = [(i / n, j / n, (n - i - j) / n)
           for i in range(n + 1) for j in range(min(i, n - i) + 1) if n - i - j <= j]
    return np.array(pts, dtype=np.float64)


def acg_second_moment(b: Sequence[float]) -> np.ndarray:
    """Diagonal second moment E[p_i²] (3,) of the ACG with shape eigenvalues b (3,), b ≥ 0.

    Three positive b: Carlson R_D closed form; zero b_i restrict the support (two positive:
    planar closed form; one: that axis).
    """
    from scipy.special import elliprd

    b = np.asarray(b, dtype=np.float64)
    pos = b > 0.0
    out = np.zeros(3)
    if pos.sum() == 1:
        out[pos] = 1.0
    elif pos.sum() == 2:
        s = np.sqrt(b[pos])
        out[pos] = s / s.sum()
    else:
        bn = b / np.cbrt(np.prod(b))  # scale-free: b1 b2 b3 = 1
        c = 1.0 / bn
        out = np.array([elliprd(c[(i + 1) % 3], c[(i + 2) % 3], c[i]) for i in range(3)]) / 3.0
    return out


def fit_acg(eigenvalues: Sequence[float]) -> np.ndarray:
    """ACG shape b (3,) whose second moment is diag(λ) (λ ≥ 0, sum 1; below :data:`ZERO_EIG` → 0).

    Two zeros: b = e_i. One zero: b ∝ λ² on the other two (exact). None: 2-unknown root solve
    in log(b1/b3), log(b2/b3) from the start b ∝ λ², to |residual| < 1e-12.
    """
    from scipy.optimize import root

    lam = np.asarray(eigenvalues, dtype=np.float64)
    pos = lam >= ZERO_EIG
    if pos.sum() < 3:
        return np.where(pos, lam, 0.0) ** 2 / np.max(lam) ** 2
    y0 = 2.0 * np.log(lam[:2] / lam[2])

    def resid(y):
        return acg_second_moment(np.array([math.exp(y[0]), math.exp(y[1]), 1.0]))[:2] - lam[:2]

    sol = root(resid, y0, method="hybr", options={"xtol": 1e-14})
    if np.max(np.abs(resid(sol.x))) > 1e-10:
        raise MicroError(f"cannot fit a direction distribution to A2 eigenvalues {lam.tolist()}")
    return np.array([math.exp(sol.x[0]), math.exp(sol.x[1]), 1.0])


class DirectionSampler:
    """Unit fibre directions whose second moment is a target A₂ (ACG fitted to its eigenvalues).

    Attributes: ``a2`` (3, 3) target, ``eigenvalues`` (3,) descending, ``axes`` (3, 3) rotation
    (columns), ``shape`` (3,) ACG b in the principal frame, ``rank`` (number of non-zero
    eigenvalues: 1 UD, 2 planar support, 3 full sphere).
    """

    def __init__(self, a2):
        self.a2 = parse_a2(a2)
        self.eigenvalues, self.axes = eigen(self.a2)
        self.shape = fit_acg(self.eigenvalues)
        self.rank = int(np.count_nonzero(self.shape))

    def support_extent(self) -> np.ndarray:
        """(3,) max |p_k| over directions p the sampler can return (row norms of the support axes)."""
        e = self.axes[:, self.shape > 0.0]
        return np.linalg.norm(e, axis=1)

    def sample(self, rng: np.random.Generator, m: int) -> np.ndarray:
        """(m, 3) unit directions. Rank 1 (UD) returns the axis itself and draws no random numbers."""
        if self.rank == 1:
            return np.tile(self.axes[:, int(np.argmax(self.shape))], (m, 1))
        g = rng.standard_normal((m, 3)) * np.sqrt(self.shape)
        d = g @ self.axes.T
        return d / np.linalg.norm(d, axis=1, keepdims=True)


def fibre_directions(segments: np.ndarray) -> np.ndarray:
    """(n, 2, 3) fibre axis end points → (n, 3) unit directions (:class:`MicroError` if one is a point)."""
    d = np.asarray(segments, dtype=np.float64)[:, 1] - np.asarray(segments, dtype=np.float64)[:, 0]
    n = np.linalg.norm(d, axis=1, keepdims=True)
    if np.any(n == 0.0):
        raise MicroError("fibre orientation is undefined for zero-length axes (round ends with aspect 1)")
    return d / n


def fibre_a2(segments: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Realised A₂ (3, 3) = Σ w p⊗p / Σ w of fibres given as axis end points (n, 2, 3).

    weights: (n,) per fibre (default equal = volume weighting for equal fibres).
    """
    p = fibre_directions(segments)
    if len(p) == 0:
        raise MicroError("no fibres: the realised orientation tensor is undefined")
    w = np.ones(len(p)) if weights is None else np.asarray(weights, dtype=np.float64)
    return np.einsum("n,ni,nj->ij", w, p, p) / w.sum()


def herd_choice(dirs: np.ndarray, placed_dirs: np.ndarray, a2: np.ndarray) -> int:
    """Index of the candidate direction (dirs (m, 3)) that brings the running sum of the placed
    fibres' p⊗p (placed_dirs (n, 3)) closest, in the Frobenius norm, to (n + 1)·A₂ (herding).

    Keeping the *sum* error bounded makes the realised A₂ error O(1/n) instead of the O(1/√n)
    of independent draws, and corrects the orientation bias of RSA rejections.
    """
    n = len(placed_dirs)
    resid = np.einsum("ni,nj->ij", placed_dirs, placed_dirs) - (n + 1) * a2  # (3, 3)
    err = resid[None] + dirs[:, :, None] * dirs[:, None, :]
    return int(np.argmin(np.sum(err * err, axis=(1, 2))))


def image_a2(voxels: np.ndarray, phase: int = 1, aspect: float | None = None,
             sigma: float = 0.7) -> np.ndarray:
    """Estimate A₂ (3, 3) of the fibres (voxels == ``phase``) in a periodic voxel image.

    Structure tensor S = Σ ∇χ⊗∇χ of the indicator χ smoothed by a periodic Gaussian (``sigma``
    voxels, spectral gradient).  A cylinder's side normals give (I − p⊗p)/2 per unit area and
    round caps (a sphere's worth, area fraction 1/aspect) give I/3, so with S_n = S / tr S and
    w = 1/aspect (0 if unknown): A₂ = I − 2 (S_n − w I/3) / (1 − w).  Measured against the exact
    fibre A₂ (docs/fibres.md §1): within 0.035 at 3 voxels per diameter (σ 0.7), 0.007 at 6 (σ 1).
    """
    from scipy import fft as sfft

    v = np.asarray(voxels)
    if v.ndim != 3 or v.size == 0:
        raise MicroError(f"image_a2 needs a non-empty 3-D voxel array, got shape {v.shape}")
    if aspect is not None and not (math.isfinite(aspect) and aspect > 1.0):
        raise MicroError(f"image_a2: aspect must be > 1, got {aspect}")
    if not (math.isfinite(sigma) and sigma >= 0.0):
        raise MicroError(f"image_a2: sigma must be >= 0, got {sigma}")
    chi = sfft.rfftn((v == phase).astype(np.float64))
    ks = [2.0 * np.pi * sfft.fftfreq(n) for n in v.shape[:2]] + [2.0 * np.pi * sfft.rfftfreq(v.shape[2])]
    kk = np.meshgrid(*ks, indexing="ij")
    chi *= np.exp(-0.5 * sigma**2 * sum(k * k for k in kk))
    grads = [sfft.irfftn(1j * k * chi, s=v.shape) for k in kk]
    s = np.array([[np.sum(a * b) for b in grads] for a in grads])
    if not np.trace(s) > 0.0:
        raise MicroError("image_a2: the image has no interface between the phase and the rest")
    w = 0.0 if aspect is None else 1.0 / aspect
    return np.eye(3) - 2.0 * (s / np.trace(s) - w / 3.0 * np.eye(3)) / (1.0 - w)
