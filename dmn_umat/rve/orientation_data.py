"""Training data over fibre orientation states: one short-fibre RVE per state, FFT C̄ for sampled
phase pairs on each (``dmn data orientations``; docs/data.md §4, docs/fibres.md §2).

    summary = generate_orientation_data(OrientationDataJob(out="fibres.h5", grid=4, samples_per_state=40))
    data = load_orientation_dataset("fibres.h5")      # arrays: eig, vf, a2_realized, C1, C2, Cbar, ...

A *state* is an orientation (eigenvalues λ1 ≥ λ2 ≥ λ3 of A₂, principal axes = the global axes,
so A₂ = diag(λ) with λ1 along x) and a fibre volume fraction.  The states are the points of
:func:`dmn_umat.rve.orientation.triangle_grid` and/or user states, each crossed with every
volume fraction.  State k's RVE is ``micro.short_fibres(size, vf, seed=[seed, round(1e6 λ1),
round(1e6 λ2), round(1e6 vf)], radius, aspect, ends, a2=diag(λ))`` (a function of the state, not
of its position in the list); its realized A₂ must lie within ``a2_tol`` of the request.
Sample g = k·M + j (M samples per state) is homogenized on state k's RVE with the phase pair
``sampling.sample_pair(seed, g)`` (or ``(seed, j)`` with ``shared_pairs``: the same M pairs on
every state).

Execution and resume reuse :mod:`dmn_umat.rve.dataset`: the RVEs are generated (Dask or serial;
regenerated bit-identically on a rerun), then the samples run through the same per-sample
worker, ``OUT.partial/`` records (run id = hash of a manifest that includes every RVE's voxel
hash, sample index, SHA-256) and Dask client, so a killed run resumes to identical results.
Errors are :class:`OrientationDataError` (a :class:`~dmn_umat.rve.dataset.DatasetError`), one line.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import __version__
from ..fileio import atomic_save
from . import dataset as _ds
from .dataset import DatasetError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "OrientationDataError",
    "OrientationDataJob",
    "OrientationDataSummary",
    "OrientationDataset",
    "generate_orientation_data",
    "load_orientation_dataset",
    "state_list",
]

FORMAT = "dmn_umat.orientation_dataset"
FORMAT_VERSION = 1
_SAMPLE_ARRAYS = ("C1", "C2", "Cbar", "params", "kinds", "iterations")
_STATE_ARRAYS = ("eig", "vf", "a2", "a2_realized", "a2_error", "volume_fraction", "count", "seconds")
_ORDER_TOL = 1e-12


class OrientationDataError(DatasetError):
    """An orientation data-set request or file that cannot be used (user-facing, one line)."""


# --------------------------------------------------------------------------- the job
@dataclass
class OrientationDataJob:
    """Orientation data set (``dmn data orientations``; docs/data.md §4).

    ``out``: ``.h5``/``.hdf5``; ``samples_per_state``: M phase pairs per state; ``grid``: n of
    :func:`~dmn_umat.rve.orientation.triangle_grid` (points i/n) and/or ``states``: eigenvalue
    rows (λ1, λ2[, λ3]) with λ1 ≥ λ2 ≥ λ3 ≥ 0, sum 1; ``vf``: fibre volume fractions (every
    orientation × every vf); ``size`` (voxels per side), ``radius`` (voxels), ``aspect``
    (tip-to-tip length / diameter), ``ends``: the fibres; ``a2_tol``: largest accepted
    |A₂ realized − A₂|; ``shared_pairs``: the same M phase pairs on every state; the rest as
    :class:`dmn_umat.rve.api.DataJob`.
    """

    out: str | Path
    samples_per_state: int
    grid: int | None = None
    states: Sequence[Sequence[float]] | None = None
    vf: Sequence[float] = (0.12,)
    size: int = 32
    radius: float = 1.5
    aspect: float = 5.0
    ends: str = "round"
    a2_tol: float = 0.01
    shared_pairs: bool = False
    val_fraction: float = 0.2
    seed: int = 0
    kind: str = "iso"
    log10_contrast: tuple[float, float] = (-3.0, 3.0)
    executor: str = "dask"
    scheduler: str | None = None
    workers: int | None = None
    tol: float = 1e-8
    max_iter: int = 5000

    def check(self) -> None:
        """Value checks (no computation): raises :class:`OrientationDataError`."""
        if Path(self.out).suffix.lower() not in (".h5", ".hdf5"):
            raise OrientationDataError(f"--out must end in .h5 or .hdf5, got {str(self.out)!r}")
        if not _posint(self.samples_per_state):
            raise OrientationDataError(
                f"--samples-per-state must be a positive integer, got {self.samples_per_state}"
            )
        if not _posint(self.size):
            raise OrientationDataError(f"--size must be a positive integer, got {self.size}")
        for name, v in (("--radius", self.radius), ("--aspect", self.aspect), ("--a2-tol", self.a2_tol)):
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0):
                raise OrientationDataError(f"{name} must be a positive number, got {v}")
        for name, v in (
            ("--val-fraction", self.val_fraction),
            ("--tol", self.tol),
            *(("--log10-contrast", c) for c in self.log10_contrast),
        ):
            if not (isinstance(v, (int, float)) and math.isfinite(v)):
                raise OrientationDataError(f"{name} must be a finite number, got {v}")
        if self.scheduler and self.executor != "dask":
            raise OrientationDataError("--scheduler needs --executor dask")
        state_list(self.grid, self.states, self.vf)


def _posint(v) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1


def _fmt(lam) -> str:
    return "(" + ", ".join(f"{x:.4g}" for x in lam) + ")"


def state_list(grid: int | None, states, vfs: Sequence[float]) -> list[tuple[np.ndarray, float]]:
    """The job's states: [(eigenvalues (3,) descending, vf), ...] — the grid points, then the
    given states, each with every vf in turn.  :class:`OrientationDataError` for a grid < 1, an
    eigenvalue row that is negative, does not sum to 1 or is not descending, a vf outside (0, 1),
    a repeated state, or no state at all."""
    from . import orientation as orient
    from .micro import MicroError

    orients: list[np.ndarray] = []
    if grid is not None:
        if not _posint(grid):
            raise OrientationDataError(
                f"--grid must be a positive integer (points i/n of the triangle), got {grid}"
            )
        orients += list(orient.triangle_grid(int(grid)))
    for row in () if states is None else states:
        try:
            lam = np.diag(orient.a2_from_eigen(row)).copy()
        except MicroError as exc:
            raise OrientationDataError(f"invalid orientation state {row!r}: {exc}") from None
        if not (lam[0] + _ORDER_TOL >= lam[1] and lam[1] + _ORDER_TOL >= lam[2]):
            raise OrientationDataError(
                f"invalid orientation state {_fmt(lam)}: eigenvalues must be ordered l1 >= l2 >= l3 "
                "(principal frame: l1 along x, l2 along y)"
            )
        orients.append(lam)
    if not orients:
        raise OrientationDataError("no orientation state: give --grid N and/or --state l1,l2[,l3]")
    vfs = list(vfs) if isinstance(vfs, Sequence) or isinstance(vfs, np.ndarray) else [vfs]
    if not vfs:
        raise OrientationDataError("give at least one --vf")
    for v in vfs:
        if not (isinstance(v, (int, float, np.floating)) and math.isfinite(v) and 0.0 < v < 1.0):
            raise OrientationDataError(f"--vf must lie in (0, 1), got {v}")
    out = [(np.asarray(lam, dtype=np.float64), float(v)) for lam in orients for v in vfs]
    for a in range(len(out)):
        for b in range(a):
            if np.allclose(out[a][0], out[b][0], atol=1e-9) and out[a][1] == out[b][1]:
                raise OrientationDataError(
                    f"orientation state {_fmt(out[a][0])} at vf {out[a][1]} is listed twice"
                )
    return out


def rve_seed(seed: int, lam: np.ndarray, vf: float) -> list[int]:
    """The RVE seed of a state: [seed, round(1e6 λ1), round(1e6 λ2), round(1e6 vf)]."""
    return [int(seed), int(round(1e6 * lam[0])), int(round(1e6 * lam[1])), int(round(1e6 * vf))]


def _make_rve(
    k: int, lam: np.ndarray, vf: float, size: int, radius: float, aspect: float, ends: str, seed: int
) -> dict:
    """State ``k``'s RVE (runs on a worker): voxels (int8) and its description, or an error."""
    from . import orientation as orient
    from .micro import short_fibres

    t0 = time.perf_counter()
    try:
        m = short_fibres(
            size,
            vf,
            seed=rve_seed(seed, lam, vf),
            radius=radius,
            aspect=aspect,
            ends=ends,
            a2=orient.a2_from_eigen(lam),
        )
    except Exception as exc:  # noqa: BLE001 - reported with the state
        return {"index": int(k), "error": f"{type(exc).__name__}: {exc}"}
    vox = np.ascontiguousarray(m.voxels, dtype=np.int8)
    return {
        "index": int(k),
        "voxels": vox,
        "eig": np.asarray(lam, dtype=np.float64),
        "vf": float(vf),
        "a2": np.asarray(m.params["a2"]),
        "a2_realized": np.asarray(m.params["a2_realized"]),
        "a2_error": float(m.params["a2_error"]),
        "volume_fraction": m.volume_fraction,
        "count": int(m.count),
        "seconds": time.perf_counter() - t0,
        "voxels_sha256": _ds._sha256_bytes(vox.tobytes()),
        "micro": m.metadata(),
    }


# --------------------------------------------------------------------------- the loaded data
@dataclass
class OrientationDataset:
    """An orientation data set: N samples over S states.

    Per sample: ``eig`` (N, 3) requested λ1 ≥ λ2 ≥ λ3 (principal frame = global axes), ``vf``
    (N,) requested fibre volume fraction, ``state`` (N,) index into the per-state arrays,
    ``a2_realized`` (N, 6) Voigt (a11, a22, a33, a23, a13, a12) of its RVE, ``vf_realized`` (N,)
    voxel fraction of its RVE, ``C1``, ``C2``, ``Cbar`` (N, 6, 6) Mandel, ``params`` (N, 2, 9),
    ``kinds`` (N, 2), ``iterations`` (N, 6). ``states``: per-state arrays (S, ...) ``eig``, ``vf``,
    ``a2``, ``a2_realized``, ``a2_error``, ``volume_fraction``, ``count``, ``seconds``;
    ``voxels`` (S, nx, ny, nz) int8; ``train_idx``/``val_idx``: sample positions.
    """

    eig: np.ndarray
    vf: np.ndarray
    state: np.ndarray
    a2_realized: np.ndarray
    vf_realized: np.ndarray
    C1: np.ndarray
    C2: np.ndarray
    Cbar: np.ndarray
    params: np.ndarray
    kinds: np.ndarray
    iterations: np.ndarray
    states: dict
    voxels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    metadata: dict = field(default_factory=dict)
    path: str | None = None

    def __len__(self) -> int:
        return int(len(self.Cbar))

    def summary(self) -> dict:
        """Counts, state table and ranges (JSON-ready)."""
        st = self.states
        ev = np.linalg.eigvalsh(self.Cbar)
        return {
            "path": self.path,
            "format": FORMAT,
            "samples": len(self),
            "states": int(len(st["eig"])),
            "samples_per_state": self.metadata.get("samples_per_state"),
            "train": int(len(self.train_idx)),
            "val": int(len(self.val_idx)),
            "seed": self.metadata.get("seed"),
            "sampler_kind": self.metadata.get("sampler", {}).get("kind"),
            "rve": self.metadata.get("rve"),
            "a2_error_max": float(st["a2_error"].max()),
            "vf_error_max": float(np.abs(st["volume_fraction"] - st["vf"]).max()),
            "Cbar_eigenvalue_range": [float(ev.min()), float(ev.max())],
            "rve_seconds_mean": float(st["seconds"].mean()),
            "fft_seconds_mean": self.metadata.get("solver", {}).get("seconds_mean"),
            "iterations_mean": float(self.iterations.mean()),
            "package_version": self.metadata.get("package", {}).get("version"),
        }


@dataclass
class OrientationDataSummary:
    """A written orientation data set: ``data`` (:class:`OrientationDataset`; ``data.path`` the
    file), ``resumed_samples`` taken from an interrupted run, ``wall_seconds``."""

    data: OrientationDataset
    resumed_samples: int
    wall_seconds: float

    def to_dict(self) -> dict:
        """The ``dmn data orientations --json`` summary."""
        return {
            **self.data.summary(),
            "resumed_samples": self.resumed_samples,
            "wall_seconds": self.wall_seconds,
        }


# --------------------------------------------------------------------------- generation
def generate_orientation_data(
    job: OrientationDataJob,
    *,
    show_progress: bool | None = None,
    on_sample: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> OrientationDataSummary:
    """Generate ``job``'s RVEs and samples and write ``job.out`` atomically (resumable).

    ``show_progress`` (None: when stderr is a terminal); ``on_sample(index, n_done)`` after each
    sample is safely stored (an exception there stops the run, finished samples stay in
    ``OUT.partial``); ``log``: status lines (default stderr).
    """
    try:
        return _generate(job, show_progress=show_progress, on_sample=on_sample, log=log)
    except OrientationDataError:
        raise
    except DatasetError as exc:  # the shared machinery's (resume folder, Dask scheduler)
        raise OrientationDataError(str(exc)) from None


def _generate(
    job: OrientationDataJob,
    *,
    show_progress: bool | None = None,
    on_sample: Callable[[int, int], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> OrientationDataSummary:
    from .sampling import SamplerSettings

    t_start = time.perf_counter()
    log = log or (lambda msg: print(msg, file=sys.stderr))
    job.check()
    out = Path(job.out)
    if not out.parent.exists():
        raise OrientationDataError(f"output directory {str(out.parent)!r} does not exist")
    if not (isinstance(job.seed, (int, np.integer)) and job.seed >= 0):
        raise OrientationDataError(f"--seed must be a non-negative integer, got {job.seed}")
    if job.executor not in ("dask", "local"):
        raise OrientationDataError(f"--executor must be dask or local, got {job.executor!r}")
    if job.workers is not None and not _posint(job.workers):
        raise OrientationDataError(f"--workers must be a positive integer, got {job.workers}")
    if not (0.0 < job.tol < 1.0):
        raise OrientationDataError(f"--tol must lie in (0, 1), got {job.tol}")
    if not _posint(job.max_iter):
        raise OrientationDataError(f"--max-iter must be a positive integer, got {job.max_iter}")
    states = state_list(job.grid, job.states, job.vf)
    S, M = len(states), int(job.samples_per_state)
    n = S * M
    _ds.split_indices(n, float(job.val_fraction), int(job.seed))  # validates the fraction
    try:
        sampler = SamplerSettings(kind=job.kind, log10_contrast=tuple(job.log10_contrast))
    except ValueError as exc:
        raise OrientationDataError(str(exc)) from None
    geom = {"size": int(job.size), "radius": float(job.radius), "aspect": float(job.aspect), "ends": job.ends}
    rve_args = [
        (k, lam, vf, geom["size"], geom["radius"], geom["aspect"], geom["ends"], int(job.seed))
        for k, (lam, vf) in enumerate(states)
    ]
    sample_args = (int(job.seed), sampler.to_dict(), float(job.tol), int(job.max_iter))
    rves: dict[int, dict] = {}

    def accept_rve(rec: dict) -> None:
        k = int(rec["index"])
        lam, vf = states[k]
        where = f"state {k} {_fmt(lam)} at vf {vf:g}"
        if "error" in rec:
            raise OrientationDataError(f"{where}: {rec['error'].split(': ', 1)[-1]}")
        if rec["a2_error"] > job.a2_tol:
            raise OrientationDataError(
                f"{where}: the RVE's A2 is off by {rec['a2_error']:.4f} > --a2-tol {job.a2_tol:g} with "
                f"{rec['count']} fibres; enlarge --size or lower --aspect (>= 30 fibres, docs/fibres.md)"
            )
        rves[k] = rec

    partial = None
    done: dict[int, dict] = {}
    todo: list[int] = []
    n_workers = 1

    accept = None  # stores each computed sample; set by prepare(), once the partial directory exists

    def prepare() -> None:
        nonlocal partial, done, todo, accept
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "seed": int(job.seed),
            "sampler": sampler.to_dict(),
            "tol": float(job.tol),
            "samples_per_state": M,
            "shared_pairs": bool(job.shared_pairs),
            "rve": geom,
            "states": [[*map(float, lam), vf] for lam, vf in states],
            "voxels_sha256": [rves[k]["voxels_sha256"] for k in range(S)],
        }
        partial = _ds._Partial(out, manifest)
        done = partial.resume(n, log)
        todo = [g for g in range(n) if g not in done]
        accept = partial.acceptor(done, on_sample, OrientationDataError)

    def call(g: int, micro) -> tuple:
        return (micro, g, *sample_args, (g % M) if job.shared_pairs else g)

    disable = _ds._disable(show_progress)
    try:
        if job.executor == "local":
            from ..progress import progress

            for a in progress(rve_args, total=S, desc="fibre RVEs", disable=disable):
                accept_rve(_make_rve(*a))
            prepare()
            for g in progress(todo, total=len(todo), desc="homogenize", disable=disable):
                accept(_ds._compute_sample(*call(g, rves[g // M]["voxels"])))
        else:
            with _ds.dask_client(job.workers, job.scheduler) as (client, n_workers):
                _ds.dask_map(
                    client, [(_make_rve, a) for a in rve_args], accept_rve, "fibre RVEs", show_progress
                )
                prepare()
                if todo:
                    futs = client.scatter([rves[k]["voxels"] for k in range(S)], broadcast=True)
                    calls = [(_ds._compute_sample, call(g, futs[g // M])) for g in todo]
                    _ds.dask_map(client, calls, accept, "homogenize", show_progress)
    except BaseException:
        if partial is not None and not done:
            partial.remove()  # nothing worth keeping
        raise

    data = _assemble(job, states, rves, done, sampler, n_workers, n - len(todo), t_start, out)
    try:
        _write(data, out)
    except OSError as exc:
        raise OrientationDataError(f"cannot write {str(out)!r}: {exc}") from None
    partial.remove()
    return OrientationDataSummary(
        data=data, resumed_samples=n - len(todo), wall_seconds=data.metadata["run"]["wall_seconds"]
    )


def _assemble(job, states, rves, done, sampler, n_workers, resumed, t_start, out) -> OrientationDataset:
    S, M = len(states), int(job.samples_per_state)
    n = S * M
    rec = [done[g] for g in range(n)]
    arr = {k: np.stack([np.asarray(r[k]) for r in rec]) for k in _SAMPLE_ARRAYS}
    st = {k: np.stack([np.asarray(rves[s][k]) for s in range(S)]) for k in _STATE_ARRAYS}
    st["count"] = st["count"].astype(np.int64)
    state = np.repeat(np.arange(S, dtype=np.int64), M)
    train, val = _ds.split_indices(n, float(job.val_fraction), int(job.seed))
    seconds = np.array([float(r["seconds"]) for r in rec])
    per_state = []
    for s in range(S):
        r = rves[s]
        per_state.append(
            {
                "index": s,
                "eig": r["eig"].tolist(),
                "vf": r["vf"],
                "seed": rve_seed(job.seed, r["eig"], r["vf"]),
                "a2": r["a2"].tolist(),
                "a2_realized": r["a2_realized"].tolist(),
                "a2_error": r["a2_error"],
                "volume_fraction": r["volume_fraction"],
                "count": r["count"],
                "seconds": r["seconds"],
                "voxels_sha256": r["voxels_sha256"],
                "micro": r["micro"],
            }
        )
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "samples": n,
        "samples_per_state": M,
        "seed": int(job.seed),
        "shared_pairs": bool(job.shared_pairs),
        "sampler": sampler.to_dict(),
        "grid": job.grid,
        "rve": {
            "generator": "dmn_umat.rve.micro.short_fibres",
            "size": int(job.size),
            "radius": float(job.radius),
            "aspect": float(job.aspect),
            "ends": job.ends,
            "a2_tol": float(job.a2_tol),
            "principal_axes": "global (A2 = diag(eig), eig[0] along x)",
        },
        "states": per_state,
        "split": {
            "val_fraction": float(job.val_fraction),
            "n_train": int(len(train)),
            "n_val": int(len(val)),
        },
        "solver": {
            "name": "dmn_umat.rve.fft.homogenize",
            "tol": float(job.tol),
            "max_iter": int(job.max_iter),
            "iterations_mean": float(arr["iterations"].mean()),
            "iterations_max": int(arr["iterations"].max()),
            "max_asymmetry": float(max(float(r["asymmetry"]) for r in rec)),
            "seconds_total": float(seconds.sum()),
            "seconds_mean": float(seconds.mean()),
        },
        "run": {
            "executor": job.executor,
            "workers": n_workers,
            "resumed_samples": int(resumed),
            "wall_seconds": time.perf_counter() - t_start,
        },
        "package": {"name": "dmn_umat", "version": __version__},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    return OrientationDataset(
        eig=st["eig"][state],
        vf=st["vf"][state],
        state=state,
        a2_realized=st["a2_realized"][state],
        vf_realized=st["volume_fraction"][state],
        C1=arr["C1"],
        C2=arr["C2"],
        Cbar=arr["Cbar"],
        params=arr["params"],
        kinds=arr["kinds"].astype(np.int8),
        iterations=arr["iterations"].astype(np.int64),
        states=st,
        voxels=np.stack([rves[s]["voxels"] for s in range(S)]),
        train_idx=train,
        val_idx=val,
        metadata=metadata,
        path=str(out),
    )


# --------------------------------------------------------------------------- file I/O
_PER_SAMPLE = ("eig", "vf", "state", "a2_realized", "vf_realized") + _SAMPLE_ARRAYS


def _write(data: OrientationDataset, out: Path) -> None:
    import h5py

    def write_h5(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["metadata"] = json.dumps(data.metadata, sort_keys=True)
            for k in _PER_SAMPLE:
                f.create_dataset(k, data=getattr(data, k))
            for k in _STATE_ARRAYS:
                f.create_dataset(f"states/{k}", data=data.states[k])
            f.create_dataset("states/voxels", data=data.voxels, compression="gzip", compression_opts=4)
            f.create_dataset("split/train", data=data.train_idx)
            f.create_dataset("split/val", data=data.val_idx)

    atomic_save(out, write_h5)


def load_orientation_dataset(path: str | Path) -> OrientationDataset:
    """Read a file written by :func:`generate_orientation_data` → :class:`OrientationDataset`
    (float64 arrays); :class:`OrientationDataError` for a missing, foreign or inconsistent file."""
    path = Path(path)
    if not path.is_file():
        raise OrientationDataError(f"orientation data set {str(path)!r} not found")
    try:
        import h5py

        if not h5py.is_hdf5(path):
            raise OrientationDataError(f"{str(path)!r} is not an HDF5 orientation data set")
        with h5py.File(path, "r") as f:
            fmt = f.attrs.get("format")
            fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
            if fmt != FORMAT:
                raise OrientationDataError(
                    f"{str(path)!r} is not a dmn_umat orientation data set (format {fmt!r})"
                )
            version = f.attrs.get("format_version")
            if version is None or int(version) != FORMAT_VERSION:
                raise OrientationDataError(
                    f"{str(path)!r}: unsupported format version {version} (this reader: 1)"
                )
            names = [
                *_PER_SAMPLE,
                *(f"states/{k}" for k in _STATE_ARRAYS),
                "states/voxels",
                "split/train",
                "split/val",
            ]
            missing = [k for k in names if k not in f]
            if missing:
                raise OrientationDataError(f"{str(path)!r}: missing arrays {', '.join(missing)}")
            a = {k: f[k][()] for k in names}
            meta = json.loads(f.attrs["metadata"])
    except OrientationDataError:
        raise
    except Exception as exc:  # noqa: BLE001 - unreadable/corrupt file
        raise OrientationDataError(f"cannot read {str(path)!r}: {type(exc).__name__}: {exc}") from None
    n, S = len(a["Cbar"]), len(a["states/eig"])
    shapes = {"eig": (n, 3), "vf": (n,), "state": (n,), "a2_realized": (n, 6), "vf_realized": (n,),
              "C1": (n, 6, 6), "C2": (n, 6, 6), "Cbar": (n, 6, 6), "params": (n, 2, 9), "kinds": (n, 2),
              "iterations": (n, 6), "states/a2": (S, 6), "states/a2_realized": (S, 6)}  # fmt: skip
    for k, s in shapes.items():
        if a[k].shape != s:
            raise OrientationDataError(f"{str(path)!r}: array {k} has shape {a[k].shape}, expected {s}")
    if n and (a["state"].min() < 0 or a["state"].max() >= S):
        raise OrientationDataError(f"{str(path)!r}: sample state index out of range")
    for k in ("C1", "C2", "Cbar", "eig", "a2_realized"):
        if not np.all(np.isfinite(a[k])):
            raise OrientationDataError(f"{str(path)!r}: array {k} contains NaN or inf")
    train, val = a["split/train"].astype(np.int64), a["split/val"].astype(np.int64)
    if not np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n)):
        raise OrientationDataError(f"{str(path)!r}: train/val split is not a partition of the {n} samples")
    f8 = lambda k: a[k].astype(np.float64)  # noqa: E731
    return OrientationDataset(
        eig=f8("eig"),
        vf=f8("vf"),
        state=a["state"].astype(np.int64),
        a2_realized=f8("a2_realized"),
        vf_realized=f8("vf_realized"),
        C1=f8("C1"),
        C2=f8("C2"),
        Cbar=f8("Cbar"),
        params=f8("params"),
        kinds=a["kinds"].astype(np.int8),
        iterations=a["iterations"].astype(np.int64),
        states={k: a[f"states/{k}"] for k in _STATE_ARRAYS},
        voxels=np.asarray(a["states/voxels"]),
        train_idx=train,
        val_idx=val,
        metadata=meta,
        path=str(path),
    )
