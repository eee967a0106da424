"""Chaboche / Armstrong–Frederick nonlinear kinematic hardening (``NB`` = 2 back-stresses) with
Voce + linear isotropic hardening, optionally viscous (Peric / Perzyna overstress) and with
temperature-dependent constants; numba, allocation-free.

    f = q − σy(p),  q = sqrt(3/2)|dev σ − X|,  X = (2/3) Hk εp + Σ_i X_i
    Ẋ_i = (2/3) C_i ε̇p − γ_i X_i ṗ,   σy(p) = sy + H p + Q (1 − exp(−b p))
    rate independent (η = 0): f ≤ 0, ṗ ≥ 0, ṗ f = 0;  viscous: q = σy ψ(ṗ) as the ``vp`` law

Implicit return (backward Euler): scalar Newton on Δp, back-stresses in closed form
``X_i = (X_i,n + (2/3) C_i Δp N) / (1 + γ_i Δp)`` per Newton step, consistent tangent
(:mod:`dmn_umat.laws.j2_return`; equations: ``docs/laws.md``).  With temperature, C_i(T) is
used in the rate equation as it stands (no Ċ_i/C_i X_i term).

    status = chaboche_update(props, eps, state_old, dt, temp, dtemp, stress, tangent,
                             state_new, ws)

==========  ============================================================================
props       ``[id, E, nu, sy, H, Q, b, Hk, T0, dE, dsy, dH, dQ, dHk, eta, m, form,``
            `` C1, gamma1, dC1, C2, gamma2, dC2]``
nprops      23 (``NPROPS``; the catalogue's ``chaboche`` row)
state       εp (6, Mandel) [0:6], p [6], X_i (6, Mandel) at [7 + 6(i−1)] — nstate 19
scratch     ws ≥ 34 floats (``NWS``)
id          ``LAW_CHABOCHE`` = 5
==========  ============================================================================

Units: C_i (and dC_i per temperature) in stress, γ_i dimensionless; η = 0 for the rate
independent law, else η in time, m dimensionless, form 0 Peric / 1 Perzyna; the rest as
:mod:`~dmn_umat.laws.viscoplastic`.  Returns 0 (ok), 1 (not converged: cut back) or 2 (bad
input); never raises.
"""

from __future__ import annotations

import math

from numba import njit

from ..sources import guard_numba_cache
from .catalogue import BY_ID, CHABOCHE_NB, LAW_CHABOCHE, STATUS_BADINPUT
from .j2_return import (
    NHEAD,
    P_T0,
    VISC_NONE,
    VISC_PERIC,
    VISC_PERZYNA,
    WS_BASE,
    head_at,
    inputs_ok,
    j2_return,
)

NB = CHABOCHE_NB
_P_PAIRS = NHEAD + 3
NPROPS = _P_PAIRS + 3 * NB
NSTATE = 7 + 6 * NB
NWS = WS_BASE + 2 * NB
assert (NPROPS, NSTATE, NWS) == (BY_ID[LAW_CHABOCHE].nprops, BY_ID[LAW_CHABOCHE].nstate,
                                 BY_ID[LAW_CHABOCHE].nws), "chaboche layout = its catalogue row"


@njit(cache=True)
def chaboche_update(props, eps, state_old, dt, temp, dtemp, stress, tangent, state_new, ws):
    """Chaboche update of one point (layout: module doc).  Returns a status."""
    nb = NB
    if props.shape[0] < NPROPS or ws.shape[0] < NWS:
        return STATUS_BADINPUT
    if not inputs_ok(eps, state_old, NSTATE, dt, temp, dtemp):
        return STATUS_BADINPUT
    T = temp + dtemp
    ok, E, nu, sy, H, Q, b, Hk = head_at(props, T)
    eta = props[NHEAD]
    m = props[NHEAD + 1]
    form = props[NHEAD + 2]
    if not ok or not (eta >= 0.0) or not (m > 0.0) or not (form == 0.0 or form == 1.0):
        return STATUS_BADINPUT
    dT = T - props[P_T0]
    for k in range(nb):
        o = _P_PAIRS + 3 * k
        Ck = props[o] + props[o + 2] * dT
        gk = props[o + 1]
        if not (Ck >= 0.0 and gk >= 0.0 and math.isfinite(Ck) and math.isfinite(gk)):
            return STATUS_BADINPUT
        ws[WS_BASE + k] = Ck
        ws[WS_BASE + nb + k] = gk
    if eta == 0.0:
        vkind = VISC_NONE
    else:
        vkind = VISC_PERIC if form == 0.0 else VISC_PERZYNA
        if not (sy > 0.0):
            return STATUS_BADINPUT
    return j2_return(E, nu, sy, H, Q, b, Hk, vkind, eta, m, dt, nb, eps, state_old, stress,
                     tangent, state_new, ws)


guard_numba_cache(chaboche_update, __file__)
