"""Implicit small-strain FE solver: load stepping, Newton–Raphson on the consistent tangent,
automatic cut-back, integration-point state committed only on convergence.

All loads are proportional to one load factor λ: prescribed displacements ``λ ū`` (Dirichlet)
and external forces ``λ f_ref`` (surface tractions, nodal forces).  ``solve`` walks through a
list of target load factors (e.g. ``linspace(0, 1, n)[1:]`` or a cyclic sequence), subdividing
an increment whenever a material point reports ``status ≠ 0`` (retry with
``material.suggested_ratio(status)``) or Newton diverges (ratio 1/2).  Units are those of the
mesh and the material (mm, MPa → N; per unit thickness in plane strain).

Convergence: ``‖r_free‖ ≤ rtol · max(‖f_int‖, ‖f_ext‖, f_floor)`` with ``f_floor`` the nodal
forces of a uniform stress ``EPS_REF · max C_jj`` (largest diagonal of the current point
tangents, :data:`dmn_umat.tolerances.EPS_REF`): relative to the force level, with an absolute
floor so that a zero load increment or a step back to zero load converges at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from ..tolerances import EPS_REF
from .assembly import Assembler
from .elements import facet_measure
from .mesh import Mesh


class FESolverError(RuntimeError):
    """The solver could not reach the requested load (message is user-facing)."""


@dataclass
class Dirichlet:
    """Prescribed displacement ``λ·value`` of ``component`` (0=x, 1=y, 2=z) at ``nodes``;
    ``value`` is a scalar or one value per node."""

    nodes: np.ndarray
    component: int
    value: float | np.ndarray = 0.0


@dataclass
class Traction:
    """Surface traction vector ``λ·traction`` (force/area, dim components) on ``facets`` (nf, nfn)."""

    facets: np.ndarray
    traction: Sequence[float]


@dataclass
class NodalForce:
    """Point force ``λ·value`` in ``component`` at each of ``nodes``."""

    nodes: np.ndarray
    component: int
    value: float


@dataclass
class Problem:
    """A mesh, one material (batched protocol of :mod:`dmn_umat.laws.material`) and the boundary
    conditions.  ``bbar`` None → mean-dilatation B-bar for quad/hexahedron."""

    mesh: Mesh
    material: object
    dirichlet: list[Dirichlet] = field(default_factory=list)
    loads: list[Traction | NodalForce] = field(default_factory=list)
    bbar: bool | None = None


@dataclass
class Increment:
    """Converged state at one target load factor (what ``callback`` receives and the result keeps)."""

    index: int
    lam: float
    u: np.ndarray  # (ndof,)
    reaction: np.ndarray  # (ndof,) f_int − λ f_ref: reactions at constrained dofs, ~0 elsewhere
    strain: np.ndarray  # (npts, 6) Mandel
    stress: np.ndarray  # (npts, 6) Mandel
    state: np.ndarray  # (npts, nstate)
    iterations: int
    cutbacks: int


@dataclass
class Result:
    assembler: Assembler
    increments: list[Increment]
    timing: dict[str, float]
    n_updates: int  # integration-point material updates performed (all iterations)

    @property
    def lam(self) -> np.ndarray:
        return np.array([i.lam for i in self.increments])

    def displacement(self, node: int, component: int) -> np.ndarray:
        dim = self.assembler.dim
        return np.array([i.u[dim * node + component] for i in self.increments])

    def reaction_sum(self, nodes: np.ndarray, component: int) -> np.ndarray:
        """Sum of the reactions of ``nodes`` in ``component`` at each increment."""
        d = np.asarray(nodes) * self.assembler.dim + component
        return np.array([i.reaction[d].sum() for i in self.increments])


class _Diverged(Exception):
    def __init__(self, ratio: float, why: str):
        super().__init__(why)
        self.ratio = ratio


class Solver:
    """Holds the discretization and the committed state of a :class:`Problem`."""

    #: discretization class (:class:`dmn_umat.fe.finite.FiniteSolver` swaps in its own)
    assembler_class: type[Assembler] = Assembler

    def __init__(self, problem: Problem, *, rtol: float = 1e-8, max_iter: int = 20,
                 max_cutbacks: int = 12, linear_solver: str = "direct"):
        if linear_solver not in ("direct", "cg"):
            raise ValueError("linear_solver must be 'direct' or 'cg'")
        self.problem = problem
        self.rtol, self.max_iter, self.max_cutbacks = rtol, max_iter, max_cutbacks
        self.linear_solver = linear_solver
        mesh = problem.mesh
        self.A = A = self.assembler_class(mesh, problem.bbar)
        dim = mesh.dim
        # constrained dofs and their reference values
        ubar = np.zeros(A.ndof)
        fixed = np.zeros(A.ndof, bool)
        for bc in problem.dirichlet:
            nodes = np.asarray(bc.nodes, np.int64)
            if not 0 <= bc.component < dim:
                raise ValueError(f"Dirichlet component {bc.component} out of range for a {dim}-D mesh")
            d = nodes * dim + bc.component
            fixed[d] = True
            ubar[d] = np.broadcast_to(np.asarray(bc.value, float), nodes.shape)
        if not fixed.any():
            raise ValueError("no Dirichlet condition: the problem is singular (rigid body motion)")
        self.fixed, self.ubar = fixed, ubar
        self.free = np.flatnonzero(~fixed)
        self.cons = np.flatnonzero(fixed)
        self.fref = self._external_reference(problem.loads)
        # force of a uniform unit stress in every component: times a stiffness and a strain
        # tolerance it gives the absolute floor of the convergence test (_residual)
        self._unit_force = float(np.linalg.norm(A.internal_force(np.ones((A.npts, A.B.shape[2])))))
        self.u = np.zeros(A.ndof)
        self.lam = 0.0
        self.state = problem.material.initial_state(A.npts)
        self.timing = {"material": 0.0, "assembly": 0.0, "solve": 0.0}
        self.n_updates = 0

    def _external_reference(self, loads) -> np.ndarray:
        A, dim = self.A, self.A.dim
        f = np.zeros(A.ndof)
        for ld in loads:
            if isinstance(ld, NodalForce):
                np.add.at(f, np.asarray(ld.nodes, np.int64) * dim + ld.component, ld.value)
            elif isinstance(ld, Traction):
                facets = np.asarray(ld.facets, np.int64)
                if facets.size == 0:
                    raise ValueError("traction on an empty facet set")
                t = np.asarray(ld.traction, float)
                if t.shape != (dim,):
                    raise ValueError(f"traction needs {dim} components")
                N, wdet = facet_measure(self.problem.mesh.facet_type, self.problem.mesh.points[facets])
                nodal = np.einsum("fg,ga->fa", wdet, N)  # ∫ N_a dA per facet node
                for c in range(dim):
                    np.add.at(f, facets * dim + c, nodal * t[c])
            else:
                raise TypeError(f"unknown load {type(ld).__name__}")
        return f

    # ------------------------------------------------------------------ one increment
    def _evaluate(self, u: np.ndarray):
        t0 = time.perf_counter()
        strain = self.A.strain(u)
        t1 = time.perf_counter()
        stress, tangent, state_new, status = self.problem.material.update(strain, self.state)
        t2 = time.perf_counter()
        self.timing["assembly"] += t1 - t0
        self.timing["material"] += t2 - t1
        self.n_updates += strain.shape[0]
        return strain, stress, tangent, state_new, np.asarray(status)

    def _linear_solve(self, K: sp.csr_matrix, rhs: np.ndarray) -> np.ndarray:
        t0 = time.perf_counter()
        Kff = K[self.free][:, self.free]
        if self.linear_solver == "direct":
            x = spla.spsolve(Kff.tocsc(), rhs)
        else:
            d = Kff.diagonal()
            M = sp.diags(1.0 / np.where(d != 0, d, 1.0))
            x, info = spla.cg(Kff, rhs, rtol=1e-12, maxiter=20 * rhs.size, M=M)
            if info != 0:
                x = spla.spsolve(Kff.tocsc(), rhs)
        self.timing["solve"] += time.perf_counter() - t0
        return x

    def _residual(self, u: np.ndarray, fext: np.ndarray):
        strain, stress, tangent, state_new, status = self._evaluate(u)
        if np.any(status != 0):
            return None, status
        t0 = time.perf_counter()
        fint = self.A.internal_force(stress)
        self.timing["assembly"] += time.perf_counter() - t0
        r = fint - fext
        rn = float(np.linalg.norm(r[self.free]))
        # relative to the force level, floored by the nodal forces of a uniform stress
        # EPS_REF x (largest tangent diagonal): a step back to zero load is no trap
        cmax = float(np.abs(np.diagonal(tangent, axis1=1, axis2=2)).max()) if tangent.size else 0.0
        floor = EPS_REF * cmax * self._unit_force if np.isfinite(cmax) else 0.0
        scale = max(np.linalg.norm(fint), np.linalg.norm(fext), floor)
        return (r, rn, scale, strain, stress, tangent, state_new), status

    def _newton(self, lam: float, u0: np.ndarray):
        """Newton with a backtracking line search on ‖r_free‖ (up to 4 halvings per iteration)."""
        u = u0.copy()
        u[self.cons] = lam * self.ubar[self.cons]
        fext = lam * self.fref
        ev, status = self._residual(u, fext)
        if ev is None:
            raise _Diverged(float(self.problem.material.suggested_ratio(status)),
                            f"{int(np.count_nonzero(status))} material points did not converge")
        for it in range(self.max_iter + 1):
            r, rn, scale, strain, stress, tangent, state_new = ev
            if not np.isfinite(rn):
                raise _Diverged(0.5, "non-finite residual")
            if rn <= self.rtol * scale:
                return u, r, strain, stress, state_new, it
            if it == self.max_iter:
                break
            t0 = time.perf_counter()
            K = self.A.stiffness(tangent)
            self.timing["assembly"] += time.perf_counter() - t0
            du = self._linear_solve(K, -r[self.free])
            if not np.all(np.isfinite(du)):
                raise _Diverged(0.5, "singular tangent")
            alpha, best = 1.0, None
            for _ in range(5):
                ut = u.copy()
                ut[self.free] += alpha * du
                evt, status = self._residual(ut, fext)
                if evt is not None:
                    if best is None or evt[1] < best[1][1]:
                        best = (ut, evt)
                    if evt[1] < (1.0 - 1e-4 * alpha) * rn:
                        break
                alpha *= 0.5
            if best is None:
                raise _Diverged(float(self.problem.material.suggested_ratio(status)),
                                f"{int(np.count_nonzero(status))} material points did not converge")
            u, ev = best
        raise _Diverged(0.5, f"no convergence in {self.max_iter} Newton iterations")

    def advance(self, lam_target: float) -> Increment:
        """Advance the committed state to ``lam_target`` (with cut-backs); returns the increment."""
        lam0, total_cut, iters = self.lam, 0, 0
        dl_full = lam_target - lam0
        dl = dl_full
        u_prev, lam_prev = None, None
        while True:
            lam = self.lam + dl
            if abs(lam_target - lam) <= 1e-12 * max(abs(dl_full), 1e-300):
                lam = lam_target
            u_start = self.u.copy()
            if u_prev is not None and lam_prev != self.lam:  # secant predictor on free dofs
                u_start[self.free] += (lam - self.lam) / (self.lam - lam_prev) * (self.u - u_prev)[self.free]
            try:
                u, r, strain, stress, state_new, it = self._newton(lam, u_start)
            except _Diverged as exc:
                total_cut += 1
                if total_cut > self.max_cutbacks:
                    raise FESolverError(
                        f"increment to load factor {lam_target:g} failed after {self.max_cutbacks} "
                        f"cut-backs at λ = {self.lam:g} ({exc})"
                    ) from None
                ratio = exc.ratio if 0.0 < exc.ratio < 1.0 else 0.5
                dl *= ratio
                u_prev = None
                continue
            iters += it
            u_prev, lam_prev = self.u.copy(), self.lam
            self.u, self.lam, self.state = u, lam, state_new  # commit
            if lam == lam_target:
                return Increment(0, lam, u.copy(), r, strain, stress, state_new.copy(), iters, total_cut)
            remaining = lam_target - lam
            dl = remaining if abs(1.5 * dl) >= abs(remaining) else 1.5 * dl


def solve(problem: Problem, load_factors: Sequence[float], *,
          callback: Callable[[Increment], None] | None = None, progress: bool = False,
          solver_class: type[Solver] | None = None, **solver_options) -> Result:
    """Run the load schedule ``load_factors`` (targets, starting from λ = 0).

    ``callback(increment)`` is called after each converged target (e.g. to write output).
    ``solver_class``: :class:`Solver` (default) or a subclass such as the finite-strain
    :class:`dmn_umat.fe.finite.FiniteSolver`.
    Raises :class:`FESolverError` when an increment cannot be completed.
    """
    s = (solver_class or Solver)(problem, **solver_options)
    incs = []
    it = load_factors
    if progress:
        from ..progress import progress as bar

        it = bar(load_factors, total=len(load_factors), desc="fe")
    for k, lam in enumerate(it):
        inc = s.advance(float(lam))
        inc.index = k + 1
        incs.append(inc)
        if callback is not None:
            callback(inc)
    return Result(s.A, incs, s.timing, s.n_updates)
