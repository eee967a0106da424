"""Offline training data: random phase pairs (C1, C2) homogenized on one microstructure → C̄.

:func:`generate_dataset` samples ``N`` stiffness pairs (:mod:`dmn_umat.rve.sampling`, sample i
from ``default_rng([seed, i])``), homogenizes each with :func:`dmn_umat.rve.fft.homogenize`
in parallel over samples (a Dask ``LocalCluster`` by default, an existing scheduler, or a serial
``local`` executor), and writes ONE file atomically (HDF5 via h5py, or ``.npz``).

Resume: each finished sample is written atomically to ``OUT.partial/sNNNNNNNN.npz`` next to the
output, tied to its run (run id = hash of the manifest: seed, sampler, voxels, tolerance), its
sample index and a SHA-256 over its contents; a rerun with the same microstructure, seed,
sampler and solver settings skips the samples whose tie checks out (any other is recomputed), and
the final file is identical to an uninterrupted run (every sample is computed with one numba
thread, so bit-for-bit reproducible whatever the executor). The partial directory is removed
once the output is in place.

File layout (HDF5; the ``.npz`` holds the same names, groups flattened with ``/`` → ``_``)::

    C1, C2, Cbar        (N, 6, 6) float64   Mandel (11, 22, 33, 23, 13, 12; √2 on shear)
    params              (N, 2, 9) float64   engineering constants per phase (sampling module)
    kinds               (N, 2)    int8      0 isotropic, 1 orthotropic
    iterations          (N, 6)    int64     PCG iterations per load case
    split/train, split/val        int64     sample indices
    micro               (nx, ny, nz) int8   the voxel phase ids
    attrs: format = "dmn_umat.dataset", format_version = 1, metadata = JSON string

:func:`load_dataset` reads either format into a :class:`Dataset`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .. import __version__
from ..fileio import atomic_save, atomic_write
from .sampling import SamplerSettings, sample_pair

__all__ = [
    "Dataset",
    "DatasetError",
    "generate_dataset",
    "load_dataset",
    "split_indices",
    "partial_dir",
    "FORMAT",
    "FORMAT_VERSION",
]

FORMAT = "dmn_umat.dataset"
FORMAT_VERSION = 1
_ARRAYS = ("C1", "C2", "Cbar", "params", "kinds", "iterations")
_SUFFIXES = (".h5", ".hdf5", ".npz")


class DatasetError(ValueError):
    """A data-set request or file that cannot be used (message is user-facing, one line)."""


# --------------------------------------------------------------------------- the loaded data set
@dataclass
class Dataset:
    """Training data on one microstructure.

    C1, C2, Cbar: (n, 6, 6) Mandel stiffnesses of phase 1 (voxel id 0), phase 2 (id 1) and the
    FFT-homogenized effective stiffness. params (n, 2, 9), kinds (n, 2): sampled phase
    constants (see :mod:`dmn_umat.rve.sampling`). iterations (n, 6): PCG iterations.
    indices (n,): original sample ids; train_idx / val_idx: positions (into these arrays) of
    the training and validation samples. metadata: microstructure, sampler, solver, package.
    """

    C1: np.ndarray
    C2: np.ndarray
    Cbar: np.ndarray
    params: np.ndarray
    kinds: np.ndarray
    iterations: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    metadata: dict = field(default_factory=dict)
    micro: np.ndarray | None = None
    indices: np.ndarray | None = None
    path: str | None = None

    def __post_init__(self):
        if self.indices is None:
            self.indices = np.arange(len(self.C1))

    def __len__(self) -> int:
        return int(len(self.C1))

    def subset(self, positions) -> Dataset:
        """The samples at ``positions`` (all of them become the training split)."""
        pos = np.asarray(positions, dtype=np.int64)
        return replace(
            self,
            C1=self.C1[pos],
            C2=self.C2[pos],
            Cbar=self.Cbar[pos],
            params=self.params[pos],
            kinds=self.kinds[pos],
            iterations=self.iterations[pos],
            indices=self.indices[pos],
            train_idx=np.arange(len(pos)),
            val_idx=np.zeros(0, dtype=np.int64),
        )

    @property
    def train(self) -> Dataset:
        """The training samples."""
        return self.subset(self.train_idx)

    @property
    def val(self) -> Dataset:
        """The validation samples."""
        return self.subset(self.val_idx)

    @property
    def volume_fractions(self) -> np.ndarray:
        """Voxel volume fractions of phases (0, 1)."""
        return np.asarray(self.metadata["micro"]["volume_fractions"], dtype=np.float64)

    def summary(self) -> dict:
        """Counts, stiffness contrast and C̄ eigenvalue ranges (JSON-ready)."""
        n1 = np.linalg.norm(self.C1, axis=(1, 2))
        n2 = np.linalg.norm(self.C2, axis=(1, 2))
        lc = np.log10(n2 / n1) if len(self) else np.zeros(0)
        ev = np.linalg.eigvalsh(self.Cbar) if len(self) else np.zeros((0, 6))
        m = self.metadata
        rng = lambda a: [float(a.min()), float(a.max())] if a.size else [None, None]  # noqa: E731
        return {
            "path": self.path,
            "samples": len(self),
            "train": int(len(self.train_idx)),
            "val": int(len(self.val_idx)),
            "sampler_kind": m.get("sampler", {}).get("kind"),
            "seed": m.get("seed"),
            "orthotropic_phases": int(np.count_nonzero(self.kinds == 1)),
            "log10_contrast_range": rng(lc),
            "Cbar_eigenvalue_range": rng(ev),
            "micro_shape": m.get("micro", {}).get("shape"),
            "micro_volume_fraction": m.get("micro", {}).get("volume_fraction"),
            "micro_kind": (m.get("micro", {}).get("generator") or {}).get("kind"),
            "solver_tol": m.get("solver", {}).get("tol"),
            "iterations_mean": float(self.iterations.mean()) if len(self) else None,
            "iterations_max": int(self.iterations.max()) if len(self) else None,
            "package_version": m.get("package", {}).get("version"),
        }


# --------------------------------------------------------------------------- helpers
def split_indices(n: int, val_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic random train/val split of ``range(n)``: (train, val), both sorted.

    Uses ``default_rng([seed, n, 1])`` (distinct from the per-sample streams ``[seed, i]``);
    round(val_fraction·n) validation samples, at least one training sample.
    """
    if not (0.0 <= val_fraction < 1.0):
        raise DatasetError(f"val fraction must lie in [0, 1), got {val_fraction}")
    perm = np.random.default_rng([int(seed), int(n), 1]).permutation(n)
    n_val = min(int(round(val_fraction * n)), max(n - 1, 0))
    return np.sort(perm[n_val:]).astype(np.int64), np.sort(perm[:n_val]).astype(np.int64)


def partial_dir(out: str | Path) -> Path:
    """The resume directory of an output file: ``OUT.partial`` next to it."""
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _sha256_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def _load_micro(micro) -> tuple[np.ndarray, dict]:
    """Voxels (int8) and their description from a .npy path or an array."""
    from .micro import MicroError, load_voxels

    info: dict = {"source": None, "file_sha256": None, "generator": None}
    if isinstance(micro, (str, Path)):
        try:
            arr = load_voxels(micro)
        except MicroError as exc:
            raise DatasetError(str(exc)) from None
        if arr.max() > 1:
            raise DatasetError(
                f"microstructure {str(micro)!r} uses phase id {int(arr.max())} but data sets have two "
                "phases (ids 0 and 1)"
            )
        info["source"] = str(Path(micro).resolve())
        info["file_sha256"] = _sha256_bytes(Path(micro).read_bytes())
        from .micro import read_sidecar

        info["generator"] = read_sidecar(micro)
    else:
        arr = np.asarray(micro)
        if not np.issubdtype(arr.dtype, np.integer) or arr.ndim != 3 or arr.size == 0:
            raise DatasetError(f"microstructure must be a 3-D integer array, got {arr.dtype} {arr.shape}")
        if arr.min() < 0 or arr.max() > 1:
            raise DatasetError("microstructure phase ids must be 0 or 1 for a two-phase data set")
    arr = np.ascontiguousarray(arr, dtype=np.int8)
    counts = np.bincount(arr.reshape(-1), minlength=2)
    if counts[0] == 0 or counts[1] == 0:
        raise DatasetError("microstructure must contain both phases 0 and 1 (one of them is absent)")
    vfs = counts / arr.size
    info.update(
        shape=[int(s) for s in arr.shape],
        voxels_sha256=_sha256_bytes(arr.tobytes()),
        volume_fractions=[float(v) for v in vfs],
        volume_fraction=float(vfs[1]),
    )
    return arr, info


def _limit_blas_threads(n: int):
    """Set the thread count of every loaded OpenBLAS (numpy's and scipy's) to ``n``; return a
    function restoring the previous counts. Best effort (Linux ``/proc/self/maps``); no-op elsewhere."""
    import ctypes

    restore = []
    try:
        with open("/proc/self/maps") as fh:
            paths = {ln.split()[-1] for ln in fh if "openblas" in ln.lower() and ".so" in ln}
    except OSError:
        paths = set()
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name in ("scipy_openblas", "openblas"):
            for suffix in ("", "64_"):
                setter = getattr(lib, f"{name}_set_num_threads{suffix}", None)
                getter = getattr(lib, f"{name}_get_num_threads{suffix}", None)
                if setter is None or getter is None:
                    continue
                getter.restype = ctypes.c_int
                old = int(getter())
                setter(ctypes.c_int(n))
                restore.append((setter, old))
    return lambda: [setter(ctypes.c_int(old)) for setter, old in restore] and None


def _compute_sample(
    micro: np.ndarray, index: int, seed: int, sampler: dict, tol: float, max_iter: int,
    pair_index: int | None = None,
) -> dict:
    """Sample ``index`` → its phases and homogenized C̄ (runs on a worker; one numba thread).
    The phases are draw ``pair_index`` (default ``index``) of the stream ``seed``."""
    import numba

    from .fft import homogenize

    pair = sample_pair(seed, index if pair_index is None else pair_index, SamplerSettings.from_dict(sampler))
    old = numba.get_num_threads()
    # one numba and one BLAS thread: fixed reduction order, bit-reproducible whatever the executor
    numba.set_num_threads(1)
    restore = _limit_blas_threads(1)
    try:
        res = homogenize(micro, [pair.C1, pair.C2], tol=tol, max_iter=max_iter, workers=1)
    except Exception as exc:  # noqa: BLE001 - reported with the sample id
        return {"index": int(index), "error": f"{type(exc).__name__}: {exc}"}
    finally:
        numba.set_num_threads(old)
        restore()
    return {
        "index": int(index),
        "C1": pair.C1,
        "C2": pair.C2,
        "Cbar": np.asarray(res.C, dtype=np.float64),
        "params": pair.params,
        "kinds": pair.kinds,
        "iterations": np.asarray(res.iterations, dtype=np.int64),
        "seconds": float(res.seconds),
        "asymmetry": float(res.asymmetry),
    }


def _record_digest(rec: dict, run: str) -> str:
    """SHA-256 (hex) tying a sample record to its run id and index: over both and every stored
    array/number (name, dtype, shape, bytes)."""
    h = hashlib.sha256(f"{run}\0{int(rec['index'])}\0".encode())
    for k in _ARRAYS + ("seconds", "asymmetry"):
        a = np.ascontiguousarray(np.asarray(rec[k]))
        h.update(f"{k}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


class _Partial:
    """The ``OUT.partial/`` directory: manifest.json + one ``sNNNNNNNN.npz`` per finished sample.

    Each record also stores ``run`` (hash of the manifest) and ``sha256``
    (:func:`_record_digest`); :meth:`load` recomputes any record whose tie does not check out."""

    def __init__(self, out: Path, manifest: dict):
        self.dir = partial_dir(out)
        self.manifest = manifest
        self.run = hashlib.sha256(json.dumps(manifest, sort_keys=True).encode()).hexdigest()[:16]
        self.rejected = 0
        mpath = self.dir / "manifest.json"
        if self.dir.exists():
            if not self.dir.is_dir():
                raise DatasetError(f"{str(self.dir)!r} exists and is not a directory")
            try:
                old = json.loads(mpath.read_text())
            except (OSError, ValueError):
                old = None
            if old is None:
                if any(self.dir.glob("s*.npz")):
                    raise DatasetError(
                        f"resume directory {str(self.dir)!r} has no readable manifest; delete it"
                    )
            elif old != manifest and not any(self.dir.glob("s*.npz")):
                mpath.unlink()  # a stale directory holding no finished sample: start afresh
            elif old != manifest:
                diff = sorted(k for k in set(old) | set(manifest) if old.get(k) != manifest.get(k))
                raise DatasetError(
                    f"resume directory {str(self.dir)!r} was made with different settings "
                    f"({', '.join(diff)}); rerun with the same settings or delete it"
                )
        else:
            self.dir.mkdir(parents=False)
        if not mpath.exists():
            text = json.dumps(manifest, sort_keys=True).encode()
            atomic_write(mpath, lambda fh: fh.write(text))

    def _file(self, index: int) -> Path:
        return self.dir / f"s{index:08d}.npz"

    def load(self, n: int) -> dict[int, dict]:
        """Finished records with index < n whose run id, index and checksum check out; the others
        are deleted (counted in ``self.rejected``) so that they are recomputed."""
        done = {}
        self.rejected = 0
        for f in sorted(self.dir.glob("s*.npz")):
            try:
                index = int(f.stem[1:])
            except ValueError:
                continue
            if index >= n:
                continue
            try:
                with np.load(f, allow_pickle=False) as z:
                    rec = {k: z[k] for k in z.files}
                rec = {k: (v.item() if v.ndim == 0 else v) for k, v in rec.items()}
                if int(rec["index"]) != index or rec.get("run") != self.run:
                    raise ValueError("record of another sample or run")
                if rec.get("sha256") != _record_digest(rec, self.run):
                    raise ValueError("checksum mismatch")
            except Exception:  # noqa: BLE001 - unreadable, stale or edited record: recompute it
                f.unlink(missing_ok=True)
                self.rejected += 1
                continue
            done[index] = rec
        return done

    def resume(self, n: int, log: Callable[[str], None]) -> dict[int, dict]:
        """:meth:`load`, saying in ``log`` what is recomputed and what is resumed."""
        done = self.load(n)
        if self.rejected:
            log(f"recomputing {self.rejected} sample file(s) in {self.dir} that are unreadable, "
                "of another run or edited (checksum)")
        if done:
            log(f"resuming: {len(done)} of {n} samples already done in {self.dir}")
        return done

    def acceptor(self, done: dict[int, dict], on_sample: Callable[[int, int], None] | None,
                 error: type[Exception]) -> Callable[[dict], None]:
        """The callback for each computed record: store it in this directory and in ``done``,
        report ``on_sample(index, n_done)``; a failed sample raises ``error`` (one line)."""

        def accept(rec: dict) -> None:
            if "error" in rec:
                kept = f"{len(done)} finished samples are kept in {self.dir}; " if done else ""
                raise error(
                    f"sample {rec['index']} failed ({rec['error']}); {kept}rerun with a larger --max-iter"
                )
            self.store(rec)
            done[int(rec["index"])] = rec
            if on_sample is not None:
                on_sample(int(rec["index"]), len(done))

        return accept

    def store(self, rec: dict) -> None:
        arrays = {k: np.asarray(v) for k, v in rec.items()}
        arrays["run"] = np.asarray(self.run)
        arrays["sha256"] = np.asarray(_record_digest(arrays, self.run))
        atomic_write(self._file(int(rec["index"])), lambda fh: np.savez(fh, **arrays))

    def remove(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


# --------------------------------------------------------------------------- generation
def generate_dataset(
    micro,
    out: str | Path,
    samples: int,
    *,
    seed: int = 0,
    sampler: SamplerSettings | None = None,
    val_fraction: float = 0.2,
    tol: float = 1e-8,
    max_iter: int = 5000,
    executor: str = "dask",
    workers: int | None = None,
    scheduler: str | None = None,
    show_progress: bool | None = None,
    on_sample=None,
    log=None,
) -> Dataset:
    """Generate ``samples`` homogenized samples on ``micro`` (.npy path or (nx,ny,nz) array of 0/1)
    and write them to ``out`` (.h5/.hdf5/.npz) atomically; returns the loaded :class:`Dataset`.

    executor: ``dask`` (``scheduler`` address, or a new ``LocalCluster`` of ``workers`` processes,
    default min(2, cpu count), one thread each) or ``local`` (serial, in this process).
    on_sample(index, n_done): called after each sample is safely stored (a progress/test hook;
    an exception raised there stops the run, finished samples stay in ``OUT.partial``).
    log: callable for status lines (default: stderr).
    """
    t_start = time.perf_counter()
    out = Path(out)
    log = log or (lambda msg: print(msg, file=sys.stderr))
    if out.suffix.lower() not in _SUFFIXES:
        raise DatasetError(f"output must end in .h5, .hdf5 or .npz, got {str(out)!r}")
    if not out.parent.exists():
        raise DatasetError(f"output directory {str(out.parent)!r} does not exist")
    if int(samples) != samples or samples < 1:
        raise DatasetError(f"--samples must be a positive integer, got {samples}")
    samples = int(samples)
    if int(seed) != seed or seed < 0:
        raise DatasetError(f"seed must be a non-negative integer, got {seed}")
    seed = int(seed)
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and 0.0 < tol < 1.0):
        raise DatasetError(f"solver tolerance must lie in (0, 1), got {tol}")
    if int(max_iter) != max_iter or max_iter < 1:
        raise DatasetError(f"max_iter must be a positive integer, got {max_iter}")
    if not (isinstance(val_fraction, (int, float)) and math.isfinite(val_fraction)):
        raise DatasetError(f"val fraction must be a finite number, got {val_fraction}")
    split_indices(samples, float(val_fraction), seed)  # validates the fraction
    if executor not in ("dask", "local"):
        raise DatasetError(f"executor must be dask or local, got {executor!r}")
    if workers is not None and (int(workers) != workers or workers < 1):
        raise DatasetError(f"--workers must be a positive integer, got {workers}")
    sampler = sampler or SamplerSettings()
    vox, micro_info = _load_micro(micro)

    manifest = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "seed": seed,
        "sampler": sampler.to_dict(),
        "voxels_sha256": micro_info["voxels_sha256"],
        "tol": float(tol),
    }  # max_iter is left out: it changes no converged sample, so a rerun may raise it
    partial = _Partial(out, manifest)
    done = partial.resume(samples, log)
    todo = [i for i in range(samples) if i not in done]
    accept = partial.acceptor(done, on_sample, DatasetError)

    args = (seed, sampler.to_dict(), float(tol), int(max_iter))
    n_workers = 1
    try:
        if todo and executor == "local":
            from ..progress import progress

            for i in progress(todo, total=len(todo), desc="homogenize", disable=_disable(show_progress)):
                accept(_compute_sample(vox, i, *args))
        elif todo:
            n_workers = _run_dask(vox, todo, args, accept, workers, scheduler, show_progress)
    except BaseException:
        if not done:
            partial.remove()  # nothing worth keeping
        raise

    rec = [done[i] for i in range(samples)]
    arrays = {k: np.stack([np.asarray(r[k]) for r in rec]) for k in _ARRAYS}
    arrays["kinds"] = arrays["kinds"].astype(np.int8)
    arrays["iterations"] = arrays["iterations"].astype(np.int64)
    train, val = split_indices(samples, float(val_fraction), seed)
    seconds = np.array([float(r["seconds"]) for r in rec])
    metadata = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "samples": samples,
        "seed": seed,
        "sampler": sampler.to_dict(),
        "split": {"val_fraction": float(val_fraction), "n_train": int(len(train)), "n_val": int(len(val))},
        "micro": micro_info,
        "solver": {
            "name": "dmn_umat.rve.fft.homogenize",
            "tol": float(tol),
            "max_iter": int(max_iter),
            "iterations_mean": float(arrays["iterations"].mean()),
            "iterations_max": int(arrays["iterations"].max()),
            "max_asymmetry": float(max(float(r["asymmetry"]) for r in rec)),
            "seconds_total": float(seconds.sum()),
            "seconds_mean": float(seconds.mean()),
        },
        "run": {
            "executor": executor,
            "workers": n_workers,
            "resumed_samples": samples - len(todo),
            "wall_seconds": time.perf_counter() - t_start,
        },
        "package": {"name": "dmn_umat", "version": __version__},
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    ds = Dataset(
        C1=arrays["C1"],
        C2=arrays["C2"],
        Cbar=arrays["Cbar"],
        params=arrays["params"],
        kinds=arrays["kinds"],
        iterations=arrays["iterations"],
        train_idx=train,
        val_idx=val,
        metadata=metadata,
        micro=vox,
        path=str(out),
    )
    _write(ds, out)
    partial.remove()
    return ds


def _disable(show_progress: bool | None) -> bool | None:
    return None if show_progress is None else not show_progress


def _run_dask(vox, todo, args, accept, workers, scheduler, show_progress) -> int:
    """Map :func:`_compute_sample` over ``todo`` on Dask; ``accept`` each result as it completes."""
    with dask_client(workers, scheduler) as (client, n_workers):
        [micro_f] = client.scatter([vox], broadcast=True)
        calls = [(_compute_sample, (micro_f, i, *args)) for i in todo]
        dask_map(client, calls, accept, "homogenize", show_progress)
    return n_workers


@contextlib.contextmanager
def dask_client(workers: int | None, scheduler: str | None):
    """A Dask ``Client`` on ``scheduler`` (address), or on a new ``LocalCluster`` of ``workers``
    processes (default min(2, cpu count)) with one thread each, closed on exit; yields
    (client, number of workers). An unreachable scheduler is a :class:`DatasetError`."""
    import logging

    from distributed import Client, LocalCluster

    cluster = None
    try:
        if scheduler:
            try:
                client = Client(scheduler, timeout="20s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise DatasetError(f"cannot connect to Dask scheduler {scheduler!r}: {exc}") from None
        else:
            n = workers or max(1, min(2, os.cpu_count() or 1))
            cluster = LocalCluster(
                n_workers=n,
                threads_per_worker=1,
                processes=True,
                dashboard_address=":0",
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
    except BaseException:
        if cluster is not None:
            cluster.close()
        raise
    try:
        yield client, max(1, len(client.scheduler_info().get("workers", {})))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def dask_map(client, calls, accept, desc: str, show_progress: bool | None) -> None:
    """Submit ``calls`` [(function, args), ...] to ``client`` and ``accept`` each result as it
    completes (a progress bar ``desc``); pending tasks are cancelled if ``accept`` raises."""
    from distributed import as_completed

    from ..progress import progress

    futures = []
    try:
        futures = [client.submit(fn, *a, pure=False) for fn, a in calls]
        bar = progress(as_completed(futures), total=len(futures), desc=desc, disable=_disable(show_progress))
        for fut in bar:
            accept(fut.result())
    finally:
        if futures:
            client.cancel(futures)


# --------------------------------------------------------------------------- file I/O
def _write(ds: Dataset, out: Path) -> None:
    meta = json.dumps(ds.metadata, sort_keys=True)
    arrays = {k: getattr(ds, k) for k in _ARRAYS}
    if out.suffix.lower() == ".npz":
        payload = dict(arrays)
        payload.update(
            split_train=ds.train_idx,
            split_val=ds.val_idx,
            micro=ds.micro,
            format=np.array(FORMAT),
            format_version=np.array(FORMAT_VERSION),
            metadata=np.array(meta),
        )
        atomic_write(out, lambda fh: np.savez_compressed(fh, **payload))
        return
    import h5py

    def write_h5(tmp: str) -> None:
        with h5py.File(tmp, "w") as f:
            f.attrs["format"] = FORMAT
            f.attrs["format_version"] = FORMAT_VERSION
            f.attrs["metadata"] = meta
            for k, v in arrays.items():
                f.create_dataset(k, data=v)
            f.create_dataset("split/train", data=ds.train_idx)
            f.create_dataset("split/val", data=ds.val_idx)
            f.create_dataset("micro", data=ds.micro, compression="gzip", compression_opts=4)

    atomic_save(out, write_h5)


def load_dataset(path: str | Path) -> Dataset:
    """Read a data set written by :func:`generate_dataset` (.h5/.hdf5 or .npz)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"data set {str(path)!r} not found")
    try:
        import h5py

        if h5py.is_hdf5(path):
            with h5py.File(path, "r") as f:
                fmt = f.attrs.get("format")
                version = f.attrs.get("format_version")
                meta_text = f.attrs.get("metadata")
                arrays = {k: f[k][()] for k in _ARRAYS if k in f}
                train = f["split/train"][()] if "split/train" in f else None
                val = f["split/val"][()] if "split/val" in f else None
                micro = f["micro"][()] if "micro" in f else None
        else:
            with np.load(path, allow_pickle=False) as z:
                fmt = str(z["format"]) if "format" in z.files else None
                version = int(z["format_version"]) if "format_version" in z.files else None
                meta_text = str(z["metadata"]) if "metadata" in z.files else None
                arrays = {k: z[k] for k in _ARRAYS if k in z.files}
                train = z["split_train"] if "split_train" in z.files else None
                val = z["split_val"] if "split_val" in z.files else None
                micro = z["micro"] if "micro" in z.files else None
    except DatasetError:
        raise
    except Exception as exc:  # noqa: BLE001 - unreadable/corrupt file
        raise DatasetError(f"cannot read data set {str(path)!r}: {type(exc).__name__}: {exc}") from None
    if isinstance(fmt, bytes):
        fmt = fmt.decode()
    if fmt != FORMAT:
        raise DatasetError(f"{str(path)!r} is not a dmn_umat data set (format {fmt!r})")
    if version is None or int(version) != FORMAT_VERSION:
        raise DatasetError(f"{str(path)!r}: unsupported data set format version {version} (this reader: 1)")
    missing = [k for k in _ARRAYS if k not in arrays] + (["split"] if train is None or val is None else [])
    if missing:
        raise DatasetError(f"{str(path)!r}: missing arrays {', '.join(missing)}")
    n = len(arrays["C1"])
    shapes = {"C1": (n, 6, 6), "C2": (n, 6, 6), "Cbar": (n, 6, 6), "params": (n, 2, 9), "kinds": (n, 2),
              "iterations": (n, 6)}  # fmt: skip
    for k, s in shapes.items():
        if arrays[k].shape != s:
            raise DatasetError(f"{str(path)!r}: array {k} has shape {arrays[k].shape}, expected {s}")
    for k in ("C1", "C2", "Cbar"):
        if not np.all(np.isfinite(arrays[k])):
            raise DatasetError(f"{str(path)!r}: array {k} contains NaN or inf")
    train = np.asarray(train, dtype=np.int64)
    val = np.asarray(val, dtype=np.int64)
    allidx = np.concatenate([train, val])
    if allidx.size != n or not np.array_equal(np.sort(allidx), np.arange(n)):
        raise DatasetError(f"{str(path)!r}: train/val split is not a partition of the {n} samples")
    try:
        metadata = json.loads(meta_text.decode() if isinstance(meta_text, bytes) else meta_text)
    except (TypeError, ValueError):
        raise DatasetError(f"{str(path)!r}: metadata is not valid JSON") from None
    return Dataset(
        C1=arrays["C1"].astype(np.float64),
        C2=arrays["C2"].astype(np.float64),
        Cbar=arrays["Cbar"].astype(np.float64),
        params=arrays["params"].astype(np.float64),
        kinds=arrays["kinds"].astype(np.int8),
        iterations=arrays["iterations"].astype(np.int64),
        train_idx=train,
        val_idx=val,
        metadata=metadata,
        micro=None if micro is None else np.asarray(micro),
        path=str(path),
    )
