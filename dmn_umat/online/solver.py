"""Batched network surrogate: :class:`NetworkMaterial` implements the material protocol of
:mod:`dmn_umat.laws.material` on top of :func:`dmn_umat.online.kernel.network_update`.

State arrays are point-major, ``(npts, nsv)``, and every row is laid out exactly like one
Abaqus STATEV array (layout in :mod:`dmn_umat.online.kernel`).  Points run in parallel with
numba ``prange``; each thread chunk owns one ``work`` buffer, so memory does not grow with the
number of points, and results do not depend on the thread count (each point is independent).
"""

from __future__ import annotations

import numba
import numpy as np
from numba import njit, prange

from ..laws import MaterialUpdate, Phase, parse_phase, props_table
from ..network import Network
from ..sources import guard_numba_cache
from ..status import KERNEL_INFO_SIZE
from . import kernel


@njit(parallel=True, cache=True)
def _batched_update(
    mi, mf, table, strain, state_old, dt, temp, dtemp, stress, tangent, state_new, status, info, nwork, nchunk
):
    npts = strain.shape[0]
    for c in prange(nchunk):
        work = np.empty(nwork)
        lo = (c * npts) // nchunk
        hi = ((c + 1) * npts) // nchunk
        for p in range(lo, hi):
            status[p] = kernel.network_update(
                mi, mf, table, strain[p], state_old[p], stress[p], tangent[p], state_new[p], work, info[p],
                dt, temp, dtemp,
            )


guard_numba_cache(_batched_update, __file__)


class NetworkMaterial:
    """A material network with phase laws, evaluated at many points at once.

    ``net``: the tree; ``phases``: one :class:`Phase` (or spec string) per network phase id;
    ``threads``: numba threads for :meth:`update` (None = numba's default); ``rtol``: Newton
    tolerance on the traction residuals relative to the largest leaf stress.
    ``last_info`` (npts, 5) holds the kernel's info row of each point after :meth:`update`
    (slots: :mod:`dmn_umat.status`, INFO_SUBSTEPS included).
    """

    def __init__(
        self, net: Network, phases: list[Phase | str], threads: int | None = None, rtol: float = kernel.RTOL
    ):
        self.net = net
        self.phases = [parse_phase(p) if isinstance(p, str) else p for p in phases]
        if len(self.phases) < net.n_phases:
            raise ValueError(
                f"the network uses {net.n_phases} phases but {len(self.phases)} phase laws were given"
            )
        self.table = props_table(self.phases)
        self.mi, self.mf = kernel.pack_network(net, rtol)
        self.nstate = int(kernel.state_size(self.mi, self.table))
        self.nwork = int(kernel.work_size(self.mi))
        if self.nstate < 0 or self.nwork < 0:
            raise ValueError("network and phase laws do not match (unknown law or phase id)")
        self.layout = kernel.state_layout(self.mi, self.table)
        self.threads = threads
        self.last_info = np.zeros((0, KERNEL_INFO_SIZE))

    # ------------------------------------------------------------------ protocol
    def initial_state(self, npts: int) -> np.ndarray:
        """(npts, nsv) zero state: unstrained, no plastic strain, zero jumps."""
        return np.zeros((npts, self.nstate))

    def update(
        self, strain: np.ndarray, state_old: np.ndarray,
        dt: float = 0.0, temp: float = 0.0, dtemp: float = 0.0,
    ) -> MaterialUpdate:
        """Batched update: strain (n,6) total Mandel, state_old (n,nsv), time increment ``dt``,
        temperature ``temp`` at the start and its increment ``dtemp`` → stress (n,6), tangent
        (n,6,6), state_new (n,nsv), status (n,) (0 ok, 1 cut back, 2 failed)."""
        strain = np.ascontiguousarray(np.atleast_2d(strain), dtype=np.float64)
        state_old = np.ascontiguousarray(np.atleast_2d(state_old), dtype=np.float64)
        n = strain.shape[0]
        if strain.shape != (n, 6) or state_old.shape != (n, self.nstate):
            raise ValueError(
                f"update: expected strain (n,6) and state (n,{self.nstate}), "
                f"got {strain.shape} and {state_old.shape}"
            )
        stress = np.empty((n, 6))
        tangent = np.empty((n, 6, 6))
        state_new = np.empty_like(state_old)
        status = np.empty(n, dtype=np.int64)
        info = np.zeros((n, KERNEL_INFO_SIZE))
        prev = numba.get_num_threads()
        nthreads = (
            prev if self.threads is None else max(1, min(int(self.threads), numba.config.NUMBA_NUM_THREADS))
        )
        numba.set_num_threads(nthreads)
        try:
            nchunk = max(1, min(n, 4 * nthreads))
            _batched_update(
                self.mi,
                self.mf,
                self.table,
                strain,
                state_old,
                float(dt),
                float(temp),
                float(dtemp),
                stress,
                tangent,
                state_new,
                status,
                info,
                self.nwork,
                nchunk,
            )
        finally:
            numba.set_num_threads(prev)
        self.last_info = info
        return MaterialUpdate(stress, tangent, state_new, status)

    def suggested_ratio(self, status: np.ndarray) -> float:
        """Step ratio to retry with after :meth:`update` reported non-converged points."""
        status = np.asarray(status)
        bad = status != 0
        if not bad.any() or self.last_info.shape[0] != status.shape[0]:
            return kernel.CUTBACK_RATIO
        return float(min(kernel.CUTBACK_RATIO, self.last_info[bad, 0].min()))

    def fields(self, state: np.ndarray) -> dict[str, np.ndarray]:
        """Named per-point scalars: ``peeq`` (weight-averaged equivalent plastic strain over all
        leaves), ``peeq_phase{p}`` (over the leaves of phase p, for each phase whose law has a
        ``peeq`` state entry, :attr:`dmn_umat.laws.Phase.fields`) and
        ``jump_norm`` (max |a_k|)."""
        leaves = self.net.leaves
        w = np.where(
            self.mi[kernel.NHEAD : kernel.NHEAD + self.net.n_nodes][leaves] >= 0,
            self.net.weights[leaves],
            0.0,
        )
        return network_fields(np.atleast_2d(state), self.layout, self.phases, w)


def network_fields(
    state: np.ndarray, layout: dict, phases: list[Phase], w: np.ndarray
) -> dict[str, np.ndarray]:
    """:meth:`NetworkMaterial.fields` of states (n, nsv) laid out as ``layout``
    (:func:`.kernel.state_layout`), with leaf weights ``w`` (L,), or per point (n, L) for
    orientation-aware networks (0 for inactive leaves)."""
    lay = layout

    def ws(sel: np.ndarray) -> np.ndarray:  # the weights of the leaves ``sel``: (k,) or (n, k)
        return w[sel] if w.ndim == 1 else w[:, sel]

    W = w.sum(axis=-1)
    out: dict[str, np.ndarray] = {}
    total = np.zeros(state.shape[0])
    for p, ph in enumerate(phases):
        k = ph.fields.get("peeq")
        if k is None:
            continue
        sel = np.flatnonzero(lay["leaf_phase"] == p)
        if sel.size == 0:
            continue
        x = state[:, lay["leaf_offset"][sel] + k]
        contrib = x @ ws(sel) if w.ndim == 1 else np.einsum("nj,nj->n", x, ws(sel))
        wp = np.broadcast_to(ws(sel).sum(axis=-1), (state.shape[0],))
        out[f"peeq_phase{p}"] = np.divide(contrib, wp, out=np.zeros(state.shape[0]), where=wp > 0)
        total += contrib
    out["peeq"] = total / W
    a = state[:, lay["jumps"] : lay["strain"]].reshape(state.shape[0], -1, 3)
    out["jump_norm"] = np.linalg.norm(a, axis=2).max(axis=1) if a.shape[1] else np.zeros(state.shape[0])
    return out
