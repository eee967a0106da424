"""Finite-strain FFT DNS of periodic voxel RVEs (deformation-gradient formulation, float64).

Same discretisation and machinery as the small-strain solver (:mod:`dmn_umat.rve.fft`): Willot's
rotated staggered grid (nodal displacement fluctuation u, one material point per voxel), the
reference-medium Green operator as preconditioner, the PCG and the Newton–Krylov loop with line
search of :class:`dmn_umat.rve.fft.RVE`.  What changes is the kinematics: per voxel

    F_v = F̄ + Grad u (full, non-symmetric gradient, 9 components, row-major ``3 i + j``)

and equilibrium is ``Dᵀ P = 0`` with P the first Piola–Kirchhoff stress of the finite-strain phase
laws (:mod:`dmn_umat.laws.finite_update`: neo-Hookean, Saint-Venant–Kirchhoff, finite J2); the
Newton correction uses their consistent tangent dP/dF (9×9 per voxel).  ``Dᵀ`` is the exact
transpose of the full gradient D for the plain dot product (``Σ_v P_v : D u = u · Dᵀ P``).

Mixed control: components of P̄ in ``stress_free`` (indices ``3 i + j``) get a prescribed mean
(zero by default) and their F̄ component is solved for in the same Newton system.  P̄_ij and
P̄_ji may not both be stress controlled (the rigid rotation would be undetermined).

    rve = FiniteRVE(micro, [neohooke_props(E=1e3, nu=0.3), ...], stress_free=(4, 8))
    P, st, info = rve.increment(F, rve.initial_state())
    res = dns_finite(micro, props, path_F (n, 3, 3), stress_free=(4, 8))   # res.P, res.F, res.cauchy
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange

from ..laws.elastic import bulk_shear
from ..laws.finite_spec import cauchy_stack
from ..laws.finite_update import (
    LAW_FJ2,
    LAW_NEOHOOKE,
    LAW_SVK,
    MAX_NWS_FS,
    fs_law_nstate,
    fs_props_table,
    fs_update,
)
from ..loadpath import FPath, check_f_free
from ..sources import guard_numba_cache
from ..tolerances import EPS_REF
from .fft import (
    RVE,
    FFTConvergenceError,
    StaggeredGridSolver,
    _check_micro,
    _iso,
    _NewtonFailure,
    march,
    reference_medium,
)
from .fft_kernels import _level, divergence, divergence_dot


# --------------------------------------------------------------------------- kernels
@njit(parallel=True, cache=True)
def grad_field(u, Fbar, out):
    """out[v] = F̄ + Grad u at voxel v, (N, 9) row-major; u (3, nx, ny, nz) (the stencil of
    :func:`dmn_umat.rve.fft_kernels.strain_stress`, without symmetrisation)."""
    _, nx, ny, nz = u.shape
    for i in prange(nx):
        ip = i + 1 if i + 1 < nx else 0
        for j in range(ny):
            jp = j + 1 if j + 1 < ny else 0
            sL0, xL0, yL0 = _level(u, 0, i, ip, j, jp, 0)
            sL1, xL1, yL1 = _level(u, 1, i, ip, j, jp, 0)
            sL2, xL2, yL2 = _level(u, 2, i, ip, j, jp, 0)
            for k in range(nz):
                kp = k + 1 if k + 1 < nz else 0
                sU0, xU0, yU0 = _level(u, 0, i, ip, j, jp, kp)
                sU1, xU1, yU1 = _level(u, 1, i, ip, j, jp, kp)
                sU2, xU2, yU2 = _level(u, 2, i, ip, j, jp, kp)
                v = (i * ny + j) * nz + k
                out[v, 0] = Fbar[0] + 0.25 * (xL0 + xU0)
                out[v, 1] = Fbar[1] + 0.25 * (yL0 + yU0)
                out[v, 2] = Fbar[2] + 0.25 * (sU0 - sL0)
                out[v, 3] = Fbar[3] + 0.25 * (xL1 + xU1)
                out[v, 4] = Fbar[4] + 0.25 * (yL1 + yU1)
                out[v, 5] = Fbar[5] + 0.25 * (sU1 - sL1)
                out[v, 6] = Fbar[6] + 0.25 * (xL2 + xU2)
                out[v, 7] = Fbar[7] + 0.25 * (yL2 + yU2)
                out[v, 8] = Fbar[8] + 0.25 * (sU2 - sL2)
                sL0, xL0, yL0 = sU0, xU0, yU0
                sL1, xL1, yL1 = sU1, xU1, yU1
                sL2, xL2, yL2 = sU2, xU2, yU2


@njit(parallel=True, cache=True)
def tangent_apply(A, idx, G, out, partial):
    """out[v] = A[idx[v]] @ G[v] (9×9 times 9), partial[i] = sum of out over x-slab i."""
    nx = partial.shape[0]
    per = G.shape[0] // nx
    for i in prange(nx):
        for c in range(9):
            partial[i, c] = 0.0
        for v in range(i * per, (i + 1) * per):
            a = A[idx[v]]
            for r in range(9):
                s = 0.0
                for c in range(9):
                    s += a[r, c] * G[v, c]
                out[v, r] = s
                partial[i, r] += s


@njit(parallel=True, cache=True)
def fs_material_update(props, phase, F_old, F_new, state_old, dt, temp, dtemp, P, A, state_new, status,
                       nchunk):
    """Per-voxel :func:`dmn_umat.laws.finite_update.fs_update`; F_old, F_new, P (N, 3, 3),
    A (N, 9, 9), status (N,) int64; ``nchunk`` voxel chunks, each with its own scratch."""
    n = F_new.shape[0]
    for c in prange(nchunk):
        ws = np.empty(MAX_NWS_FS)
        for v in range((c * n) // nchunk, ((c + 1) * n) // nchunk):
            status[v] = fs_update(props[phase[v]], F_old[v], F_new[v], state_old[v], dt, temp, dtemp,
                                  P[v], A[v], state_new[v], ws)


# --------------------------------------------------------------------------- the linear solver
def _iso9(K: float, G: float) -> np.ndarray:
    """Isotropic 9×9 tangent λ δ_ij δ_kl + G (δ_ik δ_jl + δ_il δ_jk), row-major pairs."""
    d = np.eye(3)
    C = (K - 2.0 * G / 3.0) * np.einsum("ij,kl->ijkl", d, d) + G * (
        np.einsum("ik,jl->ijkl", d, d) + np.einsum("il,jk->ijkl", d, d))
    return C.reshape(9, 9)


class FiniteGridSolver(StaggeredGridSolver):
    """:class:`dmn_umat.rve.fft.StaggeredGridSolver` for the full gradient: unknowns
    ``[u (3N), F̄_free (nfree)]``, operator ``Bᵀ A B`` with per-voxel 9×9 tangents A.

    The preconditioner is the parent's (the same isotropic reference medium: its 9×9 form has
    the same acoustic tensor); the macroscopic block uses ``N C0`` on the free F components.
    """

    def __init__(self, shape, K0: float, G0: float, free: Sequence[int] = (), workers: int | None = None):
        super().__init__(shape, K0, G0, (), workers)
        self.free = np.array(sorted(free), dtype=np.int64)
        self.n = self.nu + self.free.size
        C9 = _iso9(K0, G0)
        self._ME = self.N * C9[np.ix_(self.free, self.free)]
        lam = K0 - 2.0 * G0 / 3.0
        # norm of a P field: compliance of the full-rank isotropic λ δδ + 2 G I9
        self._na, self._nb = 1.0 / (2.0 * G0), lam / (2.0 * G0 * (3.0 * lam + 2.0 * G0))
        self._grad = np.empty((self.N, 9))
        self._sig = np.empty((self.N, 9))
        self._partial = np.empty((shape[0], 9))

    def macro(self, x: np.ndarray, E: np.ndarray | None = None) -> np.ndarray:
        """Full macroscopic F̄ (9,): ``E`` (prescribed part) with the free components from x."""
        out = np.zeros(9) if E is None else np.array(E, dtype=np.float64)
        if self.free.size:
            out[self.free] = x[self.nu:]
        return out

    def apply(self, p, table, idx, q, E=None, iso=None):
        """q = Bᵀ A (E + B p) with A = table[idx] (9×9); returns (sum of A(E + B p) (9,), p · q)."""
        grad_field(self.u_view(p), self.macro(p, E), self._grad)
        tangent_apply(table, idx, self._grad, self._sig, self._partial)
        pq = divergence_dot(self._sig, self.u_view(q), self.u_view(p))
        total = self._partial.sum(axis=0)
        if self.free.size:
            q[self.nu:] = total[self.free]
            pq += float(np.dot(p[self.nu:], q[self.nu:]))
        return total, pq

    def stress_norm(self, P: np.ndarray) -> float:
        """sqrt(Σ_v P_v : S0 : P_v), P (N, 9), S0 the reference compliance (module doc)."""
        tr = P[:, 0] + P[:, 4] + P[:, 8]
        return math.sqrt(max(self._na * float(np.vdot(P, P)) - self._nb * float(tr @ tr), 0.0))


# --------------------------------------------------------------------------- the RVE
def _small_strain_moduli(row: np.ndarray) -> tuple[float, float]:
    """(K, G) of a finite-strain law at F = 1 (its small-strain limit)."""
    lid = int(row[0])
    if lid == LAW_NEOHOOKE:
        return 2.0 / row[2], 2.0 * row[1]
    if lid in (LAW_SVK, LAW_FJ2):
        return bulk_shear(row[1], row[2])
    raise ValueError(f"unknown finite-strain law id {lid}")


@dataclass(frozen=True)
class FiniteRVEState:
    """Committed state of a :class:`FiniteRVE`: ``x`` (3N + nfree,) nodal fluctuation then the
    free F̄ components; ``state`` (N, nsv) per-voxel law state; ``F`` (9,) macroscopic F̄
    (row-major); ``dx``, ``dF`` the last converged increment of x and of the prescribed F̄
    components (warm start; zeros = none).  Never mutated."""

    x: np.ndarray
    state: np.ndarray
    F: np.ndarray
    dx: np.ndarray
    dF: np.ndarray


class FiniteRVE(RVE):
    """Finite-strain Newton–Krylov RVE, one macroscopic increment at a time.

    ``micro`` (nx, ny, nz) integer ids into ``props`` (one finite-strain props row per phase,
    :mod:`dmn_umat.laws.finite_update`); ``stress_free`` F indices ``3 i + j`` whose P̄ component
    is prescribed (:func:`dmn_umat.loadpath.check_f_free`); ``tol``, ``max_newton``,
    ``max_krylov``, ``workers`` as :class:`dmn_umat.rve.fft.RVE` (whose Newton loop this reuses).
    """

    def __init__(self, micro: np.ndarray, props: Sequence[np.ndarray], stress_free: Sequence[int] = (),
                 tol: float = 1e-8, max_newton: int = 25, max_krylov: int = 5000,
                 workers: int | None = None):
        rows = list(props)
        if not rows:
            raise ValueError("the RVE needs at least one phase")
        self.props = fs_props_table(rows)
        phase_ids = _check_micro(micro, len(rows))
        free = check_f_free(stress_free)
        if not (tol > 0.0 and math.isfinite(tol)):
            raise ValueError(f"tol must be a positive number, got {tol}")
        self.shape = phase_ids.shape
        self.phase = np.ascontiguousarray(phase_ids.reshape(-1), dtype=np.int64)
        present = np.unique(self.phase)
        moduli = [_small_strain_moduli(self.props[p]) for p in present]
        K0, G0, _ = reference_medium([_iso(K, G) for K, G in moduli])
        self.solver = s = FiniteGridSolver(phase_ids.shape, K0, G0, free, workers)
        self.free = free
        self.mask = np.ones(9, bool)
        self.mask[list(free)] = False
        self.nsv = max(1, max(int(fs_law_nstate(r)) for r in self.props))
        self.tol, self.max_newton, self.max_krylov = float(tol), int(max_newton), int(max_krylov)
        self.idx = np.arange(s.N, dtype=np.int64)
        self.F = np.zeros((s.N, 9))
        self.F_old = np.zeros((s.N, 9))
        self.sig = np.zeros((s.N, 9))  # first Piola–Kirchhoff stress per voxel
        self.tang = np.zeros((s.N, 9, 9))
        self.state_new = np.zeros((s.N, self.nsv))
        self.status = np.zeros(s.N, dtype=np.int64)
        self._clock = (0.0, 0.0, 0.0)
        self._sig_free = np.zeros(len(free))
        self._nchunk = max(1, min(s.N, 4 * numba.get_num_threads()))
        cmax = max(K + 4.0 * G / 3.0 for K, G in moduli)
        self._ref_floor = EPS_REF * math.sqrt(s.N * cmax)

    def initial_state(self) -> FiniteRVEState:
        """Undeformed virgin state (F̄ = 1, u = 0, zero law state)."""
        s = self.solver
        F = np.eye(3).ravel()
        return FiniteRVEState(np.r_[np.zeros(s.nu), F[list(self.free)]], np.zeros((s.N, self.nsv)), F,
                              np.zeros(s.n), np.zeros(int(self.mask.sum())))

    def increment(self, F: np.ndarray, state: FiniteRVEState, extrapolate: bool = True, dt: float = 0.0,
                  temp: float = 0.0, dtemp: float = 0.0, stress: np.ndarray | None = None,
                  tangent: bool = False) -> tuple[np.ndarray, FiniteRVEState, dict]:
        """Equilibrium at macroscopic F̄ = ``F`` ((3, 3) or (9,); stress-controlled entries ignored)
        from ``state`` over a time increment ``dt`` from ``temp`` by ``dtemp``; the stress-controlled
        components get the mean P ``stress`` ((3, 3) or (9,); None: zero).  Returns (P̄ (3, 3),
        new state, info: ``newton``, ``krylov``, ``residual``, ``F_field``, ``P_field`` (N, 9)).
        Raises :class:`FFTConvergenceError` (the caller may cut the increment), ValueError on bad
        input.  ``tangent`` is not supported (macroscopic dP̄/dF̄ is not implemented)."""
        if tangent:
            raise NotImplementedError("the macroscopic tangent of the finite-strain RVE is not implemented")
        s = self.solver
        F = np.asarray(F, dtype=np.float64).reshape(-1)
        if F.shape != (9,) or not np.all(np.isfinite(F)):
            raise ValueError(f"F must be a finite (3, 3) deformation gradient, got shape {np.shape(F)}")
        if not (math.isfinite(dt) and dt >= 0.0 and math.isfinite(temp) and math.isfinite(dtemp)):
            raise ValueError(f"dt must be finite and >= 0 and temp, dtemp finite, got {dt}, {temp}, {dtemp}")
        self._clock = (float(dt), float(temp), float(dtemp))
        if stress is not None:
            stress = np.asarray(stress, dtype=np.float64).reshape(-1)
            if stress.shape != (9,) or not np.all(np.isfinite(stress)):
                raise ValueError("stress must be a finite (3, 3) first Piola–Kirchhoff stress")
        self._sig_free = np.zeros(s.free.size) if stress is None else stress[s.free]
        ok = (state.x.shape == (s.n,) and state.dx.shape == (s.n,) and state.state.shape == (s.N, self.nsv)
              and state.F.shape == (9,) and state.dF.shape == (int(self.mask.sum()),))
        if not ok:
            raise ValueError("FiniteRVEState does not match this RVE (grid, stress-free set or state size)")
        E = F.copy()
        E[~self.mask] = state.F[~self.mask]
        dF = E[self.mask] - state.F[self.mask]
        den = float(state.dF @ state.dF)
        ratio = float(dF @ state.dF) / den if den > 0.0 else 0.0
        x = state.x + ratio * state.dx if extrapolate and 0.0 < ratio <= 2.0 else state.x.copy()
        grad_field(s.u_view(state.x), s.macro(state.x, state.F), self.F_old)
        try:
            nit, kit, mean, rel = self._newton(x, E, np.ascontiguousarray(state.state))
        except _NewtonFailure as exc:
            raise FFTConvergenceError(f"finite-strain RVE increment not converged: {exc}") from None
        new = FiniteRVEState(x, self.state_new.copy(), s.macro(x, E), x - state.x, dF)
        info = {"newton": nit, "krylov": kit, "residual": rel, "F_field": self.F.copy(),
                "P_field": self.sig.copy()}
        return mean.reshape(3, 3), new, info

    def _residual(self, x, E, state_old, r):
        """Material update at unknowns x; r = −Bᵀ P.  Returns (res, ref, mean P (9,))."""
        s = self.solver
        grad_field(s.u_view(x), s.macro(x, E), self.F)
        dt, temp, dtemp = self._clock
        N = s.N
        fs_material_update(self.props, self.phase, self.F_old.reshape(N, 3, 3), self.F.reshape(N, 3, 3),
                           state_old, dt, temp, dtemp, self.sig.reshape(N, 3, 3), self.tang, self.state_new,
                           self.status, self._nchunk)
        if self.status.max() != 0:
            raise _NewtonFailure("phase law did not converge" if self.status.max() == 1
                                 else "phase law rejected the deformation (det F <= 0 or bad state)")
        divergence(self.sig, s.u_view(r))
        total = self.sig.sum(axis=0)
        if s.free.size:
            r[s.nu:] = total[s.free] - N * self._sig_free
        r *= -1.0
        z = np.empty(s.n)
        res = math.sqrt(max(s.precond(r, z), 0.0))
        ref = max(s.stress_norm(self.sig), self._ref_floor)
        if not (math.isfinite(res) and math.isfinite(ref)):
            raise _NewtonFailure("non-finite residual")
        return res, ref, total / N


# --------------------------------------------------------------------------- path driver
@dataclass
class FiniteDNSResult:
    """Finite-strain DNS along a path of n steps: ``F``, ``P``, ``cauchy`` (n, 3, 3) macroscopic
    deformation gradient (free components solved), mean first Piola–Kirchhoff stress and Cauchy
    stress σ̄ = P̄ F̄ᵀ / det F̄; ``iterations`` (n, 2) Newton and PCG per step (all sub-steps);
    ``substeps`` (n,); final per-voxel ``final_F``, ``final_P`` (nx, ny, nz, 9) and
    ``final_state`` (nx, ny, nz, nsv); wall ``seconds``."""

    F: np.ndarray
    P: np.ndarray
    cauchy: np.ndarray
    iterations: np.ndarray
    substeps: np.ndarray
    final_F: np.ndarray
    final_P: np.ndarray
    final_state: np.ndarray
    seconds: float


def _as_stack(a, n: int | None, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 2 and a.shape[1] == 9:
        a = a.reshape(-1, 3, 3)
    if a.ndim != 3 or a.shape[1:] != (3, 3) or a.shape[0] == 0 or (n is not None and a.shape[0] != n):
        raise ValueError(f"{name} must be an (n, 3, 3) or (n, 9) array"
                         + ("" if n is None else f" with n = {n}") + f", got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} contains NaN or inf")
    return a


def dns_finite(
    micro: np.ndarray,
    props: Sequence[np.ndarray],
    path: np.ndarray,
    stress_free: Sequence[int] = (),
    tol: float = 1e-8,
    max_newton: int = 25,
    max_krylov: int = 5000,
    max_cuts: int = 10,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    times: np.ndarray | None = None,
    temps: np.ndarray | None = None,
    stresses: np.ndarray | None = None,
) -> FiniteDNSResult:
    """Finite-strain FFT DNS along a path of macroscopic deformation gradients.

    ``path`` (n, 3, 3) or (n, 9) F̄ targets at the end of each step (from F̄ = 1; entries of the
    ``stress_free`` components, indices ``3 i + j``, are ignored and solved for);
    ``stresses`` (n, 3, 3) mean P̄ targets of those components (None: zero); ``times``, ``temps``
    (n,) as :func:`dmn_umat.rve.fft.dns`.  Each step: one :meth:`FiniteRVE.increment`, halved
    (up to ``max_cuts`` times) when it fails, the prescribed F̄ and P̄ components moving linearly.
    Raises ValueError on bad input, :class:`FFTConvergenceError` if a step cannot be solved.
    """
    from ..loadpath import check_times

    t0 = time.perf_counter()
    path = _as_stack(path, None, "path")
    n = path.shape[0]
    check_times(times, temps, n)
    free = check_f_free(stress_free)
    if stresses is not None:
        stresses = _as_stack(stresses, n, "stresses").reshape(n, 9)
    dts, temps0, dtemps = FPath(path, times, temps).increments()
    rve = FiniteRVE(micro, props, free, tol, max_newton, max_krylov, workers)
    F_out = np.zeros((n, 9))
    P_out = np.zeros((n, 9))
    iters = np.zeros((n, 2), dtype=np.int64)
    subs = np.zeros(n, dtype=np.int64)
    steps = march(rve.increment, lambda st: st.F, rve.initial_state(), path.reshape(n, 9), rve.mask, stresses,
                  (dts, temps0, dtemps), max_cuts, "finite-strain dns", progress)
    for step, st, mean, info, its, nsub in steps:
        iters[step], subs[step] = its, nsub
        fields = info  # the fields of the step's last increment
        F_out[step] = st.F
        P_out[step] = mean.ravel()
    F3, P3 = F_out.reshape(n, 3, 3), P_out.reshape(n, 3, 3)
    shp = rve.shape
    return FiniteDNSResult(
        F=F3, P=P3, cauchy=cauchy_stack(F3, P3), iterations=iters, substeps=subs,
        final_F=fields["F_field"].reshape((*shp, 9)), final_P=fields["P_field"].reshape((*shp, 9)),
        final_state=st.state.reshape((*shp, rve.nsv)), seconds=time.perf_counter() - t0,
    )


guard_numba_cache(grad_field, __file__)
