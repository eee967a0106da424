"""The RVE stage's library entry points: FFT homogenization, nonlinear FFT DNS and training data.

    C = homogenize_rve(HomogenizeJob(micro="m.npy", phases=[matrix, inclusion])).C
    curve = run_dns(DNSJob(micro="m.npy", phases=[...], path="p.csv", stress_free="22,33,23,13,12"))
    summary = generate_data(DataJob(micro="m.npy", out="data.h5", samples=300))

A job (dataclass) in, a result dataclass out; ``dmn homogenize``, ``dmn dns``, ``dmn data
generate`` and ``dmn demo`` call these, nothing here parses argv or prints to stdout.  Errors are
library types, one line each: :class:`RVEJobError` (a job that cannot run),
:class:`dmn_umat.rve.fft.FFTConvergenceError`, :class:`dmn_umat.rve.micro.MicroError`,
``PhaseSpecError``, :class:`dmn_umat.loadpath.PathError`,
:class:`dmn_umat.rve.dataset.DatasetError`, :class:`dmn_umat.rve.sampling.SamplerError`.
Messages name a job field by its ``dmn`` option (``--tol``), so the command line shows them as is.
Results are Mandel (order 11, 22, 33, 23, 13, 12; shear × √2; docs/design.md §2, §8).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .dataset import Dataset, DatasetError
from .sampling import SamplerSettings


class RVEJobError(ValueError):
    """A homogenization or DNS job that cannot run (message is user-facing, one line)."""


# --------------------------------------------------------------------------- shared inputs
def _check_tol(tol: float) -> None:
    if not (tol > 0.0 and tol < 1.0):
        raise RVEJobError(f"--tol must lie in (0, 1), got {tol}")


def _threads(n: int | None) -> int | None:
    """FFT / numba threads: None → all; else clamp to numba's pool and set it (process-wide)."""
    if n is None:
        return None
    if n < 1:
        raise RVEJobError(f"--threads must be >= 1, got {n}")
    import numba

    n = min(n, numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(n)
    return n


def _inputs(micro, specs: Sequence, finite: bool = False) -> tuple[np.ndarray, list]:
    """(voxel ids (nx, ny, nz), phases) of a job: ``micro`` a voxel file or array, ``specs``
    spec strings or :class:`dmn_umat.laws.Phase` (``finite``: finite-strain specs or
    :class:`dmn_umat.laws.finite_spec.FinitePhase`), exactly one per phase id."""
    from ..laws import parse_phase
    from ..laws.finite_spec import parse_finite_phase
    from .micro import load_voxels

    parse = parse_finite_phase if finite else parse_phase
    phases = [parse(p) if isinstance(p, str) else p for p in specs]
    if not phases:
        raise RVEJobError("at least one phase law is required")
    arr = load_voxels(micro) if isinstance(micro, (str, Path)) else np.asarray(micro)
    if arr.ndim != 3 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0:
        raise RVEJobError(f"microstructure must be a non-empty 3-D array of phase ids >= 0, got "
                          f"{arr.dtype} {arr.shape}")
    top = int(arr.max())
    if top + 1 != len(phases):
        raise RVEJobError(f"the microstructure has {top + 1} phases (highest phase id {top}) but "
                          f"{len(phases)} phase laws are given (exactly one per phase, in phase order)")
    return arr, phases


def _write_json(out: str | Path | None, obj: dict) -> None:
    if out:
        from ..fileio import atomic_write_json

        atomic_write_json(out, obj, indent=None)


# --------------------------------------------------------------------------- homogenization
@dataclass
class HomogenizeJob:
    """Effective linear-elastic stiffness of a voxel RVE (``dmn homogenize``; docs/fft.md).

    ``micro``: voxel file (``.npy`` or an image format of :func:`dmn_umat.rve.micro.load_voxels`)
    or (nx, ny, nz) integer array; ``phases``: one law per phase id (nonlinear laws enter with
    their elastic stiffness); ``tol``: relative equilibrium residual; ``max_iter``: PCG
    iterations per load case; ``threads``: FFT / numba threads (None: all); ``out``: also write
    the JSON result there.
    """

    micro: str | Path | np.ndarray
    phases: Sequence
    tol: float = 1e-8
    max_iter: int = 5000
    threads: int | None = None
    out: str | Path | None = None

    def check(self) -> None:
        """Value checks (no file read): raises :class:`RVEJobError`."""
        _check_tol(self.tol)
        if self.max_iter < 1:
            raise RVEJobError(f"--max-iter must be >= 1, got {self.max_iter}")
        if self.threads is not None and self.threads < 1:
            raise RVEJobError(f"--threads must be >= 1, got {self.threads}")


@dataclass
class HomogenizeSummary:
    """``C`` (6, 6) Mandel (symmetrized), PCG ``iterations`` per load case, wall ``seconds``,
    ``asymmetry`` of the raw C̄, grid ``shape``, voxel ``volume_fractions`` per phase, phase
    ``phases`` specs, the ``tol`` used."""

    C: np.ndarray
    iterations: list[int]
    seconds: float
    asymmetry: float
    shape: list[int]
    volume_fractions: list[float]
    phases: list[str]
    tol: float

    def to_dict(self) -> dict:
        """The ``dmn homogenize --json`` result."""
        return {"C": self.C, "iterations": self.iterations, "seconds": self.seconds,
                "asymmetry": self.asymmetry, "shape": self.shape, "volume_fractions": self.volume_fractions,
                "phases": self.phases, "tol": self.tol}


def homogenize_rve(job: HomogenizeJob) -> HomogenizeSummary:
    """Run :func:`dmn_umat.rve.fft.homogenize` for ``job`` (six load cases) and write ``job.out``."""
    from . import fft

    job.check()
    micro, phases = _inputs(job.micro, job.phases)
    workers = _threads(job.threads)
    try:
        res = fft.homogenize(micro, [p.stiffness() for p in phases], tol=job.tol, max_iter=job.max_iter,
                             workers=workers)
    except ValueError as exc:  # FFTConvergenceError (a RuntimeError) passes as it is
        raise RVEJobError(str(exc)) from None
    summary = HomogenizeSummary(
        C=res.C, iterations=res.iterations, seconds=res.seconds, asymmetry=res.asymmetry,
        shape=list(micro.shape), volume_fractions=[float((micro == p).mean()) for p in range(len(phases))],
        phases=[p.spec for p in phases], tol=job.tol,
    )
    _write_json(job.out, summary.to_dict())
    return summary


# --------------------------------------------------------------------------- nonlinear DNS
@dataclass
class DNSJob:
    """Nonlinear FFT reference of a voxel RVE along a macroscopic path (``dmn dns``; docs/fft.md).

    ``micro``, ``phases``, ``threads``, ``out`` as :class:`HomogenizeJob`; ``path``: a path CSV
    (tensor components, docs/design.md §8; ``s11``.. columns prescribe stresses,
    :mod:`dmn_umat.loadpath`), a :class:`dmn_umat.loadpath.LoadPath` or an (n, 6) Mandel array
    of total strain targets;
    ``stress_free``: components held at zero mean stress, ``"22,33,23,13,12"`` or Mandel indices;
    ``tol``: relative equilibrium residual of each Newton solve.

    Finite strain (:mod:`dmn_umat.rve.fft_finite`): ``path`` a deformation-gradient path (an
    F11..F33 CSV, a :class:`dmn_umat.loadpath.FPath` or an (n, 3, 3) array), ``phases``
    finite-strain specs (:mod:`dmn_umat.laws.finite_spec`), ``stress_free`` P components
    (``"22,33"`` or indices ``3 i + j``); the result is a :class:`FiniteDNSSummary`.
    """

    micro: str | Path | np.ndarray
    phases: Sequence
    path: str | Path | np.ndarray
    stress_free: str | Sequence[int] | None = None
    tol: float = 1e-8
    threads: int | None = None
    out: str | Path | None = None

    def check(self) -> None:
        """Value checks (no file read): raises :class:`RVEJobError`."""
        _check_tol(self.tol)
        if self.threads is not None and self.threads < 1:
            raise RVEJobError(f"--threads must be >= 1, got {self.threads}")


@dataclass
class DNSSummary:
    """``strain``/``stress`` (n, 6) Mandel, ``iterations`` (n, 2) Newton and PCG per step,
    ``substeps`` (n,), ``peeq`` (n, nphase) mean equivalent plastic strain per phase, wall
    ``seconds``, ``stress_free`` component names, grid ``shape``, ``phases`` specs, ``tol``."""

    strain: np.ndarray
    stress: np.ndarray
    iterations: np.ndarray
    substeps: np.ndarray
    peeq: np.ndarray
    seconds: float
    stress_free: list[str]
    shape: list[int]
    phases: list[str]
    tol: float

    def to_dict(self) -> dict:
        """The ``dmn dns --json`` result."""
        return {"strain": self.strain, "stress": self.stress, "iterations": self.iterations,
                "substeps": self.substeps, "peeq": self.peeq, "seconds": self.seconds,
                "stress_free": self.stress_free, "shape": self.shape, "phases": self.phases,
                "tol": self.tol}


@dataclass
class FiniteDNSSummary:
    """A finite-strain DNS: ``F``, ``P``, ``cauchy`` (n, 3, 3) macroscopic deformation gradient,
    first Piola–Kirchhoff and Cauchy stress; ``iterations``, ``substeps``, ``seconds``,
    ``stress_free`` (P component names), ``shape``, ``phases``, ``tol`` as :class:`DNSSummary`."""

    F: np.ndarray
    P: np.ndarray
    cauchy: np.ndarray
    iterations: np.ndarray
    substeps: np.ndarray
    seconds: float
    stress_free: list[str]
    shape: list[int]
    phases: list[str]
    tol: float

    def to_dict(self) -> dict:
        """The ``dmn dns --json`` result of a deformation-gradient path."""
        return {"F": self.F, "P": self.P, "cauchy": self.cauchy, "iterations": self.iterations,
                "substeps": self.substeps, "seconds": self.seconds, "stress_free": self.stress_free,
                "shape": self.shape, "phases": self.phases, "tol": self.tol}


def _run_dns_finite(job: DNSJob, fp, progress) -> FiniteDNSSummary:
    """:func:`run_dns` for a deformation-gradient path."""
    from ..loadpath import F_COMPONENTS, check_f_free, control, parse_stress_free_f
    from .fft_finite import dns_finite

    micro, phases = _inputs(job.micro, job.phases, finite=True)
    sf = job.stress_free
    free = parse_stress_free_f(sf) if sf is None or isinstance(sf, str) else check_f_free(sf)
    free, stress = control(fp, free)
    workers = _threads(job.threads)
    try:
        res = dns_finite(micro, [p.props for p in phases], fp.F, stress_free=free, tol=job.tol,
                         workers=workers, progress=progress, times=fp.time, temps=fp.temp, stresses=stress)
    except ValueError as exc:  # FFTConvergenceError (a RuntimeError) passes as it is
        raise RVEJobError(str(exc)) from None
    summary = FiniteDNSSummary(
        F=res.F, P=res.P, cauchy=res.cauchy, iterations=res.iterations, substeps=res.substeps,
        seconds=res.seconds, stress_free=[F_COMPONENTS[c] for c in free], shape=list(micro.shape),
        phases=[p.spec for p in phases], tol=job.tol,
    )
    _write_json(job.out, summary.to_dict())
    return summary


def run_dns(job: DNSJob, progress: Callable[[int, int], None] | None = None) -> DNSSummary | FiniteDNSSummary:
    """Run :func:`dmn_umat.rve.fft.dns` (or, for a deformation-gradient path,
    :func:`dmn_umat.rve.fft_finite.dns_finite`) for ``job`` and write ``job.out``;
    ``progress(step, n)`` is called after each converged path step."""
    from .. import tensors
    from ..loadpath import FPath, as_path, control, parse_stress_free
    from . import fft

    job.check()
    lp = as_path(job.path)
    if isinstance(lp, FPath):
        return _run_dns_finite(job, lp, progress)
    micro, phases = _inputs(job.micro, job.phases)
    path = lp.strain
    rate = [p.spec or p.law for p in phases if p.rate_dependent]
    if rate and lp.time is None:
        raise RVEJobError(f"phase {rate[0]!r} is rate dependent: the path needs a time column "
                          "(header e11,e22,e33,e23,e13,e12,time; docs/design.md §8)")
    sf = job.stress_free
    free = parse_stress_free(sf) if sf is None or isinstance(sf, str) else tuple(sorted(int(c) for c in sf))
    free, stress = control(lp, free)
    workers = _threads(job.threads)
    try:
        res = fft.dns(micro, phases, path, stress_free=free, tol=job.tol, workers=workers, progress=progress,
                      times=lp.time, temps=lp.temp, stresses=stress)
    except ValueError as exc:  # FFTConvergenceError (a RuntimeError) passes as it is
        raise RVEJobError(str(exc)) from None
    summary = DNSSummary(
        strain=res.strain, stress=res.stress, iterations=res.iterations, substeps=res.substeps,
        peeq=res.fields["peeq"], seconds=res.seconds, stress_free=[tensors.COMPONENTS[c] for c in free],
        shape=list(micro.shape), phases=[p.spec for p in phases], tol=job.tol,
    )
    _write_json(job.out, summary.to_dict())
    return summary


# --------------------------------------------------------------------------- training data
@dataclass
class DataJob:
    """Training data on one two-phase microstructure (``dmn data generate``; docs/data.md).

    ``micro``: voxel file or (nx, ny, nz) array of ids 0/1; ``out``: ``.h5``/``.hdf5``/``.npz``;
    ``samples``: N phase-stiffness pairs (sample i drawn from ``default_rng([seed, i])``);
    ``val_fraction``: held-out share; ``kind``/``log10_contrast``/``nu``/``nu_law``: the sampler
    (:class:`dmn_umat.rve.sampling.SamplerSettings`); ``executor``: ``dask`` (``scheduler``
    address, or a local cluster of ``workers`` processes) or ``local``; ``tol``/``max_iter``: the
    FFT solver's per load case.
    """

    micro: str | Path | np.ndarray
    out: str | Path
    samples: int
    val_fraction: float = 0.2
    seed: int = 0
    kind: str = "iso"
    log10_contrast: tuple[float, float] = (-3.0, 3.0)
    nu: tuple[float, float] = (0.1, 0.45)
    nu_law: str = "uniform"
    executor: str = "dask"
    scheduler: str | None = None
    workers: int | None = None
    tol: float = 1e-8
    max_iter: int = 5000

    def check(self) -> None:
        """Value checks (no file read): raises :class:`DatasetError` (:class:`SamplerError` for
        the sampler's ranges); the rest is checked by :func:`dmn_umat.rve.dataset.generate_dataset`."""
        for name, v in (("--val-fraction", self.val_fraction), ("--tol", self.tol),
                        *(("--log10-contrast", c) for c in self.log10_contrast)):
            if not math.isfinite(v):
                raise DatasetError(f"{name} must be a finite number, got {v}")
        if self.scheduler and self.executor != "dask":
            raise DatasetError("--scheduler needs --executor dask")
        self.sampler()

    def sampler(self) -> SamplerSettings:
        """The job's :class:`dmn_umat.rve.sampling.SamplerSettings` (raises SamplerError if invalid)."""
        return SamplerSettings(kind=self.kind, log10_contrast=tuple(self.log10_contrast), nu=tuple(self.nu),
                               nu_law=self.nu_law)


@dataclass
class DataSummary:
    """A written data set: ``dataset`` (arrays, split, metadata; ``dataset.path`` the file),
    ``resumed_samples`` taken from an interrupted run's partial folder, ``wall_seconds``."""

    dataset: Dataset
    resumed_samples: int
    wall_seconds: float

    def to_dict(self) -> dict:
        """The ``dmn data generate --json`` summary (:meth:`Dataset.summary` plus the run)."""
        return {**self.dataset.summary(), "resumed_samples": self.resumed_samples,
                "wall_seconds": self.wall_seconds}


def generate_data(job: DataJob, *, show_progress: bool | None = None, on_sample=None,
                  log: Callable[[str], None] | None = None) -> DataSummary:
    """Run :func:`dmn_umat.rve.dataset.generate_dataset` for ``job`` (resumable, atomic write).

    ``show_progress`` (None: when stderr is a terminal), ``on_sample``, ``log``: as there.
    """
    from .dataset import generate_dataset

    job.check()
    sampler = job.sampler()
    try:
        ds = generate_dataset(
            job.micro, job.out, job.samples, seed=job.seed, sampler=sampler, val_fraction=job.val_fraction,
            tol=job.tol, max_iter=job.max_iter, executor=job.executor, workers=job.workers,
            scheduler=job.scheduler, show_progress=show_progress, on_sample=on_sample, log=log,
        )
    except OSError as exc:
        raise DatasetError(f"cannot write {str(job.out)!r}: {exc}") from None
    run = ds.metadata["run"]
    return DataSummary(dataset=ds, resumed_samples=run["resumed_samples"], wall_seconds=run["wall_seconds"])
