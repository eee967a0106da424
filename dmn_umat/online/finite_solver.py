"""Batched finite-strain network: :class:`FiniteNetworkMaterial` runs
:func:`dmn_umat.online.finite_kernel.fs_network_update` over many points (numba ``prange``,
one work buffer per thread chunk; results independent of the thread count)."""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ..laws import Phase
from ..laws.finite_update import fs_props_table
from ..network import Network
from ..sources import guard_numba_cache
from ..status import KERNEL_INFO_SIZE
from . import finite_kernel, kernel


@njit(parallel=True, cache=True)
def _batched_fs_update(
    mi, mf, table, F, state_old, dt, temp, dtemp, P, A, state_new, status, info, nwork, nchunk
):
    npts = F.shape[0]
    for c in prange(nchunk):
        work = np.empty(nwork)
        lo = (c * npts) // nchunk
        hi = ((c + 1) * npts) // nchunk
        for p in range(lo, hi):
            status[p] = finite_kernel.fs_network_update(
                mi, mf, table, F[p], state_old[p], P[p], A[p], state_new[p], work, info[p], dt, temp, dtemp
            )


guard_numba_cache(_batched_fs_update, __file__)


class FiniteNetworkMaterial:
    """A material network with finite-strain phase laws, evaluated at many points at once.

    ``net``: the tree (same model files as the small-strain :class:`~dmn_umat.online.solver.NetworkMaterial`);
    ``phases_props``: one finite-strain phase per network phase id: a props row
    (:mod:`dmn_umat.laws.finite_update`: ``neohooke_props``, ``svk_props``, ``fj2_props``), a
    :class:`~dmn_umat.laws.spec.Phase` or a spec string (``fj2:E=..,nu=..,sy=..``); a
    small-strain law is refused (ValueError);
    ``threads``: numba threads (None = default); ``rtol``: Newton tolerance on the tractions
    relative to the largest leaf stress.  ``last_info`` (npts, 5): the kernel's info rows.
    """

    def __init__(
        self, net: Network, phases_props: list[np.ndarray | Phase | str], threads: int | None = None,
        rtol: float = kernel.RTOL,
    ):
        if len(phases_props) < net.n_phases:
            raise ValueError(
                f"the network uses {net.n_phases} phases but {len(phases_props)} phase laws were given"
            )
        self.net = net
        self.table = fs_props_table(phases_props)
        self.mi, self.mf = kernel.pack_network(net, rtol)
        self.nstate = int(finite_kernel.fs_state_size(self.mi, self.table))
        self.nwork = int(finite_kernel.fs_work_size(self.mi))
        if self.nstate < 0 or self.nwork < 0:
            raise ValueError("network and finite-strain phase laws do not match")
        self.threads = threads
        self.last_info = np.zeros((0, KERNEL_INFO_SIZE))

    def initial_state(self, npts: int) -> np.ndarray:
        """(npts, nsv) zero state: undeformed, virgin, zero jumps."""
        return np.zeros((npts, self.nstate))

    def update(
        self, F: np.ndarray, state_old: np.ndarray, dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """F (n,3,3) total deformation gradients, state_old (n,nsv) → P (n,3,3) first
        Piola–Kirchhoff stress, A (n,9,9) dP/dF (``A[:, 3i+j, 3k+l] = ∂P_ij/∂F_kl``),
        state_new (n,nsv), status (n,) (0 ok, 1 cut back, 2 failed / bad input)."""
        F = np.ascontiguousarray(F, dtype=np.float64).reshape(-1, 3, 3)
        state_old = np.ascontiguousarray(np.atleast_2d(state_old), dtype=np.float64)
        n = F.shape[0]
        if state_old.shape != (n, self.nstate):
            raise ValueError(f"update: expected state ({n},{self.nstate}), got {state_old.shape}")
        P = np.empty((n, 3, 3))
        A = np.empty((n, 9, 9))
        state_new = np.empty_like(state_old)
        status = np.empty(n, dtype=np.int64)
        info = np.zeros((n, KERNEL_INFO_SIZE))
        prev = numba.get_num_threads()
        nmax = numba.config.NUMBA_NUM_THREADS
        nthreads = prev if self.threads is None else max(1, min(int(self.threads), nmax))
        numba.set_num_threads(nthreads)
        try:
            _batched_fs_update(
                self.mi, self.mf, self.table, F, state_old, float(dt), float(temp), float(dtemp),
                P, A, state_new, status, info, self.nwork, max(1, min(n, 4 * nthreads)),
            )
        finally:
            numba.set_num_threads(prev)
        self.last_info = info
        return P, A, state_new, status
