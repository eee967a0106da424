"""Elasto-viscoplastic J2 with overstress (Peric or Perzyna), Voce + linear isotropic and
linear kinematic hardening, temperature-dependent constants (numba, allocation-free).

Same yield function, hardening and state as the rate-independent ``j2`` law; the plastic
multiplier rate follows from the overstress (η viscosity [time], m rate sensitivity [-])::

    Peric (form 0, default):  ṗ = (1/η) [(q/σy)^(1/m) − 1]   ⇔  q = σy (1 + η ṗ)^m
    Perzyna (form 1):         ṗ = (1/η) ⟨q/σy − 1⟩^(1/m)      ⇔  q = σy (1 + (η ṗ)^m)

η → 0 (η = 0 exactly) gives the rate-independent ``j2`` law; Peric also tends to it as m → 0
(Perzyna does not: q → 2σy), hence the default.  dt = 0 returns the elastic trial response.
Return mapping and tangent: :mod:`dmn_umat.laws.j2_return`; equations: ``docs/laws.md``.

    status = vp_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws)

==========  ============================================================================
props       ``[id, E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk, eta, m, form]``
nprops      17 (``NPROPS``)
state       εp (6, Mandel) [0:6], p [6]  — nstate 7 (``NSTATE``, same as ``j2``)
scratch     ws ≥ 30 floats (``NWS``)
id          ``LAW_VP`` = 3 (the catalogue's ``vp`` row)
==========  ============================================================================

Temperature: every ``X`` with a slope ``dX`` is ``X(T) = X + dX (T − T0)`` at the
end-of-increment temperature ``T = temp + dtemp``.  Units: E, sy, H, Q, Hk and their slopes
in stress (per temperature), b and m dimensionless, η in the time unit of ``dt``.
Returns 0 (ok), 1 (not converged: cut back) or 2 (bad input: non-finite strain/state/
temperature, dt < 0, invalid constants, short scratch); never raises.
"""

from __future__ import annotations

from numba import njit

from ..sources import guard_numba_cache
from .catalogue import BY_ID, LAW_VP, STATUS_BADINPUT
from .j2_return import (
    NHEAD,
    VISC_NONE,
    VISC_PERIC,
    VISC_PERZYNA,
    WS_BASE,
    head_at,
    inputs_ok,
    j2_return,
)

NPROPS = NHEAD + 3
NSTATE = 7
NWS = WS_BASE
assert (NPROPS, NSTATE, NWS) == (BY_ID[LAW_VP].nprops, BY_ID[LAW_VP].nstate, BY_ID[LAW_VP].nws)


@njit(cache=True)
def vp_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws):
    """Elasto-viscoplastic J2 update of one point (layout: module doc).  Returns a status."""
    if props.shape[0] < NPROPS or ws.shape[0] < NWS:
        return STATUS_BADINPUT
    if not inputs_ok(eps, state_old, NSTATE, dt, temp, dtemp):
        return STATUS_BADINPUT
    ok, E, nu, sy, H, Q, b, Hk = head_at(props, temp + dtemp)
    eta = props[NHEAD]
    m = props[NHEAD + 1]
    form = props[NHEAD + 2]
    if not ok or not (eta >= 0.0) or not (m > 0.0) or not (form == 0.0 or form == 1.0):
        return STATUS_BADINPUT
    if eta == 0.0:
        vkind = VISC_NONE
    else:
        vkind = VISC_PERIC if form == 0.0 else VISC_PERZYNA
        if not (sy > 0.0):
            return STATUS_BADINPUT  # the overstress is relative to σy
    return j2_return(E, nu, sy, H, Q, b, Hk, vkind, eta, m, dt, 0, eps, state_old, stress,
                     tangent, state_new, ws)


guard_numba_cache(vp_update, __file__)
