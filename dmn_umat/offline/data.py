"""Training data for the offline stage: (C1, C2) → C̄ samples, Mandel (N,6,6) float64.

Sources: the RVE dataset files of :mod:`dmn_umat.rve.dataset` (HDF5/NPZ via its
``load_dataset``), a plain ``.npz`` with arrays ``C1``, ``C2``, ``Cbar`` (optional boolean
``val`` mask), or :func:`laminate_dataset` (exact C̄ of a random ground-truth laminate tree —
analytic data for tests and benchmarks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import tensors
from ..network import Network, complete_tree


class DataError(ValueError):
    """The training data file is missing or malformed (one-line message)."""


@dataclass
class TrainingData:
    """Train/validation split of stiffness triples, each (n,6,6) Mandel."""

    C1: np.ndarray
    C2: np.ndarray
    Cbar: np.ndarray
    C1_val: np.ndarray
    C2_val: np.ndarray
    Cbar_val: np.ndarray
    meta: dict = field(default_factory=dict)

    @property
    def n_train(self) -> int:
        return int(self.C1.shape[0])

    @property
    def n_val(self) -> int:
        return int(self.C1_val.shape[0])

    def subset(self, n_train: int | None) -> TrainingData:
        """The first ``n_train`` training samples (validation unchanged)."""
        if n_train is None or n_train >= self.n_train:
            return self
        if n_train < 1:
            raise DataError(f"--n-train must be ≥ 1, got {n_train}")
        meta = dict(self.meta)
        return TrainingData(
            self.C1[:n_train],
            self.C2[:n_train],
            self.Cbar[:n_train],
            self.C1_val,
            self.C2_val,
            self.Cbar_val,
            meta,
        )


def _check(name: str, *arrays: np.ndarray) -> None:
    n = arrays[0].shape[0]
    for a in arrays:
        if a.ndim != 3 or a.shape[1:] != (6, 6) or a.shape[0] != n:
            raise DataError(f"{name}: C1, C2, Cbar must all be (N,6,6) with the same N, got {a.shape}")
        if not np.all(np.isfinite(a)):
            raise DataError(f"{name}: non-finite stiffness values")
    if n == 0:
        raise DataError(f"{name}: empty dataset")


def split(
    C1,
    C2,
    Cbar,
    val_fraction: float = 0.2,
    seed: int = 0,
    meta: dict | None = None,
    val_mask: np.ndarray | None = None,
) -> TrainingData:
    """Split arrays into train/validation (random permutation unless ``val_mask`` is given)."""
    C1, C2, Cbar = (np.ascontiguousarray(a, dtype=np.float64) for a in (C1, C2, Cbar))
    _check("dataset", C1, C2, Cbar)
    n = C1.shape[0]
    if val_mask is None:
        perm = np.random.default_rng(seed).permutation(n)
        n_val = max(1, int(round(val_fraction * n))) if n > 1 else 0
        val_mask = np.zeros(n, dtype=bool)
        val_mask[perm[:n_val]] = True
    val_mask = np.asarray(val_mask, dtype=bool)
    tr = ~val_mask
    if not tr.any() or not val_mask.any():
        raise DataError("dataset: need at least one training and one validation sample")
    return TrainingData(
        C1[tr], C2[tr], Cbar[tr], C1[val_mask], C2[val_mask], Cbar[val_mask], dict(meta or {})
    )


def load(path: str | Path, val_fraction: float = 0.2, seed: int = 0) -> TrainingData:
    """Load a dataset file (see module docstring) → :class:`TrainingData`."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"dataset {str(path)!r} not found")
    if path.suffix == ".npz":
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except Exception as exc:  # noqa: BLE001 - unreadable file = user error
            raise DataError(f"cannot read dataset {str(path)!r}: {exc}") from None
        if "format" not in arrays and all(k in arrays for k in ("C1", "C2", "Cbar")):
            mask = arrays.get("val")
            return split(
                arrays["C1"], arrays["C2"], arrays["Cbar"], val_fraction, seed, {"dataset": str(path)}, mask
            )
    from ..rve.dataset import load_dataset

    try:
        d = load_dataset(path)
    except Exception as exc:  # noqa: BLE001 - surface as a one-line error
        raise DataError(f"cannot read dataset {str(path)!r}: {exc}") from None
    return _from_rve(d, path, val_fraction, seed)


def _get(d, key):
    if isinstance(d, dict):
        return d.get(key)
    return getattr(d, key, None)


def _from_rve(d, path: Path, val_fraction: float, seed: int) -> TrainingData:
    """Adapt whatever :func:`dmn_umat.rve.dataset.load_dataset` returns (dict or object)."""
    C1, C2, Cbar = _get(d, "C1"), _get(d, "C2"), _get(d, "Cbar")
    if C1 is None or C2 is None or Cbar is None:
        raise DataError(f"dataset {str(path)!r} lacks C1/C2/Cbar")
    meta = {"dataset": str(path)}
    for key in ("meta", "metadata", "attrs"):
        m = _get(d, key)
        if isinstance(m, dict):
            meta.update({k: _jsonable(v) for k, v in m.items()})
    if "micro" in meta and "microstructure" not in meta:
        meta["microstructure"] = meta.pop("micro")
    n = np.asarray(C1).shape[0]
    mask = None
    idx = _get(d, "val_idx")
    if idx is None:
        idx = _get(d, "val_index")
    if isinstance(idx, (np.ndarray, list, tuple)):
        mask = np.zeros(n, dtype=bool)
        mask[np.asarray(idx, dtype=np.int64)] = True
    for key in ("val_mask", "is_val", "val"):
        v = _get(d, key)
        if mask is None and isinstance(v, np.ndarray) and v.shape == (n,):
            mask = v.astype(bool)
    if mask is None and _get(d, "split") is not None:
        s = np.asarray(_get(d, "split"))
        mask = (s == "val") | (s == b"val") if s.dtype.kind in "SUO" else s.astype(bool)
    return split(C1, C2, Cbar, val_fraction, seed, meta, mask)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, (str, int, float, bool, list, dict)) or v is None:
        return v
    return str(v)


def sample_phases(
    n: int, rng: np.random.Generator, contrast: float = 3.0, anisotropic: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Random phase pairs (n,6,6): E2/E1 = 10^U(−c, c), ν ∈ U(0.1, 0.45); optionally orthotropic."""

    def one() -> np.ndarray:
        if not anisotropic:
            return tensors.isotropic_stiffness(1.0, rng.uniform(0.1, 0.45))
        E = 10.0 ** rng.uniform(-0.5, 0.5, 3)
        G = E.mean() * 10.0 ** rng.uniform(-0.5, 0.5, 3) / 2.6
        nu = rng.uniform(0.1, 0.35, 3)
        return tensors.orthotropic_stiffness(*E, *nu, *G)

    C1 = np.empty((n, 6, 6))
    C2 = np.empty((n, 6, 6))
    for i in range(n):
        C1[i] = one()
        C2[i] = one() * 10.0 ** rng.uniform(-contrast, contrast)
    return C1, C2


def random_tree(depth: int, seed: int = 0, zero_fraction: float = 0.0) -> Network:
    """A random ground-truth rotation-free tree (uniform weights, random normals)."""
    rng = np.random.default_rng(seed)
    w = rng.uniform(0.2, 1.0, 2**depth)
    if zero_fraction > 0:
        w[rng.random(2**depth) < zero_fraction] = 0.0
        if w.sum() == 0:
            w[0] = 1.0
    return complete_tree(depth, w, rng.normal(size=(2**depth - 1, 3)))


def laminate_dataset(
    n: int,
    depth: int = 2,
    seed: int = 0,
    val_fraction: float = 0.2,
    contrast: float = 2.0,
    truth: Network | None = None,
) -> TrainingData:
    """Analytic data: C̄ = ``truth.homogenize([C1, C2])`` of a random tree (default depth 2)."""
    rng = np.random.default_rng(seed)
    truth = truth if truth is not None else random_tree(depth, seed + 1)
    C1, C2 = sample_phases(n, rng, contrast)
    Cbar = np.stack([truth.homogenize([a, b]) for a, b in zip(C1, C2)])
    meta = {
        "dataset": f"laminate(depth={truth.depth()}, n={n}, seed={seed})",
        "microstructure": {"kind": "laminate-tree", "depth": truth.depth()},
    }
    return split(C1, C2, Cbar, val_fraction, seed, meta)
