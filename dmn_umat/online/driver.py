"""Point driver: run one material point along a macroscopic loading path (docs/design.md §8).

Strain control (every component prescribed) or mixed control (``stress_free`` components held
at zero stress, their strain solved for with :func:`dmn_umat.loadpath.solve_mixed`).  Works for
any batched material (:class:`dmn_umat.online.solver.NetworkMaterial`,
:class:`dmn_umat.material.PhaseMaterial`, ...).

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
sub-steps; for materials without that counter: mixed-control iterations), ``fields`` (named (n,)
arrays from ``material.fields``).
"""

from __future__ import annotations

import numpy as np

from ..loadpath import solve_mixed
from .kernel import MAX_TOTAL_ITER

#: Newton iterations one path step may spend in all (bisections and failed calls included).
STEP_ITER_CAP = 8 * MAX_TOTAL_ITER


class DriveError(RuntimeError):
    """The driver could not follow the path (message is user-facing)."""


def _eval(material, eps, state, spent=None):
    """One material call at strain ``eps`` (6,); adds its Newton iterations to ``spent[0]``."""
    stress, tangent, state_new, status = material.update(eps[None, :], state[None, :])
    info = getattr(material, "last_info", None)
    its = int(info[0, 1]) if info is not None and len(info) else 0
    if spent is not None:
        spent[0] += its
    return stress[0], tangent[0], state_new[0], int(status[0]), its


def _step(material, state, eps_from, target, free, C_prev, spent):
    """One path step from a committed state; returns (eps, stress, tangent, state, iterations)
    or raises RuntimeError when the material or the mixed-control Newton fails.  ``spent`` ([int])
    accumulates the network Newton iterations of every call, failed ones included."""
    if not free:
        stress, tangent, state_new, status, its = _eval(material, target, state, spent)
        if status != 0:
            raise RuntimeError(f"material status {status}")
        return target.copy(), stress, tangent, state_new, its
    fr = np.array(free, dtype=np.int64)
    co = np.setdiff1d(np.arange(6), fr)
    guess = eps_from.copy()
    if C_prev is not None:  # tangent predictor for the free strains
        d = target[co] - eps_from[co]
        try:
            guess[fr] += np.linalg.solve(C_prev[np.ix_(fr, fr)], -C_prev[np.ix_(fr, co)] @ d)
        except np.linalg.LinAlgError:
            pass
    last = {}
    total = [0]

    def update(eps):
        stress, tangent, state_new, status, its = _eval(material, eps, state, spent)
        total[0] += its
        last["state"] = state_new
        return stress, tangent, status

    eps, stress, tangent, mixed_its = solve_mixed(update, target, free, guess)
    its = total[0] if hasattr(material, "last_info") else mixed_its
    return eps, stress, tangent, last["state"], its


def drive(
    material,
    path: np.ndarray,
    stress_free: tuple[int, ...] = (),
    max_cuts: int = 10,
    progress=None,
    max_iter: int = STEP_ITER_CAP,
) -> dict:
    """Follow ``path`` ((n,6) Mandel total strain targets; free components ignored).

    ``progress``: optional callable(iterable) → iterable (e.g. a tqdm wrapper).
    Raises :class:`DriveError` if a step cannot be completed after ``max_cuts`` bisections or
    within ``max_iter`` Newton iterations (module doc: failure policy).
    """
    path = np.atleast_2d(np.asarray(path, dtype=np.float64))
    if path.ndim != 2 or path.shape[1] != 6 or not np.all(np.isfinite(path)):
        raise DriveError("path must be an (n, 6) array of finite strains")
    free = tuple(sorted(int(i) for i in stress_free))
    state = material.initial_state(1)[0]
    eps = np.zeros(6)
    # elastic tangent at the origin seeds the mixed-control predictor
    _, C, _, status, _ = _eval(material, eps, state)
    C = C if status == 0 else None
    n = path.shape[0]
    out_e, out_s, out_it = np.zeros((n, 6)), np.zeros((n, 6)), np.zeros(n, dtype=np.int64)
    fields = []
    steps = range(n) if progress is None else progress(range(n))
    for k in steps:
        target = path[k]
        # bisection stack of controlled-strain targets (fractions of this step)
        stack = [1.0]
        t_done = 0.0
        start = eps.copy()
        its_step = 0
        spent = [0]
        while stack:
            t = stack[-1]
            tgt = start + t * (target - start)
            try:
                e_new, s_new, C_new, st_new, its = _step(material, state, eps, tgt, free, C, spent)
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
            eps, state, C, stress = e_new, st_new, C_new, s_new
            t_done = stack.pop()
        out_e[k] = eps
        out_s[k] = stress
        out_it[k] = its_step
        fields.append(material.fields(state[None, :]))
    names = fields[0].keys() if fields else ()
    return {
        "strain": out_e,
        "stress": out_s,
        "iterations": out_it,
        "fields": {nm: np.array([f[nm][0] for f in fields]) for nm in names},
    }


def drive_network(net, phases, path, stress_free=(), threads: int | None = 1, **kw) -> dict:
    """:func:`drive` for a :class:`dmn_umat.network.Network` with the given phase laws."""
    from .solver import NetworkMaterial

    return drive(NetworkMaterial(net, phases, threads=threads), path, stress_free, **kw)
