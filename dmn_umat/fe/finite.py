"""Total-Lagrangian finite-strain elements for the bundled FE solver (FE² at large deformation).

The unknowns are the displacements u of the reference nodes X; at every integration point the
deformation gradient F = 1 + ∂u/∂X goes to a finite-strain material, which returns the first
Piola–Kirchhoff stress P and its consistent tangent A = dP/dF.  With the gradient operator
``G`` (ne, ngp, 9, nde) (``vec(∂u/∂X) = G u_e``, row ``3 i + J`` = ∂u_i/∂X_J, row-major as
A's rows and columns)::

    f_int = Σ_e Σ_g Gᵀ vec(P) w₀          (w₀: reference volume of the point)
    K     = Σ_e Σ_g Gᵀ A G w₀              (material and geometric stiffness, both in A)

so the small-strain :class:`~dmn_umat.fe.assembly.Assembler` (its kernels are written for any
number of rows of ``B``) and the Newton / line-search / cut-back of
:class:`~dmn_umat.fe.solver.Solver` are reused unchanged: :class:`FiniteAssembler` replaces the
Mandel ``B`` by ``G`` and returns F as the "strain"; :class:`FiniteSolver` swaps it in and
reports each converged increment as a :class:`FiniteIncrement` — F and P (npts, 9), and the
Cauchy stress and Hencky strain ½ ln(F Fᵀ) in Mandel form (npts, 6) in the ``stress`` /
``strain`` slots, so the XDMF output and field pictures of :mod:`~dmn_umat.fe.output` apply.

Element types: those of :mod:`~dmn_umat.fe.elements` (triangle, quad, tetra, hexahedron), full
integration, no F-bar (the quad / hexahedron lock in nearly incompressible plastic flow —
measure the effect against ``--size fine`` before trusting limit loads).  2-D is plane strain:
F₃₃ = 1, F₁₃ = F₂₃ = F₃₁ = F₃₂ = 0; forces per unit reference thickness.  Dead loads only:
prescribed displacements and nodal forces / tractions on the reference configuration.

Materials (batched protocol of :mod:`dmn_umat.laws.material` with F for strain and P for stress,
row-major 9-vectors): :class:`FiniteLawMaterial` (one finite-strain law at every point, props of
:mod:`dmn_umat.laws.finite_update`), :class:`FiniteNetwork` (a
:class:`~dmn_umat.online.finite_solver.FiniteNetworkMaterial`), and :func:`finite_material`,
which turns a small-strain example material into its finite-strain counterpart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numba import njit, prange

from ..laws.finite_update import MAX_NWS_FS, fj2_props, fs_law_nstate, fs_props_table, fs_update
from ..laws.hyperelastic import neohooke_props
from ..laws.material import MaterialUpdate
from ..sources import guard_numba_cache
from ..tensors import MANDEL_IJ, mandel_scale
from . import mesh as M
from .assembly import Assembler, _element_stiffness
from .elements import jacobians
from .solver import Dirichlet, Increment, Problem, Solver

_DIAG = np.array([0, 4, 8])  # F11, F22, F33 in the row-major 9-vector
_MI = np.array([i for i, _ in MANDEL_IJ])
_MJ = np.array([j for _, j in MANDEL_IJ])


def gradient_matrices(dNdx: np.ndarray, dim: int) -> np.ndarray:
    """Displacement-gradient operators (ne, ngp, 9, nen*dim) from ``dNdx`` (ne, ngp, nen, dim):
    row ``3 i + J`` of ``G u_e`` is ∂u_i/∂X_J (rows with i or J ≥ dim stay zero: plane strain)."""
    ne, ngp, nen, _ = dNdx.shape
    G = np.zeros((ne, ngp, 9, nen * dim))
    for i in range(dim):
        for J in range(dim):
            G[:, :, 3 * i + J, i::dim] = dNdx[..., J]
    return G


class FiniteAssembler(Assembler):
    """:class:`~dmn_umat.fe.assembly.Assembler` with ``B`` = the gradient operator ``G``
    (ne, ngp, 9, nde) on the reference mesh: :meth:`strain` gives the deformation gradient the
    material sees (npts, 9), ``internal_force(P)`` = Σ Gᵀ P w₀, ``stiffness(T)`` = Σ Gᵀ T G w₀.

    ``fbar`` (None → quad / hexahedron, as B-bar in the small-strain solver): F-bar (de Souza
    Neto et al. 1996), the finite-strain mean dilatation: the material sees F̄ = α F with
    α = (J₀/J)^(1/3), J₀ = det F at the element centre (also in plane strain, where F̄₃₃ = α as
    ε₃₃ of the small-strain B-bar), and the nodes the nominal stress P* = J σ(F̄) F⁻ᵀ = α⁻² P(F̄)
    (:meth:`fbar_stress`); its tangent couples every point to the centre, ``T`` (npts, 9, 18) =
    [∂P*/∂F | ∂P*/∂F₀].  At small strain this is B-bar with the centre value for the element mean
    (the same on parallelogram elements)."""

    def __init__(self, mesh: M.Mesh, bbar: bool | None = None):
        super().__init__(mesh, bbar=False)
        X = mesh.points[mesh.cells]
        dNdx, _ = jacobians(self.ref, X)
        self.B = np.ascontiguousarray(gradient_matrices(dNdx, self.dim))
        self.fbar = bool(mesh.cell_type in ("quad", "hexahedron") if bbar is None else bbar)
        if self.fbar:
            centre = replace(self.ref, points=self.ref.points.mean(axis=0, keepdims=True), weights=np.ones(1))
            self.G0 = gradient_matrices(jacobians(centre, X)[0], self.dim)[:, 0]  # (ne, 9, nde)

    def _gradient(self, u: np.ndarray) -> np.ndarray:
        F = super().strain(u)
        F[:, _DIAG] += 1.0
        return F

    def _centre(self, u: np.ndarray) -> np.ndarray:
        """F₀ at the element centres, repeated for the element's points (npts, 9)."""
        F0 = np.einsum("ekd,ed->ek", self.G0, u[self.edofs])
        F0[:, _DIAG] += 1.0
        return np.repeat(F0, self.ngp, axis=0)

    def _alpha(self, F: np.ndarray, F0: np.ndarray) -> np.ndarray:
        J, J0 = (np.linalg.det(x.reshape(-1, 3, 3)) for x in (F, F0))
        ok = (J > 0.0) & (J0 > 0.0)  # else NaN: the material fails (status 2) → cut back
        return np.where(ok, np.cbrt(np.where(ok, J0, 1.0) / np.where(ok, J, 1.0)), np.nan)

    def strain(self, u: np.ndarray) -> np.ndarray:
        """The deformation gradients the material sees (npts, 9, row-major): F = 1 + ∂u/∂X, or F̄."""
        F = self._gradient(u)
        if not self.fbar:
            return F
        return F * self._alpha(F, self._centre(u))[:, None]

    def fbar_stress(self, u: np.ndarray, P: np.ndarray, dPdF: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(F, stress, tangent) for the nodes from the material's P, dP/dF (at :meth:`strain`):
        plain elements → (F, P, dP/dF); F-bar → (F, P* = α⁻² P, [∂P*/∂F | ∂P*/∂F₀] (npts, 9, 18))
        with ∂P*/∂F = α⁻¹ A − Q ⊗ F⁻ᵀ, ∂P*/∂F₀ = Q ⊗ F₀⁻ᵀ, Q = (α⁻¹ A:F − 2 α⁻² P) / 3."""
        F = self._gradient(u)
        if not self.fbar:
            return F, P, dPdF
        F0 = self._centre(u)
        a = self._alpha(F, F0)[:, None]
        FinvT = np.swapaxes(np.linalg.inv(F.reshape(-1, 3, 3)), 1, 2).reshape(-1, 9)
        F0invT = np.swapaxes(np.linalg.inv(F0.reshape(-1, 3, 3)), 1, 2).reshape(-1, 9)
        Q = (np.einsum("nij,nj->ni", dPdF, F) / a - 2.0 * P / a**2) / 3.0
        T = np.concatenate([dPdF / a[:, :, None] - Q[:, :, None] * FinvT[:, None, :],
                            Q[:, :, None] * F0invT[:, None, :]], axis=2)
        return F, P / a**2, T

    def stiffness(self, tangent: np.ndarray) -> sp.csr_matrix:
        """Σ Gᵀ T G w₀ from (npts, 9, 9) tangents; with F-bar (npts, 9, 18): + Σ Gᵀ ∂P*/∂F₀ G₀ w₀."""
        if tangent.shape[2] == 9:
            return super().stiffness(tangent)
        _element_stiffness(self.B, self.wdet, np.ascontiguousarray(tangent[:, :, :9]), self._Ke)
        E = tangent[:, :, 9:].reshape(self.mesh.n_cells, self.ngp, 9, 9) * self.wdet[:, :, None, None]
        self._Ke += np.einsum("egki,egkl,eld->eid", self.B, E, self.G0, optimize=True)
        return self._csr()


def _sym_to_mandel(T: np.ndarray) -> np.ndarray:
    """Symmetric part of tensors (n, 3, 3) → Mandel 6-vectors (n, 6)."""
    S = 0.5 * (T + np.swapaxes(T, 1, 2))
    return S[:, _MI, _MJ] * mandel_scale()


def cauchy_stress(F: np.ndarray, P: np.ndarray) -> np.ndarray:
    """Cauchy stress σ = P Fᵀ / det F in Mandel form (n, 6) from F, P (n, 9) row-major."""
    F3, P3 = F.reshape(-1, 3, 3), P.reshape(-1, 3, 3)
    return _sym_to_mandel(P3 @ np.swapaxes(F3, 1, 2) / np.linalg.det(F3)[:, None, None])


def hencky_strain(F: np.ndarray) -> np.ndarray:
    """Spatial logarithmic (Hencky) strain ½ ln(F Fᵀ) in Mandel form (n, 6) from F (n, 9)."""
    F3 = F.reshape(-1, 3, 3)
    lam, Q = np.linalg.eigh(F3 @ np.swapaxes(F3, 1, 2))
    return _sym_to_mandel(np.einsum("nik,nk,njk->nij", Q, 0.5 * np.log(lam), Q))


@dataclass
class FiniteIncrement(Increment):
    """A converged finite-strain increment: ``F``, ``P`` (npts, 9) row-major; ``strain`` the
    Hencky strain and ``stress`` the Cauchy stress (npts, 6, Mandel) for output."""

    F: np.ndarray
    P: np.ndarray


class FiniteSolver(Solver):
    """The cut-back Newton :class:`~dmn_umat.fe.solver.Solver` on total-Lagrangian elements
    (:class:`FiniteAssembler`; ``problem.bbar`` selects F-bar); ``problem.material`` takes F
    (npts, 9) and returns P (npts, 9) and dP/dF (npts, 9, 9) (:class:`FiniteLawMaterial`,
    :class:`FiniteNetwork`)."""

    assembler_class = FiniteAssembler

    def _evaluate(self, u: np.ndarray):
        """As :meth:`Solver._evaluate`, with F and the nodal stress / tangent of F-bar."""
        Fm, P, dPdF, state_new, status = super()._evaluate(u)
        if np.any(status != 0):  # rejected anyway (cut-back)
            return Fm, P, dPdF, state_new, status
        F, P, T = self.A.fbar_stress(u, P, dPdF)
        return F, P, T, state_new, status

    def advance(self, lam_target: float) -> FiniteIncrement:
        """As :meth:`Solver.advance`; the increment carries F, P and the Cauchy / Hencky fields."""
        inc = super().advance(lam_target)
        kw = {f.name: getattr(inc, f.name) for f in fields(Increment)}
        kw.update(F=inc.strain, P=inc.stress, strain=hencky_strain(inc.strain),
                  stress=cauchy_stress(inc.strain, inc.stress))
        return FiniteIncrement(**kw)


# --------------------------------------------------------------------------- materials
def _as_rows(F: np.ndarray) -> np.ndarray:
    F = np.ascontiguousarray(F, dtype=np.float64)
    if F.ndim not in (2, 3) or F.shape[-1] * (F.shape[-2] if F.ndim == 3 else 1) != 9:
        raise ValueError(f"deformation gradients must be (n, 9) or (n, 3, 3), got {F.shape}")
    return F.reshape(-1, 3, 3)


@njit(parallel=True, cache=True)
def _batched_law_update(props, F, state_old, P, A, state_new, ws, status):
    for p in prange(F.shape[0]):
        status[p] = fs_update(props, F[p], F[p], state_old[p], 0.0, 0.0, 0.0, P[p], A[p], state_new[p], ws[p])


guard_numba_cache(_batched_law_update, __file__)


class FiniteLawMaterial:
    """One finite-strain law at every point (``props``: a row of
    :mod:`dmn_umat.laws.finite_update`, e.g. ``fj2_props(...)``, ``neohooke_props(...)``).
    ``update(F (n,9), state)`` → P (n,9), dP/dF (n,9,9), state, status (0 ok, 2 failed)."""

    def __init__(self, props: np.ndarray, label: str | None = None):
        self.props = fs_props_table([props])[0]
        self._ns = int(fs_law_nstate(self.props))
        self.nstate = max(self._ns, 1)  # keep 2-D arrays non-empty
        self.label = label or f"finite law {int(self.props[0])}"

    def initial_state(self, npts: int) -> np.ndarray:
        """(npts, nstate) zeros: undeformed, virgin."""
        return np.zeros((npts, self.nstate))

    def update(self, F: np.ndarray, state_old: np.ndarray, dt: float = 0.0, temp: float = 0.0,
               dtemp: float = 0.0) -> MaterialUpdate:
        """P (n,9), A (n,9,9) with ``A[:, 3i+j, 3k+l] = ∂P_ij/∂F_kl``, state_new, status."""
        F3 = _as_rows(F)
        n = F3.shape[0]
        state_old = np.ascontiguousarray(state_old, dtype=np.float64)
        if state_old.shape != (n, self.nstate):
            raise ValueError(f"update: expected state ({n},{self.nstate}), got {state_old.shape}")
        P = np.empty((n, 3, 3))
        A = np.empty((n, 9, 9))
        state_new = state_old.copy()
        status = np.empty(n, dtype=np.int64)
        _batched_law_update(self.props, F3, state_old, P, A, state_new, np.empty((n, MAX_NWS_FS)), status)
        status[status != 0] = 2
        return MaterialUpdate(P.reshape(n, 9), A, state_new, status)

    def suggested_ratio(self, status: np.ndarray) -> float:
        return 0.5

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """``peeq`` (npts,) for the finite J2 law (state entry 6), none for hyperelastic laws."""
        return {"peeq": state[:, 6].copy()} if self._ns == 7 else {}


class FiniteNetwork:
    """FE adapter of a :class:`~dmn_umat.online.finite_solver.FiniteNetworkMaterial` (its public
    ``update`` / ``initial_state`` / ``last_info``): F and P as (n, 9) rows, the network's
    sub-stepping ratio as cut-back ratio, ``peeq`` (leaf-weighted mean over finite-J2 leaves)."""

    def __init__(self, network, label: str | None = None):
        self.network = network
        self.nstate = network.nstate
        self.label = label or "finite-strain network"
        self._peeq = self._peeq_columns()

    def _peeq_columns(self):
        """(state columns of p of the active finite-J2 leaves, their weights / W) or None.  Leaf
        states lie in node order for every node with a leaf index, ``fs_law_nstate`` each (the
        state layout of :mod:`dmn_umat.online.finite_kernel`); W = Σ active leaf weights."""
        from ..online import kernel

        net, mi, table = self.network.net, self.network.mi, self.network.table
        N = net.n_nodes

        def row(r):  # one per-node int row of the network blob
            return mi[kernel.NHEAD + r * N : kernel.NHEAD + (r + 1) * N]

        kind, leaf, phase = row(kernel._I_KIND), row(kernel._I_LEAF), row(kernel._I_PHASE)  # noqa: SLF001
        cols, w, off = [], [], 0
        for k in np.flatnonzero(leaf >= 0):
            ns = int(fs_law_nstate(table[phase[k]]))
            if ns == 7 and kind[k] == kernel.KIND_LEAF:
                cols.append(off + 6)
                w.append(net.weights[k])
            off += ns
        active = np.flatnonzero((leaf >= 0) & (kind == kernel.KIND_LEAF))
        return (np.array(cols), np.array(w) / net.weights[active].sum()) if cols else None

    def initial_state(self, npts: int) -> np.ndarray:
        return self.network.initial_state(npts)

    def update(self, F: np.ndarray, state_old: np.ndarray, dt: float = 0.0, temp: float = 0.0,
               dtemp: float = 0.0) -> MaterialUpdate:
        """P (n,9), dP/dF (n,9,9), state_new, status (0 ok, 1 cut back, 2 failed)."""
        F3 = _as_rows(F)
        P, A, state_new, status = self.network.update(F3, state_old, dt, temp, dtemp)
        return MaterialUpdate(P.reshape(-1, 9), A, state_new, status)

    def suggested_ratio(self, status: np.ndarray) -> float:
        """The kernel's sub-step ratio of the failed points (as the small-strain network)."""
        from ..online.kernel import CUTBACK_RATIO

        info, bad = self.network.last_info, np.asarray(status) != 0
        if not bad.any() or info.shape[0] != bad.shape[0]:
            return CUTBACK_RATIO
        return float(min(CUTBACK_RATIO, info[bad, 0].min()))

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]:
        if self._peeq is None:
            return {}
        cols, w = self._peeq
        return {"peeq": np.atleast_2d(state)[:, cols] @ w}


def finite_props(phase) -> np.ndarray:
    """Finite-strain counterpart of a small-strain phase (a :class:`~dmn_umat.laws.Phase` or
    spec): ``elastic`` (isotropic) → neo-Hookean with the same E, ν at small strain; ``j2``
    (isotropic Voce hardening) → finite J2.  Other laws → ``ValueError`` (one line)."""
    from ..laws import parse_phase

    ph = parse_phase(phase) if isinstance(phase, str) else phase
    prm = ph.params
    if ph.law == "elastic" and set(prm) <= {"E", "nu"}:
        return neohooke_props(E=prm["E"], nu=prm["nu"])
    if ph.law == "j2" and not prm.get("Hk", 0.0):
        return fj2_props(prm["E"], prm["nu"], prm["sy"], prm["H"], prm["Q"], prm["b"])
    raise ValueError(f"phase {ph.spec or ph.law!r} has no finite-strain counterpart "
                     "(isotropic 'elastic' → neo-Hookean, 'j2' without Hk → finite J2)")


def finite_material(material):
    """The finite-strain counterpart of a small-strain FE material: a
    :class:`~dmn_umat.laws.PhaseMaterial` → :class:`FiniteLawMaterial`, a
    :class:`~dmn_umat.online.solver.NetworkMaterial` → :class:`FiniteNetwork` on the same
    network with :func:`finite_props` of each phase; a finite material is returned as is."""
    if isinstance(material, (FiniteLawMaterial, FiniteNetwork)):
        return material
    phase = getattr(material, "phase", None)
    if phase is not None:
        return FiniteLawMaterial(finite_props(phase), label=f"finite {phase.spec}")
    from ..online.finite_solver import FiniteNetworkMaterial
    from ..online.solver import NetworkMaterial

    if not isinstance(material, NetworkMaterial):
        raise ValueError(f"{type(material).__name__} has no finite-strain counterpart "
                         "(a phase law or a NetworkMaterial)")
    net = FiniteNetworkMaterial(material.net, [finite_props(p) for p in material.phases])
    return FiniteNetwork(net, label=f"finite {getattr(material, 'label', 'network')}")


def mixed_point(material, Fs: Sequence[np.ndarray], free: Sequence[int], tol: float = 1e-12
                ) -> tuple[np.ndarray, np.ndarray]:
    """One material point driven along the deformation gradients ``Fs`` (n, 3, 3), except the
    row-major components ``free`` (e.g. (4, 8): F22, F33), which are solved for P_free = 0 (Newton
    on dP/dF, warm-started from the previous step).  Returns F, P (n, 9); state committed per step.
    Raises :class:`~dmn_umat.fe.solver.FESolverError` when a step does not converge."""
    from .solver import FESolverError

    free = list(free)
    state, out_F, out_P = material.initial_state(1), [], []
    x = np.eye(3).ravel()[free]
    for F in Fs:
        F = np.asarray(F, float).ravel().copy()
        for _ in range(50):
            F[free] = x
            P, A, st, status = material.update(F[None], state)
            if status[0] != 0:
                raise FESolverError(f"mixed point: the material failed at F = {F.round(4).tolist()}")
            r = P[0, free]
            if np.abs(r).max() <= tol * max(np.abs(P[0]).max(), 1e-300):
                break
            x = x - np.linalg.solve(A[0][np.ix_(free, free)], r)
        else:
            raise FESolverError("mixed point: no convergence in 50 Newton iterations")
        state = st
        out_F.append(F)
        out_P.append(P[0])
    return np.array(out_F), np.array(out_P)


def plate_hole_finite(
    material,
    size: str = "coarse",
    out: Path | None = None,
    progress: bool = False,
    strain: float = 0.2,
    n_steps: int | None = None,
    linear_solver: str = "direct",
    png_at: Sequence[int | str] | str | None = ("last",),
) -> dict:
    """``dmn fe2 plate-hole-finite``: the quarter plate of ``plate-hole`` (10×10 mm, hole radius
    1 mm, plane strain quads) stretched to ``strain`` (20 %) nominal, ux = strain·10 mm on x = 10,
    on total-Lagrangian elements with the finite-strain counterpart of ``material``
    (:func:`finite_material`: finite J2 matrix, neo-Hookean particles in the network).

    Checks: equilibrium (reactions on x = 0 and x = 10 balance); the first increment (0.2 %
    strain, elastic) equals the small-strain FE² solution on the same mesh (B-bar) to O(strain);
    the final load vs the net section (H − a) × the point's plane-strain uniaxial nominal stress
    P11 at the nominal stretch, which lies below the gross/net ratio and above 0.85 (the ligament
    thins and strains more than the nominal strain)."""
    from .examples import ExampleError, _check, _equilibrium, _size, finish_summary, run_schedule

    W, H, a = 10.0, 10.0, 1.0
    h = {"tiny": (a / 5, 2.5), "coarse": (a / 8, 1.5), "fine": (a / 20, 0.6)}[_size(size)]
    mesh = M.plate_with_hole(W, H, a, *h)
    delta = strain * W
    bcs = [
        Dirichlet(mesh.node_sets["xmin"], 0),
        Dirichlet(mesh.node_sets["ymin"], 1),
        Dirichlet(mesh.node_sets["xmax"], 0, delta),
    ]
    n = n_steps or {"tiny": 20, "coarse": 30, "fine": 50}[size]
    lams = np.r_[0.01, np.linspace(0.05, 1.0, n)]  # first increment elastic (small-strain check)
    try:
        fmat = finite_material(material)
    except ValueError as exc:
        raise ExampleError(str(exc)) from None
    res, summary = run_schedule("plate-hole-finite", Problem(mesh, fmat, bcs), lams, out, progress,
                                fmat.label, png_at, solver_class=FiniteSolver, linear_solver=linear_solver)
    P = res.reaction_sum(mesh.node_sets["xmax"], 0)
    P0 = res.reaction_sum(mesh.node_sets["xmin"], 0)
    small = Solver(Problem(mesh, material, bcs), linear_solver=linear_solver).advance(lams[0])  # B-bar
    p_small = small.reaction[mesh.node_sets["xmax"] * 2].sum()
    e0 = lams[0] * strain
    Fs = [np.diag([1.0 + t * strain, 1.0, 1.0]) for t in lams]
    p_net = mixed_point(fmat, Fs, (1, 4))[1][-1, 0] * (H - a)
    summary["checks"] = {
        "equilibrium": _equilibrium(P, P0, "|R(x=10) + R(x=0)| / |R|"),
        "small_strain_start": _check(P[0], p_small, 1 - 5 * e0, 1 + 5 * e0,
                                     f"first increment ({e0:.1%}) vs small-strain FE², same elements"),
        "net_section": _check(P[-1], p_net, 0.85, H / (H - a) + 0.02,
                              "final load vs net section × point plane-strain P11 at the nominal stretch"),
    }
    return finish_summary(summary, out, res.lam * delta, P, "end displacement u_x [mm]",
                          "load per unit reference thickness [N/mm]", {"P11_ps(λ_nom)·net": p_net})
