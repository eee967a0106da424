"""FFT-based homogenization of periodic voxel RVEs (small strain, float64).

Discretization: Willot's rotated staggered grid = trilinear hexahedral elements on the FFT
grid with one-point (reduced) integration, displacement unknowns on the voxel corners
(:mod:`dmn_umat.rve.fft_kernels`).  Exact for laminates, free of the Gibbs ringing of the
Moulinec–Suquet spectral scheme, robust at high/infinite contrast.

Solver: preconditioned conjugate gradients on the symmetric displacement formulation
``B^T C B x = -B^T C E`` where ``x = (u, E_free)``: the nodal fluctuation u together with the
stress-free macroscopic strain components, ``B x = D u + P E_free``.  The preconditioner is
the exact inverse of the same operator for an isotropic reference medium C0 (one FFT pair of
the 3 displacement components per iteration; the mean-stress block is exact since
``sum_v D u = 0``).  C0 is chosen to minimise the spectral condition number of C0^-1 C over
the phases present.  Nonlinear problems (:func:`dns`) use Newton–Krylov: the same PCG on the
consistent tangent ``B^T C_t B``.

Equilibrium measure ("relative residual"): ``sqrt(r^T M^-1 r) / sqrt(sum_v sigma_v : C0^-1 :
sigma_v)`` with r = B^T sigma the nodal force (and mean free stress) residual and M the
reference operator: the C0-weighted norm of the Green-projected stress, relative to the
stress level.  It is at most 1 for any stress field.  The stress level never drops below that of
a uniform strain :data:`dmn_umat.tolerances.EPS_REF` in the stiffest phase direction
(``EPS_REF * sqrt(N * max_p max_j C^p_jj)``), so an RVE driven back to exactly zero macroscopic
strain (zero stresses) converges instead of chasing round-off.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numba
import numpy as np

from ..tolerances import EPS_REF
from . import fft_kernels as kern


class FFTConvergenceError(RuntimeError):
    """The Krylov/Newton solver did not reach the requested tolerance."""


@dataclass
class HomogenizationResult:
    """Effective stiffness of an RVE.

    ``C`` (6, 6) Mandel, symmetrized ``(C_raw + C_raw^T)/2``; ``asymmetry`` =
    ``|C_raw - C_raw^T| / |C_raw|`` (Frobenius); ``iterations`` PCG iterations per load case
    (unit Mandel strains e_1..e_6); ``residuals`` final relative residual per load case;
    ``seconds`` wall time; ``reference`` (K0, G0, condition number estimate).
    """

    C: np.ndarray
    iterations: list[int]
    seconds: float
    asymmetry: float
    C_raw: np.ndarray
    residuals: list[float] = field(default_factory=list)
    reference: tuple[float, float, float] = (0.0, 0.0, 0.0)


# --------------------------------------------------------------------------- reference medium
def _iso(K: float, G: float) -> np.ndarray:
    pv = np.zeros((6, 6))
    pv[:3, :3] = 1.0 / 3.0
    return 3.0 * K * pv + 2.0 * G * (np.eye(6) - pv)


def reference_medium(stiffnesses: Sequence[np.ndarray]) -> tuple[float, float, float]:
    """Isotropic reference (K0, G0) minimising max/min generalized eigenvalue of (C_p, C0).

    Returns (K0, G0, kappa) with kappa the resulting condition number bound; the scale is
    the geometric mean of the extreme eigenvalues (PCG is scale invariant anyway).
    """
    Cs = [np.asarray(C, dtype=np.float64) for C in stiffnesses]

    def spectrum(t: float) -> tuple[float, float]:
        # C0 = 3 Pv + 2 t Pd  (K0 = 1, G0 = t)  ->  C0^{-1/2} = Pv/sqrt(3) + Pd/sqrt(2t)
        pv = np.zeros((6, 6))
        pv[:3, :3] = 1.0 / 3.0
        w = pv / math.sqrt(3.0) + (np.eye(6) - pv) / math.sqrt(2.0 * t)
        lo, hi = np.inf, 0.0
        for C in Cs:
            ev = np.linalg.eigvalsh(w @ C @ w)
            lo, hi = min(lo, ev[0]), max(hi, ev[-1])
        return lo, hi

    best = None
    for lt in np.linspace(-12.0, 12.0, 97):
        lo, hi = spectrum(math.exp(lt))
        if best is None or hi / lo < best[0]:
            best = (hi / lo, lt)
    h = 0.25
    lt = best[1]
    for _ in range(30):  # local bisection-like refinement of log(G0/K0)
        cand = []
        for x in (lt - h, lt, lt + h):
            lo, hi = spectrum(math.exp(x))
            cand.append((hi / lo, x))
        lt = min(cand)[1]
        h *= 0.5
    t = math.exp(lt)
    lo, hi = spectrum(t)
    scale = math.sqrt(lo * hi)
    return scale * 1.0, scale * t, hi / lo


# --------------------------------------------------------------------------- the solver
class StaggeredGridSolver:
    """PCG machinery for one grid, one reference medium and a set of stress-free components.

    Unknown vector layout (1-D float64): ``[u (3*nx*ny*nz), E_free (nfree)]``.
    """

    def __init__(
        self,
        shape: tuple[int, int, int],
        K0: float,
        G0: float,
        free: Sequence[int] = (),
        workers: int | None = None,
    ):
        import numba

        self.shape = tuple(int(s) for s in shape)
        nx, ny, nz = self.shape
        self.N = nx * ny * nz
        self.nu = 3 * self.N
        self.free = np.array(sorted(free), dtype=np.int64)
        self.n = self.nu + self.free.size
        self.workers = numba.get_num_threads() if workers is None else int(workers)
        self.K0, self.G0 = float(K0), float(G0)
        self.lam0 = self.K0 - 2.0 * self.G0 / 3.0
        self.C0 = _iso(self.K0, self.G0)
        self.S0 = np.linalg.inv(self.C0)
        xs = [2.0 * np.pi * np.fft.fftfreq(n) for n in (nx, ny)]
        xs.append(2.0 * np.pi * np.arange(nz // 2 + 1) / nz)
        self._sc = []
        for x in xs:
            self._sc += [np.ascontiguousarray(np.sin(0.5 * x)), np.ascontiguousarray(np.cos(0.5 * x))]
        f = self.free
        self._ME = self.N * self.C0[np.ix_(f, f)] if f.size else np.zeros((0, 0))
        self._sig = np.empty((self.N, 6))
        self._partial = np.empty((nx, 6))
        self.fft_seconds = 0.0
        self.last_fft_seconds = 0.0
        self.last_fft_cpu = 0.0
        self.fft_calls = 0

    # -- pieces
    def u_view(self, x: np.ndarray) -> np.ndarray:
        return x[: self.nu].reshape((3, *self.shape))

    def macro(self, x: np.ndarray, E: np.ndarray | None = None) -> np.ndarray:
        """Full macroscopic strain (6,): E (prescribed part) with free components from x."""
        out = np.zeros(6) if E is None else np.array(E, dtype=np.float64)
        if self.free.size:
            out[self.free] = x[self.nu :]
        return out

    def precond(self, r: np.ndarray, z: np.ndarray) -> float:
        """z = M^-1 r (reference operator pseudo-inverse); returns r . z."""
        import scipy.fft as sfft

        t0, c0 = time.perf_counter(), time.process_time()
        uh = sfft.rfftn(self.u_view(r), axes=(1, 2, 3), workers=self.workers)
        t1, c1 = time.perf_counter(), time.process_time()
        kern.green_apply(uh, *self._sc, self.lam0, self.G0)
        t2, c2 = time.perf_counter(), time.process_time()
        zu = sfft.irfftn(uh, s=self.shape, axes=(1, 2, 3), workers=self.workers, overwrite_x=True)
        self.last_fft_seconds = (t1 - t0) + (time.perf_counter() - t2)
        self.last_fft_cpu = (c1 - c0) + (time.process_time() - c2)
        self.fft_seconds += self.last_fft_seconds
        self.fft_calls += 1
        rz = kern.copy_dot(zu.reshape(-1), z, r)
        if self.free.size:
            z[self.nu :] = np.linalg.solve(self._ME, r[self.nu :])
            rz += float(np.dot(r[self.nu :], z[self.nu :]))
        return rz

    def apply(
        self, p: np.ndarray, table: np.ndarray, idx: np.ndarray, q: np.ndarray, E=None, iso=None
    ) -> tuple[np.ndarray, float]:
        """q = B^T C (E + B p).  Returns (stress sum over voxels (6,), p . q).

        The stress field is left in ``self._sig``; ``iso`` is the optional isotropic fast-path
        table of :func:`fft_kernels.isotropic_table`.
        """
        E6 = self.macro(p, E)
        kern.stress_linear(self.u_view(p), E6, table, idx, self._sig, self._partial, iso)
        pq = kern.divergence_dot(self._sig, self.u_view(q), self.u_view(p))
        total = self._partial.sum(axis=0)
        if self.free.size:
            q[self.nu :] = total[self.free]
            pq += float(np.dot(p[self.nu :], q[self.nu :]))
        return total, pq

    def stress_norm(self, sig: np.ndarray) -> float:
        return math.sqrt(max(kern.energy_norm2(sig, self.S0), 0.0))

    def pcg(
        self,
        b: np.ndarray,
        x: np.ndarray,
        table: np.ndarray,
        idx: np.ndarray,
        abs_tol: float,
        max_iter: int,
        timings: list | None = None,
        iso: np.ndarray | None = None,
    ) -> tuple[int, float]:
        """Solve B^T C B x = b in place (x holds the initial guess; C = table[idx]).

        Stops when sqrt(r^T M^-1 r) <= abs_tol.  Returns (iterations, final sqrt(r^T M^-1 r)).
        ``timings``: if a list, (wall seconds of the iteration, wall seconds of its FFTs, process
        CPU seconds of the iteration, CPU seconds of its FFTs) is appended per iteration.
        """
        r = np.empty(self.n)
        q = np.empty(self.n)
        if np.any(x):
            self.apply(x, table, idx, q, iso=iso)
            np.subtract(b, q, out=r)
        else:
            r[:] = b
        z = np.empty(self.n)
        rz = self.precond(r, z)
        res = math.sqrt(max(rz, 0.0))
        if res <= abs_tol:
            return 0, res
        p = z.copy()
        for it in range(1, max_iter + 1):
            t_start, c_start = time.perf_counter(), time.process_time()
            _, pq = self.apply(p, table, idx, q, iso=iso)
            if not pq > 0.0:
                raise FFTConvergenceError("PCG breakdown: operator not positive definite (check stiffnesses)")
            alpha = rz / pq
            kern.axpy(r, q, -alpha)
            rz_new = self.precond(r, z)
            res = math.sqrt(max(rz_new, 0.0))
            if res <= abs_tol:
                kern.axpy(x, p, alpha)
                return it, res
            kern.cg_direction(x, p, z, alpha, rz_new / rz)
            rz = rz_new
            if timings is not None:
                timings.append((time.perf_counter() - t_start, self.last_fft_seconds,
                                time.process_time() - c_start, self.last_fft_cpu))
        return max_iter, res


# --------------------------------------------------------------------------- input checks
def _check_micro(micro: np.ndarray, nphase: int) -> np.ndarray:
    micro = np.asarray(micro)
    if not np.issubdtype(micro.dtype, np.integer):
        raise ValueError(f"microstructure must hold integer phase ids, got dtype {micro.dtype}")
    if micro.ndim != 3 or micro.size == 0:
        raise ValueError(f"microstructure must be a non-empty 3-D array (nx, ny, nz), got {micro.shape}")
    if micro.min() < 0 or micro.max() >= nphase:
        raise ValueError(
            f"microstructure phase ids span [{int(micro.min())}, {int(micro.max())}] "
            f"but {nphase} phases are given (ids are 0-based)"
        )
    return np.ascontiguousarray(micro, dtype=np.int64)


def _check_stiffnesses(stiffnesses: Sequence[np.ndarray]) -> np.ndarray:
    table = np.array([np.asarray(C, dtype=np.float64) for C in stiffnesses])
    if table.ndim != 3 or table.shape[1:] != (6, 6) or table.shape[0] == 0:
        raise ValueError(f"stiffnesses must be a sequence of (6, 6) Mandel matrices, got shape {table.shape}")
    if not np.all(np.isfinite(table)):
        raise ValueError("stiffnesses contain NaN or inf")
    for p, C in enumerate(table):
        scale = np.abs(C).max()
        if np.abs(C - C.T).max() > 1e-10 * scale:
            raise ValueError(f"stiffness of phase {p} is not symmetric")
        if np.linalg.eigvalsh(0.5 * (C + C.T)).min() <= 0.0:
            raise ValueError(f"stiffness of phase {p} is not positive definite")
    return np.ascontiguousarray(0.5 * (table + table.transpose(0, 2, 1)))


# --------------------------------------------------------------------------- linear homogenization
def homogenize(
    micro: np.ndarray,
    stiffnesses: Sequence[np.ndarray],
    tol: float = 1e-8,
    max_iter: int = 5000,
    workers: int | None = None,
) -> HomogenizationResult:
    """Effective Mandel stiffness C̄ (6, 6) of a periodic voxel RVE with linear elastic phases.

    ``micro`` (nx, ny, nz) integer phase ids (value p -> ``stiffnesses[p]``, (6, 6) Mandel,
    isotropic or anisotropic).  Six load cases (unit Mandel macro strains), each solved by
    PCG to the relative equilibrium residual ``tol`` (module docstring).  ``workers``: FFT
    threads (default: numba's thread count).  Raises ValueError on bad input and
    :class:`FFTConvergenceError` if a load case does not converge in ``max_iter`` iterations.
    """
    t0 = time.perf_counter()
    table = _check_stiffnesses(stiffnesses)
    phase = _check_micro(micro, table.shape[0])
    if not (tol > 0.0 and math.isfinite(tol)):
        raise ValueError(f"tol must be a positive number, got {tol}")
    present = np.unique(phase)
    K0, G0, kappa = reference_medium([table[p] for p in present])
    solver = StaggeredGridSolver(phase.shape, K0, G0, (), workers)
    idx = phase.reshape(-1)
    C_raw = np.empty((6, 6))
    iterations, residuals = [], []
    iso = kern.isotropic_table(table)
    zero = np.zeros(solver.n)
    b = np.empty(solver.n)
    for j in range(6):
        E = np.zeros(6)
        E[j] = 1.0
        solver.apply(zero, table, idx, b, E, iso)  # b = B^T C E
        ref = solver.stress_norm(solver._sig)
        b *= -1.0
        x = np.zeros(solver.n)
        its, res = solver.pcg(b, x, table, idx, tol * ref, max_iter, iso=iso)
        if res > tol * ref:
            raise FFTConvergenceError(
                f"homogenize: load case {j + 1} not converged after {its} PCG iterations "
                f"(relative residual {res / ref:.3g} > tol {tol:g}); raise max_iter"
            )
        total, _ = solver.apply(x, table, idx, b, E, iso)
        C_raw[:, j] = total / solver.N
        iterations.append(its)
        residuals.append(res / ref)
    C = 0.5 * (C_raw + C_raw.T)
    asym = float(np.linalg.norm(C_raw - C_raw.T) / np.linalg.norm(C_raw))
    return HomogenizationResult(
        C=C,
        iterations=iterations,
        seconds=time.perf_counter() - t0,
        asymmetry=asym,
        C_raw=C_raw,
        residuals=residuals,
        reference=(K0, G0, kappa),
    )


ProgressFn = Callable[[int, int], None]


# --------------------------------------------------------------------------- nonlinear DNS
@dataclass
class DNSResult:
    """Nonlinear FFT reference response along a macroscopic path.

    ``strain`` (n, 6) Mandel macroscopic strain (free components solved), ``stress`` (n, 6)
    Mandel volume-average stress, ``iterations`` (n, 2) int: Newton and PCG iterations per
    path step (summed over sub-steps), ``substeps`` (n,) number of sub-increments used,
    ``fields``: ``peeq`` (n, nphase) per-phase mean equivalent plastic strain (0 for elastic
    phases), ``max_peeq`` (n,); final per-voxel fields ``final_strain``/``final_stress``
    (nx, ny, nz, 6) and ``final_state`` (nx, ny, nz, nstate); ``seconds``.
    """

    strain: np.ndarray
    stress: np.ndarray
    iterations: np.ndarray
    substeps: np.ndarray
    fields: dict
    final_strain: np.ndarray
    final_stress: np.ndarray
    final_state: np.ndarray
    seconds: float


class _NewtonFailure(Exception):
    pass


@dataclass(frozen=True)
class RVEState:
    """Committed state of an RVE between macroscopic increments (:class:`RVE`).

    ``x`` (3N + nfree,): the unknowns, nodal periodic fluctuation u (3, nx, ny, nz) flattened in C
    order, then the stress-free macroscopic strains (Mandel, ascending component order);
    ``state`` (N, nsv): per-voxel law state (``laws.phase_update`` layout, voxels in C order);
    ``strain`` (6,): macroscopic Mandel strain of this state; ``dx`` (3N + nfree,) and ``dE``
    (6 - nfree,): the last converged increment of x and of the prescribed macro strains (zeros:
    none), used to extrapolate the initial guess of the next increment.  :meth:`RVE.increment`
    never mutates a state; it returns a new one.
    """

    x: np.ndarray
    state: np.ndarray
    strain: np.ndarray
    dx: np.ndarray
    dE: np.ndarray


class RVE:
    """Nonlinear FFT RVE solver for one macroscopic increment at a time (Newton–Krylov).

    ``micro`` (nx, ny, nz) integer ids into ``phases`` (:class:`dmn_umat.laws.Phase`, any law of
    :mod:`dmn_umat.laws`); components in ``stress_free`` (Mandel indices) have zero mean
    stress and their strain is solved for; ``tol`` relative equilibrium residual (module doc);
    ``max_newton`` Newton and ``max_krylov`` PCG iterations per increment; ``workers`` FFT threads.
    One setup (reference medium, grid) serves any number of increments and states, e.g. one RVE
    per integration point of an FE×FFT computation, each with its own :class:`RVEState`.
    """

    def __init__(
        self,
        micro: np.ndarray,
        phases: Sequence,
        stress_free: Sequence[int] = (),
        tol: float = 1e-8,
        max_newton: int = 25,
        max_krylov: int = 5000,
        workers: int | None = None,
    ):
        from ..laws import props_table

        phases = list(phases)
        if not phases:
            raise ValueError("the RVE needs at least one phase")
        phase_ids = _check_micro(micro, len(phases))
        free = tuple(sorted(int(c) for c in stress_free))
        if len(set(free)) != len(free) or any(not 0 <= c < 6 for c in free):
            raise ValueError(f"stress_free must list distinct Mandel indices 0..5, got {tuple(stress_free)}")
        if not (tol > 0.0 and math.isfinite(tol)):
            raise ValueError(f"tol must be a positive number, got {tol}")
        self.shape = phase_ids.shape
        self.phases = phases
        self.phase = np.ascontiguousarray(phase_ids.reshape(-1), dtype=np.int64)
        self.props = props_table(phases)
        present = np.unique(self.phase)
        K0, G0, _ = reference_medium([phases[p].stiffness() for p in present])
        self.solver = StaggeredGridSolver(phase_ids.shape, K0, G0, free, workers)
        s = self.solver
        self._tsolver = s if not free else StaggeredGridSolver(phase_ids.shape, K0, G0, (), workers)
        self.free = free
        self.mask = np.ones(6, bool)
        self.mask[list(free)] = False
        self.nsv = max(1, max(ph.nstate for ph in phases))
        self.tol, self.max_newton, self.max_krylov = float(tol), int(max_newton), int(max_krylov)
        self.idx = np.arange(s.N, dtype=np.int64)
        self.eps = np.zeros((s.N, 6))
        self.sig = np.zeros((s.N, 6))
        self.tang = np.zeros((s.N, 6, 6))
        self.state_new = np.zeros((s.N, self.nsv))
        self.status = np.zeros(s.N, dtype=np.int64)
        self._clock = (0.0, 0.0, 0.0)  # (dt, temp, dtemp) of the increment being solved
        self._sig_free = np.zeros(len(free))  # mean-stress targets of the free components
        self._nchunk = max(1, min(s.N, 4 * numba.get_num_threads()))
        # absolute floor of the stress level (module doc): C0-weighted norm of a uniform strain
        # EPS_REF in the stiffest direction of any phase
        cmax = max(float(np.abs(np.diag(ph.stiffness())).max()) for ph in phases)
        self._ref_floor = EPS_REF * math.sqrt(s.N * cmax)

    @property
    def nvox(self) -> int:
        return self.solver.N

    @property
    def nx(self) -> int:
        """Length of :attr:`RVEState.x`."""
        return self.solver.n

    def initial_state(self) -> RVEState:
        """Unstrained virgin state (all zeros)."""
        s = self.solver
        return RVEState(np.zeros(s.n), np.zeros((s.N, self.nsv)), np.zeros(6), np.zeros(s.n),
                        np.zeros(int(self.mask.sum())))

    def increment(
        self, strain: np.ndarray, state: RVEState, tangent: bool = True, extrapolate: bool = True,
        dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0, stress: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray | None, RVEState, dict]:
        """Equilibrium of the RVE at macroscopic strain ``strain`` (6,) Mandel from ``state``
        over a time increment ``dt`` (≥ 0) from temperature ``temp`` by ``dtemp`` (uniform over
        the RVE; read by the rate / temperature dependent laws, as ``laws.phase_update``).

        The prescribed components of ``strain`` are imposed (entries on ``stress_free`` are
        ignored); the ``stress_free`` components get the mean stress ``stress`` (6,) Mandel
        (other entries ignored; None: zero).  Initial guess: ``state.x`` plus ``state.dx``
        scaled to the new prescribed increment when ``extrapolate`` and loading continues in the
        same direction (ratio in (0, 2]).  Returns ``(stress (6,), C (6, 6) or None, new_state,
        info)``: the Mandel mean stress; the macroscopic consistent tangent dσ̄/dε̄ for all six
        components prescribed (``C e_j = <C_alg (e_j + sym grad w_j)>``, one linearized periodic cell
        problem per column; ``None`` if not ``tangent``); info ``newton``, ``krylov`` (iterations),
        ``residual`` (relative), ``strain_field``, ``stress_field`` (N, 6) per voxel.
        Raises :class:`FFTConvergenceError` if Newton, PCG or a phase law fails (the caller may
        cut the increment), ValueError on bad input.
        """
        s = self.solver
        strain = np.asarray(strain, dtype=np.float64)
        if strain.shape != (6,) or not np.all(np.isfinite(strain)):
            raise ValueError(f"strain must be a finite (6,) Mandel vector, got shape {strain.shape}")
        if not (math.isfinite(dt) and dt >= 0.0 and math.isfinite(temp) and math.isfinite(dtemp)):
            raise ValueError(f"dt must be finite and >= 0 and temp, dtemp finite, got {dt}, {temp}, {dtemp}")
        self._clock = (float(dt), float(temp), float(dtemp))
        if stress is not None:
            stress = np.asarray(stress, dtype=np.float64)
            if stress.shape != (6,) or not np.all(np.isfinite(stress)):
                raise ValueError(f"stress must be a finite (6,) Mandel vector, got shape {stress.shape}")
        self._sig_free = np.zeros(s.free.size) if stress is None else stress[s.free]
        ok = (state.x.shape == (s.n,) and state.dx.shape == (s.n,) and state.state.shape == (s.N, self.nsv)
              and state.strain.shape == (6,) and state.dE.shape == (int(self.mask.sum()),))
        if not ok:
            raise ValueError("RVEState does not match this RVE (grid, stress-free set or state size)")
        E = np.array(strain)
        E[~self.mask] = state.strain[~self.mask]
        dE = E[self.mask] - state.strain[self.mask]
        den = float(state.dE @ state.dE)
        ratio = float(dE @ state.dE) / den if den > 0.0 else 0.0
        x = state.x + ratio * state.dx if extrapolate and 0.0 < ratio <= 2.0 else state.x.copy()
        try:
            nit, kit, mean, rel = self._newton(x, E, np.ascontiguousarray(state.state))
        except _NewtonFailure as exc:
            raise FFTConvergenceError(f"RVE increment not converged: {exc}") from None
        new = RVEState(x, self.state_new.copy(), s.macro(x, E), x - state.x, dE)
        info = {"newton": nit, "krylov": kit, "residual": rel,
                "strain_field": self.eps.copy(), "stress_field": self.sig.copy()}
        return mean, (self._tangent() if tangent else None), new, info

    def _residual(self, x, E, state_old, r):
        """Material update at unknowns x; r = -B^T sigma.  Returns (res, ref, mean stress)."""
        s = self.solver
        E6 = s.macro(x, E)
        kern.strain(s.u_view(x), E6, self.eps)
        dt, temp, dtemp = self._clock
        kern.material_update(self.props, self.phase, self.eps, state_old, dt, temp, dtemp, self.sig,
                             self.tang, self.state_new, self.status, self._nchunk)
        if self.status.max() != 0:
            raise _NewtonFailure("phase law did not converge")
        kern.divergence(self.sig, s.u_view(r))
        total = self.sig.sum(axis=0)
        if s.free.size:
            r[s.nu:] = total[s.free] - s.N * self._sig_free
        r *= -1.0
        z = np.empty(s.n)
        res = math.sqrt(max(s.precond(r, z), 0.0))
        ref = max(s.stress_norm(self.sig), self._ref_floor)
        if not (math.isfinite(res) and math.isfinite(ref)):
            raise _NewtonFailure("non-finite residual")
        return res, ref, total / s.N

    def _newton(self, x, E, state_old):
        """Solve equilibrium at macro target E (prescribed comps) in place on x.

        Returns (newton iterations, krylov iterations, mean stress, relative residual); the
        buffers state_new/eps/sig/tang hold the converged fields.  Raises _NewtonFailure.
        """
        s = self.solver
        r = np.empty(s.n)
        res, ref, mean = self._residual(x, E, state_old, r)
        ref0 = ref  # stress level at the start: the forcing term's scale while the stress decays
        krylov = 0
        for it in range(self.max_newton + 1):
            if res <= self.tol * ref or res == 0.0:
                return it, krylov, mean, (res / ref if ref > 0.0 else 0.0)
            if it == self.max_newton:
                break
            rel = res / ref
            eta = max(min(0.1, res / max(ref, ref0)), 0.1 * self.tol / rel)
            dx = np.zeros(s.n)
            try:
                its, _ = s.pcg(r, dx, self.tang, self.idx, eta * res, self.max_krylov)
            except FFTConvergenceError as exc:
                raise _NewtonFailure(str(exc)) from None
            krylov += its
            x0 = x.copy()
            alpha = 1.0
            for _ in range(4):  # backtracking on the (absolute) equilibrium residual
                x[:] = x0 + alpha * dx
                try:
                    res_new, ref_new, mean_new = self._residual(x, E, state_old, r)
                except _NewtonFailure:
                    res_new, ref_new = math.inf, 1.0
                # the merit is res itself: the stress level ref moves with x (towards zero on
                # an unload to zero strain), so res/ref need not decrease on a good step
                if res_new < (1.0 - 1e-4 * alpha) * res or res_new <= self.tol * ref_new:
                    break
                alpha *= 0.5
            else:
                raise _NewtonFailure("line search failed")
            res, ref, mean = res_new, ref_new, mean_new
        raise _NewtonFailure(f"Newton not converged in {self.max_newton} iterations")

    def _tangent(self) -> np.ndarray:
        """Macroscopic consistent tangent (6, 6) at the converged fields (per-voxel ``self.tang``)."""
        s = self._tsolver
        C = np.empty((6, 6))
        q = np.empty(s.n)
        z = np.empty(s.n)
        zero = np.zeros(s.n)
        for j in range(6):
            e = np.zeros(6)
            e[j] = 1.0
            s.apply(zero, self.tang, self.idx, q, E=e)
            b = -q
            res0 = math.sqrt(max(s.precond(b, z), 0.0))
            w = np.zeros(s.n)
            if res0 > 0.0:
                _, res = s.pcg(b, w, self.tang, self.idx, 1e-11 * res0, self.max_krylov)
                if not res <= 1e-11 * res0:
                    raise FFTConvergenceError(f"RVE tangent: cell problem {j + 1} not converged "
                                              f"in {self.max_krylov} PCG iterations")
            total, _ = s.apply(w, self.tang, self.idx, q, E=e)
            C[:, j] = total / s.N
        sym = np.allclose(C, C.T, rtol=1e-6, atol=1e-9 * np.abs(C).max())
        return 0.5 * (C + C.T) if sym else C


def march(
    increment: Callable, kinematics: Callable, state, targets: np.ndarray, mask: np.ndarray,
    stresses: np.ndarray | None, clock: tuple[np.ndarray, np.ndarray, np.ndarray], max_cuts: int, label: str,
    progress: ProgressFn | None = None,
) -> Iterator[tuple[int, object, np.ndarray, dict, np.ndarray, int]]:
    """Path loop of :func:`dns` and :func:`dmn_umat.rve.fft_finite.dns_finite` (m = 6 Mandel
    strains or 9 components of F̄).

    ``increment(E (m,), state, extrapolate=, dt=, temp=, dtemp=, stress=)`` solves one increment
    and returns (mean stress (m,), new state, info with ``newton``, ``krylov``), raising
    :class:`FFTConvergenceError` on failure; ``kinematics(state)`` is the state's macroscopic
    strain / F̄ (m,).  From ``state``, each step drives the ``mask`` components to ``targets``
    (n, m) and the others' mean stress to ``stresses`` (n, m; from zero, None: zero) over
    ``clock`` = (dt, temperature at the start, its increment) (n,) each; a failed step is halved
    (up to ``max_cuts`` times; FFTConvergenceError naming ``label`` beyond), every prescribed
    value moving linearly.  Yields ``(step, state, mean stress, info, iterations (2,) Newton and
    PCG of all its sub-steps, sub-steps)`` per step; then calls ``progress(step + 1, n)``.
    """
    dts, temps0, dtemps = clock
    n = targets.shape[0]
    for step in range(n):
        target = targets[step]
        sig0 = np.zeros(targets.shape[1]) if step == 0 or stresses is None else stresses[step - 1]
        iters = np.zeros(2, dtype=np.int64)
        subs = 0
        a, h = 0.0, 1.0
        extrapolate = True
        while a < 1.0:
            b = min(1.0, a + h)
            E = kinematics(state).copy()
            E[mask] += (b - a) / (1.0 - a) * (target[mask] - kinematics(state)[mask])
            try:
                mean, st_new, info = increment(
                    E, state, extrapolate=extrapolate, dt=(b - a) * dts[step],
                    temp=temps0[step] + a * dtemps[step], dtemp=(b - a) * dtemps[step],
                    stress=None if stresses is None else sig0 + b * (stresses[step] - sig0),
                )
            except FFTConvergenceError as exc:
                h *= 0.5
                extrapolate = False  # retry from the committed state
                if h < 0.5**max_cuts:
                    raise FFTConvergenceError(
                        f"{label}: step {step + 1} not solved after {max_cuts} step cuts ({exc})"
                    ) from None
                continue
            extrapolate = True
            state = st_new
            iters += (info["newton"], info["krylov"])
            subs += 1
            a = b
            h = min(2.0 * h, 1.0)
        yield step, state, mean, info, iters, subs
        if progress is not None:
            progress(step + 1, n)


def dns(
    micro: np.ndarray,
    phases: Sequence,
    path: np.ndarray,
    stress_free: tuple[int, ...] = (),
    tol: float = 1e-8,
    max_newton: int = 25,
    max_krylov: int = 5000,
    max_cuts: int = 10,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    times: np.ndarray | None = None,
    temps: np.ndarray | None = None,
    stresses: np.ndarray | None = None,
) -> DNSResult:
    """Nonlinear FFT DNS of a voxel RVE along a macroscopic strain path (small strain).

    ``micro`` (nx, ny, nz) integer ids into ``phases`` (:class:`dmn_umat.laws.Phase`, any
    law of :mod:`dmn_umat.laws`, evaluated per voxel by ``laws.phase_update``);
    ``path`` (n, 6) Mandel total-strain targets; components in ``stress_free`` (Mandel
    indices) have zero average stress and their strain is solved for, together with the
    fluctuation, in one Newton–Krylov system (their path entries are ignored).  Each step is
    one :meth:`RVE.increment`, split in halves (up to ``max_cuts`` times) when Newton or a
    phase law fails (a cut step gets its share of the time and temperature increments).
    ``times`` (n,) total time and ``temps`` (n,) temperature at the end of each step (optional,
    :class:`dmn_umat.loadpath.LoadPath`: from time 0 and the first row's temperature).
    ``stresses`` (n, 6) Mandel: mean-stress targets of the ``stress_free`` components at the end
    of each step (from zero; other entries ignored; None: zero stress).
    ``progress(step, n)`` is called after each converged path step.
    Raises ValueError on bad input, :class:`FFTConvergenceError` if a step cannot be solved.
    """
    t0 = time.perf_counter()
    phases = list(phases)
    if not phases:
        raise ValueError("dns needs at least one phase")
    path = np.asarray(path, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != 6 or path.shape[0] == 0:
        raise ValueError(f"path must be an (n, 6) array of Mandel strains, got shape {path.shape}")
    if not np.all(np.isfinite(path)):
        raise ValueError("path contains NaN or inf")
    from ..loadpath import LoadPath, check_times

    check_times(times, temps, path.shape[0])  # PathError is a ValueError
    if stresses is None and len(set(stress_free)) >= 6:
        raise ValueError("stress_free: at least one component must be strain controlled "
                         "(all six at zero stress is no load)")
    if stresses is not None:
        stresses = np.asarray(stresses, dtype=np.float64)
        if stresses.shape != path.shape or not np.all(np.isfinite(stresses)):
            raise ValueError(f"stresses must be a finite {path.shape} array like the path")
    dts, temps0, dtemps = LoadPath(path, times, temps).increments()
    rve = RVE(micro, phases, stress_free, tol, max_newton, max_krylov, workers)
    nph = len(phases)
    n = path.shape[0]
    strain_out = np.zeros((n, 6))
    stress_out = np.zeros((n, 6))
    iters = np.zeros((n, 2), dtype=np.int64)
    subs = np.zeros(n, dtype=np.int64)
    peeq = np.zeros((n, nph))
    max_peeq = np.zeros(n)
    # per voxel: the index of the law's equivalent plastic strain in its state (-1: none)
    kp = np.array([ph.fields.get("peeq", -1) for ph in phases], dtype=np.int64)
    j2 = kp >= 0
    counts = np.bincount(rve.phase, minlength=nph).astype(float)

    def increment(E, st, **kw):
        mean, _, st_new, info = rve.increment(E, st, tangent=False, **kw)
        return mean, st_new, info

    steps = march(increment, lambda st: st.strain, rve.initial_state(), path, rve.mask, stresses,
                  (dts, temps0, dtemps), max_cuts, "dns", progress)
    for step, st, mean, info, its, nsub in steps:
        iters[step], subs[step] = its, nsub
        fields = info  # the fields of the step's last increment
        strain_out[step] = st.strain
        stress_out[step] = mean
        if j2.any():
            kv = kp[rve.phase]
            p = np.where(kv >= 0, st.state[np.arange(rve.nvox), np.maximum(kv, 0)], 0.0)
            sums = np.bincount(rve.phase, weights=np.where(j2[rve.phase], p, 0.0), minlength=nph)
            peeq[step] = np.divide(sums, counts, out=np.zeros(nph), where=counts > 0)
            max_peeq[step] = float(p[j2[rve.phase]].max())
    shp = rve.shape
    return DNSResult(
        strain=strain_out,
        stress=stress_out,
        iterations=iters,
        substeps=subs,
        fields={"peeq": peeq, "max_peeq": max_peeq},
        final_strain=fields["strain_field"].reshape((*shp, 6)),
        final_stress=fields["stress_field"].reshape((*shp, 6)),
        final_state=st.state.reshape((*shp, rve.nsv)),
        seconds=time.perf_counter() - t0,
    )
