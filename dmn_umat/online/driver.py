"""Point driver: run one material point along a macroscopic loading path (docs/design.md §8).

Strain control (every component prescribed) or mixed control (``stress_free`` components held
at zero stress, or at the prescribed ``stress`` of the path, their strain solved for with
:func:`dmn_umat.loadpath.solve_mixed`).  Works for
any batched material (:class:`dmn_umat.online.solver.NetworkMaterial`,
:class:`dmn_umat.laws.PhaseMaterial`, ...).

Failure policy (the same as a host FE code calling the C API / UMAT): a material status other
than 0 cuts the step back — it is bisected, up to ``max_cuts`` levels — and only converged states
are committed.  Every material call is capped by the kernel (at most
:data:`dmn_umat.online.kernel.MAX_TOTAL_ITER` Newton iterations, all sub-steps, per call = per
host increment, else it asks for a cut back), and one path step may spend at most ``max_iter``
Newton iterations in all (every call of the step, failed ones included; default
:data:`STEP_ITER_CAP` = 8 kernel calls' worth); past either limit the step fails with
:class:`DriveError` instead of grinding on (a strain of 1e6 used to be "accepted" after
tens of thousands of iterations).

Result dict (Mandel, one row per path step): ``strain`` (n,6), ``stress`` (n,6),
``iterations`` (n,) network Newton iterations of the step (all mixed-control evaluations and
sub-steps; for materials without that counter: mixed-control iterations), ``substeps`` (n,)
converged sub-increments of the step (1 without cut back), ``states`` (n, nstate) committed
material state after the step, ``fields`` (named (n,) arrays from ``material.fields``).

Finite strain: a deformation-gradient path (:class:`dmn_umat.loadpath.FPath`, (n, 9) row-major F
targets from F = 1, stress-controlled components ``3 i + j`` in first Piola–Kirchhoff stress) is
followed the same way by :class:`dmn_umat.online.finite_solver.FiniteNetworkMaterial` (wrapped by
:class:`FlatFiniteMaterial`); :func:`drive_model` does this for a :class:`DriveJob` whose path is
an F path, with finite-strain phase specs (:mod:`dmn_umat.laws.finite_spec`).

Library entry point (``dmn drive``, ``dmn demo``, the assessment)::

    result = drive_model(DriveJob(model="rve.dmn", phases=[matrix, inclusion], path="p.csv"))

:class:`DriveJob` in (model, phase laws, path, optional DNS reference and output files),
:class:`DriveResult` out; bad input raises :class:`DriveError`, ``PhaseSpecError`` or
``PathError`` (one line each; messages name a job field by its ``dmn drive`` option).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..loadpath import solve_mixed
from .kernel import MAX_TOTAL_ITER

if TYPE_CHECKING:
    from ..loadpath import FPath, LoadPath
    from ..network import Network

#: Newton iterations one path step may spend in all (bisections and failed calls included).
STEP_ITER_CAP = 8 * MAX_TOTAL_ITER


class DriveError(RuntimeError):
    """The driver could not follow the path (message is user-facing)."""


def _eval(material, eps, state, spent=None, clock=None):
    """One material call at strain ``eps`` (6,); adds its Newton iterations to ``spent[0]``.
    ``clock``: (dt, temp, dtemp) of the (sub-)step, or None (a rate-independent path: the
    material's defaults)."""
    args = () if clock is None else clock
    stress, tangent, state_new, status = material.update(eps[None, :], state[None, :], *args)
    info = getattr(material, "last_info", None)
    its = int(info[0, 1]) if info is not None and len(info) else 0
    if spent is not None:
        spent[0] += its
    return stress[0], tangent[0], state_new[0], int(status[0]), its


def _step(material, state, eps_from, target, free, C_prev, spent, clock=None, sig_target=None, sig_from=None):
    """One path step from a committed state; returns (eps, stress, tangent, state, iterations)
    or raises RuntimeError when the material or the mixed-control Newton fails.  ``spent`` ([int])
    accumulates the network Newton iterations of every call, failed ones included; ``clock``:
    (dt, temp, dtemp) or None (:func:`_eval`); ``sig_target`` (6,): stress of the ``free``
    components (None: zero), ``sig_from`` (6,): the committed stress (tangent predictor)."""
    if not free:
        stress, tangent, state_new, status, its = _eval(material, target, state, spent, clock)
        if status != 0:
            raise RuntimeError(f"material status {status}")
        return target.copy(), stress, tangent, state_new, its
    fr = np.array(free, dtype=np.int64)
    co = np.setdiff1d(np.arange(target.size), fr)
    guess = eps_from.copy()
    if C_prev is not None:  # tangent predictor for the free strains
        d = target[co] - eps_from[co]
        ds = np.zeros(fr.size)
        if sig_target is not None and sig_from is not None:
            ds = sig_target[fr] - sig_from[fr]
        try:
            guess[fr] += np.linalg.solve(C_prev[np.ix_(fr, fr)], ds - C_prev[np.ix_(fr, co)] @ d)
        except np.linalg.LinAlgError:
            pass
    last = {}
    total = [0]

    def update(eps):
        stress, tangent, state_new, status, its = _eval(material, eps, state, spent, clock)
        total[0] += its
        last["state"] = state_new
        return stress, tangent, status

    eps, stress, tangent, mixed_its = solve_mixed(update, target, free, guess, stress_target=sig_target)
    its = total[0] if hasattr(material, "last_info") else mixed_its
    return eps, stress, tangent, last["state"], its


def drive(
    material,
    path: np.ndarray,
    stress_free: tuple[int, ...] = (),
    max_cuts: int = 10,
    progress=None,
    max_iter: int = STEP_ITER_CAP,
    time: np.ndarray | None = None,
    temp: np.ndarray | None = None,
    stress: np.ndarray | None = None,
) -> dict:
    """Follow ``path`` ((n,6) Mandel total strain targets; free components ignored), or, for a
    finite-strain material (:class:`FlatFiniteMaterial`), (n, 9) deformation gradients (row-major,
    from F = 1; ``stress_free`` and ``stress`` then index and hold first Piola–Kirchhoff components).

    ``stress`` (n, 6) Mandel: the mean-stress targets of the ``stress_free`` components at the
    end of each step (from zero; other entries ignored); None: those components at zero stress.

    ``time`` (n,): total time at the end of each step (from 0; rate-dependent laws), ``temp``
    (n,): temperature at the end of each step (the path starts at ``temp[0]``); each optional
    (:class:`dmn_umat.loadpath.LoadPath`).  A bisected step gets its share of the time and
    temperature increments.  Without both the material is called as before (dt = 0).
    ``progress``: optional callable(iterable) → iterable (e.g. a tqdm wrapper).
    Raises :class:`DriveError` if a step cannot be completed after ``max_cuts`` bisections or
    within ``max_iter`` Newton iterations (module doc: failure policy).
    """
    path = np.atleast_2d(np.asarray(path, dtype=np.float64))
    if path.ndim != 2 or path.shape[1] not in (6, 9) or not np.all(np.isfinite(path)):
        raise DriveError("path must be an (n, 6) array of finite strains or (n, 9) deformation gradients")
    ncomp = path.shape[1]
    if stress is not None:
        stress = np.asarray(stress, dtype=np.float64)
        if stress.shape != path.shape or not np.all(np.isfinite(stress)):
            raise DriveError(f"stress targets must be a finite {path.shape} array like the path")
    free = tuple(sorted(int(i) for i in stress_free))
    timed = time is not None or temp is not None
    if timed:
        from ..loadpath import LoadPath, PathError, check_times

        try:
            check_times(time, temp, path.shape[0])
        except PathError as exc:
            raise DriveError(str(exc)) from None
        dts, temps0, dtemps = LoadPath(path, time, temp).increments()
    state = material.initial_state(1)[0]
    eps = np.zeros(6) if ncomp == 6 else np.eye(3).ravel()  # the undeformed start
    # elastic tangent at the origin seeds the mixed-control predictor
    _, C, _, status, _ = _eval(material, eps, state, clock=(0.0, float(temps0[0]), 0.0) if timed else None)
    C = C if status == 0 else None
    n = path.shape[0]
    out_e, out_s, out_it = np.zeros((n, ncomp)), np.zeros((n, ncomp)), np.zeros(n, dtype=np.int64)
    out_sub = np.zeros(n, dtype=np.int64)
    states = np.zeros((n, state.shape[0]))
    fields = []
    steps = range(n) if progress is None else progress(range(n))
    for k in steps:
        target = path[k]
        # bisection stack of controlled-strain targets (fractions of this step)
        stack = [1.0]
        t_done = 0.0
        start = eps.copy()
        sig_start = np.zeros(ncomp) if k == 0 or stress is None else stress[k - 1]
        sig_done = stress_now = out_s[k - 1] if k else np.zeros(ncomp)
        its_step = 0
        spent = [0]
        while stack:
            t = stack[-1]
            tgt = start + t * (target - start)
            sig_tgt = None if stress is None else sig_start + t * (stress[k] - sig_start)
            clock = None
            if timed:
                clock = ((t - t_done) * dts[k], temps0[k] + t_done * dtemps[k], (t - t_done) * dtemps[k])
            try:
                e_new, s_new, C_new, st_new, its = _step(material, state, eps, tgt, free, C, spent, clock,
                                                         sig_tgt, sig_done)
            except (RuntimeError, np.linalg.LinAlgError) as exc:
                if spent[0] > max_iter:
                    raise DriveError(
                        f"step {k + 1}/{n}: no convergence within {max_iter} Newton iterations "
                        f"({len(stack) - 1} bisections; the step is too large for the material, "
                        "refine the path)"
                    ) from None
                if len(stack) > max_cuts:
                    raise DriveError(
                        f"step {k + 1}/{n}: no convergence after {max_cuts} bisections ({exc})"
                    ) from None
                stack.append(0.5 * (t_done + t))
                continue
            its_step += its
            out_sub[k] += 1
            eps, state, C, stress_now = e_new, st_new, C_new, s_new
            sig_done = s_new
            t_done = stack.pop()
        out_e[k] = eps
        out_s[k] = stress_now
        out_it[k] = its_step
        states[k] = state
        fields.append(material.fields(state[None, :]))
    names = fields[0].keys() if fields else ()
    return {
        "strain": out_e,
        "stress": out_s,
        "iterations": out_it,
        "substeps": out_sub,
        "states": states,
        "fields": {nm: np.array([f[nm][0] for f in fields]) for nm in names},
    }


class FlatFiniteMaterial:
    """:class:`dmn_umat.online.finite_solver.FiniteNetworkMaterial` seen by :func:`drive` with
    flat (9,) row-major F and P: ``update(F (n, 9), state) -> (P (n, 9), dP/dF (n, 9, 9), state,
    status)``."""

    def __init__(self, material):
        self.material = material

    @property
    def last_info(self) -> np.ndarray:
        return self.material.last_info

    def initial_state(self, npts: int) -> np.ndarray:
        return self.material.initial_state(npts)

    def update(self, F, state, dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0):
        F = np.asarray(F).reshape(-1, 3, 3)
        P, A, state_new, status = self.material.update(F, state, dt, temp, dtemp)
        return P.reshape(-1, 9), A, state_new, status

    def fields(self, state) -> dict:
        return {}


def drive_network(net, phases, path, stress_free=(), threads: int | None = 1, **kw) -> dict:
    """:func:`drive` for a :class:`dmn_umat.network.Network` with the given phase laws."""
    from .solver import NetworkMaterial

    return drive(NetworkMaterial(net, phases, threads=threads), path, stress_free, **kw)


# --------------------------------------------------------------------------- library entry point
@dataclass
class DriveJob:
    """One point-driver run (``dmn drive``; docs/design.md §8).

    ``model``: a model file, the name of a shipped model, or a loaded
    :class:`dmn_umat.network.Network`; ``phases``: one law per network phase, in phase order
    (spec strings or :class:`dmn_umat.laws.Phase`); ``path``: a path CSV (tensor components;
    ``s11``.. columns prescribe stresses, :mod:`dmn_umat.loadpath`), a
    :class:`dmn_umat.loadpath.LoadPath` or an (n, 6) Mandel array of total strain targets;
    ``stress_free``: components held at zero stress, ``"22,33,23,13,12"`` or Mandel indices;
    ``dns``: a ``dmn dns --json`` file to compare
    with (error measure, plot overlay); ``out``: ``.json`` (the result dict) or ``.csv`` table;
    ``png``: stress-strain plot; ``time``, ``temp``: (n,) time and temperature columns for an
    array ``path`` (a path file carries its own, :func:`dmn_umat.loadpath.read_load_path`); a
    phase with a rate-dependent law needs a time; ``threads``: numba threads of the network solver;
    ``max_cuts``/``max_iter``: the failure policy of :func:`drive`; ``label``: the model's name in
    the result and the plot title (default: ``model`` as given).

    Finite strain: ``path`` a deformation-gradient path (an F11..F33 CSV, a
    :class:`dmn_umat.loadpath.FPath` or an (n, 3, 3) array), ``phases`` finite-strain specs
    (``neohooke:..``, ``svk:..``, ``fj2:..``; :mod:`dmn_umat.laws.finite_spec`) or props rows,
    ``stress_free`` P components (``"22,33"`` or indices ``3 i + j``); ``dns`` and ``png`` are not
    supported there.
    """

    model: str | Path | Network
    phases: Sequence
    path: str | Path | np.ndarray | LoadPath | FPath
    stress_free: str | Sequence[int] | None = None
    dns: str | Path | None = None
    out: str | Path | None = None
    png: str | Path | None = None
    time: np.ndarray | None = None
    temp: np.ndarray | None = None
    threads: int = 1
    max_cuts: int = 10
    max_iter: int = STEP_ITER_CAP
    label: str | None = None

    def check(self) -> None:
        """Cheap value checks (no file is read): raises :class:`DriveError`."""
        if self.out and Path(self.out).suffix.lower() not in (".json", ".csv"):
            raise DriveError("--out must end in .json or .csv")
        if self.threads < 1:
            raise DriveError("--threads must be >= 1")
        if self.max_cuts < 0 or self.max_iter < 1:
            raise DriveError("max_cuts must be >= 0 and max_iter >= 1")

    @property
    def name(self) -> str:
        return self.label if self.label is not None else str(self.model)


@dataclass
class DriveResult:
    """A driven path (Mandel, one row per step; module doc for ``iterations``, ``substeps``,
    ``states``, ``fields``).  ``dns_mean_rel_error``: mean over the steps of ‖σ − σ_dns‖ divided
    by the largest ‖σ_dns‖ (None without a DNS of the same length); ``files``: what was written.
    A deformation-gradient path also fills ``F``, ``P`` (first Piola–Kirchhoff) and ``cauchy``
    (n, 3, 3) (``strain``/``stress`` then hold F and P flattened row-major, (n, 9)) and
    ``stress_free`` holds indices ``3 i + j``."""

    strain: np.ndarray
    stress: np.ndarray
    iterations: np.ndarray
    substeps: np.ndarray
    states: np.ndarray
    fields: dict
    stress_free: list[int]
    phases: list[str]
    model: str
    dns_mean_rel_error: float | None = None
    files: list[str] = field(default_factory=list)
    F: np.ndarray | None = None
    P: np.ndarray | None = None
    cauchy: np.ndarray | None = None

    def to_dict(self) -> dict:
        """The ``dmn drive --json`` / ``--out FILE.json`` result (an F path: keys ``F``, ``P``,
        ``cauchy`` (n×3×3) instead of ``strain``, ``stress``)."""
        if self.F is not None:
            from ..loadpath import F_COMPONENTS

            return {"F": self.F, "P": self.P, "cauchy": self.cauchy, "iterations": self.iterations,
                    "stress_free": [F_COMPONENTS[i] for i in self.stress_free], "phases": list(self.phases),
                    "model": self.model}
        out = {
            "strain": self.strain,
            "stress": self.stress,
            "iterations": self.iterations,
            "fields": self.fields,
            "stress_free": list(self.stress_free),
            "phases": list(self.phases),
            "model": self.model,
        }
        if self.dns_mean_rel_error is not None:
            out["dns_mean_rel_error"] = self.dns_mean_rel_error
        return out


def _network(job: DriveJob):
    from .. import model_file
    from ..network import Network
    from ..offline.pretrained import resolve

    if isinstance(job.model, Network):
        return job.model
    try:
        return model_file.read(resolve(job.model))
    except (ValueError, OSError) as exc:  # ModelFileError is a ValueError
        raise DriveError(str(exc)) from None


def _phases(specs: Sequence, n_phases: int, owner: str) -> list:
    from ..laws import parse_phase

    phases = [parse_phase(p) if isinstance(p, str) else p for p in specs]
    if len(phases) != n_phases:
        raise DriveError(f"{owner} has {n_phases} phases but {len(phases)} phase laws are given "
                         "(exactly one per phase, in phase order)")
    return phases


def drive_model(job: DriveJob, progress: Callable[[Iterable], Iterable] | None = None) -> DriveResult:
    """Run ``job``: read the model, phase laws, path and DNS reference (every input error is
    raised before any driving), follow the path with :func:`drive` and write the requested files.

    ``progress``: optional callable(iterable) → iterable over the path steps (a progress bar).
    """
    from ..loadpath import FPath, as_path, control, parse_stress_free
    from . import report
    from .solver import NetworkMaterial

    job.check()
    net = _network(job)
    lp = as_path(job.path, job.time, job.temp)
    if isinstance(lp, FPath):
        return _drive_finite(job, net, lp, progress)
    phases = _phases(job.phases, net.n_phases, f"model {job.name!r}")
    path = lp.strain
    rate = [p.spec or p.law for p in phases if p.rate_dependent]
    if rate and lp.time is None:
        raise DriveError(f"phase {rate[0]!r} is rate dependent: the path needs a time column "
                         "(header e11,e22,e33,e23,e13,e12,time; docs/design.md §8)")
    sf = job.stress_free
    free = parse_stress_free(sf) if sf is None or isinstance(sf, str) else tuple(sorted(int(i) for i in sf))
    free, stress = control(lp, free)
    dns = report.load_dns(job.dns, DriveError) if job.dns else None
    mat = NetworkMaterial(net, phases, threads=job.threads)
    res = drive(mat, path, free, max_cuts=job.max_cuts, progress=progress, max_iter=job.max_iter,
                time=lp.time, temp=lp.temp, stress=stress)
    err = None
    if dns is not None and dns[1].shape == res["stress"].shape:
        ref = np.linalg.norm(dns[1], axis=1)
        err = float(np.mean(np.linalg.norm(res["stress"] - dns[1], axis=1)) / ref.max())
    result = DriveResult(
        strain=res["strain"], stress=res["stress"], iterations=res["iterations"],
        substeps=res["substeps"], states=res["states"], fields=res["fields"],
        stress_free=[int(i) for i in free], phases=[p.spec for p in phases], model=job.name,
        dns_mean_rel_error=err,
    )
    if job.out:
        from ..fileio import atomic_write_json

        if Path(job.out).suffix.lower() == ".csv":
            report.write_csv(job.out, result.strain, result.stress, result.iterations)
        else:
            atomic_write_json(job.out, result.to_dict(), indent=None)
        result.files.append(str(job.out))
    if job.png:
        report.plot(result.strain, result.stress, job.png, dns, title=Path(job.name).name)
        result.files.append(str(job.png))
    return result


def _drive_finite(job: DriveJob, net, fp: FPath, progress) -> DriveResult:
    """:func:`drive_model` for a deformation-gradient path (FiniteNetworkMaterial)."""
    from ..fileio import atomic_write_json, atomic_write_text
    from ..laws.finite_spec import FinitePhase, cauchy_stack, parse_finite_phase
    from ..loadpath import F_COMPONENTS, check_f_free, control, parse_stress_free_f
    from .finite_solver import FiniteNetworkMaterial

    if job.dns or job.png:
        raise DriveError("--dns and --png are not supported with a deformation-gradient path (use --out)")
    phases = [parse_finite_phase(p) if isinstance(p, str)
              else p if isinstance(p, FinitePhase) else FinitePhase("props", np.asarray(p, dtype=np.float64))
              for p in job.phases]
    if len(phases) != net.n_phases:
        raise DriveError(f"model {job.name!r} has {net.n_phases} phases but {len(phases)} phase laws are "
                         "given (exactly one per phase, in phase order)")
    sf = job.stress_free
    free = parse_stress_free_f(sf) if sf is None or isinstance(sf, str) else check_f_free(sf)
    free, stress = control(fp, free)
    n = fp.F.shape[0]
    try:
        mat = FiniteNetworkMaterial(net, [p.props for p in phases], threads=job.threads)
    except ValueError as exc:
        raise DriveError(str(exc)) from None
    res = drive(FlatFiniteMaterial(mat), fp.F.reshape(n, 9), free, max_cuts=job.max_cuts, progress=progress,
                max_iter=job.max_iter, time=fp.time, temp=fp.temp,
                stress=None if stress is None else stress.reshape(n, 9))
    F, P = res["strain"].reshape(n, 3, 3), res["stress"].reshape(n, 3, 3)
    sig = cauchy_stack(F, P)
    result = DriveResult(
        strain=res["strain"], stress=res["stress"], iterations=res["iterations"], substeps=res["substeps"],
        states=res["states"], fields={}, stress_free=[int(i) for i in free], phases=[p.spec for p in phases],
        model=job.name, F=F, P=P, cauchy=sig,
    )
    if job.out:
        if Path(job.out).suffix.lower() == ".csv":
            head = ["step", *("F" + c for c in F_COMPONENTS), *("P" + c for c in F_COMPONENTS),
                    *("sigma" + c for c in F_COMPONENTS), "iterations"]
            table = np.hstack([F.reshape(n, 9), P.reshape(n, 9), sig.reshape(n, 9)])
            rows = [",".join(head)] + [",".join([str(k + 1), *(repr(float(v)) for v in table[k]),
                                                 str(int(res["iterations"][k]))]) for k in range(n)]
            atomic_write_text(job.out, "\n".join(rows) + "\n")
        else:
            atomic_write_json(job.out, result.to_dict(), indent=None)
        result.files.append(str(job.out))
    return result
