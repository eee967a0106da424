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
stress level.  It is at most 1 for any stress field.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

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

    def precond(self, r: np.ndarray, z: np.ndarray) -> None:
        """z = M^-1 r (reference operator pseudo-inverse)."""
        import scipy.fft as sfft

        t0 = time.perf_counter()
        uh = sfft.rfftn(self.u_view(r), axes=(1, 2, 3), workers=self.workers)
        self.fft_seconds += time.perf_counter() - t0
        kern.green_apply(uh, *self._sc, self.lam0, self.G0)
        t0 = time.perf_counter()
        zu = sfft.irfftn(uh, s=self.shape, axes=(1, 2, 3), workers=self.workers)
        self.fft_seconds += time.perf_counter() - t0
        self.fft_calls += 1
        z[: self.nu] = zu.reshape(-1)
        if self.free.size:
            z[self.nu :] = np.linalg.solve(self._ME, r[self.nu :])

    def apply(self, p: np.ndarray, table: np.ndarray, idx: np.ndarray, q: np.ndarray, E=None) -> np.ndarray:
        """q = B^T C (E + B p); returns the stress sum over voxels (6,). Stress field in self._sig."""
        E6 = self.macro(p, E)
        kern.stress_linear(self.u_view(p), E6, table, idx, self._sig, self._partial)
        kern.divergence(self._sig, self.u_view(q))
        total = self._partial.sum(axis=0)
        if self.free.size:
            q[self.nu :] = total[self.free]
        return total

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
    ) -> tuple[int, float]:
        """Solve B^T C B x = b in place (x holds the initial guess; C = table[idx]).

        Stops when sqrt(r^T M^-1 r) <= abs_tol.  Returns (iterations, final sqrt(r^T M^-1 r)).
        """
        r = np.empty(self.n)
        q = np.empty(self.n)
        if np.any(x):
            self.apply(x, table, idx, q)
            np.subtract(b, q, out=r)
        else:
            r[:] = b
        z = np.empty(self.n)
        self.precond(r, z)
        rz = float(np.dot(r, z))
        res = math.sqrt(max(rz, 0.0))
        if res <= abs_tol:
            return 0, res
        p = z.copy()
        for it in range(1, max_iter + 1):
            self.apply(p, table, idx, q)
            pq = float(np.dot(p, q))
            if not pq > 0.0:
                raise FFTConvergenceError("PCG breakdown: operator not positive definite (check stiffnesses)")
            alpha = rz / pq
            kern.axpy2(x, p, r, q, alpha)
            self.precond(r, z)
            rz_new = float(np.dot(r, z))
            res = math.sqrt(max(rz_new, 0.0))
            if res <= abs_tol:
                return it, res
            kern.xpby(p, z, rz_new / rz)
            rz = rz_new
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
    zero = np.zeros(solver.n)
    b = np.empty(solver.n)
    for j in range(6):
        E = np.zeros(6)
        E[j] = 1.0
        solver.apply(zero, table, idx, b, E)  # b = B^T C E
        ref = solver.stress_norm(solver._sig)
        b *= -1.0
        x = np.zeros(solver.n)
        its, res = solver.pcg(b, x, table, idx, tol * ref, max_iter)
        if res > tol * ref:
            raise FFTConvergenceError(
                f"homogenize: load case {j + 1} not converged after {its} PCG iterations "
                f"(relative residual {res / ref:.3g} > tol {tol:g}); raise max_iter"
            )
        total = solver.apply(x, table, idx, b, E)
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
