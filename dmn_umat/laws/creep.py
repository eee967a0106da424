"""Norton–Bailey creep (time-hardening form), alone or combined with J2 plasticity in one
implicit return — the form of CalculiX ``*CREEP, LAW=NORTON`` (with or without ``*PLASTIC``);
numba, allocation-free, temperature-dependent constants.

Equivalent inelastic (creep + plastic) strain rate, von Mises stress q, total time t::

    ṗ = A t^k ⟨q − σy(p)⟩^n,        ε̇p = ṗ (3/2) ξ/q
    σy(p) = sy + H p + Q (1 − exp(−b p)),   X = (2/3) Hk εp   (as the ``j2`` law)

With ``sy = H = Q = Hk = 0`` this is plain Norton–Bailey creep ``ε̇cr = A q^n t^k`` (k = 0:
Norton).  With a yield stress it is CalculiX's combined ``*PLASTIC`` + ``*CREEP``: one
inelastic strain, Norton law on the overstress q − σy (no creep below yield), rate
independent plasticity as A → ∞.  Time hardening (rather than strain hardening) because it is
the form CalculiX implements (so a UMAT run can be compared with the built-in law), it has no
singularity at zero creep strain for k < 0, and k = 0 is exactly Norton.  As in CalculiX the
time factor is taken at the end of the increment: ``Δp = Δt A t_{n+1}^k ⟨q − σy⟩^n`` with
``t_{n+1} = t_n + Δt`` the total time, kept in the state (t = 0 at the first call).
dt = 0 (or A = 0) returns the elastic trial response.

    status = creep_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws)

==========  ============================================================================
props       ``[id, E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk, A, n, k]``
nprops      17 (``NPROPS``)
state       εp (6, Mandel) [0:6], p [6], total time t [7] — nstate 8 (``NSTATE``)
scratch     ws ≥ 30 floats (``NWS``)
id          ``LAW_CREEP`` = 4 (the catalogue's ``creep`` row)
==========  ============================================================================

Units: A in 1/(stress^n time^(k+1)) (CalculiX: the same A, n, m = k, time = total time), n ≥ 1
and k ∈ (−1, 0] dimensionless; temperature slopes as in :mod:`~dmn_umat.laws.viscoplastic`.
Returns 0 (ok), 1 (not converged: cut back) or 2 (bad input); never raises.
"""

from __future__ import annotations

from numba import njit

from ..sources import guard_numba_cache
from .catalogue import BY_ID, LAW_CREEP, STATUS_BADINPUT
from .j2_return import NHEAD, VISC_NORTON, WS_BASE, head_at, inputs_ok, j2_return

NPROPS = NHEAD + 3
NSTATE = 8
NWS = WS_BASE
assert (NPROPS, NSTATE, NWS) == (BY_ID[LAW_CREEP].nprops, BY_ID[LAW_CREEP].nstate, BY_ID[LAW_CREEP].nws)


@njit(cache=True)
def creep_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws):
    """Norton–Bailey creep (+ plasticity) update of one point (layout: module doc)."""
    if props.shape[0] < NPROPS or ws.shape[0] < NWS:
        return STATUS_BADINPUT
    if not inputs_ok(eps, state_old, NSTATE, dt, temp, dtemp):
        return STATUS_BADINPUT
    ok, E, nu, sy, H, Q, b, Hk = head_at(props, temp + dtemp)
    A = props[NHEAD]
    n = props[NHEAD + 1]
    k = props[NHEAD + 2]
    if not ok or not (A >= 0.0) or not (n >= 1.0) or not (-1.0 < k <= 0.0):
        return STATUS_BADINPUT
    t = state_old[7] + dt
    if not (state_old[7] >= 0.0):
        return STATUS_BADINPUT
    a = A * t**k if t > 0.0 else 0.0
    status = j2_return(E, nu, sy, H, Q, b, Hk, VISC_NORTON, a, n, dt, 0, eps, state_old, stress,
                       tangent, state_new, ws)
    state_new[7] = t
    return status


guard_numba_cache(creep_update, __file__)
